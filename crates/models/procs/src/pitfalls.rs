//! # procs, mixed: not offered
//!
//! The `mixed` workload runs a stream of requests beside CPU jobs and measures how long
//! the requests wait while the jobs run (see `workload::mixed`). As procs runs tasks,
//! each probe would be a process started for one request: at 200 a second that
//! measures process start-up (a few ms each, fork and exec and a new HTTP client), not
//! scheduling. And a job in a process of its own is preempted by the kernel exactly like
//! a job on a thread of its own, which `threads` measures: procs would add nothing but
//! the start-up cost.
//!
//! `procs mixed ...` therefore stops with exit code 2 and this reason, before any work
//! (see `workload::mixed::Offer`); `procs mixed --help` says so too.

use anyhow::{bail, Result};
use workload::mixed::Offer;
use workload::{MixedArgs, Tally};

pub const OFFER: Offer = Offer::NotOffered(
    "a probe per process would measure process start-up, not scheduling, and jobs in their own processes are preempted by the kernel just as threads' are: threads is that baseline",
);

/// Not reached: `mixed` is refused before the run starts. An error, not a panic, should
/// that ever change.
pub fn run_mixed(_: &MixedArgs) -> Result<Tally> {
    bail!("mixed is not offered by procs")
}
