//! serve in green: a may coroutine per connection, on may's sockets, kept alive.
//!
//! The accept loop is itself a coroutine: may's `accept` parks it until epoll says a
//! connection is waiting. Each connection gets a coroutine of its own, which runs the same
//! blocking HTTP/1.1 code as threads (`workload::serve::http1`) on a may socket: every
//! read parks the coroutine, not the worker, so 10,000 idle keep-alive connections are
//! 10,000 parked coroutines on one worker per core. `/backend` downloads with green's own
//! client (ureq on may's sockets, a client per connection as each task has one in
//! run_io): the wait parks the coroutine too.
//!
//! **`/work` runs on an OS thread of its own**, as `mixed --variant offload` teaches: a
//! coroutine that computes a power holds its worker until the power is done, and every
//! coroutine queued on that worker (the reads of other connections, their answers) waits
//! behind it, as `--variant inline` shows. The connection's coroutine parks on a may
//! channel until the thread sends the answer. A thread per power costs its start (tens
//! of microseconds, against about a millisecond of `/work/10000`). At most
//! [`WORK_THREADS`] run at once (tokio's blocking pool has the same cap), within half the
//! room the machine's thread limits leave; a coroutine past it parks on a may semaphore
//! until one ends. A thread that cannot start is a 503, logged once.
//!
//! **What it costs.** Per connection a coroutine (a stack of `STACK_BYTES` reserved, two
//! memory maps; may keeps 1,000 ready) and a socket. Past `vm.max_map_count` may cannot
//! map a stack and panics: caught, the connection is closed, counted under `accept` and
//! logged once. A std call that blocks (a std socket, a contended std mutex) in a
//! connection's code would stall its worker's other connections: here every wait goes
//! through may.
//!
//! **How it stops.** may's accept cannot also wait for a signal. So the main thread, which
//! is not one of may's workers, parks until SIGINT/SIGTERM (`shutdown::wait`), then
//! cancels the accept coroutine (may's `Coroutine::cancel`: the coroutine resumes from its
//! wait and unwinds, dropping the listener), and drains.

use crate::client::{self, Client};
use anyhow::{anyhow, Result};
use may::net::{TcpListener, TcpStream};
use may::sync::Semphore;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::sync::Arc;
use std::time::Duration;
use workload::serve::{self, http1, shutdown, stats, Answer, Route, ServeArgs};
use workload::Tally;

/// The most `/work` threads at once: tokio's default `max_blocking_threads`.
const WORK_THREADS: u64 = 512;

/// Accept until SIGINT/SIGTERM, a coroutine per connection; then let requests in flight
/// finish.
pub fn run_serve(args: &ServeArgs) -> Result<Tally> {
    let listener = serve::bind_std(args)?;
    let addr = listener.local_addr()?;
    // may's listener over std's socket (its backlog, its address): non-blocking, and
    // registered with may's epoll. may panics where it could return an error: caught.
    // SAFETY: the descriptor comes from into_raw_fd, so may's listener alone owns it.
    let listener =
        workload::catch_panic(|| unsafe { TcpListener::from_raw_fd(listener.into_raw_fd()) })
            .map_err(|why| anyhow!("cannot register the listener with may: {why}"))?;
    serve::announce("green", addr, "a coroutine per connection")?;
    let policy = http1::Policy {
        close_after_each: false,
        header_timeout: args.header_timeout(),
    };
    let backend = args.backend;
    // Within half the room the thread limits leave, as threads keeps for its connections.
    let slots = WORK_THREADS
        .min(workload::limits::thread_room(16) / 2)
        .max(1);
    let work_slots = Arc::new(Semphore::new(slots as usize));
    // SAFETY: as on_coroutines' spawn: no thread-local, and well within STACK_BYTES.
    let acceptor = workload::catch_panic(|| unsafe {
        may::coroutine::spawn(move || accept_loop(&listener, policy, backend, work_slots))
    })
    .map_err(|why| anyhow!("cannot start the accept coroutine: {why}"))?;
    // This thread is not a worker: parking it stalls no coroutine.
    shutdown::wait();
    // SAFETY: cancel makes the coroutine unwind from its next wait, dropping what it
    // holds; the accept loop holds the listener and plain values, no lock, nothing half
    // written. A loop between two accepts sees the stop flag and ends by itself.
    unsafe { acceptor.coroutine().cancel() };
    // Err(Cancel) when it was cancelled: the expected end.
    let _ = acceptor.join();
    serve::drain("green", args.drain());
    Ok(serve::tally())
}

/// The accept coroutine: each connection gets a coroutine, and back to accepting at once.
fn accept_loop(
    listener: &TcpListener,
    policy: http1::Policy,
    backend: Option<SocketAddr>,
    work_slots: Arc<Semphore>,
) {
    while !shutdown::requested() {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait on may's timer, not in a spin.
                if let Some(pause) = serve::accept_failed(&e) {
                    may::coroutine::sleep(pause);
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let work_slots = Arc::clone(&work_slots);
        // The model: a coroutine per connection, on may's socket.
        // SAFETY: as on_coroutines' spawn (see main.rs): no thread-local, and the
        // connection's code (a head parser, ureq's download) stays within STACK_BYTES.
        let spawned = workload::catch_panic(|| unsafe {
            may::coroutine::spawn(move || {
                let client = client::client(serve::BACKEND_TIMEOUT);
                http1::serve_connection(MaySocket(stream), policy, |route| {
                    answer(route, &client, backend, &work_slots)
                });
            })
        });
        if let Err(why) = spawned {
            stats::error(stats::ErrorKind::Accept);
            stats::log_once(
                "coroutine",
                &format!(
                    "cannot start a coroutine for a connection ({why}); closing it (each \
                     stack is 2 memory maps: see /proc/sys/vm/max_map_count)"
                ),
            );
        }
    }
}

/// A route's answer: `/work` on an OS thread, the others in this coroutine.
fn answer(
    route: Route,
    client: &Client,
    backend: Option<SocketAddr>,
    work_slots: &Semphore,
) -> Answer {
    match route {
        Route::Work(exp) => work(exp, work_slots),
        route => http1::answer(route, client, backend),
    }
}

/// `/work/{exp}` on a thread of its own; this coroutine parks on a may channel meanwhile,
/// and its worker runs the other connections.
fn work(exp: u32, slots: &Semphore) -> Answer {
    // Parks this coroutine, not the worker, while every slot is computing.
    slots.wait();
    let (sender, receiver) = may::sync::mpsc::channel();
    let started = std::thread::Builder::new().spawn(move || {
        let _ = sender.send(serve::work(exp));
    });
    let answer = match started {
        Ok(_) => receiver.recv().unwrap_or_else(|_| {
            Answer::text(500, format!("/work/{exp}: its thread ended unanswered"))
        }),
        Err(e) => {
            stats::log_once(
                "work thread",
                &format!("cannot start a thread for /work: {e}"),
            );
            Answer::text(503, format!("cannot start a thread for /work: {e}"))
        }
    };
    slots.post();
    answer
}

/// may's socket as the blocking server's [`http1::Socket`] (a newtype: neither the trait
/// nor the type is ours). A read past the timeout fails with `TimedOut`, as std's does.
struct MaySocket(TcpStream);

impl Read for MaySocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for MaySocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl http1::Socket for MaySocket {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(timeout)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.0.shutdown(std::net::Shutdown::Write)
    }
}
