//! serve in procs: K pre-forked worker processes sharing one listening socket, each one
//! connection at a time (gunicorn's sync workers).
//!
//! The parent binds the socket, starts K copies of this binary that inherit it (the same
//! open socket, its descriptor number in `PROCS_SERVE`), announces the address and serves
//! nothing itself. Each worker runs `sync`'s loop on the shared socket: accept, serve the
//! connection to its end, close, accept again. The kernel gives each connection to one
//! worker: all K wait in `poll` on the socket, a new connection wakes every one of them
//! (poll's wait is not exclusive: the thundering herd, a cost that grows with K), one
//! wins the `accept` and the others find nothing and wait again.
//!
//! **What it costs.** K processes, each with its own memory (by PSS the shared code is
//! divided among them), its own HTTP client and its own connection to the backend. At
//! most K requests are served at once: `/backend/50` holds a worker for 50 ms, so K
//! workers answer at most K / 50 ms = 20·K requests a second (Little's law), whatever
//! the rest of the machine could do; `/work` runs on up to K cores at once. More workers
//! than cores buy room for waiting, not computing (the seed article's advice to give
//! synchronous frameworks more workers).
//!
//! **The slow-client weakness.** A worker holds its connection from `accept` to close.
//! A client that opens a connection and sends nothing, or trickles its request head a
//! byte at a time, holds a whole worker until `--header-timeout-ms` frees it; K such
//! clients stop the server for everyone else. That is why gunicorn's documentation puts
//! a buffering proxy in front of sync workers. <!-- outside: gunicorn docs, "Design" -->
//!
//! **Why `connection: close`.** For the same reason: a kept-alive connection that sits
//! idle between requests would hold its worker exactly like a slow client, while new
//! clients wait in the accept queue. Closing after each answer frees the worker for the
//! next connection; gunicorn's sync worker does the same and ignores keep-alive.
//!
//! **Stopping.** SIGINT or SIGTERM to the parent: it sends SIGTERM to every worker, each
//! finishes its connection and prints its summary line, and the parent adds their counts
//! to its own (`stats::absorb`), so its summary line counts every request; a worker still
//! busy `--drain-ms` + 1 s later is killed and its counts are lost (said on stderr). A
//! worker that dies early (a crash, the OOM killer) is logged and not restarted (gunicorn
//! would start another); once none is left the parent stops with exit 1. No worker
//! outlives the parent, even one killed with SIGKILL (`worker.rs`: `PR_SET_PDEATHSIG`).
//!
//! ```sh
//! target/release/procs serve --port 0 --workers 8 --backend 127.0.0.1:FIXTURE_PORT
//! ```

use crate::worker::{Ended, Workers};
use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};
use workload::blocking::Client;
use workload::serve::{self, http1, shutdown, stats, ServeArgs};
use workload::summary::Summary;
use workload::Tally;

/// How long past `--drain-ms` the parent waits for its workers' summary lines before it
/// kills them: a worker sees the stop within its accept loop's 100 ms, and then exits.
const EXIT_MARGIN: Duration = Duration::from_secs(1);
/// Threads in a worker process: the one that serves and the one that waits for signals.
const THREADS_PER_WORKER: u64 = 2;

/// The parent: bind, start K workers on the one socket, wait for SIGINT/SIGTERM, stop
/// them, and add up what each served.
pub fn run_serve(args: &ServeArgs) -> Result<Tally> {
    let k = args.workers.unwrap_or_else(cores);
    workload::record_workers(k);
    check_limits(k)?;
    let listener = serve::bind_std(args)?;
    let addr = listener.local_addr()?;
    // The model: K copies of this binary, each given the listening socket. They are
    // started from this thread, which lives as long as the process: PR_SET_PDEATHSIG
    // (worker.rs) fires when the thread that started a worker ends.
    let mut workers = Workers::default();
    for i in 1..=k {
        workers
            .start_serving(&args.argv(), i, &listener)
            .with_context(|| format!("cannot start worker {i} of {k}"))?;
    }
    // The parent accepts nothing: without its copy, the socket closes (and new clients
    // are refused) as soon as the last worker stops accepting.
    drop(listener);
    let how = format!("{k} worker processes, one connection at a time each");
    serve::announce("procs", addr, &how)?;
    let mut served = Served::default();
    while !shutdown::requested() {
        for ended in workers.reap_exited() {
            served.add(&ended, k, Some(workers.running()));
        }
        if workers.running() == 0 {
            bail!("all {k} workers have exited; nothing is left to serve");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Stop: each worker stops accepting, finishes its connection and prints its line.
    workers.signal_all(libc::SIGTERM);
    for ended in workers.wait_until(Instant::now() + args.drain() + EXIT_MARGIN) {
        served.add(&ended, k, None);
    }
    Ok(Tally {
        child_processes: k,
        child_peak_rss_bytes: served.peak_rss_bytes,
        // Every worker's answers are in the counters now (absorbed).
        ..serve::tally()
    })
}

/// In a worker process: `sync`'s loop, on the socket the parent left open for it.
pub fn run_worker(args: &ServeArgs) -> Result<Tally> {
    let listener = crate::worker::inherited_listener()?;
    // One client: its keep-alive connection to the backend serves every request in turn.
    let client = Client::new(serve::BACKEND_TIMEOUT);
    let policy = http1::Policy {
        close_after_each: true,
        header_timeout: args.header_timeout(),
    };
    http1::accept_loop(&listener, |stream| {
        // The model: this process serves the connection to its end before the next accept.
        http1::serve_connection(stream, policy, |route| {
            http1::answer(route, &client, args.backend)
        });
    })?;
    Ok(serve::tally())
}

/// What the parent learnt from its ended workers.
#[derive(Default)]
struct Served {
    peak_rss_bytes: u64,
}

impl Served {
    /// Add an ended worker's counts (its summary line's `serve` object) to this process's,
    /// or say on stderr why there are none. `left`: the workers still serving, when this
    /// one ended before any stop.
    fn add(&mut self, ended: &Ended, k: u64, left: Option<usize>) {
        let summary = Summary::from_line(&ended.last_line).ok();
        if let Some(Summary {
            serve: Some(counts),
            bytes,
            peak_rss_bytes,
            ..
        }) = &summary
        {
            stats::absorb(counts, *bytes);
            self.peak_rss_bytes += peak_rss_bytes;
        }
        let i = ended.number;
        let status = ended.status;
        match left {
            Some(left) => eprintln!(
                "procs: worker {i} of {k} exited ({status}) before any stop; not restarted, \
                 {left} left{}",
                if summary.is_some() {
                    ""
                } else {
                    "; its requests are not counted"
                }
            ),
            None if summary.is_some() => {}
            None if ended.killed => eprintln!(
                "procs: worker {i} was still serving after --drain-ms + {} s; killed, its \
                 requests are not counted",
                EXIT_MARGIN.as_secs()
            ),
            // Killed by the stop signal itself: the worker had not yet caught signals, so
            // it had not begun serving (it catches them before it accepts): nothing lost.
            None if stopped_before_serving(status) => {}
            None => eprintln!(
                "procs: worker {i} ended ({status}) without its summary line; its requests \
                 are not counted"
            ),
        }
    }
}

fn stopped_before_serving(status: std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    matches!(status.signal(), Some(libc::SIGTERM | libc::SIGINT))
}

/// K workers must fit the machine's limits on kernel tasks and this process's open files
/// (an output pipe per worker): refused before anything is bound (exit 2).
fn check_limits(k: u64) -> Result<()> {
    workload::limits::check_tasks(
        k * THREADS_PER_WORKER,
        &format!("--workers {k} ({k} worker processes of {THREADS_PER_WORKER} threads each)"),
    )?;
    workload::limits::check_files(
        k * crate::worker::FILES_PER_WORKER + crate::worker::FILES_TO_START + 1,
        &format!("--workers {k} (an output pipe per worker, and the socket)"),
    )?;
    Ok(())
}

/// One worker per core by default: the cores this process may run on.
fn cores() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as u64
}
