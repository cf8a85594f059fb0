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
//!   in its environment (see `worker::Workers::start_in_ring`).
//!
//! ```sh
//! target/release/procs spawn --n 200
//! target/release/procs switch --n 100 --rounds 100
//! ```

use super::on_processes;
use crate::worker::{self, Workers};
use anyhow::{bail, Context, Result};
use std::io::{PipeReader, PipeWriter, Read, Write};
use workload::costs::{check_ring, pass, place_tally, ring, Place, TOKEN_START};
use workload::{gather, Command, SwitchArgs, Tally};

/// N worker processes that do nothing: all that is measured is starting and reaping them.
pub fn run_spawn(n: u64, command: &Command) -> Result<Tally> {
    on_processes(n, command)
}

/// N worker processes in a ring of pipes, each handing the token on R times.
pub fn run_switch(args: &SwitchArgs, command: &Command) -> Result<Tally> {
    workload::record_workers(args.n);
    // Every descriptor this process holds at the last worker's start: the ring's pipes
    // (two ends each, and the token's start, a dup of place 0's writer), the output pipe
    // of every worker started, and the few a start opens. Refuse before making any: at
    // 9,000 places under an open-file limit of 20,000 this used to fail after 13 s.
    workload::limits::check_tasks(
        args.n,
        &format!("{} worker processes, one per place,", args.n),
    )?;
    workload::limits::check_files(
        args.n * (2 + worker::FILES_PER_WORKER) + 1 + worker::FILES_TO_START,
        &format!(
            "a ring of {} worker processes (a pipe each, and each one's output)",
            args.n
        ),
    )?;
    // One pipe per place: place i reads from its own, and writes to the next one's. A
    // pipe's reader cannot be cloned, but its writer can: `ring` needs only that.
    let mut pipes = (0..args.n)
        .map(|_| std::io::pipe())
        .collect::<std::io::Result<Vec<_>>>()
        .context("cannot create a pipe per place")?
        .into_iter();
    let (mut start, places) = ring(args.n, || {
        let (reader, writer) = pipes.next().expect("one pipe per place");
        (Writer(writer), reader)
    });
    let mut workers = Workers::default();
    for place in &places {
        workers
            .start_in_ring(
                &command.one_task_argv(),
                place.index,
                &place.inbox,
                &place.outbox.0,
            )
            .with_context(|| format!("cannot start worker {} of {}", place.index + 1, args.n))?;
    }
    // The parent keeps no end of any pipe but place 0's inbox writer, just long enough to
    // start the token: then a worker that dies closes its neighbours' pipes (end of file,
    // broken pipe), and the ring ends with an error instead of waiting forever.
    drop(places);
    start
        .0
        .write_all(&TOKEN_START.to_le_bytes())
        .context("cannot start the token")?;
    drop(start);
    let total = gather(workers.wait_all())?;
    check_ring(args, total)
}

/// A pipe's writer, made clonable for [`ring`] (a clone is a `dup` of the same pipe end).
struct Writer(PipeWriter);

impl Clone for Writer {
    fn clone(&self) -> Writer {
        // dup fails only when the process is out of file descriptors.
        Writer(self.0.try_clone().expect("dup a pipe's writer"))
    }
}

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
