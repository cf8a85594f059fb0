//! # smol-async: many tasks on smol's executor, run by one thread per core
//!
//! **The model.** Every task is a future spawned on smol's executor; a task that waits
//! (for a socket, a timer) returns control to the executor, which runs another. Thousands
//! of tasks share the executor's threads, as in Python's asyncio, but without tokio.
//!
//! **Who schedules the work.** An `Executor` of our own, run by one thread per core that
//! [`on_executor`] starts in plain sight (`smol-1`, `smol-2`, ...), as smol's docs advise
//! for anything past a small program. (`smol::spawn`'s global executor would run on one
//! thread unless `SMOL_THREADS` is set, while tokio and async-std run one per core: the
//! comparison would not be on equal terms.) `smol::block_on` runs the main future (spawn
//! N tasks, then await them) on the main thread. The `async-io` reactor (epoll, plus a
//! timer list) wakes a task when its socket or timer is ready. Blocking in a task would
//! stall every task queued on its thread, so the CPU work goes to `smol::unblock`'s thread
//! pool (the `blocking` crate: it grows on demand, up to `BLOCKING_MAX_THREADS`, default
//! 500). HTTP is the shared hyper client of `workload::hyper_futures`, on smol's socket,
//! timer and executor: no tokio runtime runs here.
//!
//! **What it costs.** A task is one heap-allocated state machine, not a stack (what one
//! costs: results/REPORT.md, 'Memory per task'). The price is colouring: every function
//! on the way to a socket is `async`, and a blocking call must be handed off.
//!
//! **When to pick it.** Many concurrent waits (sockets, timers) in a small binary, when
//! you want to see and choose the executor, reactor and thread pool instead of having a
//! runtime chosen for you; smol is also where async-std's users are sent (see
//! async-std-async). The seed article's Python asyncio (its powers went to a thread pool
//! through `run_in_executor`, where the GIL let one compute at a time: on cpu no faster
//! than its sync version; on io its fastest run):
//! cpu 2.23 s, io 4.37 s. <!-- outside: seed article -->
//!
//! ```sh
//! target/release/smol-async cpu --n 10
//! target/release/smol-async io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! target/release/smol-async sleep --n 100000 --ms 100
//! ```
//!
//! What one task costs to spawn (`spawn`) and to switch to (`switch`, a token handed
//! round a ring on smol's channels: each hand-off wakes a task, and often a sleeping
//! executor thread too) is in `costs.rs`.
//!
//! **What to observe.** io takes about one task's time (URLs x delay) while N is small,
//! on the executor threads (`top -H` shows `smol-1`, `smol-2` and `async-io`), and more
//! as N grows; cpu takes N powers / cores, on `blocking-N` threads; sleep --n 100000
//! finishes in little more than one sleep. The figures: results/REPORT.md, 'Scale'.
//!
//! **As a server** (`serve`, see `serve.rs`): a task per connection running hyper's
//! HTTP/1.1 server; an idle keep-alive connection is a parked task, not a held thread, and
//! `/work` computes on `smol::unblock`'s pool.
//!
//! ```sh
//! target/release/smol-async serve --port 0 --backend 127.0.0.1:FIXTURE_PORT
//! ```
//!
//! **What blocks it.** `mixed` runs a stream of requests beside CPU jobs and reports the
//! requests' latency percentiles, with the jobs run four ways (`--variant`): `offload`
//! (`smol::unblock`), `inline` (in a task), `yield` (in a task, `yield_now` between
//! steps) and `block` (a task calls `std::thread::sleep`). How each is done and what to
//! observe: [`pitfalls`].
//!
//! ```sh
//! target/release/smol-async mixed --variant inline --url http://127.0.0.1:PORT/delay/10/bytes/1024
//! ```

mod pitfalls;

mod serve;

mod costs;

use anyhow::{Context, Result};
use smol::future::FutureExt;
use smol::{Executor, Timer};
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use workload::budget::{self, AtOnce, Shape};
use workload::cli::SleepArgs;
use workload::hyper_futures::{Client, Runtime};
use workload::{cpu, gather, Command, CpuArgs, IoArgs, Tally};

/// The executor every task runs on. A `static`, so that any code can spawn on it (the
/// HTTP client spawns its connections); [`on_executor`] runs it on one thread per core.
static EXECUTOR: Executor<'static> = Executor::new();

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
    workload::main("smol-async", |command| {
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

/// N powers, each on a thread of smol's blocking pool: a power never yields, so on the
/// executor it would hold its thread for the whole computation and starve every task.
async fn run_cpu(args: &CpuArgs) -> Result<Tally> {
    let (base, exp) = (args.base, args.exp);
    // The pool may start a thread per power (up to 500), and the `blocking` crate spins
    // forever if a start fails while powers are queued (smol-rs/blocking#79): refuse
    // what the machine's thread limits cannot hold.
    workload::limits::check_threads(args.n.min(500), "smol's blocking pool")?;
    // `unblock` starts the closure on the pool at once and returns a future of its
    // result, so all N are running before the first is awaited.
    let tasks = (0..args.n)
        .map(|_| smol::unblock(move || cpu::task(base, exp)))
        .collect();
    join_all(tasks).await
}

/// N tasks on the executor; each downloads its URLs in turn over its own connection.
async fn run_io(args: &IoArgs) -> Result<Tally> {
    // Every task is in flight at once, each holding a socket: one open file each.
    workload::limits::check_files(args.n, &format!("{} tasks with a socket each", args.n))?;
    // One client shared by every task (read-only: each task keeps its own connection).
    // Spawned tasks must be 'static, hence the Arcs.
    let client = Arc::new(Client::new(Smol, args.timeout()));
    let urls: Arc<[_]> = args.urls.clone().into();
    spawn_all(args.n, || {
        let (client, urls) = (client.clone(), urls.clone());
        async move { client.download_all(&urls).await }
    })
    .await
}

/// N tasks, each waiting on smol's timer: one entry in the reactor's timer list each.
async fn run_sleep(args: &SleepArgs) -> Result<Tally> {
    let duration = args.duration();
    spawn_all(args.n, || async move {
        Timer::after(duration).await;
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
    let tasks = (0..n).map(|_| EXECUTOR.spawn(task())).collect();
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

/// Run `main` on this thread while one thread per core runs the executor's tasks; stop
/// them when `main` is done. smol's own recipe: each thread runs the executor until a
/// channel closes.
fn on_executor(main: impl Future<Output = Result<Tally>>) -> Result<Tally> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    workload::record_workers(cores as u64);
    // The executor threads, async-io's reactor thread, and one thread at least for the
    // blocking pool: refuse a run the machine's thread limits cannot hold, naming the limit.
    workload::limits::check_tasks(cores as u64 + 2, "smol's threads")?;
    let (stop, stopped) = smol::channel::bounded::<()>(1);
    // `move`: `stop` lives in the closure, so it is dropped (closing the channel, ending
    // every executor thread) before the scope joins them, even on an early return.
    std::thread::scope(move |scope| {
        for i in 1..=cores {
            let stopped = stopped.clone();
            std::thread::Builder::new()
                .name(format!("smol-{i}"))
                .spawn_scoped(scope, move || smol::block_on(EXECUTOR.run(stopped.recv())))
                .with_context(|| format!("cannot start executor thread {i} of {cores}"))?;
        }
        let result = smol::block_on(main);
        drop(stop);
        result
    })
}

/// What the shared hyper client runs on here: smol's TCP socket, timer and executor.
struct Smol;

impl Runtime for Smol {
    type Socket = smol::net::TcpStream;

    fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = std::io::Result<Self::Socket>> + Send {
        // A host name is resolved on the blocking pool; an IP address is used as is.
        smol::net::TcpStream::connect((host, port))
    }

    async fn timeout<F: Future + Send>(&self, limit: Duration, work: F) -> Option<F::Output> {
        // Whichever finishes first wins and the other is dropped: a late download is
        // cancelled, its socket closed.
        async { Some(work.await) }
            .or(async {
                Timer::after(limit).await;
                None
            })
            .await
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        // A `Task` cancels its future when dropped; `detach` lets it run to its end.
        EXECUTOR.spawn(task).detach();
    }
}
