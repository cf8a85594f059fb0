//! # procs: one OS process per task
//!
//! **The model.** Every task runs in its own process, the counterpart of Python's
//! `multiprocessing.Process`. Rust has no fork-based multiprocessing (forking a process
//! that has threads is unsafe), so the binary re-executes itself: the parent starts N
//! copies of `procs` with the arguments of exactly one task and `PROCS_WORKER` set to its
//! own pid (a worker checks it against its parent's, so a `PROCS_WORKER` left in a user's
//! environment cannot turn a normal run into a worker); each copy runs that task and
//! prints its summary line, and the parent adds them up.
//!
//! **Who schedules the work.** The kernel, as for threads, but each worker also has its own
//! address space: nothing is shared, everything crosses a pipe (here, the summary line).
//!
//! **What it costs.** A process start per task (fork and exec, dynamic loading, and in the
//! worker its own HTTP client, as `sync` builds one), a process's own memory per task, and
//! no shared connection pool. By PSS the workers' shared code and libc are divided among
//! them; peak RSS summed over the workers counts those pages once per worker. In exchange
//! a crashing worker cannot corrupt the others. What a start and a worker's memory come
//! to: results/REPORT.md, 'What one task costs' and 'Memory: PSS and peak RSS'.
//!
//! **When to pick it.** Isolation (untrusted or crash-prone work), or in Python to escape
//! the GIL for CPU-bound work. In Rust, threads already use every core, so processes buy
//! isolation only. The seed article's Python processes (its fastest cpu run):
//! cpu 1.12 s, io 7.22 s. <!-- outside: seed article -->
//!
//! ```sh
//! target/release/procs cpu --n 10
//! target/release/procs io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! ```
//!
//! What one process costs to start (`spawn`) and to switch to (`switch`, a token handed
//! round a ring of pipes: each hand-off wakes another process) is in `costs.rs`.
//!
//! **As a server** (`serve`, see `serve.rs`): K pre-forked worker processes (one per core,
//! or `--workers K`; procs alone takes it) share one listening socket, and each serves one
//! connection at a time, closed after its answer, as gunicorn's sync workers do.
//!
//! ```sh
//! target/release/procs serve --port 0 --workers 8 --backend 127.0.0.1:FIXTURE_PORT
//! ```
//!
//! **What to observe.** Times close to `threads` plus a process start per worker; memory
//! (PSS, summed over every worker) above that of `threads`: by a little at N=10, and by
//! far more per task as N grows (results/REPORT.md, 'Memory: PSS and peak RSS' and
//! 'Memory per task').
//!
//! **No `mixed`.** A request per process would measure process start-up, and jobs in
//! processes are preempted like `threads`' jobs: refused before any work (exit 2), with
//! the reason in [`NO_MIXED`].

mod costs;
mod serve;
mod worker;

use anyhow::{bail, Result};
use std::process::ExitCode;
use workload::budget::{self, AtOnce, Shape};
use workload::mixed::Offer;
use workload::{gather, Command, Tally};

/// Why `mixed` is refused before any work, with exit code 2 (`procs mixed --help` says it).
const NO_MIXED: &str = "a probe per process would measure process start-up, not scheduling, \
    and jobs in their own processes are preempted by the kernel just as threads' are: \
    threads is that baseline";

/// How this model runs its tasks (every task at once, a process each): `workload::main`
/// predicts a run's length and memory from it, and refuses one over `--max-run-s` or the
/// memory limits.
const SHAPE: Shape = Shape {
    waits: AtOnce::All,
    task: budget::PROCESS,
    computes: AtOnce::All,
    compute_task: budget::PROCESS,
    base: budget::NOTHING,
    kernel_task_each: true,
    own_process: true,
    task_time: budget::PROCESS_TIME,
};

fn main() -> ExitCode {
    workload::mixed::offer(&Offer::NotOffered(NO_MIXED));
    workload::budget::shape(SHAPE);
    // `serve --workers K`: the worker processes that share the listening socket.
    workload::serve::offer_workers();
    // A worker is this same binary, started by the parent below: it runs one task (or
    // serves, as one of serve's workers).
    if worker::is_worker() {
        return workload::worker_main(worker::model_name(), worker::run_task);
    }
    workload::main("procs", |command| match command {
        Command::Cpu(args) => on_processes(args.n, command),
        Command::Io(args) => on_processes(args.n, command),
        Command::Sleep(args) => on_processes(args.n, command),
        Command::Spawn(args) => costs::run_spawn(args.n, command),
        Command::Switch(args) => costs::run_switch(args, command),
        // Not reached: the offer above refuses `mixed` before the run starts.
        Command::Mixed(_) => bail!("mixed is not offered here: {NO_MIXED}"),
        Command::Serve(args) => serve::run_serve(args),
    })
}

/// The model itself: start one worker process per task, then wait for each and add up
/// what it reports. Every workload is the same here: the task runs in the worker.
fn on_processes(n: u64, command: &Command) -> Result<Tally> {
    workload::record_workers(n);
    // N workers are N kernel tasks, and this process keeps the read end of a pipe of each
    // (worker::FILES_PER_WORKER) plus a few while one starts (worker::FILES_TO_START):
    // refuse a run the machine cannot hold before starting any. The open-file limit has
    // been raised to its hard limit already (workload::main).
    workload::limits::check_tasks(n, &format!("{n} worker processes, one per task,"))?;
    workload::limits::check_files(
        n * worker::FILES_PER_WORKER + worker::FILES_TO_START,
        &format!("{n} workers' pipes"),
    )?;
    // Workers kills and reaps any worker still running if we leave early (a failed spawn,
    // an error): no process is left behind.
    let mut workers = worker::Workers::default();
    for i in 0..n {
        if let Err(e) = workers.start(&command.one_task_argv()) {
            let hint = e
                .downcast_ref::<std::io::Error>()
                .map_or_else(workload::limits::hint, workload::limits::start_failure_hint);
            return Err(e.context(format!("cannot start worker {} of {n}; see {hint}", i + 1)));
        }
    }
    // Wait for all of them, in start order; a failed worker is reported with its own
    // one-line error after every worker has finished.
    gather(workers.wait_all())
}
