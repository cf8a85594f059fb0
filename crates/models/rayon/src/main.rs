//! # rayon: a pool of worker threads, one per core, fed by a parallel iterator
//!
//! **The model.** Data parallelism: `(0..n).into_par_iter().map(task)` splits the range over
//! a fixed pool of worker threads (one per core) that steal work from each other. It is the
//! counterpart of Python's `multiprocessing.Pool.map`, with threads instead of processes.
//!
//! **Who schedules the work.** rayon's work-stealing scheduler, over as many OS threads as
//! cores. A task runs to completion on its worker; a task that blocks (a socket read, a
//! sleep) blocks that worker, and nothing else runs on it meanwhile.
//!
//! **What it costs.** One pool for the whole process, no thread per task: the cheapest
//! way to keep every core busy with CPU work. For waiting it is the wrong tool: at most
//! `cores` tasks wait at once, so io and sleep take about N / cores x one task's time.
//!
//! **When to pick it.** CPU-bound work over a collection. Not for I/O: the seed article's
//! advice (processes for CPU, threads or async for I/O) holds here, with rayon in the
//! place of its process pool.
//!
//! ```sh
//! target/release/rayon cpu --n 10
//! target/release/rayon io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! ```
//!
//! What a rayon job costs (`spawn`), and why a ring of waiting tasks cannot run on the
//! pool (`switch` hands the token on as a chain of new jobs instead), is in `costs.rs`.
//!
//! **As a server** (`serve`, see `serve.rs`): each connection a job on the pool, served to
//! its end by one worker, and closed after its answer: a kept-alive idle connection would
//! hold a worker. At most `cores` requests are answered at once.
//!
//! ```sh
//! target/release/rayon serve --port 0 --backend 127.0.0.1:FIXTURE_PORT
//! ```
//!
//! **What to observe.** cpu about as fast as `threads`, with fewer threads. io about
//! N / cores times one task's time: on 2 cores, 10 tasks of 4 URLs with a 100 ms delay
//! take 5 rounds of 4 x 100 ms.
//!
//! **No `mixed`.** A stream of waiting requests would hold the pool's workers before any
//! CPU job arrives (the io pitfall again), and requests on threads beside jobs on the pool
//! would be `threads` again: refused before any work (exit 2), with the reason in
//! [`NO_MIXED`].

mod costs;
mod serve;

use anyhow::{anyhow, bail, Result};
use rayon::prelude::*;
use std::process::ExitCode;
use workload::blocking::Client;
use workload::budget::{self, AtOnce, Shape};
use workload::cli::SleepArgs;
use workload::mixed::Offer;
use workload::{cpu, gather, Command, CpuArgs, IoArgs, Tally};

/// Why `mixed` is refused before any work, with exit code 2 (`rayon mixed --help` says it).
const NO_MIXED: &str = "rayon's pool is for CPU work: 200 probes a second of 10 ms each already \
    hold 2 workers (the io workload's pitfall), and probes on threads beside jobs on the pool \
    is threads again";

/// How this model runs its tasks (one task per worker of the pool, the others queued):
/// `workload::main` predicts a run's length and memory from it, and refuses one over
/// `--max-run-s` or the memory limits.
const SHAPE: Shape = Shape {
    waits: AtOnce::Workers,
    task: budget::NOTHING,
    computes: AtOnce::Workers,
    compute_task: budget::NOTHING,
    base: budget::NOTHING,
    kernel_task_each: false,
    own_process: false,
    task_time: budget::JOB_TIME,
};

fn main() -> ExitCode {
    workload::mixed::offer(&Offer::NotOffered(NO_MIXED));
    workload::budget::shape(SHAPE);
    workload::main("rayon", |command| {
        // Start the global pool here, in plain sight: one thread per core (RAYON_NUM_THREADS
        // overrides it). Left to start on first use, a thread that cannot start would be a
        // panic inside rayon; built here, it is an error naming the limit.
        rayon::ThreadPoolBuilder::new()
            .build_global()
            .map_err(|e| {
                anyhow!(
                    "cannot start rayon's pool ({e}); see {}",
                    workload::limits::hint()
                )
            })?;
        workload::record_workers(rayon::current_num_threads() as u64);
        match command {
            Command::Cpu(args) => run_cpu(args),
            Command::Io(args) => run_io(args),
            Command::Sleep(args) => run_sleep(args),
            Command::Spawn(args) => costs::run_spawn(args),
            Command::Switch(args) => costs::run_switch(args),
            // Not reached: the offer above refuses `mixed` before the run starts.
            Command::Mixed(_) => bail!("mixed is not offered here: {NO_MIXED}"),
            Command::Serve(args) => serve::run_serve(args),
        }
    })
}

/// N powers over the global pool: one worker per core, each stealing the next task.
fn run_cpu(args: &CpuArgs) -> Result<Tally> {
    // collect() waits for every task: that is the join.
    let results: Vec<_> = (0..args.n)
        .into_par_iter()
        .map(|_| cpu::task(args.base, args.exp))
        .collect();
    gather(results)
}

/// N download tasks over the same pool. It works, but each blocking request holds a
/// worker, so only `cores` tasks are ever waiting at once: the pitfall to see.
fn run_io(args: &IoArgs) -> Result<Tally> {
    // One client shared by the workers (it is Sync): one connection pool for the process.
    let client = Client::new(args.timeout());
    let results: Vec<_> = (0..args.n)
        .into_par_iter()
        .map(|_| client.download_all(&args.urls))
        .collect();
    gather(results)
}

/// N waits over the pool: a sleeping worker is a lost core, so N / cores rounds of MS.
fn run_sleep(args: &SleepArgs) -> Result<Tally> {
    let results: Vec<_> = (0..args.n)
        .into_par_iter()
        .map(|_| {
            std::thread::sleep(args.duration());
            Ok::<_, anyhow::Error>(Tally::task(0, 0))
        })
        .collect();
    gather(results)
}
