//! # monoio-async: thread-per-core, one monoio runtime per core, I/O through io_uring
//!
//! **The model.** Thread-per-core: `main` starts one thread per core, each with its own
//! monoio runtime, and deals the work out to them before it starts (task i to core
//! i mod C). A task is a future spawned on its core's runtime and never leaves it: no
//! queue is shared, no lock is taken between cores, a task's data needs no `Send`.
//!
//! **Who schedules the work.** Each core's runtime alone, on one thread: it polls its
//! ready tasks in turn, then hands the kernel its queued I/O. With **io_uring**
//! (completion-based I/O) a read is not "tell me when the socket is readable, then I
//! read" (epoll, every other model here) but "read into this buffer": the runtime puts the
//! operation itself on a ring shared with the kernel (the submission queue), one
//! `io_uring_enter` submits the batch and waits, and the kernel puts each result on the
//! completion queue with the bytes already in the buffer. That is why monoio's reads take
//! the buffer by value (`read(buf) -> (result, buf)`): the kernel writes into it after the
//! call has returned. Where io_uring is missing (an old kernel, `kernel.io_uring_disabled`,
//! Docker's default seccomp profile) monoio falls back to an epoll driver, and
//! `MONOIO_FORCE_LEGACY_DRIVER=1` asks for that one: the summary line's `driver` says
//! which ran (`io_uring` or `epoll`), and a run that wanted io_uring and did not get it
//! says so on stderr. CPU work goes to a blocking pool (`spawn_blocking`), as in the
//! other async models: it would stall its core's every task.
//!
//! **What it costs, what it gives up.** A task is one heap allocation, as in tokio. No
//! work stealing: a core whose tasks compute, or that got the slow share, stays busy while
//! the others idle, and its tasks wait for it (`mixed --variant inline` shows it). Each
//! core holds its own rings and buffers (memory the kernel may count against `ulimit -l`:
//! a limit too low is named when a ring cannot be made). And the model differs from tokio
//! in what it asks of the code: buffers are owned and lent to the kernel, and a shared
//! value is per core (`Rc`), not `Arc` between threads.
//!
//! **A yield lets tasks in, not timers.** A task that yields between steps of a long
//! computation (`mixed --variant yield`, asyncio's `await asyncio.sleep(0)`) goes to the
//! back of its core's queue, so the core's ready tasks run in between, and its I/O is
//! reaped between rounds of tasks. Its timers are not: monoio 0.2.4's run loop
//! (`Runtime::block_on`) fires them only when it parks, on an empty queue. So a task that
//! keeps yielding holds back every sleep and timeout of its core until it is done, where
//! tokio looks at its timers every 61 task polls (`event_interval`) whatever its queue
//! holds. In `mixed` each request starts on a timer: there monoio's yield is no better
//! than inline, and tokio's is (pitfalls.rs; the e2e test asserts both). `inline` is
//! alike in both when every core computes; stealing helps tokio only where a worker idles.
//!
//! **When to pick it.** Many connections spread evenly over cores, each short and alike:
//! proxies, caches, servers behind SO_REUSEPORT (`serve`, the design's home ground). Not
//! for uneven work, which one core may be left to carry alone. monoio's own benchmarks
//! put it slightly ahead of tokio on one core but behind it with few connections, and
//! about 2x ahead at four cores <!-- outside: monoio's README -->; results/REPORT.md has
//! ours, `monoio-async` (io_uring) beside `monoio-epoll` and the other models.
//!
//! ```sh
//! target/release/monoio-async io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! MONOIO_FORCE_LEGACY_DRIVER=1 target/release/monoio-async sleep --n 1000000 --ms 100
//! ```
//!
//! The client (`fetch.rs`) is HTTP/1.1 on monoio's own sockets, so its reads and writes
//! are io_uring operations, and https is rustls on them (monoio-rustls), as in every other
//! model. It is ours, not monoio-http-client (0.3.3, the newest): that one reads a body
//! whole before it returns and has no deadline for a whole request, and the client policy
//! every model shares needs both (fetch.rs says more). `spawn` and `switch` are in
//! `costs.rs`; `mixed` (what blocks a core) in `pitfalls.rs`; `serve` (a listener per
//! core) in `serve.rs`. `src/bin/monoio-epoll.rs` is this model on monoio's epoll driver.
//!
//! **What to observe.** io about one task's time while N is small, as in tokio, and the
//! summary's `system_ms` for what io_uring saves or not in the kernel; a million sleeping
//! tasks fit in memory; cpu about matches `threads` (a thread per power).
//!
//! ```sh
//! target/release/monoio-async serve --port 0 --backend 127.0.0.1:FIXTURE_PORT
//! target/release/monoio-async mixed --variant inline --url http://127.0.0.1:PORT/delay/10/bytes/1024
//! ```

mod costs;
mod fetch;
mod pitfalls;
mod runtime;
mod serve;

use anyhow::Result;
use std::future::Future;
use std::process::ExitCode;
use std::rc::Rc;
use workload::budget::{self, AtOnce, Shape};
use workload::cli::SleepArgs;
use workload::{cpu, gather, Command, CpuArgs, IoArgs, Tally};

/// How this model runs its tasks (every task at once, a future each; a power on a thread of
/// the blocking pool): `workload::main` predicts a run's length and memory from it, and
/// refuses one over `--max-run-s` or the memory limits.
const SHAPE: Shape = Shape {
    waits: AtOnce::All,
    task: budget::FUTURE,
    computes: AtOnce::All,
    compute_task: budget::THREAD,
    base: budget::NOTHING,
    kernel_task_each: false,
    own_process: false,
    task_time: budget::FUTURE_TIME,
};

fn main() -> ExitCode {
    run("monoio-async")
}

/// The model under a binary's name: `main` above, and monoio-epoll's (`src/bin/`), which
/// asks monoio for its epoll driver first and then runs this same code.
pub fn run(model: &'static str) -> ExitCode {
    workload::mixed::offer(&pitfalls::OFFER);
    workload::budget::shape(SHAPE);
    workload::main(model, |command| {
        let cores = runtime::cores();
        // A runtime thread per core, and the blocking pool needs a thread at least.
        workload::limits::check_tasks(cores as u64 + 1, "monoio's runtimes and blocking pool")?;
        workload::record_workers(cores as u64);
        match command {
            Command::Cpu(args) => run_cpu(args),
            Command::Io(args) => run_io(args),
            Command::Sleep(args) => run_sleep(args),
            Command::Spawn(args) => costs::run_spawn(args),
            Command::Switch(args) => costs::run_switch(args),
            Command::Mixed(args) => pitfalls::run_mixed(args),
            Command::Serve(args) => serve::run_serve(args),
        }
    })
}

/// N powers, each on a thread of the blocking pool; each core hands out its share.
fn run_cpu(args: &CpuArgs) -> Result<Tally> {
    let (base, exp) = (args.base, args.exp);
    spawn_all(args.n, || async move {
        // spawn_blocking is asyncio's run_in_executor: a power computes for tens of ms
        // without an `.await`, and on the core's thread it would stall every task there.
        // Our pool (runtime.rs) starts a thread per job, as tokio's grows one per job.
        monoio::spawn_blocking(move || cpu::task(base, exp))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("a power was cancelled")))
    })
}

/// N tasks dealt out to the cores; each downloads its URLs in turn on its own connection.
fn run_io(args: &IoArgs) -> Result<Tally> {
    // Every task is in flight at once, each holding a socket: one open file each.
    workload::limits::check_files(args.n, &format!("{} tasks with a socket each", args.n))?;
    let timeout = args.timeout();
    spawn_all(args.n, || {
        // The URL list is read-only: each core's tasks share it through an `Rc` (a count
        // on this core only); no `Arc` is needed, since no task leaves its core.
        let urls = urls_on_this_core(&args.urls);
        async move { fetch::download_all(&urls, timeout).await }
    })
}

/// N tasks dealt out to the cores, each waiting on its core's timer.
fn run_sleep(args: &SleepArgs) -> Result<Tally> {
    let duration = args.duration();
    spawn_all(args.n, || async move {
        // A timer entry, not a parked thread: the core moves on to the next task.
        monoio::time::sleep(duration).await;
        Ok::<_, anyhow::Error>(Tally::task(0, 0))
    })
}

/// The model itself: deal N tasks out to the cores up front, spawn each core's share on
/// its runtime, join them there, then add every core's results up.
fn spawn_all<F, E>(n: u64, task: impl Fn() -> F + Sync) -> Result<Tally>
where
    F: Future<Output = Result<Tally, E>> + 'static,
    E: Into<anyhow::Error> + 'static,
{
    let shares = runtime::shares(n);
    let per_core = runtime::on_cores(shares, |share| {
        // monoio::spawn puts the task on this core's queue and returns at once. The future
        // need not be Send: it is made, polled and dropped on this thread.
        let handles: Vec<_> = (0..share).map(|_| monoio::spawn(task())).collect();
        join_all(handles)
    })?;
    gather(per_core.into_iter().flatten())
}

/// Await every task of this core, in order: a slow first task does not hold up the
/// others, which run meanwhile. monoio does not catch a task's panic: it ends the core's
/// thread, and `runtime::on_cores` reports it.
async fn join_all<T: Future<Output = Result<Tally, E>>, E: Into<anyhow::Error>>(
    handles: Vec<T>,
) -> Vec<Result<Tally>> {
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.map_err(Into::into));
    }
    results
}

thread_local! {
    /// This core's copy of the URL list, made once per core.
    static URLS: std::cell::OnceCell<Rc<[workload::io::Target]>> = const { std::cell::OnceCell::new() };
}

/// The URL list as an `Rc` of this core, cloned from `urls` the first time on each core.
fn urls_on_this_core(urls: &[workload::io::Target]) -> Rc<[workload::io::Target]> {
    URLS.with(|cell| cell.get_or_init(|| urls.to_vec().into()).clone())
}
