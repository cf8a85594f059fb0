//! One connection's life: what it is doing, how long it may take, and which connection
//! is closed when the server runs out of room.
//!
//! A connection is always in one of three phases:
//! - **waiting** for a request: idle since it connected or since its last answer, then
//!   reading a request head once the first byte of one arrives;
//! - **handling**: a route works on the request (a `/delay` sleeping);
//! - **sending**: the answer is being written.
//!
//! A watchdog per connection closes it when:
//! - **idle timeout** (`--idle-timeout-ms`, default 30 s): it is waiting or sending, and no
//!   byte has gone in or out for that long: an idle keep-alive connection, a client that
//!   connects and sends nothing, or one that stopped reading its answer;
//! - **header timeout** (`--header-timeout-ms`, default 10 s): the first byte of a request
//!   arrived that long ago and its head is still not complete, however steadily it
//!   trickles (one header line a second keeps a connection busy, never idle).
//!
//! Handling has no timeout of its own: every route caps its own wait (the delay cap).
//!
//! **File descriptors.** Each connection holds one. The server keeps at most
//! `--max-connections` open (by default the open-file limit minus [`RESERVED_FDS`] for the
//! server itself), so `accept` never fails for want of one. At the cap, before accepting
//! the next connection, [`Registry::make_room`] closes the connection that has waited
//! longest for a request (idle, or trickling a head). A new connection, such as a
//! `/health` probe, therefore always gets in, and sends its request before it is the
//! longest waiting. Connections that are handling or sending are never closed to make
//! room; if all of them are, new connections wait in the kernel's queue until one ends.

use crate::log::Log;
use crate::routes::{self, SlowHead, State};
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Duration, Instant};

/// File descriptors kept for the server itself (listener, epoll, signal pipe, stdio)
/// below the open-file limit.
pub const RESERVED_FDS: u64 = 32;

#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
}

/// Serve one accepted connection until the client leaves, a timeout closes it, or the
/// registry closes it to make room. Dropping the hyper connection closes the socket.
pub async fn serve(stream: TcpStream, registration: Registration, state: Arc<State>, t: Timeouts) {
    let _ = stream.set_nodelay(true);
    let conn = registration.conn.clone();
    let socket = crate::socket::Socket::new(stream, conn.clone());
    let handler = conn.clone();
    let service =
        hyper::service::service_fn(move |req| respond(req, state.clone(), handler.clone()));
    let http = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(socket), service);
    tokio::select! {
        // Errors here are clients going away, or our own /reset and /truncate faults:
        // nothing to report.
        _ = http => {}
        () = conn.watchdog(t) => {}
        () = conn.shed.notified() => {}
    }
}

/// One request: mark the phases around the route, and hand the body over wrapped so that
/// its end marks the connection waiting again.
async fn respond(
    req: Request<Incoming>,
    state: Arc<State>,
    conn: Arc<Conn>,
) -> Result<Response<Tracked>, io::Error> {
    conn.set_phase(Phase::Handling);
    let response = routes::handle(req, &state).await?;
    if let Some(SlowHead(over)) = response.extensions().get::<SlowHead>() {
        conn.activity().slow_head = Some(*over);
    }
    conn.set_phase(Phase::Sending);
    Ok(response.map(|body| Tracked { body, conn }))
}

/// What one connection is doing, shared by its socket, its handler and its watchdog.
pub struct Conn {
    activity: Mutex<Activity>,
    /// Notified to close this connection to make room for a new one.
    shed: Notify,
    /// Notified when the deadline may have moved earlier, to wake the watchdog.
    changed: Notify,
}

struct Activity {
    phase: Phase,
    /// When a byte last went in or out.
    last_progress: Instant,
    /// Trickle the next answer's head over this long (`/slow-headers`); the socket takes it.
    slow_head: Option<Duration>,
    /// The socket is trickling a head now. Its length is capped by the delay cap, so the
    /// watchdog leaves it alone, and it is not waiting for a request.
    trickling: bool,
    /// Already told to close: not a candidate again.
    shed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request since `since`; `head_from`: when its first byte arrived.
    Waiting {
        since: Instant,
        head_from: Option<Instant>,
    },
    Handling,
    Sending,
}

impl Conn {
    fn new(now: Instant) -> Conn {
        Conn {
            activity: Mutex::new(Activity {
                phase: Phase::Waiting {
                    since: now,
                    head_from: None,
                },
                last_progress: now,
                slow_head: None,
                trickling: false,
                shed: false,
            }),
            shed: Notify::new(),
            changed: Notify::new(),
        }
    }

    fn set_phase(&self, phase: Phase) {
        self.activity().phase = phase;
        self.changed.notify_one();
    }

    fn activity(&self) -> MutexGuard<'_, Activity> {
        // Nothing panics while holding it; if something did, the state is still usable.
        self.activity.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes came in. While waiting, the first one starts the header timeout.
    pub fn read_some(&self) {
        let now = Instant::now();
        let mut a = self.activity();
        a.last_progress = now;
        if let Phase::Waiting {
            head_from: head_from @ None,
            ..
        } = &mut a.phase
        {
            *head_from = Some(now);
            drop(a);
            self.changed.notify_one(); // the header timeout may come before the idle one
        }
    }

    /// Bytes went out.
    pub fn wrote_some(&self) {
        self.activity().last_progress = Instant::now();
    }

    /// The socket takes the slow-head order for the answer it is about to write.
    pub fn take_slow_head(&self) -> Option<Duration> {
        self.activity().slow_head.take()
    }

    pub fn set_trickling(&self, trickling: bool) {
        self.activity().trickling = trickling;
        self.changed.notify_one();
    }

    /// When this connection is due to close as things stand; `None` while a route handles
    /// its request or a head trickles out (both capped elsewhere).
    fn deadline(&self, t: Timeouts) -> Option<Instant> {
        let a = self.activity();
        let idle = a.last_progress + t.idle;
        match a.phase {
            _ if a.trickling => None,
            Phase::Handling => None,
            Phase::Sending
            | Phase::Waiting {
                head_from: None, ..
            } => Some(idle),
            Phase::Waiting {
                head_from: Some(first_byte),
                ..
            } => Some(idle.min(first_byte + t.header)),
        }
    }

    /// Returns once the connection has outlived a timeout. Sleeps until the deadline, or
    /// until a change that may bring it forward (a head starting, a phase ending); bytes
    /// moving only push it back, and are seen when the sleep ends.
    async fn watchdog(&self, t: Timeouts) {
        loop {
            let deadline = self.deadline(t);
            if deadline.is_some_and(|at| at <= Instant::now()) {
                return;
            }
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                // A permit stored by a change made since `deadline()` is not lost.
                () = self.changed.notified() => {}
            }
        }
    }

    /// Since when it has been waiting for a request, if it is and may be closed for room.
    fn waiting_since(&self) -> Option<Instant> {
        let a = self.activity();
        match a.phase {
            Phase::Waiting { since, .. } if !a.trickling && !a.shed => Some(since),
            _ => None,
        }
    }

    fn shed(&self) {
        self.activity().shed = true;
        // A stored permit if the connection's task is not polling yet: never lost.
        self.shed.notify_one();
    }
}

/// The response body, wrapped: when hyper drops it (sent in full, or the connection
/// ended), the connection is waiting for its next request.
pub struct Tracked {
    body: routes::Body,
    conn: Arc<Conn>,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.conn.set_phase(Phase::Waiting {
            since: Instant::now(),
            head_from: None,
        });
    }
}

/// Every open connection, and the cap on their number.
pub struct Registry {
    conns: Mutex<(u64, HashMap<u64, Arc<Conn>>)>,
    /// Notified whenever a connection ends.
    freed: Notify,
    cap: usize,
}

/// A connection's place in the registry; dropping it (when the connection's task ends,
/// its socket closed) frees the place.
pub struct Registration {
    registry: Arc<Registry>,
    id: u64,
    conn: Arc<Conn>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().1.remove(&self.id);
        self.registry.freed.notify_waiters();
    }
}

impl Registry {
    pub fn new(cap: usize) -> Arc<Registry> {
        Arc::new(Registry {
            conns: Mutex::new((0, HashMap::new())),
            freed: Notify::new(),
            cap,
        })
    }

    fn lock(&self) -> MutexGuard<'_, (u64, HashMap<u64, Arc<Conn>>)> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn register(self: &Arc<Self>) -> Registration {
        let conn = Arc::new(Conn::new(Instant::now()));
        let mut guard = self.lock();
        let (next_id, conns) = &mut *guard;
        let id = *next_id;
        *next_id += 1;
        conns.insert(id, conn.clone());
        Registration {
            registry: self.clone(),
            id,
            conn,
        }
    }

    /// Returns once one more connection fits under the cap. At the cap, closes the
    /// connection that has waited longest for a request and waits for it to end.
    pub async fn make_room<W: std::io::Write + Send>(&self, log: &Log<W>) {
        loop {
            // Listen before looking, so that a connection ending in between is not missed.
            let freed = self.freed.notified();
            let mut freed = std::pin::pin!(freed);
            freed.as_mut().enable();
            {
                let guard = self.lock();
                if guard.1.len() < self.cap {
                    return;
                }
                let longest_waiting = guard
                    .1
                    .values()
                    .filter_map(|c| c.waiting_since().map(|since| (since, c)))
                    .min_by_key(|(since, _)| *since);
                match longest_waiting {
                    Some((_, conn)) => {
                        conn.shed();
                        log.line(&format!(
                            "at the cap of {} connections: closing the one that waited longest for a request",
                            self.cap
                        ));
                    }
                    None => log.line(&format!(
                        "at the cap of {} connections, none of them idle: new connections wait",
                        self.cap
                    )),
                }
            }
            freed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(30),
    };

    #[tokio::test(start_paused = true)]
    async fn idle_and_header_timeouts_count_from_the_right_moments() {
        let start = Instant::now();
        let conn = Conn::new(start);
        assert_eq!(conn.deadline(T), Some(start + T.idle), "connected, silent");
        tokio::time::advance(Duration::from_secs(5)).await;
        conn.read_some(); // the first byte of a head
        let first_byte = Instant::now();
        assert_eq!(conn.deadline(T), Some(first_byte + T.header));
        tokio::time::advance(Duration::from_secs(1)).await;
        conn.read_some(); // a trickled header line does not extend the header timeout
        assert_eq!(conn.deadline(T), Some(first_byte + T.header));
        conn.activity().phase = Phase::Handling;
        assert_eq!(conn.deadline(T), None, "a route's own wait is capped");
        conn.activity().phase = Phase::Sending;
        conn.wrote_some();
        assert_eq!(conn.deadline(T), Some(Instant::now() + T.idle));
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_fires_at_the_idle_timeout_of_a_silent_connection() {
        let conn = Conn::new(Instant::now());
        let started = Instant::now();
        conn.watchdog(T).await;
        assert_eq!(started.elapsed(), T.idle);
    }

    /// The watchdog first sleeps toward the idle timeout (30 s); a head starting at 1 s
    /// brings the deadline forward to 11 s, and wakes it.
    #[tokio::test(start_paused = true)]
    async fn a_head_starting_wakes_the_watchdog_for_the_header_timeout() {
        let conn = Arc::new(Conn::new(Instant::now()));
        let started = Instant::now();
        let watched = conn.clone();
        let watchdog = tokio::spawn(async move { watched.watchdog(T).await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        conn.read_some();
        watchdog.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(1) + T.header);
    }

    /// Bytes arriving push the idle deadline back: the watchdog goes back to sleep.
    #[tokio::test(start_paused = true)]
    async fn progress_postpones_the_idle_timeout() {
        let conn = Arc::new(Conn::new(Instant::now()));
        conn.set_phase(Phase::Sending);
        let started = Instant::now();
        let watched = conn.clone();
        let watchdog = tokio::spawn(async move { watched.watchdog(T).await });
        tokio::time::sleep(Duration::from_secs(20)).await;
        conn.wrote_some();
        watchdog.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(20) + T.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_longest_waiting_connection_is_closed() {
        let registry = Registry::new(3);
        let log = Log::new(Vec::new());
        let oldest_busy = registry.register();
        oldest_busy.conn.activity().phase = Phase::Handling;
        tokio::time::advance(Duration::from_secs(1)).await;
        let waiting_longest = registry.register();
        tokio::time::advance(Duration::from_secs(1)).await;
        let newest = registry.register();
        // Full: make_room closes `waiting_longest`, then waits for its place.
        let room = registry.make_room(&log);
        let mut room = std::pin::pin!(room);
        assert!(futures_util::poll!(room.as_mut()).is_pending());
        assert!(waiting_longest.conn.activity().shed);
        assert!(!newest.conn.activity().shed && !oldest_busy.conn.activity().shed);
        drop(waiting_longest); // its task ended
        assert!(futures_util::poll!(room.as_mut()).is_ready());
    }
}
