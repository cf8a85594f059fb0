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
//! process limit (`ulimit -u`), memory, and `vm.max_map_count`: each stack is two memory
//! maps (the stack and its guard page), the same wall green's coroutines hit.
//!
//! **When to pick it.** Blocking I/O with tens to thousands of connections, and CPU work on
//! as many threads as cores. The seed article's Python threads: cpu 2.47 s (the GIL made
//! them slower than sync), io 7.9 s.
//!
//! ```sh
//! target/release/threads cpu --n 10
//! target/release/threads io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! ```
//!
//! **What to observe.** io takes about one task's time (URLs x delay), whatever N; cpu
//! takes N powers / number of cores.
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

use anyhow::{Context, Result};
use std::process::ExitCode;
use std::thread;
use workload::blocking::Client;
use workload::cli::SleepArgs;
use workload::{cpu, gather, joined, Command, CpuArgs, IoArgs, Tally};

fn main() -> ExitCode {
    workload::mixed::offer(&pitfalls::OFFER);
    workload::main("threads", |command| match command {
        Command::Cpu(args) => run_cpu(args),
        Command::Io(args) => run_io(args),
        Command::Sleep(args) => run_sleep(args),
        Command::Mixed(args) => pitfalls::run_mixed(args),
    })
}

/// N powers, one thread each; the kernel spreads them over the cores.
fn run_cpu(args: &CpuArgs) -> Result<Tally> {
    on_threads(args.n, || cpu::task(args.base, args.exp))
}

/// N tasks, one thread each; each blocks on its own socket while the others proceed.
fn run_io(args: &IoArgs) -> Result<Tally> {
    // One client shared by every thread (it is Sync): one connection pool for the process.
    let client = Client::new(args.timeout());
    on_threads(args.n, || client.download_all(&args.urls))
}

/// N waits, one thread each: all of them wait at the same time.
fn run_sleep(args: &SleepArgs) -> Result<Tally> {
    on_threads(args.n, || {
        thread::sleep(args.duration());
        Ok::<_, anyhow::Error>(Tally::task(0, 0))
    })
}

/// The model itself: spawn one thread per task, then join them all.
fn on_threads<E>(n: u64, task: impl Fn() -> Result<Tally, E> + Sync) -> Result<Tally>
where
    E: Into<anyhow::Error> + Send,
{
    workload::record_workers(n);
    // A scope lets the threads borrow `task` (and what it borrows, such as the client)
    // from this stack frame: the scope joins every thread before it returns.
    thread::scope(|scope| {
        let mut handles = Vec::with_capacity(n as usize);
        for i in 0..n {
            // Builder::spawn_scoped reports a failed spawn (EAGAIN at the thread limit) as an
            // error; scope.spawn would panic instead.
            let handle = thread::Builder::new()
                .spawn_scoped(scope, &task)
                .with_context(|| format!("cannot start thread {} of {n}", i + 1))?;
            handles.push(handle);
        }
        // Join every thread: a thread's failure is reported after all have finished.
        gather(handles.into_iter().map(|h| joined(h.join())))
    })
}
