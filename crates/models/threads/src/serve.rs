//! serve in threads: a thread per connection, kept alive.
//!
//! The main thread accepts; each connection gets an OS thread of its own, which reads a
//! request, answers it and waits on the same socket for the next one (keep-alive). A
//! thread blocked on its socket costs no CPU, and the kernel runs whichever thread has
//! work: a `/backend/50` request holds only its own thread, so 1,000 waiting requests
//! are 1,000 parked threads, not a queue. `/work` computes on the connection's thread,
//! and the kernel preempts it like any other: nobody waits behind a power for longer
//! than a time slice.
//!
//! **What it costs.** A thread per open connection, busy or idle: a kernel task, a stack
//! (2 MiB reserved, a few pages touched) and four memory maps. That is the ceiling. At
//! start the server takes the room the machine's thread limits leave
//! (`workload::limits::thread_room`, as `mixed` does) for its connection threads. (Their
//! client resolves the backend's address on the connection's own thread,
//! `Client::resolving_inline`: ureq's default resolver would start one more thread for
//! each new backend connection.) A connection past that, or whose thread cannot start, is
//! closed at once, counted under
//! `accept` and logged once; the server goes on. Unchecked, a thread started past
//! `vm.max_map_count` aborts the whole process.
//!
//! **Its weakness.** Idle keep-alive connections are threads too: 10,000 open connections
//! would be 10,000 kernel tasks, stacks and 40,000 memory maps, whatever they send. Under
//! Linux's default `vm.max_map_count` of 65,530, the room is under 65,530 / 4 = 16,382
//! threads: past that, new connections are closed until idle ones end. An idle
//! connection is closed after `--header-timeout-ms`.

use anyhow::Result;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use workload::blocking::Client;
use workload::serve::{self, http1, stats, ServeArgs};
use workload::Tally;

/// Threads kept free beside the connections' own: this one, the signal thread, the
/// memory sampler, malloc's and the kernel's margins.
const SPARE_THREADS: u64 = 16;

/// Accept until SIGINT/SIGTERM, a thread per connection; then let requests in flight finish.
pub fn run_serve(args: &ServeArgs) -> Result<Tally> {
    let listener = serve::bind_std(args)?;
    serve::announce("threads", listener.local_addr()?, "a thread per connection")?;
    let policy = http1::Policy {
        close_after_each: false,
        header_timeout: args.header_timeout(),
    };
    // The room the thread limits leave: see the header.
    let room = workload::limits::thread_room(SPARE_THREADS).max(1);
    let live = Arc::new(AtomicU64::new(0));
    let backend = args.backend;
    http1::accept_loop(&listener, |stream| {
        if live.load(Relaxed) >= room {
            let why = format!(
                "{room} connection threads are open, the room that {} left at start; closing \
                 new connections until some end",
                workload::limits::thread_room_limit()
            );
            return refuse("room", &why);
        }
        let thread = LiveThread::enter(&live);
        // The model: a thread per connection, and back to accepting at once. Builder::spawn
        // reports a failed start (EAGAIN at a thread limit) where thread::spawn panics; the
        // closure, and the connection in it, are then dropped: the client sees it closed.
        let spawned = thread::Builder::new().spawn(move || {
            let _thread = thread;
            // A client per connection, as each task has its own in run_io: one shared
            // client is one pool behind one lock. Its keep-alive connection to the
            // backend serves this connection's next /backend request.
            let client = Client::resolving_inline(serve::BACKEND_TIMEOUT);
            http1::serve_connection(stream, policy, |route| {
                http1::answer(route, &client, backend)
            });
        });
        if let Err(e) = spawned {
            let why = format!(
                "cannot start a thread for a connection ({e}); closing it (see {})",
                workload::limits::hint()
            );
            refuse("spawn", &why);
        }
    })?;
    // Requests in flight finish on their threads; idle keep-alive threads end with the
    // process.
    serve::drain("threads", args.drain());
    Ok(serve::tally())
}

/// A connection closed unserved, for want of a thread: counted and logged once.
fn refuse(kind: &str, why: &str) {
    stats::error(stats::ErrorKind::Accept);
    stats::log_once(&format!("thread {kind}"), why);
}

/// A connection thread, counted as live from before its spawn until it ends.
struct LiveThread(Arc<AtomicU64>);

impl LiveThread {
    fn enter(live: &Arc<AtomicU64>) -> LiveThread {
        live.fetch_add(1, Relaxed);
        LiveThread(Arc::clone(live))
    }
}

impl Drop for LiveThread {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}
