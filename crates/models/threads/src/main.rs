//! # threads: one OS thread per task
//!
//! **The model.** Every task gets its own OS thread; the main thread starts them all, then
//! joins them. Code inside a task stays plain blocking code, as in `sync`.
//!
//! **Who schedules the work.** The kernel. A thread blocked on a socket or a sleep is
//! parked and costs no CPU; a thread with work runs on any free core. Rust has no GIL, so
//! N CPU-bound threads really use every core, unlike the seed article's Python threads.
//!
//! **What it costs.** Per thread: a kernel task, a stack (reserved 2 MiB, of which only the
//! touched pages use memory, plus a guard page), and a context switch whenever it blocks.
//! Thousands are fine on Linux; the limits are `threads-max`, `pid_max`, the user's
//! process limit (`ulimit -u`), memory (each stack's 2 MiB count against `ulimit -v`), and
//! `vm.max_map_count`: each thread is four memory maps (its stack and the signal stack
//! std gives it, each with a guard page), the same wall green's coroutines hit at two.
//!
//! **When to pick it.** Blocking I/O with tens to thousands of connections, and CPU work on
//! as many threads as cores. The seed article's Python threads (the GIL let one compute
//! at a time: on cpu slower than its sync version):
//! cpu 2.47 s, io 7.9 s. <!-- outside: seed article -->
//!
//! ```sh
//! target/release/threads cpu --n 10
//! target/release/threads io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! ```
//!
//! What one thread costs to start (`spawn`) and to switch to (`switch`, a token handed
//! round a ring on std channels: each hand-off wakes a parked thread) is in `costs.rs`.
//!
//! **As a server** (`serve`, see `serve.rs`): a thread per connection, kept alive; a
//! connection waiting on its next request or on the backend parks only its own thread.
//! At most half the room the thread limits leave are connection threads; past that a new
//! connection is closed and counted.
//!
//! ```sh
//! target/release/threads serve --port 0 --backend 127.0.0.1:FIXTURE_PORT
//! ```
//!
//! **What to observe.** io takes about one task's time (URLs x delay) while N is small,
//! and more as N grows (results/REPORT.md, 'Scale'); cpu takes N powers / number of cores.
//!
//! **What blocks it.** Nothing: `mixed` (a stream of requests beside CPU jobs, reporting
//! the requests' latency percentiles) runs here with no `--variant`, each request and
//! each job on a thread of its own, preempted by the kernel. It is the baseline the
//! async and green models' variants are compared to: [`pitfalls`].
//!
//! ```sh
//! target/release/threads mixed --url http://127.0.0.1:PORT/delay/10/bytes/1024
//! ```

mod pitfalls;

mod costs;
mod serve;

use anyhow::{Context, Result};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use workload::blocking::Client;
use workload::budget::{self, AtOnce, Shape};
use workload::cli::SleepArgs;
use workload::{cpu, gather, joined, Command, CpuArgs, IoArgs, Tally};

/// How this model runs its tasks (every task at once, a thread each): `workload::main`
/// predicts a run's length and memory from it, and refuses one over `--max-run-s` or the
/// memory limits.
const SHAPE: Shape = Shape {
    waits: AtOnce::All,
    task: budget::THREAD,
    computes: AtOnce::All,
    compute_task: budget::THREAD,
    base: budget::NOTHING,
    kernel_task_each: true,
    own_process: false,
    task_time: budget::THREAD_TIME,
};

fn main() -> ExitCode {
    workload::mixed::offer(&pitfalls::OFFER);
    workload::budget::shape(SHAPE);
    workload::main("threads", |command| match command {
        Command::Cpu(args) => run_cpu(args),
        Command::Io(args) => run_io(args),
        Command::Sleep(args) => run_sleep(args),
        Command::Spawn(args) => costs::run_spawn(args),
        Command::Switch(args) => costs::run_switch(args),
        Command::Mixed(args) => pitfalls::run_mixed(args),
        Command::Serve(args) => serve::run_serve(args),
    })
}

/// N powers, one thread each; the kernel spreads them over the cores.
fn run_cpu(args: &CpuArgs) -> Result<Tally> {
    let (base, exp) = (args.base, args.exp);
    on_threads(args.n, move || cpu::task(base, exp))
}

/// N tasks, one thread each; each blocks on its own socket while the others proceed.
fn run_io(args: &IoArgs) -> Result<Tally> {
    // Every task is in flight at once, each holding a socket: one open file each.
    workload::limits::check_files(args.n, &format!("{} tasks with a socket each", args.n))?;
    // A client per thread, as green has one per coroutine. One shared client would be one
    // connection pool behind one lock, which ureq scans whenever a connection goes back:
    // at 10,000 threads x 4 URLs (100 ms, 1 KiB) it took longer and more CPU than a
    // client each (hand runs, alternated; `make compare` with N=10000 shows it again).
    // Each thread still reuses its own connection for its next URL to the same host.
    let (timeout, urls) = (args.timeout(), args.urls.clone());
    on_threads(args.n, move || Client::new(timeout).download_all(&urls))
}

/// N waits, one thread each: all of them wait at the same time.
fn run_sleep(args: &SleepArgs) -> Result<Tally> {
    let duration = args.duration();
    on_threads(args.n, move || {
        thread::sleep(duration);
        Ok::<_, anyhow::Error>(Tally::task(0, 0))
    })
}

/// The model itself: spawn one thread per task, then join them all.
fn on_threads<E>(
    n: u64,
    task: impl Fn() -> Result<Tally, E> + Send + Sync + 'static,
) -> Result<Tally>
where
    E: Into<anyhow::Error> + Send + 'static,
{
    workload::record_workers(n);
    // N threads are N kernel tasks and 4N memory maps (the stack and the signal stack std
    // maps for each, with their guard pages): refuse a run the machine cannot hold before
    // starting any, naming the limit.
    workload::limits::check_threads(n, &format!("{n} threads, one per task,"))?;
    // Plain spawn needs a 'static closure, so the threads share the task through an Arc.
    // (A thread::scope would let them borrow it, but a scope joins every thread before it
    // returns: a failed start could then be reported only after all the others finished.)
    let task = Arc::new(task);
    let mut handles = Vec::with_capacity(n as usize);
    for i in 0..n {
        let task = Arc::clone(&task);
        // Builder::spawn reports a failed start (EAGAIN at a thread limit) as an error,
        // where thread::spawn would panic. Returning at once leaves the started threads
        // running: the process exits with them.
        let handle = thread::Builder::new()
            .spawn(move || task())
            .with_context(|| {
                format!(
                    "cannot start thread {} of {n}; see {}",
                    i + 1,
                    workload::limits::hint()
                )
            })?;
        handles.push(handle);
    }
    // Join every thread: a thread's failure is reported after all have finished.
    gather(handles.into_iter().map(|h| joined(h.join())))
}
