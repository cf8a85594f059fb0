//! # sync, mixed: not offered
//!
//! The `mixed` workload runs a stream of requests beside CPU jobs and measures how long
//! the requests wait while the jobs run (see `workload::mixed`). sync does one thing at a
//! time, on one thread, with no scheduler: nothing can run *beside* a job, and the
//! requests themselves would go one after another. At 200 probes a second of 10 ms each,
//! that is a queue that only grows, whatever the jobs do: it measures the io workload's
//! answer again (sync does not overlap waits), not what blocks a scheduler.
//!
//! `sync mixed ...` therefore stops with exit code 2 and this reason, before any work
//! (see `workload::mixed::Offer`); `sync mixed --help` says so too.

use anyhow::{bail, Result};
use workload::mixed::Offer;
use workload::{MixedArgs, Tally};

pub const OFFER: Offer = Offer::NotOffered(
    "sync has no scheduler: nothing runs beside a job, and its probes would queue one after another (the io workload already shows that); see threads for the baseline",
);

/// Not reached: `mixed` is refused before the run starts. An error, not a panic, should
/// that ever change.
pub fn run_mixed(_: &MixedArgs) -> Result<Tally> {
    bail!("mixed is not offered by sync")
}
