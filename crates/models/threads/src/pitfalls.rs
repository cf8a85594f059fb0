//! # threads, mixed: the baseline, where nothing can block the scheduler
//!
//! A probe stream (one download every 1/rate s, each on a thread of its own) runs beside
//! CPU jobs (each on a thread of its own); see `workload::mixed` for the schedule and the
//! measurement. The kernel preempts: a thread that computes is interrupted when its time
//! slice is up or a woken thread deserves the core, so a probe whose reply arrives waits
//! for a core (a time slice or so), never for a whole job.
//! No variant: no way of running a job here holds anyone else back (a thread that calls
//! `std::thread::sleep` parks only itself). This is what every variant of the other
//! models is compared to.
//!
//! ```sh
//! target/release/threads mixed --url http://127.0.0.1:PORT/delay/10/bytes/1024
//! ```
//!
//! **What to observe.** p99 near the server's 10 ms plus the time the jobs' threads keep
//! the cores (J jobs and the probes share them); the figures: results/REPORT.md, 'What
//! blocks a scheduler'.

use anyhow::{Context, Result};
use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;
use workload::blocking::Client;
use workload::mixed::{Event, Offer, Stream};
use workload::{gather, joined, MixedArgs, Tally};

/// No variants: the kernel decides, whatever the job does.
pub const OFFER: Offer = Offer::Runs {
    variants: &[],
    why: "the kernel preempts every thread, so no way of running a job can hold a probe back: \
          threads is the baseline the variants are compared to.",
};

/// The probe stream and its jobs, every one on a thread of its own.
pub fn run_mixed(args: &MixedArgs) -> Result<Tally> {
    // One client shared by every thread, as in run_io: one connection pool.
    let client = Arc::new(Client::new(args.timeout()));
    let stream = Stream::start(args)?;
    let target = Arc::new(stream.target().clone());
    workload::record_workers(args.probes() + args.jobs);
    // A probe's thread lives until its reply: at 5,000 probes a second against a server
    // that takes 5 s, 25,000 at once, past vm.max_map_count (four maps a thread), where
    // std aborts the process. So at most `room` probe threads run at once. A stream that
    // needs more cannot keep its schedule (every later probe would wait for a thread,
    // and the run would crawl for minutes measuring the limit, not the scheduler): it
    // is refused at that moment, in one line naming the limit (exit 2). Half the room: a
    // probe's connect starts a thread of its own for a moment (ureq resolves the host on
    // one when a timeout is set, even for an IP address).
    workload::limits::check_threads(args.jobs + 2, "the jobs' threads and a probe's")?;
    let room = (workload::limits::thread_room(args.jobs + 16) / 2).max(1);
    let (mut probes, mut jobs) = (VecDeque::new(), Vec::new());
    let mut done = Vec::new();
    for event in stream.events() {
        // Open loop: each event has its time, fixed in advance. A late probe's latency
        // still counts from when it was due.
        thread::sleep(event.due().saturating_duration_since(Instant::now()));
        match event {
            Event::Probe(probe) => {
                // Finished probes leave the queue; a full one is the machine's limit.
                while probes.front().is_some_and(JoinHandle::is_finished) {
                    let oldest: JoinHandle<_> = probes.pop_front().expect("not empty");
                    done.push(joined(oldest.join()));
                }
                if probes.len() as u64 >= room {
                    return Err(workload::limits::Refused(format!(
                        "mixed needs more than {room} probe threads in flight at once (--rate {} \
                         times each probe's latency), half of what this machine allows: \
                         {}; lower --rate or use a faster URL",
                        args.rate,
                        workload::limits::thread_room_limit()
                    ))
                    .into());
                }
                let (client, target) = (client.clone(), target.clone());
                probes.push_back(spawn(move || probe.done(client.download(&target)))?);
            }
            // The job computes on its own thread; the kernel shares the cores.
            Event::Job(job) => jobs.push(spawn(move || job.run())?),
        }
    }
    done.extend(probes.into_iter().map(|h| joined(h.join())));
    let probes = gather(done);
    let jobs = gather(jobs.into_iter().map(|h| joined(h.join())));
    stream.finish(probes.and_then(|p| Ok(p + jobs?)))
}

/// Start one thread; a failed spawn (the thread limit) is an error, not a panic.
fn spawn<E>(
    task: impl FnOnce() -> Result<Tally, E> + Send + 'static,
) -> Result<JoinHandle<Result<Tally, E>>>
where
    E: Send + 'static,
{
    thread::Builder::new()
        .spawn(task)
        .with_context(|| format!("cannot start a thread; see {}", workload::limits::hint()))
}
