//! # monoio-async, mixed: what blocks a core
//!
//! A probe stream (one download every 1/rate s, each a task) runs beside CPU jobs; the
//! probes' latency shows whether the jobs held the cores (see `workload::mixed` for the
//! schedule and the measurement). The stream's events are dealt out to the cores up front,
//! round robin, as every workload here is: a probe and a job run on the core they were
//! dealt to, and nothing moves later. A core runs one task at a time and switches only at
//! an `.await`; a job that computes without one holds its core for as long as it computes.
//! **Without work stealing** that is worse than in tokio: tokio's other workers take the
//! stalled worker's queued tasks, here the probes dealt to a computing core wait for it,
//! whatever the other cores are doing. The variants:
//!
//! - `offload`: each job on the blocking pool (`spawn_blocking`): the cores stay free;
//!   the kernel shares the CPUs between the job threads and the cores. The right way.
//! - `inline`: each job in a task (`monoio::spawn`) of its core: that core is held until
//!   its jobs are done, and its probes wait up to all of them.
//! - `yield`: inline, with a yield between steps (a step is one multiplication of the
//!   job, a small part of it; see `workload::mixed`): asyncio's `await asyncio.sleep(0)`.
//!   The task goes to the back of its core's queue, so a ready probe waits for a step,
//!   not a job; but a probe still waiting for its start time waits longer (see
//!   [`yield_now`]: the core's timers fire only when its queue runs empty).
//! - `block`: each job is a task that waits `--block-ms` with `std::thread::sleep`, where
//!   `monoio::time::sleep(...).await` was meant: the core's thread sleeps, not the task.
//!
//! ```sh
//! target/release/monoio-async mixed --variant inline --url http://127.0.0.1:PORT/delay/10/bytes/1024
//! ```
//!
//! **What to observe.** In the summary line's `mixed`: p50 barely moves; `inline`'s and
//! `block`'s p99 and max grow to the jobs' length on a core, `offload`'s stay near the
//! server's 10 ms. The figures: results/REPORT.md, 'What blocks a scheduler'.

use super::{fetch, join_all, runtime};
use anyhow::Result;
use monoio::task::JoinHandle;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;
use workload::mixed::{Event, Job, Offer, Stream, Variant};
use workload::{gather, MixedArgs, Tally};

/// What this model offers: every variant but tokio's current-thread.
pub const OFFER: Offer = Offer::Runs {
    variants: &[
        (
            Variant::Offload,
            "each job on the blocking pool (monoio::spawn_blocking): the right way",
        ),
        (
            Variant::Inline,
            "each job in a task on its core (monoio::spawn): the trap, with no stealing",
        ),
        (
            Variant::Yield,
            "inline, yielding to the core's other tasks between the job's steps",
        ),
        (
            Variant::Block,
            "each job a task calling std::thread::sleep, not monoio::time::sleep",
        ),
    ],
    why:
        "current-thread is tokio-async's: every monoio runtime is already one thread, one per core.",
};

/// The probe stream and its jobs, dealt out to the cores.
pub fn run_mixed(args: &MixedArgs) -> Result<Tally> {
    let stream = Stream::start(args)?;
    let (timeout, variant) = (args.timeout(), stream.variant());
    let mut shares: Vec<Vec<Event>> = (0..runtime::cores()).map(|_| Vec::new()).collect();
    let cores = shares.len();
    for (i, event) in stream.events().enumerate() {
        shares[i % cores].push(event);
    }
    let target = stream.target();
    let per_core = runtime::on_cores(shares, |events| async move {
        let target = Rc::new(target.clone());
        let (mut probes, mut jobs) = (Vec::new(), Vec::new());
        for event in events {
            // Open loop: each event has its time, fixed in advance. When this core is
            // stalled a probe starts late; its latency still counts from when it was due.
            monoio::time::sleep_until(monoio::time::Instant::from_std(event.due())).await;
            match event {
                Event::Probe(probe) => {
                    let target = target.clone();
                    // Each probe is a task of its own, as a server's requests would be.
                    probes.push(monoio::spawn(async move {
                        probe.done(fetch::download(&target, timeout, &mut None).await)
                    }));
                }
                Event::Job(job) => jobs.push(start_job(variant, job)),
            }
        }
        (join_all(probes).await, join_all(jobs).await)
    })?;
    let (probes, jobs): (Vec<_>, Vec<_>) = per_core.into_iter().unzip();
    let probes = gather(probes.into_iter().flatten());
    let jobs = gather(jobs.into_iter().flatten());
    stream.finish(probes.and_then(|p| Ok(p + jobs?)))
}

/// Start one CPU job the way the variant says: this is what the variants differ in.
fn start_job(variant: Variant, mut job: Job) -> JoinHandle<Result<Tally>> {
    match variant {
        // The blocking pool: a thread of its own, preempted by the kernel like any other.
        Variant::Offload => monoio::spawn(async move {
            monoio::spawn_blocking(move || job.run())
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a job was cancelled")))
        }),
        // A task like any other: it holds its core until every step is done.
        Variant::Inline => monoio::spawn(async move { job.run() }),
        Variant::Yield => monoio::spawn(async move {
            while job.step() {
                yield_now().await;
            }
            job.finish()
        }),
        Variant::Block => monoio::spawn(async move {
            // The trap: std's sleep parks the core's thread, not just this task.
            std::thread::sleep(job.block_for());
            job.finish()
        }),
        // Not in OFFER: refused with exit code 2 before the run (workload::mixed::check).
        Variant::CurrentThread => unreachable!("current-thread is not offered by monoio"),
    }
}

/// Wake ourselves and go to the back of the core's queue (monoio 0.2.4 has no
/// `yield_now`): the core runs its other ready tasks first. What it does not do while its
/// queue stays busy is look at its timers: monoio 0.2.4's run loop (runtime.rs) only
/// submits and reaps I/O between rounds of tasks (`TimeDriver::submit` goes straight to
/// the I/O driver), and fires timers when it parks on an empty queue. So a probe due on
/// a core whose job keeps yielding starts late, where a ready probe would not.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}
