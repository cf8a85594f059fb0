//! # smol-async: many tasks on a small executor, waiting without threads
//!
//! **The model.** Every task is a future spawned on smol's executor; a task that waits
//! (for a socket, a timer) returns control to the executor, which runs another. Thousands
//! of tasks share a few threads, as in Python's asyncio, but without tokio.
//!
//! **Who schedules the work.** `smol::block_on` in each `run_*` starts where scheduling
//! begins: it runs the main future (spawn N tasks, then await them) on the main thread.
//! `smol::spawn` puts tasks on smol's global executor, run by `SMOL_THREADS` threads named
//! `smol-N` (default 1). The `async-io` reactor (epoll, plus a timer list) wakes a task
//! when its socket or timer is ready. Blocking in a task would stall every task on its
//! thread, so the CPU work goes to `smol::unblock`'s thread pool (grows on demand, up to
//! `BLOCKING_MAX_THREADS`, default 500). HTTP is the shared hyper client of
//! `workload::hyper_futures`, on smol's socket and timer: no tokio runtime runs here.
//!
//! **What it costs.** A task is one heap-allocated state machine, hundreds of bytes plus
//! its buffers: 100,000 sleeping tasks fit in tens of MiB. The price is colouring: every
//! function on the way to a socket is `async`, and a blocking call must be handed off.
//!
//! **When to pick it.** Many concurrent waits (sockets, timers) in a small binary, when
//! you want to see and choose the executor, reactor and thread pool instead of having a
//! runtime chosen for you; smol is also where async-std's users are sent (see async-std-async).
//! The seed article's Python asyncio: cpu 2.23 s (one thread, no gain), io 4.37 s.
//!
//! ```sh
//! target/release/smol-async cpu --n 10
//! target/release/smol-async io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! target/release/smol-async sleep --n 100000 --ms 100
//! SMOL_THREADS=2 target/release/smol-async io --n 1000 --url http://127.0.0.1:PORT/health
//! ```
//!
//! **What to observe.** io takes about one task's time whatever N, on one executor thread
//! (`top -H` shows `smol-1` and `async-io`); cpu takes N powers / cores, on `blocking-N`
//! threads; sleep --n 100000 finishes in little more than one sleep.
//! Figures for this machine: the README and results/scale*.csv.

use anyhow::Result;
use smol::future::FutureExt;
use smol::Timer;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use workload::cli::SleepArgs;
use workload::hyper_futures::{Client, Runtime};
use workload::{cpu, gather, Command, CpuArgs, IoArgs, Tally};

fn main() -> ExitCode {
    workload::main("smol-async", |command| match command {
        Command::Cpu(args) => run_cpu(args),
        Command::Io(args) => run_io(args),
        Command::Sleep(args) => run_sleep(args),
    })
}

/// N powers, each on a thread of smol's blocking pool: a power never yields, so on the
/// executor it would hold its thread for the whole computation and starve every task.
fn run_cpu(args: &CpuArgs) -> Result<Tally> {
    let (base, exp) = (args.base, args.exp);
    smol::block_on(async {
        // `unblock` starts the closure on the pool at once and returns a future of its
        // result, so all N are running before the first is awaited.
        let tasks: Vec<_> = (0..args.n)
            .map(|_| smol::unblock(move || cpu::task(base, exp)))
            .collect();
        join(tasks).await
    })
}

/// N tasks on the executor; each downloads its URLs in turn over its own connection.
fn run_io(args: &IoArgs) -> Result<Tally> {
    // One client shared by every task (read-only: each task keeps its own connection).
    // Spawned tasks may outlive this frame as far as the compiler knows, hence the Arcs.
    let client = Arc::new(Client::new(Smol, args.timeout()));
    let urls: Arc<[String]> = args.urls.clone().into();
    smol::block_on(async {
        let tasks: Vec<_> = (0..args.n)
            .map(|_| {
                let (client, urls) = (client.clone(), urls.clone());
                // A spawned task runs as soon as an executor thread is free, concurrently
                // with the others; awaiting a socket parks only this task.
                smol::spawn(async move { client.download_all(&urls).await })
            })
            .collect();
        join(tasks).await
    })
}

/// N tasks, each waiting on smol's timer: one entry in the reactor's timer list each.
fn run_sleep(args: &SleepArgs) -> Result<Tally> {
    let duration = args.duration();
    smol::block_on(async {
        let tasks: Vec<_> = (0..args.n)
            .map(|_| {
                smol::spawn(async move {
                    Timer::after(duration).await;
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

/// What the shared hyper client runs on here: smol's TCP socket and smol's timer.
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

    fn timeout<F: Future + Send>(
        &self,
        limit: Duration,
        work: F,
    ) -> impl Future<Output = Option<F::Output>> + Send {
        // `or` polls both and returns whichever finishes first, dropping the other: a
        // late download is cancelled, its socket closed.
        async { Some(work.await) }.or(async move {
            Timer::after(limit).await;
            None
        })
    }
}
