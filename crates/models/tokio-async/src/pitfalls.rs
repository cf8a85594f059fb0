//! # tokio-async, mixed: what blocks tokio's scheduler
//!
//! A probe stream (one download every 1/rate s, each a task) runs beside CPU jobs; the
//! probes' latency shows whether the jobs held the workers (see `workload::mixed` for the
//! schedule and the measurement). A worker runs one task at a time and only switches at an
//! `.await`: a job that computes without one holds its worker for as long as it computes,
//! and the probes queued there (and, when every worker is held, the reactor and the timers)
//! wait. The variants:
//!
//! - `offload`: each job on the blocking pool (`spawn_blocking`): the workers stay free;
//!   the kernel shares the cores between the job threads and the workers. The right way.
//! - `inline`: each job in a task (`tokio::spawn`). With J jobs on C workers (one per
//!   core) every worker is held until the jobs are done: probes wait for up to J / C jobs'
//!   length.
//! - `yield`: inline, with `tokio::task::yield_now().await` between steps (a step is one
//!   multiplication of the job, a small part of it; see `workload::mixed`): asyncio's
//!   `await asyncio.sleep(0)`. tokio defers a yielded task until the worker has run the
//!   other ready tasks and polled the reactor, so a probe waits for a step, not a job.
//!   The cost: the job's steps share the workers with everything else, and each yield is
//!   a trip through the scheduler.
//! - `block`: each job is a task that waits `--block-ms` with `std::thread::sleep`, where
//!   `tokio::time::sleep(...).await` was meant: the thread sleeps, not the task, and the
//!   worker runs nothing else meanwhile (the seeds' "blocking library functions hang the
//!   loop").
//! - `current-thread`: inline, on a current-thread runtime (`main.rs` builds it): one
//!   thread runs the schedule, the probes, the reactor and the jobs, so while a job
//!   computes nothing else happens at all. The closest to Python's one-threaded asyncio.
//!
//! ```sh
//! target/release/tokio-async mixed --variant inline --url http://127.0.0.1:PORT/delay/10/bytes/1024
//! target/release/tokio-async mixed --variant current-thread --jobs 1 --exp 200000 --url ...
//! ```
//!
//! **What to observe.** In the summary line's `mixed`: p50 barely moves (most probes run
//! while no job does); `inline`'s and `block`'s p99 and max grow to the jobs' length,
//! `offload`'s stay near the server's 10 ms; `current-thread`'s max is the whole job. The
//! figures: results/REPORT.md, 'What blocks a scheduler'.

use crate::fetch;
use anyhow::{Context, Result};
use std::sync::Arc;
use tokio::task::JoinHandle;
use workload::mixed::{Event, Job, Offer, Stream, Variant};
use workload::{MixedArgs, Tally};

/// Every variant makes sense on tokio.
pub const OFFER: Offer = Offer::Runs {
    variants: &[
        (
            Variant::Offload,
            "each job on tokio's blocking pool (spawn_blocking): the right way",
        ),
        (
            Variant::Inline,
            "each job in a task on the workers (tokio::spawn): the trap",
        ),
        (
            Variant::Yield,
            "inline, with tokio::task::yield_now() between the job's steps",
        ),
        (
            Variant::Block,
            "each job a task calling std::thread::sleep, not tokio::time::sleep",
        ),
        (
            Variant::CurrentThread,
            "inline, on a current-thread runtime: one thread for everything",
        ),
    ],
    why: "",
};

/// The probe stream and its jobs, on whichever runtime `main` built for the variant.
pub async fn run_mixed(args: &MixedArgs) -> Result<Tally> {
    // One client for every probe, as in run_io: its pool keeps connections for reuse.
    let client = fetch::client().context("cannot build the HTTP client")?;
    let stream = Stream::start(args)?;
    let target = Arc::new(stream.target().clone());
    let (timeout, variant) = (args.timeout(), stream.variant());
    let (mut probes, mut jobs) = (Vec::new(), Vec::new());
    for event in stream.events() {
        // Open loop: each event has its time, fixed in advance. When the runtime is
        // stalled this wakes late and starts every overdue probe at once; each one's
        // latency still counts from when it was due.
        tokio::time::sleep_until(event.due().into()).await;
        match event {
            Event::Probe(probe) => {
                let (client, target) = (client.clone(), target.clone());
                // Each probe is a task of its own, as a server's requests would be.
                probes.push(tokio::spawn(async move {
                    probe.done(fetch::download(&client, &target, timeout).await)
                }));
            }
            Event::Job(job) => jobs.push(start_job(variant, job)),
        }
    }
    let probes = super::join_all(probes).await;
    let jobs = super::join_all(jobs).await;
    stream.finish(probes.and_then(|p| Ok(p + jobs?)))
}

/// Start one CPU job the way the variant says: this is what the variants differ in.
fn start_job(variant: Variant, mut job: Job) -> JoinHandle<Result<Tally>> {
    match variant {
        // The blocking pool: a thread of its own, preempted by the kernel like any other.
        Variant::Offload => tokio::task::spawn_blocking(move || job.run()),
        // A task like any other: it holds its worker until every step is done. On the
        // current-thread runtime that worker is the only thread.
        Variant::Inline | Variant::CurrentThread => tokio::spawn(async move { job.run() }),
        Variant::Yield => tokio::spawn(async move {
            while job.step() {
                // Back of the queue, behind the ready tasks and the reactor's news.
                tokio::task::yield_now().await;
            }
            job.finish()
        }),
        Variant::Block => tokio::spawn(async move {
            // The trap: std's sleep parks the worker thread, not just this task.
            std::thread::sleep(job.block_for());
            job.finish()
        }),
    }
}
