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
//! server itself), so `accept` never fails for want of one. A connection accepted at the
//! cap takes the place of the one that has waited longest for a request (idle, or
//! trickling a head), which is closed ([`Registry::register`]). Only an arrival closes a
//! connection, never the wait for one; and a connection counts as waiting only once its
//! socket was found empty, so that one just accepted, whose request its task has not read
//! yet, is not taken for idle (without this, a burst of 300 requests at a cap of 268 lost
//! about ten of them); and only once it has stayed so for [`IDLE_AFTER`], since on a busy
//! machine a client's request can come some milliseconds after its connect.
//!
//! **Over the cap.** When every connection at the cap is busy (handling or sending), none
//! can be closed without breaking an answer, and a new one, such as the drivers' `/health`
//! probe between cells, would wait for one of them to end: 20 s behind 300 requests to
//! `/delay/20000`. So up to [`OVER_CAP`] more connections are accepted, on descriptors
//! kept for them within [`RESERVED_FDS`]. Each gets one answer and is closed: `/health` is
//! answered as usual, any other request gets `503 Service Unavailable` at once (a client
//! asking for more than the server can hold learns it, rather than waiting unseen in the
//! kernel's queue). When all of those places are taken too, new connections wait in the
//! kernel's queue for one to be answered, which takes a moment, or for one of them to have
//! been silent for [`IDLE_AFTER`]: a new one takes the place of the one that has waited
//! longest for its request. So
//! `/health` always gets in and is answered. New connections also wait while the
//! connections closed for room are still closing ([`LEAVING`] at most).

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

/// File descriptors kept below the open-file limit: for the server itself (listener,
/// epoll, eventfd, signal pipe, stdio: about a dozen), for the [`OVER_CAP`] connections
/// and for the [`LEAVING`] ones.
pub const RESERVED_FDS: u64 = 32;

/// Connections accepted over the cap when every connection under it is busy, each for one
/// answer: `/health`, or 503 to anything else.
pub const OVER_CAP: usize = 8; // --max-connections in --help says 8

/// How long a connection waits for a request, its socket found empty, before it counts as
/// idle and may be closed to make room. Its client may be about to send the request it
/// connected for: on a busy machine a client's write can come some milliseconds after its
/// connect, and a burst of 60 downloads at a cap of 32 lost 3 of them this way.
pub const IDLE_AFTER: Duration = Duration::from_millis(250);

/// Connections closed to make room that may still hold their descriptor (their task has
/// not run yet) before the server waits for them to go.
pub const LEAVING: usize = 4;

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
    // A connection over the cap gets one answer, then hyper closes it.
    let http = http1::Builder::new()
        .keep_alive(!conn.over_cap)
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
    let response = if conn.over_cap {
        routes::handle_over_cap(req, &state).await?
    } else {
        routes::handle(req, &state).await?
    };
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
    /// Accepted over the cap: one answer, `/health` or 503.
    over_cap: bool,
    /// The registry's [`Registry::room`], told when this connection may be closed.
    room: Arc<Notify>,
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
    /// Its socket had nothing to read since it began waiting: it waits for a request
    /// indeed, rather than holding one its task has not read yet (a connection just
    /// accepted, whose client sent its request at once). Only then may it be closed.
    listened: bool,
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
    fn new(now: Instant, over_cap: bool, room: Arc<Notify>) -> Conn {
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
                listened: false,
            }),
            shed: Notify::new(),
            changed: Notify::new(),
            over_cap,
            room,
        }
    }

    fn set_phase(&self, phase: Phase) {
        let mut a = self.activity();
        a.phase = phase;
        if matches!(phase, Phase::Waiting { .. }) {
            a.listened = false;
        }
        drop(a);
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

    /// The socket had nothing to read. If the connection is waiting for a request, it may
    /// be closed to make room from now on.
    pub fn read_nothing(&self) {
        let mut a = self.activity();
        if matches!(a.phase, Phase::Waiting { .. }) && !a.listened {
            a.listened = true;
            drop(a);
            self.room.notify_waiters();
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

    /// From when it may be closed for room, if it waits for a request (its socket found
    /// empty): [`IDLE_AFTER`] after it began to wait. Earlier ones close first.
    fn idle_from(&self) -> Option<Instant> {
        let a = self.activity();
        match a.phase {
            Phase::Waiting { since, .. } if a.listened && !a.trickling && !a.shed => {
                Some(since + IDLE_AFTER)
            }
            _ => None,
        }
    }

    /// Since when it has waited for a request (as [`Conn::idle_from`] gives it), if it may
    /// be closed for room at `now`.
    fn idle_at(&self, now: Instant) -> Option<Instant> {
        self.idle_from().filter(|from| *from <= now)
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
    conns: Mutex<Conns>,
    /// Notified when a place may have come free: a connection ended, or one began to wait
    /// for a request and may be closed to make room.
    room: Arc<Notify>,
    cap: usize,
}

/// The open connections by id: those under the cap, those over it, and those closed to
/// make room whose task has not ended yet.
#[derive(Default)]
struct Conns {
    next_id: u64,
    under_cap: HashMap<u64, Arc<Conn>>,
    over_cap: HashMap<u64, Arc<Conn>>,
    leaving: HashMap<u64, Arc<Conn>>,
}

impl Conns {
    /// Close the connection among `place` that has waited longest for a request, if any
    /// may be closed. It leaves its place at once, and stays counted until its task ends.
    fn shed_longest_waiting(&mut self, over_cap: bool) -> bool {
        let place = if over_cap {
            &mut self.over_cap
        } else {
            &mut self.under_cap
        };
        let now = Instant::now();
        let longest = place
            .iter()
            .filter_map(|(id, c)| c.idle_at(now).map(|from| (from, *id)))
            .min();
        let Some((_, id)) = longest else {
            return false;
        };
        let conn = place.remove(&id).expect("listed just above");
        conn.shed();
        self.leaving.insert(id, conn);
        true
    }
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
        let mut guard = self.registry.lock();
        let conns = &mut *guard;
        for place in [
            &mut conns.under_cap,
            &mut conns.over_cap,
            &mut conns.leaving,
        ] {
            place.remove(&self.id);
        }
        drop(guard);
        self.registry.room.notify_waiters();
    }
}

impl Registry {
    pub fn new(cap: usize) -> Arc<Registry> {
        Arc::new(Registry {
            conns: Mutex::default(),
            room: Arc::default(),
            cap,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Conns> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns once the next connection will have a place, under the cap or over it,
    /// without closing any: room under the cap or over it, or a connection waiting for a
    /// request whose place it can take (over the cap, only once none there is answering).
    /// Call it before accepting.
    pub async fn make_room(&self) {
        loop {
            // Listen before looking, so that a connection ending in between is not missed.
            let changed = self.room.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            let now = Instant::now();
            let wake = {
                let conns = self.lock();
                let place = conns.under_cap.len() < self.cap
                    || conns.under_cap.values().any(|c| c.idle_at(now).is_some())
                    || conns.over_cap.len() < OVER_CAP
                    // Every place over the cap taken: one there idle makes room. One that
                    // only seems to wait, its request on the way, is not idle yet.
                    || conns.over_cap.values().any(|c| c.idle_at(now).is_some());
                if place && conns.leaving.len() < LEAVING {
                    return;
                }
                // No place yet; one may come by itself, when a connection that waits has
                // waited IDLE_AFTER.
                conns
                    .under_cap
                    .values()
                    .chain(conns.over_cap.values())
                    .filter_map(|c| c.idle_from())
                    .min()
            };
            match wake {
                Some(at) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Count a connection just accepted. Under the cap if it fits, or in the place of the
    /// connection under the cap that has waited longest for a request, which is closed.
    /// Over the cap if every connection under it is busy, where, if it is full, the one
    /// that has waited longest for its request is closed. Connections end between
    /// [`Registry::make_room`] and this call, so the place is chosen only now.
    pub fn register<W: std::io::Write + Send>(self: &Arc<Self>, log: &Log<W>) -> Registration {
        let mut conns = self.lock();
        let over_cap = if conns.under_cap.len() < self.cap {
            false
        } else if conns.shed_longest_waiting(false) {
            log.line(&format!(
                "at the cap of {} connections: closing the one that waited longest for a request",
                self.cap
            ));
            false
        } else {
            log.line(&format!(
                "at the cap of {} connections, all busy: new connections get /health or 503",
                self.cap
            ));
            if conns.over_cap.len() >= OVER_CAP {
                // None waiting only if one got its request since make_room looked: then
                // one more over the cap, and make_room waits for the next.
                conns.shed_longest_waiting(true);
            }
            true
        };
        let conn = Arc::new(Conn::new(Instant::now(), over_cap, self.room.clone()));
        let id = conns.next_id;
        conns.next_id += 1;
        let place = if over_cap {
            &mut conns.over_cap
        } else {
            &mut conns.under_cap
        };
        place.insert(id, conn.clone());
        Registration {
            registry: self.clone(),
            id,
            conn,
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
        let conn = Conn::new(start, false, Arc::default());
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
        let conn = Conn::new(Instant::now(), false, Arc::default());
        let started = Instant::now();
        conn.watchdog(T).await;
        assert_eq!(started.elapsed(), T.idle);
    }

    /// The watchdog first sleeps toward the idle timeout (30 s); a head starting at 1 s
    /// brings the deadline forward to 11 s, and wakes it.
    #[tokio::test(start_paused = true)]
    async fn a_head_starting_wakes_the_watchdog_for_the_header_timeout() {
        let conn = Arc::new(Conn::new(Instant::now(), false, Arc::default()));
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
        let conn = Arc::new(Conn::new(Instant::now(), false, Arc::default()));
        conn.set_phase(Phase::Sending);
        let started = Instant::now();
        let watched = conn.clone();
        let watchdog = tokio::spawn(async move { watched.watchdog(T).await });
        tokio::time::sleep(Duration::from_secs(20)).await;
        conn.wrote_some();
        watchdog.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(20) + T.idle);
    }

    /// Whether `make_room` returns at once.
    async fn room_now(registry: &Registry) -> bool {
        futures_util::poll!(std::pin::pin!(registry.make_room())).is_ready()
    }

    /// A connection accepted at the cap takes the place of the one that has waited longest
    /// for a request; the busy one and the newer one stay. Nothing is closed before a
    /// connection arrives.
    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_longest_waiting_connection_is_closed() {
        let registry = Registry::new(3);
        let log = Log::new(Vec::new());
        let oldest_busy = registry.register(&log);
        oldest_busy.conn.set_phase(Phase::Handling);
        tokio::time::advance(Duration::from_secs(1)).await;
        let waiting_longest = registry.register(&log);
        waiting_longest.conn.read_nothing();
        tokio::time::advance(Duration::from_secs(1)).await;
        let newest = registry.register(&log);
        newest.conn.read_nothing();
        assert!(room_now(&registry).await);
        assert!(
            !waiting_longest.conn.activity().shed,
            "closed before any arrival"
        );
        let arrived = registry.register(&log);
        assert!(!arrived.conn.over_cap);
        assert!(waiting_longest.conn.activity().shed);
        assert!(!newest.conn.activity().shed && !oldest_busy.conn.activity().shed);
    }

    /// A connection found silent just after it was accepted is not idle yet: its client may
    /// be about to write the request it connected for. An arrival goes over the cap rather
    /// than close it, until it has waited [`IDLE_AFTER`].
    #[tokio::test(start_paused = true)]
    async fn a_connection_just_accepted_is_not_taken_for_idle() {
        let registry = Registry::new(1);
        let log = Log::new(Vec::new());
        let first = registry.register(&log);
        first.conn.read_nothing();
        let arrived = registry.register(&log);
        assert!(arrived.conn.over_cap && !first.conn.activity().shed);
        tokio::time::advance(IDLE_AFTER).await;
        let next = registry.register(&log);
        assert!(!next.conn.over_cap && first.conn.activity().shed);
    }

    /// Every connection at the cap busy: the next ones go over the cap, up to
    /// [`OVER_CAP`]; then each new one takes the place of the one over the cap that has
    /// waited longest for its request. None under the cap is closed: all are answering.
    #[tokio::test(start_paused = true)]
    async fn with_every_connection_busy_new_ones_go_over_the_cap() {
        let registry = Registry::new(2);
        let log = Log::new(Vec::new());
        let busy: Vec<Registration> = (0..2).map(|_| registry.register(&log)).collect();
        for b in &busy {
            b.conn.set_phase(Phase::Handling);
        }
        let mut over = Vec::new();
        for _ in 0..OVER_CAP {
            tokio::time::advance(Duration::from_secs(1)).await;
            assert!(room_now(&registry).await, "no room over the cap");
            over.push(registry.register(&log));
        }
        assert!(over.iter().all(|r| r.conn.over_cap));
        // Just accepted, their requests not read yet: none may be closed, so no room.
        assert!(!room_now(&registry).await);
        for r in &over {
            r.conn.read_nothing();
        }
        assert!(
            room_now(&registry).await,
            "none waiting over the cap to make room"
        );
        // One of them answering, the others idle: one of those makes room (over the cap,
        // it would only get a 503), rather than every arrival waiting for answers to end.
        over[4].conn.set_phase(Phase::Sending);
        assert!(room_now(&registry).await);
        let newest = registry.register(&log);
        assert!(newest.conn.over_cap);
        assert!(
            over[0].conn.activity().shed,
            "the longest waiting over the cap"
        );
        assert!(over[1..].iter().all(|r| !r.conn.activity().shed));
        assert!(busy.iter().all(|r| !r.conn.activity().shed));
        // Every place over the cap busy answering: the next connection waits.
        for r in &over[1..] {
            r.conn.set_phase(Phase::Sending);
        }
        newest.conn.set_phase(Phase::Sending);
        assert!(!room_now(&registry).await);
        drop(over.pop()); // an answer is out, its connection closed
        assert!(room_now(&registry).await);
        // A connection under the cap ends before the next arrival: it fits under.
        drop(busy);
        assert!(!registry.register(&log).conn.over_cap);
    }

    /// Connections closed for room whose tasks have not ended yet hold descriptors: past
    /// [`LEAVING`] of them, the next connection waits for them to go.
    #[tokio::test(start_paused = true)]
    async fn connections_closing_for_room_are_waited_for() {
        let registry = Registry::new(1);
        let log = Log::new(Vec::new());
        let mut open = vec![registry.register(&log)];
        for _ in 0..LEAVING {
            open.last().unwrap().conn.read_nothing();
            tokio::time::advance(Duration::from_secs(1)).await;
            assert!(room_now(&registry).await);
            open.push(registry.register(&log)); // the previous one is closed for room
        }
        open.last().unwrap().conn.read_nothing();
        assert!(!room_now(&registry).await);
        drop(open.remove(0)); // the first one closed for room has gone
        assert!(room_now(&registry).await);
    }

    /// A connection that begins to wait for a request may make room once it has waited
    /// [`IDLE_AFTER`]: make_room, waiting for a place, wakes for it then, not only at a
    /// connection's end.
    #[tokio::test(start_paused = true)]
    async fn a_connection_found_waiting_wakes_make_room() {
        let registry = Registry::new(1);
        let log = Log::new(Vec::new());
        let first = registry.register(&log); // under the cap, its request not read yet
        let _over: Vec<Registration> = (0..OVER_CAP).map(|_| registry.register(&log)).collect();
        let waiting = registry.clone();
        let room = tokio::spawn(async move { waiting.make_room().await });
        tokio::task::yield_now().await;
        assert!(!room.is_finished(), "a place with every connection busy");
        first.conn.read_nothing();
        let found = Instant::now();
        tokio::time::timeout(Duration::from_secs(1), room)
            .await
            .expect("make_room was not woken")
            .unwrap();
        assert_eq!(
            found.elapsed(),
            IDLE_AFTER,
            "woken before its client could write"
        );
    }
}
