//! # tokio-async: N tasks on tokio's work-stealing runtime
//!
//! **The model.** Every task is a future spawned on tokio's multi-thread runtime. A task runs
//! until it would block (a socket not yet readable, a timer not yet due), hands its thread
//! back at that `.await`, and is polled again when the reactor says it can go on.
//!
//! **Who schedules the work.** tokio: one worker thread per core polls the ready tasks and
//! steals from the others when idle; the reactor (epoll) and the timer wheel wake tasks up.
//! Nothing may block a worker: a blocking call stalls every task queued on it, so CPU work
//! goes to the separate blocking pool with `spawn_blocking`.
//!
//! **What it costs.** A spawned task is one heap allocation holding its future's state,
//! not a stack (what one costs: results/REPORT.md, 'Memory per task'). In return every
//! call on the way down must be async (`reqwest`, not `ureq`) and the code is split at
//! each `.await` into a state machine.
//!
//! **When to pick it.** Many connections or timers, mostly waiting: servers, crawlers,
//! fan-out clients. For CPU-bound work it only hands the work to threads. The seed
//! article's Python asyncio (its powers went to a thread pool through `run_in_executor`,
//! where the GIL let one compute at a time: on cpu no faster than its sync version; on io
//! its fastest run):
//! cpu 2.23 s, io 4.37 s. <!-- outside: seed article -->
//!
//! ```sh
//! target/release/tokio-async io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! target/release/tokio-async sleep --n 1000000 --ms 100
//! ```
//!
//! What one task costs to spawn (`spawn`) and to switch to (`switch`, a token handed
//! round a ring on tokio's channels: each hand-off wakes a task into its worker's LIFO
//! slot, no kernel) is in `costs.rs`.
//!
//! **What to observe.** io takes about one task's time (URLs x delay) while N is small,
//! on a handful of threads, and more as N grows (results/REPORT.md, 'Scale'); a million
//! sleeping tasks fit in memory, where `threads` would need a million kernel threads
//! (memory per task: results/REPORT.md, 'Memory per task'); cpu about matches `threads`
//! (the blocking pool gives every task a thread).
//!
//! **As a server** (`serve`, see `serve.rs`): a task per connection running hyper's
//! HTTP/1.1 server; an idle keep-alive connection is a parked task, not a held thread.
//!
//! ```sh
//! target/release/tokio-async serve --port 0 --backend 127.0.0.1:FIXTURE_PORT
//! ```
//!
//! **What blocks it.** `mixed` runs a stream of requests beside CPU jobs and reports the
//! requests' latency percentiles, with the jobs run five ways (`--variant`): `offload`
//! (spawn_blocking), `inline` (in a task), `yield` (in a task, `yield_now` between steps),
//! `block` (a task calls `std::thread::sleep`) and `current-thread` (inline on a
//! current-thread runtime). How each is done and what to observe: [`pitfalls`].
//!
//! ```sh
//! target/release/tokio-async mixed --variant inline --url http://127.0.0.1:PORT/delay/10/bytes/1024
//! ```

mod costs;
mod fetch;
mod pitfalls;
mod serve;

use anyhow::{anyhow, Context, Result};
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::task::JoinHandle;
use workload::budget::{self, AtOnce, Shape};
use workload::cli::SleepArgs;
use workload::mixed::Variant;
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
    workload::main("tokio-async", |command| {
        // One worker per core, and the blocking pool needs one thread of its own at least
        // (with none, tokio 1.54 leaves a spawn_blocking task waiting forever): refuse a
        // run the machine's thread limits cannot hold, naming the limit.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        workload::limits::check_tasks(cores + 1, "tokio's workers and blocking pool")?;
        // What `#[tokio::main] async fn main()` expands to: build this runtime (one worker
        // thread per core, the reactor and the timer enabled), then `block_on` the body.
        // Written out, so the reader sees where scheduling begins and errors stay ours.
        // `mixed --variant current-thread` asks for the other flavour: this thread alone.
        let mut builder = match command {
            Command::Mixed(args) if args.variant == Some(Variant::CurrentThread) => {
                tokio::runtime::Builder::new_current_thread()
            }
            _ => tokio::runtime::Builder::new_multi_thread(),
        };
        let runtime = builder
            .enable_all()
            .build()
            .context("cannot start the tokio runtime")?;
        workload::record_workers(runtime.metrics().num_workers() as u64);
        // block_on: this thread drives the top future; the tasks it spawns run on the
        // workers. It returns when the future is done, i.e. every task has been joined.
        runtime.block_on(async {
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

/// N powers, each on a thread of tokio's blocking pool.
async fn run_cpu(args: &CpuArgs) -> Result<Tally> {
    let (base, exp) = (args.base, args.exp);
    // spawn_blocking is asyncio's run_in_executor: a power computes for tens of ms without an
    // `.await`, and on a worker it would stall every task queued there (timers fire late,
    // sockets go unread). The blocking pool grows a thread per waiting job (up to 512),
    // so N powers run on N threads, as in `threads`, and the kernel shares the cores.
    let handles = (0..args.n)
        .map(|_| tokio::task::spawn_blocking(move || cpu::task(base, exp)))
        .collect();
    join_all(handles).await
}

/// N tasks on the workers; each downloads its URLs in turn through one shared client.
async fn run_io(args: &IoArgs) -> Result<Tally> {
    // Every task is in flight at once, each holding a socket: one open file each.
    workload::limits::check_files(args.n, &format!("{} tasks with a socket each", args.n))?;
    // ONE client for every task. A client holds the connection pool, the DNS resolver and
    // the TLS configuration with its root certificates: a client per task would parse the
    // roots N times, hold N pools, and reuse no connection across tasks. That is the
    // classic pitfall; a clone is a reference count on the same client.
    let client = fetch::client().context("cannot build the HTTP client")?;
    let urls: Arc<[_]> = args.urls.clone().into();
    let timeout = args.timeout();
    spawn_all(args.n, || {
        let (client, urls) = (client.clone(), urls.clone());
        // `async move`: a spawned task may outlive this stack frame ('static), so it
        // owns its handles to the client and the URL list.
        async move { fetch::download_all(&client, &urls, timeout).await }
    })
    .await
}

/// N tasks, each waiting on tokio's timer: all of them wait at the same time.
async fn run_sleep(args: &SleepArgs) -> Result<Tally> {
    let duration = args.duration();
    spawn_all(args.n, || async move {
        // A timer-wheel entry, not a parked thread: the worker moves on to the next task.
        tokio::time::sleep(duration).await;
        Ok::<_, anyhow::Error>(Tally::task(0, 0))
    })
    .await
}

/// The model itself: spawn one task per unit of work on the workers, then join them all.
async fn spawn_all<F, E>(n: u64, task: impl Fn() -> F) -> Result<Tally>
where
    F: Future<Output = Result<Tally, E>> + Send + 'static,
    E: Into<anyhow::Error> + Send + 'static,
{
    // tokio::spawn hands the future to the scheduler and returns at once: the task starts
    // on a worker while we keep spawning. Without spawn, futures in one task would be
    // polled by this thread alone, never in parallel on the other cores.
    let handles = (0..n).map(|_| tokio::spawn(task())).collect();
    join_all(handles).await
}

/// Await every task, in order: a slow first task does not hold up the others, which run
/// meanwhile. A failure or a panic becomes an error, reported after all have finished.
async fn join_all<E>(handles: Vec<JoinHandle<Result<Tally, E>>>) -> Result<Tally>
where
    E: Into<anyhow::Error>,
{
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        // A JoinError means the task panicked (tokio caught it, the panic hook printed
        // its message) or was cancelled; either way the run failed, but it does not panic.
        results.push(match handle.await {
            Ok(result) => result.map_err(Into::into),
            Err(e) if e.is_panic() => Err(anyhow!("a task panicked")),
            Err(e) => Err(anyhow!("a task was cancelled: {e}")),
        });
    }
    gather(results)
}
