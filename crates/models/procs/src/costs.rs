//! What one task costs with one OS process per task: `spawn` and `switch`.
//!
//! - `spawn --n N`: N worker processes that do nothing, started and reaped by
//!   [`on_processes`], the same helper as every other workload: each is a fork and exec
//!   of this binary, its dynamic loading and start-up, its summary line read back through
//!   a pipe, and a wait. The report fits time against N: the slope is one process.
//! - `switch --n N --rounds R`: N worker processes in a ring hand a token (8 bytes) on
//!   through pipes, R times round. **One hand-off wakes one process**: a worker blocked in
//!   `read` on its inbox pipe is woken by the previous worker's `write`, and the kernel
//!   switches to it, address space included (another process's page tables). Each
//!   worker finds its two pipe ends, inherited across exec, by the numbers the parent puts
//!   in its environment (see `worker::Workers::start_in_ring`). The parent makes each
//!   pipe as the worker that writes into it starts (`workload::costs::ring_in_turn`) and
//!   keeps no end a started worker holds: a fork copies, and an exec closes, every
//!   descriptor the parent holds, so a ring made up front made its start grow with the
//!   square of N.
//!
//! ```sh
//! target/release/procs spawn --n 200
//! target/release/procs switch --n 100 --rounds 100
//! ```

use super::on_processes;
use crate::worker::{self, Workers};
use anyhow::{bail, Context, Result};
use std::io::{PipeReader, Read, Write};
use workload::costs::{check_ring, pass, place_tally, ring_in_turn, Place, TOKEN_START};
use workload::{gather, Command, SwitchArgs, Tally};

/// N worker processes that do nothing: all that is measured is starting and reaping them.
pub fn run_spawn(n: u64, command: &Command) -> Result<Tally> {
    on_processes(n, command)
}

/// N worker processes in a ring of pipes, each handing the token on R times.
pub fn run_switch(args: &SwitchArgs, command: &Command) -> Result<Tally> {
    workload::record_workers(args.n);
    // Every descriptor this process holds at the last worker's start: the output pipe of
    // every worker started, a few ends of the ring (see below), and the few a start opens.
    workload::limits::check_tasks(
        args.n,
        &format!("{} worker processes, one per place,", args.n),
    )?;
    workload::limits::check_files(
        args.n * worker::FILES_PER_WORKER + RING_FILES + worker::FILES_TO_START,
        &format!("a ring of {} worker processes (each one's output)", args.n),
    )?;
    // One pipe per place: place i reads from its own, and writes to the next one's. Each
    // pipe is made just before the worker that writes into it starts, and this process
    // closes its copies of a place's two ends once that worker has them: every fork
    // copies (and every exec closes) a few ends of the ring, not all 2N of them, which
    // made the ring's start grow with the square of N. The token waits in place 0's
    // pipe until its worker starts: no place misses it.
    let token = TOKEN_START.to_le_bytes();
    let places = ring_in_turn(
        args.n,
        || std::io::pipe().map(|(reader, writer)| (writer, reader)),
        |first| first.write_all(&token),
    )
    .context("cannot start the ring")?;
    let mut workers = Workers::default();
    for place in places {
        let place = place.context("cannot make the ring's next pipe")?;
        workers
            .start_in_ring(&command.one_task_argv(), &place)
            .with_context(|| format!("cannot start worker {} of {}", place.index + 1, args.n))?;
        // `place` drops here: this process keeps no end of a started worker's pipes (but
        // place 0's writer, until the last worker takes it), so a worker that dies closes
        // its neighbours' pipes (end of file, broken pipe), and the ring ends with an
        // error instead of waiting forever.
    }
    let total = gather(workers.wait_all())?;
    check_ring(args, total)
}

/// Ends of the ring this process holds at most while it starts a worker: the starting
/// place's two, place 0's writer (kept for the last place) and the next place's reader.
const RING_FILES: u64 = 4;

/// In a worker: one place of the ring, on the two pipe ends it inherited. R times, wait
/// for the token, mark it, hand it on.
pub fn hand_on(args: &SwitchArgs) -> Result<Tally> {
    let place = worker::inherited_place()?;
    let Place {
        index,
        mut inbox,
        mut outbox,
    } = place;
    for _ in 0..args.rounds {
        // Blocks in read(2) until the previous worker writes: the kernel wakes this process.
        let token = read_token(&mut inbox)?;
        // Wakes the next worker; this one goes back to wait in read(2).
        outbox
            .write_all(&pass(token, index).to_le_bytes())
            .context("the ring broke: the next worker has ended")?;
    }
    let taken_back = match index == 0 {
        true => Some(read_token(&mut inbox)?),
        false => None,
    };
    Ok(place_tally(args.rounds, taken_back))
}

fn read_token(inbox: &mut PipeReader) -> Result<u64> {
    let mut bytes = [0u8; 8];
    match inbox.read_exact(&mut bytes) {
        Ok(()) => Ok(u64::from_le_bytes(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            bail!("the ring broke: the previous worker has ended")
        }
        Err(e) => Err(e).context("cannot read the token"),
    }
}
