//! What one task costs on rayon's pool: `spawn` and `switch`.
//!
//! - `spawn --n N`: N jobs that do nothing, each pushed with `Scope::spawn` (one heap
//!   allocation and a push onto the current worker's deque) and run by the pool's
//!   workers, which steal from each other; the scope's end is the join. (`par_iter`, which
//!   the other workloads use, pushes no job per item: it splits the range into a few
//!   pieces, so it would not show what a task costs.)
//! - `switch --n N --rounds R`: **not a ring of waiting tasks.** A ring of N jobs that
//!   block on channels deadlocks as soon as N exceeds the workers: the first `workers`
//!   jobs wait for the token and hold every worker, and the job that would hand it on
//!   never runs. rayon's jobs never wait; work is passed on by pushing a new job. So here
//!   **one hand-off is one new job**: the job at place i marks the token and spawns the
//!   job of place i + 1 with it, N x R times. That job goes onto the current worker's
//!   deque, which the same worker pops as soon as the current job returns, unless the
//!   idle worker, woken by the push, steals it first. No job sleeps, so the N places are
//!   only the token's stops, and N does not change the cost.
//!
//! ```sh
//! target/release/rayon spawn --n 100000
//! target/release/rayon switch --n 100 --rounds 10000
//! ```

use anyhow::Result;
use std::sync::Mutex;
use workload::costs::{check_ring, pass, TOKEN_START};
use workload::{gather, SpawnArgs, SwitchArgs, Tally};

/// N jobs that do nothing, spawned into a scope that joins them all.
pub fn run_spawn(args: &SpawnArgs) -> Result<Tally> {
    // One slot per job, written by that job alone: no lock, no shared counter.
    let mut done = vec![Tally::default(); args.n as usize];
    rayon::scope(|scope| {
        for slot in done.iter_mut() {
            scope.spawn(move |_| *slot = Tally::task(0, 0));
        }
    });
    gather(done.into_iter().map(Ok::<_, anyhow::Error>))
}

/// The token's journey as a chain of N x R jobs, each spawning the next.
pub fn run_switch(args: &SwitchArgs) -> Result<Tally> {
    let journey = Journey {
        places: args.n,
        hand_offs: args.n * args.rounds,
        end: Mutex::new(Tally::default()),
    };
    // The scope returns once the last job of the chain has run.
    rayon::scope(|scope| scope.spawn(|scope| hand_on(scope, &journey, TOKEN_START, 0)));
    let total = journey.end.into_inner().unwrap_or_else(|e| e.into_inner());
    check_ring(args, total)
}

/// What every job of the chain shares: the ring's size, the hand-offs to make, and where
/// the last job leaves the token.
struct Journey {
    places: u64,
    hand_offs: u64,
    end: Mutex<Tally>,
}

/// Hand-off number `done` + 1: the job of place `done % N` marks the token and spawns the
/// job of the next place with it; the job after the last hand-off leaves it in `end`.
fn hand_on<'s>(scope: &rayon::Scope<'s>, journey: &'s Journey, token: u64, done: u64) {
    if done == journey.hand_offs {
        // Place 0 takes the token back: N x R hand-offs made.
        *journey.end.lock().unwrap_or_else(|e| e.into_inner()) = Tally {
            tasks: done,
            checksum: token,
            ..Tally::default()
        };
        return;
    }
    let token = pass(token, done % journey.places);
    // The hand-off: a new job on this worker's deque, carrying the token.
    scope.spawn(move |scope| hand_on(scope, journey, token, done + 1));
}
