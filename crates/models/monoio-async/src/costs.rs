//! What one task costs on a monoio runtime: `spawn` and `switch`.
//!
//! - `spawn --n N`: N tasks that do nothing, dealt out to the cores and spawned and joined
//!   there by [`spawn_all`], the same helper as every other workload: each is one heap
//!   allocation (the task's header and its future), a push onto its core's run queue, one
//!   poll, and a `JoinHandle` awaited.
//! - `switch --n N --rounds R`: N tasks in a ring hand a token on through single-threaded
//!   channels (`local-sync`), R times round. **One hand-off wakes one task**: `recv()` on
//!   an empty channel stores the task's waker and returns `Pending`; the previous place's
//!   `send` calls that waker, which puts the task on the core's run queue, and the runtime
//!   polls it: a function call, no kernel, no atomic. The whole ring lives on one core:
//!   the token's path is one hand-off after another, so no second core could run any of
//!   it at the same time, and a task never moves (a ring split over cores would need
//!   channels between threads, which is what thread-per-core avoids).
//!
//! ```sh
//! target/release/monoio-async spawn --n 1000000
//! target/release/monoio-async switch --n 100 --rounds 10000
//! ```

use super::{join_all, runtime, spawn_all};
use anyhow::{Context, Result};
use local_sync::mpsc::unbounded::{self, Rx, Tx};
use workload::costs::{check_ring, pass, place_tally, ring, Place, TOKEN_START};
use workload::{gather, SpawnArgs, SwitchArgs, Tally};

/// N tasks that do nothing: all that is measured is spawning and joining them.
pub fn run_spawn(args: &SpawnArgs) -> Result<Tally> {
    spawn_all(args.n, || async {
        Ok::<_, anyhow::Error>(Tally::task(0, 0))
    })
}

/// N tasks in a ring on one core, each handing the token on R times; then check its path.
pub fn run_switch(args: &SwitchArgs) -> Result<Tally> {
    let (n, rounds) = (args.n, args.rounds);
    // One runtime, on one core: see the module's doc for why the ring is not dealt out.
    let results = runtime::on_cores(vec![()], |()| async move {
        // One local channel per place: place i reads its own, and writes the next one's.
        let (start, places) = ring(n, unbounded::channel::<u64>);
        // The token waits in place 0's inbox until its task first runs.
        if start.send(TOKEN_START).is_err() {
            return vec![Err(anyhow::anyhow!("the ring is closed"))];
        }
        drop(start);
        // Each task owns its place (its two channel ends), so they are spawned one by one
        // rather than by spawn_all's shared closure; join_all awaits them as elsewhere.
        let handles = places
            .into_iter()
            .map(|place| monoio::spawn(hand_on(place, rounds)))
            .collect();
        join_all(handles).await
    })?;
    let total = gather(results.into_iter().flatten())?;
    check_ring(args, total)
}

/// One place: R times, wait for the token, mark it, hand it on.
async fn hand_on(mut place: Place<Tx<u64>, Rx<u64>>, rounds: u64) -> Result<Tally> {
    const BROKEN: &str = "the ring broke: a neighbouring task has ended";
    for _ in 0..rounds {
        // Pending until the previous place sends: the core runs other tasks meanwhile.
        let token = place.inbox.recv().await.context(BROKEN)?;
        // Wakes the next place's task; this one returns Pending at its next recv.
        place
            .outbox
            .send(pass(token, place.index))
            .ok()
            .context(BROKEN)?;
    }
    let taken_back = match place.takes_it_back() {
        true => Some(place.inbox.recv().await.context(BROKEN)?),
        false => None,
    };
    Ok(place_tally(rounds, taken_back))
}
