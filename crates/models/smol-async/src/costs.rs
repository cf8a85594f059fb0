//! What one task costs on smol's executor: `spawn` and `switch`.
//!
//! - `spawn --n N`: N tasks that do nothing, spawned on [`EXECUTOR`] and joined by
//!   [`spawn_all`], the same helper as every other workload: each is one heap allocation
//!   (async-task's header and future), a push onto the executor's queue, one poll, and
//!   its `Task` awaited.
//! - `switch --n N --rounds R`: N tasks in a ring hand a token on through smol's channels
//!   (async-channel), R times round. **One hand-off wakes one task**: `recv().await` on
//!   an empty channel registers a listener and returns `Pending`; the previous place's
//!   `send` notifies that listener, whose waker pushes the task onto the executor's
//!   shared queue and wakes a sleeping executor thread, if one sleeps, to run it
//!   (async-executor 1.14 has no "run this next" slot for the current thread; its source
//!   marks that as a TODO). So a hand-off is a poll, a function call, plus often a futex
//!   wake and a hop to the other thread: compare tokio's LIFO slot in
//!   `crates/models/tokio-async/src/costs.rs`.
//!
//! ```sh
//! target/release/smol-async spawn --n 1000000
//! target/release/smol-async switch --n 100 --rounds 10000
//! ```

use super::{join_all, spawn_all, EXECUTOR};
use anyhow::{Context, Result};
use smol::channel::{self, Receiver, Sender};
use workload::costs::{check_ring, pass, place_tally, ring, Place, TOKEN_START};
use workload::{SpawnArgs, SwitchArgs, Tally};

/// N tasks that do nothing: all that is measured is spawning and joining them.
pub async fn run_spawn(args: &SpawnArgs) -> Result<Tally> {
    spawn_all(args.n, || async {
        Ok::<_, anyhow::Error>(Tally::task(0, 0))
    })
    .await
}

/// N tasks in a ring, each handing the token on R times; then check its path.
pub async fn run_switch(args: &SwitchArgs) -> Result<Tally> {
    // One smol channel per place: place i reads its own, and writes the next one's.
    let (start, places) = ring(args.n, channel::unbounded::<u64>);
    // The token waits in place 0's inbox until its task first runs.
    start.try_send(TOKEN_START).context("the ring is closed")?;
    drop(start);
    // Each task owns its place (its two channel ends), so they are spawned one by one
    // rather than by spawn_all's shared closure; join_all awaits them as elsewhere.
    let rounds = args.rounds;
    let tasks = places
        .into_iter()
        .map(|place| EXECUTOR.spawn(hand_on(place, rounds)))
        .collect();
    let total = join_all(tasks).await?;
    check_ring(args, total)
}

/// One place: R times, wait for the token, mark it, hand it on.
async fn hand_on(place: Place<Sender<u64>, Receiver<u64>>, rounds: u64) -> Result<Tally> {
    const BROKEN: &str = "the ring broke: a neighbouring task has ended";
    for _ in 0..rounds {
        // Pending until the previous place sends: the executor runs other tasks meanwhile.
        let token = place.inbox.recv().await.context(BROKEN)?;
        // Wakes the next place's task (an unbounded channel never makes send wait).
        place
            .outbox
            .try_send(pass(token, place.index))
            .context(BROKEN)?;
    }
    let taken_back = match place.takes_it_back() {
        true => Some(place.inbox.recv().await.context(BROKEN)?),
        false => None,
    };
    Ok(place_tally(rounds, taken_back))
}
