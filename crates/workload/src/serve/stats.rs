//! What a server served, counted across its threads: answers by status, errors by kind,
//! connections, requests in flight. One set of counters per process (atomics: any thread,
//! task or coroutine adds to them without a lock), read into the summary line's `serve`
//! object at the end. A multi-process model (procs) adds its workers' objects with
//! [`absorb`].

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Why a request or a connection did not get a normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A malformed request (400).
    BadRequest,
    /// A head over [`super::MAX_HEAD`] (431).
    HeadTooLarge,
    /// A head not complete within `--header-timeout-ms` (closed, 408 where it can be sent).
    HeaderTimeout,
    /// `/backend` could not download or verify the fixture server's body (502).
    Backend,
    /// The client went away before its answer was written.
    ClientGone,
    /// `accept` failed (out of file descriptors, say).
    Accept,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::BadRequest,
        ErrorKind::HeadTooLarge,
        ErrorKind::HeaderTimeout,
        ErrorKind::Backend,
        ErrorKind::ClientGone,
        ErrorKind::Accept,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::HeadTooLarge => "head_too_large",
            ErrorKind::HeaderTimeout => "header_timeout",
            ErrorKind::Backend => "backend",
            ErrorKind::ClientGone => "client_gone",
            ErrorKind::Accept => "accept",
        }
    }
}

/// The statuses counted one by one; anything else is counted under its class.
const STATUSES: [u16; 9] = [200, 400, 404, 405, 408, 431, 500, 502, 503];

static BY_STATUS: [AtomicU64; STATUSES.len() + 1] = [const { AtomicU64::new(0) }; 10];
static ERRORS: [AtomicU64; ErrorKind::ALL.len()] = [const { AtomicU64::new(0) }; 6];
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
static OPEN: AtomicU64 = AtomicU64::new(0);
static PEAK_OPEN: AtomicU64 = AtomicU64::new(0);
static IN_FLIGHT: AtomicU64 = AtomicU64::new(0);
static BYTES_SENT: AtomicU64 = AtomicU64::new(0);
static LISTEN: OnceLock<String> = OnceLock::new();
/// Statuses absorbed from worker processes that are not in [`STATUSES`].
static OTHER: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// The `serve` object of the summary line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServeStats {
    pub listen: String,
    /// Answers sent, whatever their status.
    pub requests: u64,
    pub by_status: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    /// Connections accepted.
    pub connections: u64,
    /// The most connections open at once (in one process; summed over worker processes).
    pub peak_open_connections: u64,
}

impl ServeStats {
    /// The 2xx answers.
    pub fn ok(&self) -> u64 {
        self.by_status
            .iter()
            .filter(|(status, _)| status.starts_with('2'))
            .map(|(_, n)| n)
            .sum()
    }
}

/// One answer sent, of `bytes` body bytes.
pub fn answered(status: u16, bytes: usize) {
    let slot = STATUSES
        .iter()
        .position(|&s| s == status)
        .unwrap_or(STATUSES.len());
    if slot == STATUSES.len() {
        *OTHER
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(status.to_string())
            .or_default() += 1;
    }
    BY_STATUS[slot].fetch_add(1, Relaxed);
    BYTES_SENT.fetch_add(bytes as u64, Relaxed);
}

pub fn error(kind: ErrorKind) {
    ERRORS[kind as usize].fetch_add(1, Relaxed);
}

/// A backend download failed: counted, and logged once per kind of cause.
pub fn backend_failed(e: &crate::io::FetchError) {
    error(ErrorKind::Backend);
    let kind = match &e.cause {
        crate::io::Cause::Other(_) => "other".to_string(),
        cause => {
            // The cause's first words name its kind ("HTTP status 500", "timed out").
            let text = cause.to_string();
            text.split(':').next().unwrap_or(&text).to_string()
        }
    };
    log_once(&format!("backend {kind}"), &format!("backend failed: {e}"));
}

/// Print `line` on stderr the first time `key` is seen: one line per kind of failure,
/// not one per request.
pub fn log_once(key: &str, line: &str) {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if seen
        .get_or_insert_with(HashSet::new)
        .insert(key.to_string())
    {
        eprintln!(
            "{}: {line} (logged once; the summary line counts them)",
            crate::run::model()
        );
    }
}

/// An accepted connection, counted as open until the guard drops.
pub struct Connection(());

pub fn connection_opened() -> Connection {
    CONNECTIONS.fetch_add(1, Relaxed);
    let open = OPEN.fetch_add(1, Relaxed) + 1;
    PEAK_OPEN.fetch_max(open, Relaxed);
    Connection(())
}

impl Drop for Connection {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Relaxed);
    }
}

/// A request being answered (head read, answer not yet written), until the guard drops:
/// what the drain after SIGTERM waits for.
pub struct InFlight(());

pub fn request_started() -> InFlight {
    IN_FLIGHT.fetch_add(1, Relaxed);
    InFlight(())
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Relaxed);
    }
}

pub fn in_flight() -> u64 {
    IN_FLIGHT.load(Relaxed)
}

/// Connections open now.
pub fn open_connections() -> u64 {
    OPEN.load(Relaxed)
}

/// Wait until no request is in flight, at most `limit`; returns how many still are.
pub fn wait_drained(limit: Duration) -> u64 {
    let deadline = Instant::now() + limit;
    while in_flight() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    in_flight()
}

pub fn set_listen(addr: SocketAddr) {
    let _ = LISTEN.set(addr.to_string());
}

pub fn bytes_sent() -> u64 {
    BYTES_SENT.load(Relaxed)
}

/// The counters as the summary line shows them.
pub fn snapshot() -> ServeStats {
    let mut by_status: BTreeMap<String, u64> =
        OTHER.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for (status, n) in STATUSES.iter().zip(&BY_STATUS) {
        let n = n.load(Relaxed);
        if n > 0 {
            *by_status.entry(status.to_string()).or_default() += n;
        }
    }
    ServeStats {
        listen: LISTEN.get().cloned().unwrap_or_default(),
        requests: by_status.values().sum(),
        by_status,
        errors: ErrorKind::ALL
            .iter()
            .map(|&k| (k.name().to_string(), ERRORS[k as usize].load(Relaxed)))
            .collect(),
        connections: CONNECTIONS.load(Relaxed),
        peak_open_connections: PEAK_OPEN.load(Relaxed),
    }
}

/// Add a worker process's counts (its summary line's `serve`) to this process's.
pub fn absorb(other: &ServeStats, bytes: u64) {
    for (status, &n) in &other.by_status {
        match status
            .parse::<u16>()
            .ok()
            .and_then(|s| STATUSES.iter().position(|&x| x == s))
        {
            Some(slot) => {
                BY_STATUS[slot].fetch_add(n, Relaxed);
            }
            None => {
                *OTHER
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(status.clone())
                    .or_default() += n;
            }
        }
    }
    for kind in ErrorKind::ALL {
        let n = other.errors.get(kind.name()).copied().unwrap_or(0);
        ERRORS[kind as usize].fetch_add(n, Relaxed);
    }
    CONNECTIONS.fetch_add(other.connections, Relaxed);
    PEAK_OPEN.fetch_add(other.peak_open_connections, Relaxed);
    BYTES_SENT.fetch_add(bytes, Relaxed);
}

/// The `serve` object for the summary line, when the run was a serve run.
pub(crate) fn take(command: &crate::Command) -> Option<ServeStats> {
    matches!(command, crate::Command::Serve(_)).then(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counters are per process, and other tests serve too: this one checks what
    /// its own calls add.
    #[test]
    fn counts_add_up_and_absorb_workers() {
        let count = |s: &ServeStats, status: &str| s.by_status.get(status).copied().unwrap_or(0);
        let before = snapshot();
        let bytes_before = bytes_sent();
        answered(418, 1);
        answered(418, 1);
        answered(599, 20);
        error(ErrorKind::Accept);
        let s = snapshot();
        assert_eq!(count(&s, "418") - count(&before, "418"), 2);
        assert_eq!(count(&s, "599") - count(&before, "599"), 1);
        assert!(s.requests - before.requests >= 3);
        assert!(s.errors["accept"] > before.errors["accept"]);
        assert_eq!(s.errors.len(), ErrorKind::ALL.len());
        assert!(bytes_sent() - bytes_before >= 22);
        // A worker's line, added.
        let worker = ServeStats {
            requests: 3,
            by_status: [("418".into(), 2), ("599".into(), 1)].into(),
            errors: [("accept".into(), 5)].into(),
            connections: 3,
            peak_open_connections: 2,
            ..ServeStats::default()
        };
        absorb(&worker, 26);
        let after = snapshot();
        assert_eq!(count(&after, "418") - count(&s, "418"), 2);
        assert_eq!(count(&after, "599") - count(&s, "599"), 1);
        assert!(after.errors["accept"] >= s.errors["accept"] + 5);
        assert!(after.connections >= s.connections + 3);
        // 2xx only: 418 and 599 are not ok.
        let only = ServeStats {
            by_status: [("200".into(), 2), ("204".into(), 1), ("418".into(), 7)].into(),
            ..ServeStats::default()
        };
        assert_eq!(only.ok(), 3);
        // The line round-trips.
        let line = serde_json::to_string(&after).unwrap();
        assert_eq!(serde_json::from_str::<ServeStats>(&line).unwrap(), after);
    }

    #[test]
    fn guards_count_open_connections_and_requests_in_flight() {
        let c = connection_opened();
        let r = request_started();
        assert!(open_connections() >= 1 && in_flight() >= 1);
        assert!(snapshot().peak_open_connections >= 1);
        drop((c, r));
        // Other tests' requests finish in microseconds.
        assert_eq!(wait_drained(Duration::from_secs(5)), 0);
    }
}
