//! # rayon, mixed: not offered
//!
//! The `mixed` workload runs a stream of requests beside CPU jobs and measures how long
//! the requests wait while the jobs run (see `workload::mixed`). rayon's pool is for CPU
//! work, one worker per core; a probe that waits for its reply holds a worker, the io
//! workload's pitfall. At 200 probes a second of 10 ms each the probes alone keep 2
//! workers busy, before any job arrives: the queue would grow whatever the jobs do.
//! Probes on threads with the jobs on rayon would be `threads` again (the kernel
//! preempts both).
//!
//! `rayon mixed ...` therefore stops with exit code 2 and this reason, before any work
//! (see `workload::mixed::Offer`); `rayon mixed --help` says so too.

use anyhow::{bail, Result};
use workload::mixed::Offer;
use workload::{MixedArgs, Tally};

pub const OFFER: Offer = Offer::NotOffered(
    "rayon's pool is for CPU work: 200 probes a second of 10 ms each already hold 2 workers (the io workload's pitfall), and probes on threads beside jobs on the pool is threads again",
);

/// Not reached: `mixed` is refused before the run starts. An error, not a panic, should
/// that ever change.
pub fn run_mixed(_: &MixedArgs) -> Result<Tally> {
    bail!("mixed is not offered by rayon")
}
