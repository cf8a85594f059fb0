//! What one task costs on tokio's runtime: `spawn` and `switch`.
//!
//! - `spawn --n N`: N tasks that do nothing, spawned and joined by [`spawn_all`], the
//!   same helper as every other workload: each is one heap allocation (the task's header
//!   and its future), a push onto a run queue, one poll, and a `JoinHandle` awaited.
//! - `switch --n N --rounds R`: N tasks in a ring hand a token on through tokio's mpsc
//!   channels, R times round. **One hand-off wakes one task**: `recv().await` on an empty
//!   channel stores the task's waker and returns `Pending`; the previous place's `send`
//!   calls that waker, which puts the task in its worker's LIFO slot (the next to run),
//!   and the worker polls it: a function call, no kernel, no stack switch. Only a worker
//!   with nothing to run parks in the kernel, and must be unparked for new work.
//!
//! ```sh
//! target/release/tokio-async spawn --n 1000000
//! target/release/tokio-async switch --n 100 --rounds 10000
//! ```

use super::{join_all, spawn_all};
use anyhow::{Context, Result};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
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
    // One tokio channel per place: place i reads its own, and writes the next one's.
    let (start, places) = ring(args.n, mpsc::unbounded_channel::<u64>);
    // The token waits in place 0's inbox until its task first runs.
    start.send(TOKEN_START).context("the ring is closed")?;
    drop(start);
    // Each task owns its place (its two channel ends), so they are spawned one by one
    // rather than by spawn_all's shared closure; join_all awaits them as elsewhere.
    let rounds = args.rounds;
    let handles = places
        .into_iter()
        .map(|place| tokio::spawn(hand_on(place, rounds)))
        .collect();
    let total = join_all(handles).await?;
    check_ring(args, total)
}

/// One place: R times, wait for the token, mark it, hand it on.
async fn hand_on(
    mut place: Place<UnboundedSender<u64>, UnboundedReceiver<u64>>,
    rounds: u64,
) -> Result<Tally> {
    const BROKEN: &str = "the ring broke: a neighbouring task has ended";
    for _ in 0..rounds {
        // Pending until the previous place sends: the worker runs other tasks meanwhile.
        let token = place.inbox.recv().await.context(BROKEN)?;
        // Wakes the next place's task; this one returns Pending at its next recv.
        place
            .outbox
            .send(pass(token, place.index))
            .context(BROKEN)?;
    }
    let taken_back = match place.takes_it_back() {
        true => Some(place.inbox.recv().await.context(BROKEN)?),
        false => None,
    };
    Ok(place_tally(rounds, taken_back))
}
