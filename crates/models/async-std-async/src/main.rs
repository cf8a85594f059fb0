//! # async-std-async: many tasks on async-std's global executor
//!
//! **The model.** Every task is a future spawned on async-std's executor; a task that
//! waits (for a socket, a timer) returns control to the executor, which runs another.
//! The API mirrors `std` (`async_std::net::TcpStream`, `async_std::task::sleep`), so code
//! reads like the blocking version with `.await` added.
//!
//! **Discontinued.** Upstream discontinued async-std in 2025 (its README: "async-std has
//! been discontinued; use smol instead"); it gets no more releases. Under the hood it had
//! long been smol's parts (async-global-executor on async-executor, async-io, blocking).
//! The model stays because programs still run it; for new code see `smol-async`.
//!
//! **Who schedules the work.** `async_std::task::block_on` in each `run_*` runs the main
//! future (spawn N tasks, then await them) on the main thread. `task::spawn` puts tasks on
//! the global executor, started on first use with one thread per core
//! (`ASYNC_STD_THREAD_COUNT` overrides it). The `async-io` reactor wakes a task when its
//! socket or timer is ready. Blocking in a task would stall its executor thread, so the
//! CPU work goes to `task::spawn_blocking`'s thread pool. HTTP is the shared hyper client
//! of `workload::hyper_futures`, on async-std's socket and timer: no tokio runtime.
//!
//! **What it costs.** Like smol: a task is one heap-allocated state machine, a few hundred
//! bytes plus its buffers, and every function on the way to a socket is `async`.
//!
//! **When to pick it.** Only to keep existing async-std code running; it is smol's parts
//! behind a std-shaped API. The seed article's Python asyncio: cpu 2.23 s, io 4.37 s.
//!
//! ```sh
//! target/release/async-std-async cpu --n 10
//! target/release/async-std-async io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! target/release/async-std-async sleep --n 100000 --ms 100
//! ```
//!
//! **What to observe.** The same figures as smol-async, give or take the executor's thread
//! count. `diff` this file against `crates/models/smol-async/src/main.rs`: the model is
//! nearly the same; only the names and who starts the executor threads differ.
//! Figures for this machine: the README and results/scale*.csv.

use anyhow::Result;
use async_std::task;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use workload::cli::SleepArgs;
use workload::hyper_futures::{Client, Runtime};
use workload::{cpu, gather, Command, CpuArgs, IoArgs, Tally};

fn main() -> ExitCode {
    workload::main("async-std-async", |command| match command {
        Command::Cpu(args) => run_cpu(args),
        Command::Io(args) => run_io(args),
        Command::Sleep(args) => run_sleep(args),
    })
}

/// N powers, each on a thread of async-std's blocking pool: a power never yields, so on
/// the executor it would hold an executor thread for the whole computation.
fn run_cpu(args: &CpuArgs) -> Result<Tally> {
    let (base, exp) = (args.base, args.exp);
    task::block_on(async {
        // `spawn_blocking` starts the closure on the pool at once and returns a handle to
        // await, so all N are running before the first is awaited.
        let tasks: Vec<_> = (0..args.n)
            .map(|_| task::spawn_blocking(move || cpu::task(base, exp)))
            .collect();
        join(tasks).await
    })
}

/// N tasks on the executor; each downloads its URLs in turn over its own connection.
fn run_io(args: &IoArgs) -> Result<Tally> {
    // One client shared by every task (read-only: each task keeps its own connection).
    // Spawned tasks must be 'static, hence the Arcs.
    let client = Arc::new(Client::new(AsyncStd, args.timeout()));
    let urls: Arc<[String]> = args.urls.clone().into();
    task::block_on(async {
        let tasks: Vec<_> = (0..args.n)
            .map(|_| {
                let (client, urls) = (client.clone(), urls.clone());
                // A spawned task runs on any executor thread, concurrently with the others;
                // awaiting a socket parks only this task.
                task::spawn(async move { client.download_all(&urls).await })
            })
            .collect();
        join(tasks).await
    })
}

/// N tasks, each waiting on async-std's timer (async-io's timer list underneath).
fn run_sleep(args: &SleepArgs) -> Result<Tally> {
    let duration = args.duration();
    task::block_on(async {
        let tasks: Vec<_> = (0..args.n)
            .map(|_| {
                task::spawn(async move {
                    task::sleep(duration).await;
                    Ok::<_, anyhow::Error>(Tally::task(0, 0))
                })
            })
            .collect();
        join(tasks).await
    })
}

/// Await every task, then add up their results. Awaiting in order is fine: they all run
/// meanwhile, and the slowest decides the total time anyway. A failure is reported after
/// all have finished, as in the other models.
async fn join<E: Into<anyhow::Error>>(
    tasks: Vec<impl Future<Output = Result<Tally, E>>>,
) -> Result<Tally> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await);
    }
    gather(results)
}

/// What the shared hyper client runs on here: async-std's TCP socket and its timeout.
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
        // On timeout the download is dropped, which cancels it and closes its socket.
        async_std::future::timeout(limit, work).await.ok()
    }
}
