//! # async-std-async: many tasks on async-std's executor, run by one thread per core
//!
//! **The model.** Every task is a future spawned on async-std's executor; a task that waits
//! (for a socket, a timer) returns control to the executor, which runs another. The API
//! mirrors `std` (`async_std::net::TcpStream`, `async_std::task::sleep`), so code reads
//! like the blocking version with `.await` added.
//!
//! **Discontinued.** Upstream discontinued async-std in 2025 (its README: "async-std has
//! been discontinued; use smol instead", in 1.13.1). 1.13.2, the version locked here, was
//! published after that notice; no new work is planned. Under the hood it had long
//! been smol's parts (async-global-executor on async-executor, async-io, blocking). The
//! model stays because programs still run it; for new code see `smol-async`.
//!
//! **Who schedules the work.** async-std's global executor, which starts on first use
//! (here the `task::block_on` in [`on_executor`]) with one thread per core, named
//! `async-std/runtime` (`ASYNC_STD_THREAD_COUNT` overrides the count; [`on_executor`]
//! reads it the same way to report it). `task::block_on` runs the main future (spawn N
//! tasks, then await them) on the main thread. The `async-io` reactor (epoll, plus a
//! timer list) wakes a task when its socket or timer is ready. Blocking in a task would
//! stall every task queued on its thread, so the CPU work goes to `task::spawn_blocking`'s
//! thread pool (the `blocking` crate, as in smol). HTTP is the shared hyper client of
//! `workload::hyper_futures`, on async-std's socket, timer and executor: no tokio runtime
//! runs here.
//!
//! **What it costs.** Like smol: a task is one heap-allocated state machine, not a stack
//! (what one costs: results/REPORT.md, 'Memory per task'), and every function on the way
//! to a socket is `async`.
//!
//! **When to pick it.** Only to keep existing async-std code running; it is smol's parts
//! behind a std-shaped API. The seed article's Python asyncio (as for smol-async):
//! cpu 2.23 s, io 4.37 s. <!-- outside: seed article -->
//!
//! ```sh
//! target/release/async-std-async cpu --n 10
//! target/release/async-std-async io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! target/release/async-std-async sleep --n 100000 --ms 100
//! ```
//!
//! What one task costs to spawn (`spawn`) and to switch to (`switch`, a token handed
//! round a ring on async-std's channels: each hand-off wakes a task, and often a sleeping
//! executor thread too) is in `costs.rs`.
//!
//! **What to observe.** What smol-async shows: the same parts, the same number of
//! executor threads. `diff` this file against `crates/models/smol-async/src/main.rs`:
//! what differs is the runtime's API and who starts the executor threads. The figures:
//! results/REPORT.md, 'Scale'.
//!
//! **As a server** (`serve`, see `serve.rs`): a task per connection running hyper's
//! HTTP/1.1 server; an idle keep-alive connection is a parked task, not a held thread, and
//! `/work` computes on `task::spawn_blocking`'s pool.
//!
//! ```sh
//! target/release/async-std-async serve --port 0 --backend 127.0.0.1:FIXTURE_PORT
//! ```
//!
//! **What blocks it.** `mixed` runs a stream of requests beside CPU jobs and reports the
//! requests' latency percentiles, with the jobs run four ways (`--variant`): `offload`
//! (`task::spawn_blocking`), `inline` (in a task), `yield` (in a task, `yield_now`
//! between steps) and `block` (a task calls `std::thread::sleep`). How each is done and
//! what to observe: [`pitfalls`].
//!
//! ```sh
//! target/release/async-std-async mixed --variant inline --url http://127.0.0.1:PORT/delay/10/bytes/1024
//! ```

mod pitfalls;

mod serve;

mod costs;

use anyhow::Result;
use async_std::task;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use workload::budget::{self, AtOnce, Shape};
use workload::cli::SleepArgs;
use workload::hyper_futures::{Client, Runtime};
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
    workload::mixed::offer(&pitfalls::OFFER);
    workload::budget::shape(SHAPE);
    workload::main("async-std-async", |command| {
        on_executor(async {
            match command {
                Command::Cpu(args) => run_cpu(args).await,
                Command::Io(args) => run_io(args).await,
                Command::Sleep(args) => run_sleep(args).await,
                Command::Spawn(args) => costs::run_spawn(args).await,
                Command::Switch(args) => costs::run_switch(args).await,
                Command::Mixed(args) => pitfalls::run_mixed(args).await,
                Command::Serve(args) => serve::run_serve(args).await,
            }
        })
    })
}

/// N powers, each on a thread of async-std's blocking pool: a power never yields, so on
/// the executor it would hold its thread for the whole computation and starve every task.
async fn run_cpu(args: &CpuArgs) -> Result<Tally> {
    let (base, exp) = (args.base, args.exp);
    // The pool may start a thread per power (up to 500), and the `blocking` crate spins
    // forever if a start fails while powers are queued (smol-rs/blocking#79): refuse
    // what the machine's thread limits cannot hold.
    workload::limits::check_threads(args.n.min(500), "async-std's blocking pool")?;
    // `spawn_blocking` starts the closure on the pool at once and returns a handle to
    // its result, so all N are running before the first is awaited.
    let tasks = (0..args.n)
        .map(|_| task::spawn_blocking(move || cpu::task(base, exp)))
        .collect();
    join_all(tasks).await
}

/// N tasks on the executor; each downloads its URLs in turn over its own connection.
async fn run_io(args: &IoArgs) -> Result<Tally> {
    // Every task is in flight at once, each holding a socket: one open file each.
    workload::limits::check_files(args.n, &format!("{} tasks with a socket each", args.n))?;
    // One client shared by every task (read-only: each task keeps its own connection).
    // Spawned tasks must be 'static, hence the Arcs.
    let client = Arc::new(Client::new(AsyncStd, args.timeout()));
    let urls: Arc<[_]> = args.urls.clone().into();
    spawn_all(args.n, || {
        let (client, urls) = (client.clone(), urls.clone());
        async move { client.download_all(&urls).await }
    })
    .await
}

/// N tasks, each waiting on async-std's timer: one entry in the reactor's timer list each.
async fn run_sleep(args: &SleepArgs) -> Result<Tally> {
    let duration = args.duration();
    spawn_all(args.n, || async move {
        task::sleep(duration).await;
        Ok::<_, anyhow::Error>(Tally::task(0, 0))
    })
    .await
}

/// The model itself: spawn one task per unit of work on the executor, then join them all.
async fn spawn_all<F, E>(n: u64, task: impl Fn() -> F) -> Result<Tally>
where
    F: Future<Output = Result<Tally, E>> + Send + 'static,
    E: Into<anyhow::Error> + Send + 'static,
{
    // A spawned task runs as soon as an executor thread is free, concurrently with the
    // others; awaiting a socket parks only this task.
    let tasks = (0..n).map(|_| task::spawn(task())).collect();
    join_all(tasks).await
}

/// Await every task, then add up their results. Awaiting in order is fine: they all run
/// meanwhile, and the slowest decides the total time anyway. A failure is reported after
/// all have finished, as in the other models.
async fn join_all<E: Into<anyhow::Error>>(
    tasks: Vec<impl Future<Output = Result<Tally, E>>>,
) -> Result<Tally> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await);
    }
    gather(results)
}

/// Run `main` on this thread while the global executor's threads run the tasks. They
/// start on first use (the `block_on` below), one per core unless `ASYNC_STD_THREAD_COUNT`
/// says otherwise (async-global-executor's rule, read here the same way to report it),
/// and are never stopped: the process ends with them.
fn on_executor(main: impl Future<Output = Result<Tally>>) -> Result<Tally> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = std::env::var("ASYNC_STD_THREAD_COUNT")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(cores)
        .max(1);
    workload::record_workers(threads as u64);
    // The executor threads, async-io's reactor thread, and one thread at least for the
    // blocking pool: refuse a run the machine's thread limits cannot hold, naming the limit.
    workload::limits::check_tasks(threads as u64 + 2, "async-std's threads")?;
    task::block_on(main)
}

/// What the shared hyper client runs on here: async-std's TCP socket, timer and executor.
struct AsyncStd;

impl Runtime for AsyncStd {
    type Socket = async_std::net::TcpStream;

    fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = std::io::Result<Self::Socket>> + Send {
        // A host name is resolved on the blocking pool; an IP address is used as is.
        async_std::net::TcpStream::connect((host, port))
    }

    async fn timeout<F: Future + Send>(&self, limit: Duration, work: F) -> Option<F::Output> {
        // Whichever finishes first wins and the other is dropped: a late download is
        // cancelled, its socket closed.
        async_std::future::timeout(limit, work).await.ok()
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        // A `JoinHandle` dropped here detaches the task: it runs to its end.
        task::spawn(task);
    }
}
