//! What one task costs with one OS thread per task: `spawn` and `switch`.
//!
//! - `spawn --n N`: N threads that do nothing, started and joined by [`on_threads`], the
//!   same helper as every other workload: each is a `clone` system call, a stack mapped
//!   (with its guard page), and a join. The report fits time against N: the slope is one
//!   thread's start and join.
//! - `switch --n N --rounds R`: N threads in a ring hand a token on through std's
//!   channels, R times round. **One hand-off wakes one parked OS thread**: `recv` on an
//!   empty channel parks its thread on a futex; the previous place's `send` wakes it, and
//!   the kernel switches to it (on this core, or on the other one). Time against R is
//!   the cost of that kernel switch plus the channel's bookkeeping.
//!
//! ```sh
//! target/release/threads spawn --n 10000
//! target/release/threads switch --n 100 --rounds 1000
//! ```

use super::on_threads;
use anyhow::{Context, Result};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use workload::costs::{check_ring, pass, place_tally, ring, Place, TOKEN_START};
use workload::{gather, joined, SpawnArgs, SwitchArgs, Tally};

/// N threads that do nothing: all that is measured is starting and joining them.
pub fn run_spawn(args: &SpawnArgs) -> Result<Tally> {
    on_threads(args.n, || Ok::<_, anyhow::Error>(Tally::task(0, 0)))
}

/// N threads in a ring, each handing the token on R times; then check its path.
pub fn run_switch(args: &SwitchArgs) -> Result<Tally> {
    workload::record_workers(args.n);
    // A thread per place: refuse a ring the machine cannot hold, as on_threads does.
    workload::limits::check_threads(args.n, &format!("{} threads, one per place,", args.n))?;
    // One std channel per place: place i reads its own, and writes the next one's.
    let (start, places) = ring(args.n, mpsc::channel::<u64>);
    // The token waits in place 0's inbox until its thread starts: no place misses it.
    start.send(TOKEN_START).context("the ring is closed")?;
    drop(start);
    let rounds = args.rounds;
    let total = thread::scope(|scope| {
        let mut handles = Vec::with_capacity(places.len());
        // Not on_threads, whose threads all run one shared closure: here each thread
        // owns its place (its two channel ends). If a spawn fails, `?` drops the places
        // not yet started, which closes their channels: every started thread then sees
        // its neighbour gone and ends, instead of waiting forever for the token.
        for place in places {
            let i = place.index;
            let handle = thread::Builder::new()
                .spawn_scoped(scope, move || hand_on(place, rounds))
                .with_context(|| format!("cannot start thread {} of {}", i + 1, args.n))?;
            handles.push(handle);
        }
        gather(handles.into_iter().map(|h| joined(h.join())))
    })?;
    check_ring(args, total)
}

/// One place: R times, wait for the token, mark it, hand it on.
fn hand_on(place: Place<Sender<u64>, Receiver<u64>>, rounds: u64) -> Result<Tally> {
    const BROKEN: &str = "the ring broke: a neighbouring thread has ended";
    for _ in 0..rounds {
        // Parks this thread (a futex wait) until the previous place sends.
        let token = place.inbox.recv().context(BROKEN)?;
        // Wakes the next place's thread; this one goes back to wait on its inbox.
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
