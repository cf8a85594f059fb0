//! # smol-async, mixed: what blocks smol's executor
//!
//! A probe stream (one download every 1/rate s, each a task) runs beside CPU jobs; the
//! probes' latency shows whether the jobs held the executor threads (see `workload::mixed`
//! for the schedule and the measurement). An executor thread runs one task at a time and
//! only switches at an `.await`: a job that computes without one holds its thread for as
//! long as it computes. The variants:
//!
//! - `offload`: each job on the blocking pool (`smol::unblock`): the executor threads stay
//!   free; the kernel shares the cores between them and the job threads. The right way.
//! - `inline`: each job in a task (`EXECUTOR.spawn`). With J jobs on C executor threads
//!   (one per core) every one is held until the jobs are done: probes wait for up to
//!   J / C jobs' length.
//! - `yield`: inline, with `smol::future::yield_now().await` between steps (a step is one
//!   multiplication of the job, a small part of it; see `workload::mixed`). The task wakes
//!   itself and goes to the back of the executor's queue, so a probe waits for a step,
//!   not a job. Sockets are looked at meanwhile: the main thread runs the reactor while
//!   it waits, and each executor thread every 200 tasks (async-executor's `run`).
//! - `block`: each job is a task that waits `--block-ms` with `std::thread::sleep`, where
//!   `Timer::after(...).await` was meant: the executor thread sleeps, not the task.
//!
//! No `current-thread`: the closest is an executor run by one thread, which `on_executor`
//! does not build; tokio-async shows it.
//!
//! ```sh
//! target/release/smol-async mixed --variant inline --url http://127.0.0.1:PORT/delay/10/bytes/1024
//! ```
//!
//! **What to observe.** The same shape as tokio-async: `inline`'s and `block`'s p99 grow
//! to the jobs' length, `offload`'s stay near the server's 10 ms, and `yield`'s near
//! `offload`'s. The figures: results/REPORT.md, 'What blocks a scheduler'.

use super::{Smol, EXECUTOR};
use anyhow::Result;
use smol::{Task, Timer};
use std::sync::Arc;
use workload::hyper_futures::Client;
use workload::mixed::{Event, Job, Offer, Stream, Variant};
use workload::{MixedArgs, Tally};

/// smol's equivalents of tokio's, except a one-thread runtime.
pub const OFFER: Offer = Offer::Runs {
    variants: &[
        (
            Variant::Offload,
            "each job on smol's blocking pool (smol::unblock): the right way",
        ),
        (
            Variant::Inline,
            "each job in a task on the executor threads: the trap",
        ),
        (
            Variant::Yield,
            "inline, with smol::future::yield_now() between the job's steps",
        ),
        (
            Variant::Block,
            "each job a task calling std::thread::sleep, not smol::Timer",
        ),
    ],
    why: "current-thread is tokio-async's: this model runs its executor on one thread per core.",
};

/// The probe stream and its jobs, on the executor threads that `main` started.
pub async fn run_mixed(args: &MixedArgs) -> Result<Tally> {
    // One client for every probe, as in run_io (each probe opens its own connection).
    let client = Arc::new(Client::new(Smol, args.timeout()));
    let stream = Stream::start(args)?;
    let target = Arc::new([stream.target().clone()]);
    let variant = stream.variant();
    let (mut probes, mut jobs) = (Vec::new(), Vec::new());
    for event in stream.events() {
        // Open loop: each event has its time, fixed in advance. When the executor is
        // stalled a probe starts late; its latency still counts from when it was due.
        Timer::at(event.due()).await;
        match event {
            Event::Probe(probe) => {
                let (client, target) = (client.clone(), target.clone());
                // Each probe is a task of its own, as a server's requests would be.
                probes.push(
                    EXECUTOR
                        .spawn(async move { probe.done(client.download_all(&target[..]).await) }),
                );
            }
            Event::Job(job) => jobs.push(start_job(variant, job)),
        }
    }
    let probes = super::join_all(probes).await;
    let jobs = super::join_all(jobs).await;
    stream.finish(probes.and_then(|p| Ok(p + jobs?)))
}

/// Start one CPU job the way the variant says: this is what the variants differ in.
fn start_job(variant: Variant, mut job: Job) -> Task<Result<Tally>> {
    match variant {
        // The blocking pool: a thread of its own, preempted by the kernel like any other.
        Variant::Offload => smol::unblock(move || job.run()),
        // A task like any other: it holds its executor thread until every step is done.
        Variant::Inline => EXECUTOR.spawn(async move { job.run() }),
        Variant::Yield => EXECUTOR.spawn(async move {
            while job.step() {
                // Wake ourselves and go to the back of the queue.
                smol::future::yield_now().await;
            }
            job.finish()
        }),
        Variant::Block => EXECUTOR.spawn(async move {
            // The trap: std's sleep parks the executor thread, not just this task.
            std::thread::sleep(job.block_for());
            job.finish()
        }),
        // Not in OFFER: refused with exit code 2 before the run (workload::mixed::check).
        Variant::CurrentThread => unreachable!("current-thread is not offered by smol-async"),
    }
}
