//! What one task costs with may's stackful coroutines: `spawn` and `switch`.
//!
//! - `spawn --n N`: N coroutines that do nothing, started and joined by
//!   [`on_coroutines`], the same helper as every other workload: each takes a stack from
//!   may's pool (or maps a new one past the pool's 1,000), goes onto a worker's queue, and
//!   is joined from the main thread.
//! - `switch --n N --rounds R`: N coroutines in a ring hand a token on through may's
//!   channels, R times round. **One hand-off wakes one coroutine**: `recv` on an empty
//!   channel parks the coroutine (its worker saves its registers and runs another); the
//!   previous place's `send`, made from a coroutine, puts it on that worker's own queue
//!   (no other thread is woken), and the worker switches to its stack once the sender
//!   parks in turn: a register swap in user space, no kernel.
//!
//! ```sh
//! target/release/green spawn --n 10000
//! target/release/green switch --n 100 --rounds 1000
//! ```

use super::{on_coroutines, STACK_BYTES};
use anyhow::{bail, Context, Result};
use may::sync::mpsc::{self, Receiver, Sender};
use std::panic::{catch_unwind, AssertUnwindSafe};
use workload::costs::{check_ring, pass, place_tally, ring, Place, TOKEN_START};
use workload::{gather, joined, SpawnArgs, SwitchArgs, Tally};

/// N coroutines that do nothing: all that is measured is starting and joining them.
pub fn run_spawn(args: &SpawnArgs) -> Result<Tally> {
    on_coroutines(args.n, || Ok::<_, anyhow::Error>(Tally::task(0, 0)))
}

/// N coroutines in a ring, each handing the token on R times; then check its path.
pub fn run_switch(args: &SwitchArgs) -> Result<Tally> {
    // One may channel per place: place i reads its own, and writes the next one's.
    let (start, places) = ring(args.n, mpsc::channel::<u64>);
    // The token waits in place 0's inbox until its coroutine starts.
    start.send(TOKEN_START).context("the ring is closed")?;
    drop(start);
    let rounds = args.rounds;
    let mut handles = Vec::with_capacity(places.len());
    // Not on_coroutines, whose coroutines all run one shared closure: here each coroutine
    // owns its place (its two channel ends). If a spawn fails, the places not yet started
    // are dropped on return, which closes their channels: every started coroutine then
    // sees its neighbour gone and ends.
    for place in places {
        let i = place.index;
        // SAFETY: as in on_coroutines: hand_on's frames are small and fixed (no
        // recursion, no big arrays: far below STACK_BYTES), and it holds no thread_local.
        let spawned = catch_unwind(AssertUnwindSafe(|| unsafe {
            may::coroutine::spawn(move || hand_on(place, rounds))
        }));
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(_) => bail!(
                "cannot start coroutine {} of {}: no memory map for its {} KiB stack \
                 (see /proc/sys/vm/max_map_count)",
                i + 1,
                args.n,
                STACK_BYTES / 1024
            ),
        }
    }
    let total = gather(handles.into_iter().map(|h| joined(h.join())))?;
    check_ring(args, total)
}

/// One place: R times, wait for the token, mark it, hand it on.
fn hand_on(place: Place<Sender<u64>, Receiver<u64>>, rounds: u64) -> Result<Tally> {
    const BROKEN: &str = "the ring broke: a neighbouring coroutine has ended";
    for _ in 0..rounds {
        // Parks this coroutine (not its worker) until the previous place sends.
        let token = place.inbox.recv().context(BROKEN)?;
        // Puts the next place's coroutine on a run queue; this one parks on its inbox.
        place
            .outbox
            .send(pass(token, place.index))
            .context(BROKEN)?;
    }
    let taken_back = match place.takes_it_back() {
        true => Some(place.inbox.recv().context(BROKEN)?),
        false => None,
    };
    Ok(place_tally(rounds, taken_back))
}
