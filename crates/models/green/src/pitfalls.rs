//! # green, mixed: what blocks may's workers
//!
//! A probe stream (one download every 1/rate s, each a coroutine) runs beside CPU jobs;
//! the probes' latency shows whether the jobs held the workers (see `workload::mixed` for
//! the schedule and the measurement). A worker runs one coroutine at a time and switches
//! only when it waits on may's own primitives: a job that computes holds its worker for
//! as long as it computes, as an inline job holds an async runtime's. gevent has the same
//! trap. The variants:
//!
//! - `offload`: each job on a plain OS thread (`std::thread::spawn`), which the kernel
//!   preempts: the workers stay free. The right way (gevent's is a threadpool).
//! - `inline`: each job in a coroutine. With J jobs on C workers (one per core) every
//!   worker is held until the jobs are done: probes wait for up to J / C jobs' length.
//! - `yield`: inline, with `may::coroutine::yield_now()` between steps (a step is one
//!   multiplication of the job, a small part of it; see `workload::mixed`): gevent's
//!   `gevent.sleep(0)`. The coroutine goes to the back of its worker's queue, so other
//!   ready coroutines run between steps. But a may 0.3 worker waits on its sockets
//!   (epoll) and takes in coroutines queued from other threads (new probes spawned by the
//!   main thread, sleepers the timer thread wakes) only once its own queue is empty
//!   (`Selector::select`, then `run_queued_tasks`), and a yielding job is always in it: a
//!   probe is not started, nor woken by its reply, before the jobs end. So `yield` is
//!   little better than `inline` here (results/REPORT.md, 'What blocks a scheduler';
//!   e2e/tests/pitfalls.rs checks it).
//! - `block`: each job is a coroutine that waits `--block-ms` with `std::thread::sleep`,
//!   where `may::coroutine::sleep` was meant: the worker sleeps, not the coroutine.
//!
//! No `current-thread`: may with one worker would be the closest, not a variant here;
//! tokio-async shows it.
//!
//! ```sh
//! target/release/green mixed --variant inline --url http://127.0.0.1:PORT/delay/10/bytes/1024
//! ```
//!
//! **What to observe.** `inline`'s, `yield`'s and `block`'s p99 grow to the jobs'
//! length; `offload`'s stay near the server's 10 ms, like `threads`. The figures:
//! results/REPORT.md, 'What blocks a scheduler'.

use crate::client;
use anyhow::{bail, Result};
use may::coroutine::JoinHandle;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;
use workload::mixed::{Event, Job, Offer, Stream, Variant};
use workload::{gather, joined, MixedArgs, Tally};

/// may's equivalents of tokio's, except a one-thread runtime.
pub const OFFER: Offer = Offer::Runs {
    variants: &[
        (
            Variant::Offload,
            "each job on a plain OS thread: the right way",
        ),
        (
            Variant::Inline,
            "each job in a coroutine on may's workers: the trap",
        ),
        (
            Variant::Yield,
            "inline, with may::coroutine::yield_now() between the job's steps",
        ),
        (
            Variant::Block,
            "each job a coroutine calling std::thread::sleep, not may's sleep",
        ),
    ],
    why: "current-thread is tokio-async's: this model runs one may worker per core.",
};

/// A job's join, whichever kind of thread it ran on.
type Joiner = Box<dyn FnOnce() -> Result<Tally>>;

/// The probe stream and its jobs. The schedule runs on this (main) thread, which is not
/// one of may's workers: like tokio's `block_on`, it is not stalled by what they run.
pub fn run_mixed(args: &MixedArgs) -> Result<Tally> {
    let stream = Stream::start(args)?;
    let target = Arc::new(stream.target().clone());
    let (timeout, variant) = (args.timeout(), stream.variant());
    let (mut probes, mut jobs) = (Vec::new(), Vec::<Joiner>::new());
    for event in stream.events() {
        // Open loop: each event has its time, fixed in advance. A late probe's latency
        // still counts from when it was due.
        std::thread::sleep(event.due().saturating_duration_since(Instant::now()));
        match event {
            Event::Probe(probe) => {
                let target = target.clone();
                // Each probe is a coroutine with its own client, as in run_io.
                probes.push(spawn(move || {
                    probe.done(client::client(timeout).download(&target))
                })?);
            }
            Event::Job(job) => jobs.push(start_job(variant, job)?),
        }
    }
    let probes = gather(probes.into_iter().map(|h| joined(h.join())));
    let jobs = gather(jobs.into_iter().map(|join| join()));
    stream.finish(probes.and_then(|p| Ok(p + jobs?)))
}

/// Start one CPU job the way the variant says: this is what the variants differ in.
fn start_job(variant: Variant, mut job: Job) -> Result<Joiner> {
    let coroutine = match variant {
        Variant::Offload => {
            // An OS thread of its own, preempted by the kernel like any other.
            let thread = std::thread::Builder::new().spawn(move || job.run())?;
            return Ok(Box::new(move || joined(thread.join())));
        }
        // A coroutine like any other: it holds its worker until every step is done.
        Variant::Inline => spawn(move || job.run())?,
        Variant::Yield => spawn(move || {
            while job.step() {
                // Back of this worker's queue (see the header for what that does not do).
                may::coroutine::yield_now();
            }
            job.finish()
        })?,
        Variant::Block => spawn(move || {
            // The trap: std's sleep parks the worker thread, not just this coroutine.
            std::thread::sleep(job.block_for());
            job.finish()
        })?,
        // Not in OFFER: refused with exit code 2 before the run (workload::mixed::check).
        Variant::CurrentThread => unreachable!("current-thread is not offered by green"),
    };
    Ok(Box::new(move || joined(coroutine.join())))
}

/// Spawn one coroutine, as `on_coroutines` does (its SAFETY comment holds here too: the
/// closures here use no thread-local and stay far within STACK_BYTES).
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<JoinHandle<T>> {
    // SAFETY: see above and `on_coroutines`.
    match catch_unwind(AssertUnwindSafe(|| unsafe { may::coroutine::spawn(f) })) {
        Ok(handle) => Ok(handle),
        Err(_) => bail!("cannot start a coroutine: no memory map for its stack"),
    }
}
