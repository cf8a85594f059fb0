//! The `serve` workload: every model as an HTTP/1.1 server, its routes written once.
//!
//! ```sh
//! target/release/threads serve --port 0 --backend 127.0.0.1:FIXTURE_PORT
//! ```
//!
//! A model's `serve.rs` owns only how connections are accepted and run (one at a time, a
//! thread each, pre-forked workers, a pool, a coroutine or a task each). Everything else
//! is here, so that a diff of two models' `serve` shows the model alone:
//!
//! - [`ServeArgs`]: the command line (loopback unless `--bind` says otherwise).
//! - [`route`]: what a request asks for, or the 4xx answer it gets.
//! - [`hello`], [`work`], [`backend_target`] and [`backend_answer`]: the three routes'
//!   answers. `/work/{exp}` runs the cpu workload's verified kernel; `/backend/{ms}`
//!   verifies the fixture server's body exactly as the io workload does, with the model's
//!   own client.
//! - [`Answer`]: status and body; every answer carries `x-checksum` (FNV-1a 64 of its
//!   body, the fixture server's header) so that any client can verify it.
//! - [`stats`]: what was served, counted across threads, and the `serve` part of the
//!   summary line; [`shutdown`]: SIGINT/SIGTERM, then stop accepting and drain.
//! - [`http1`] (feature `blocking`): a blocking HTTP/1.1 connection on any socket
//!   (std's or may's), parsed with `httparse`, with the head's size and time capped;
//!   with feature `http1` alone, only its parsing and answer bytes, for a model that
//!   does its own I/O (monoio-async).
//! - [`hyper_server`] (feature `hyper-server`): the same routes as a hyper service, for
//!   the async models, and the classification of hyper's connection errors.
//!
//! The contract with scripts and tests: the first stdout line is the bound address
//! (`127.0.0.1:PORT`, see [`announce`]); on SIGINT or SIGTERM the server stops accepting,
//! lets the requests in flight finish (at most `--drain-ms`), prints the summary line
//! and exits 0.

use crate::io::{fnv1a, Target, FNV_START};
use crate::summary::Tally;
use anyhow::{Context, Result};
use clap::Args;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

#[cfg(feature = "http1")]
pub mod http1;
#[cfg(feature = "hyper-server")]
pub mod hyper_server;
pub mod shutdown;
pub mod stats;

/// The `/hello` body: the cost of serving one request and nothing else.
pub const HELLO: &[u8] = b"hello, world\n";
/// `/work/{exp}` computes `BASE ** exp`, the cpu workload's power.
pub const BASE: u64 = 7777;
/// The largest `/work` exponent: the seed article's 200,000 (about 30 ms in Rust).
pub const MAX_WORK_EXP: u32 = 200_000;
/// The largest `/backend` delay asked of the fixture server.
pub const MAX_BACKEND_MS: u64 = 10_000;
/// The bytes `/backend/{ms}` downloads.
pub const BACKEND_BYTES: u64 = 1024;
/// The largest request head (request line and headers) a server reads: over it, 431.
pub const MAX_HEAD: usize = 16 * 1024;
/// The largest `--workers` (procs and python-procs only).
pub const MAX_WORKERS: u64 = 256;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The port to listen on (0: a free port; the bound address is the first stdout line).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// The address to listen on: loopback unless another is asked for.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// The fixture server that `/backend/{ms}` downloads from (127.0.0.1:PORT; loopback
    /// only). Without it, `/backend` answers 503.
    #[arg(long, value_name = "ADDR", value_parser = parse_backend)]
    pub backend: Option<SocketAddr>,
    /// Worker processes (procs only; 1..=256, default one per core).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_WORKERS))]
    pub workers: Option<u64>,
    /// A request head must arrive within this many ms (1..=60000); an idle keep-alive
    /// connection is closed after as long.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub header_timeout_ms: u64,
    /// After SIGINT/SIGTERM, requests in flight get this long to finish (0..=60000 ms).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub drain_ms: u64,
}

impl ServeArgs {
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }

    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    pub fn drain(&self) -> Duration {
        Duration::from_millis(self.drain_ms)
    }
}

impl ServeArgs {
    /// The command line that serves the same way: how procs starts its workers.
    pub fn argv(&self) -> Vec<String> {
        let mut argv: Vec<String> = vec!["serve".into()];
        if let Some(backend) = self.backend {
            argv.extend(["--backend".into(), backend.to_string()]);
        }
        argv.extend([
            "--header-timeout-ms".into(),
            self.header_timeout_ms.to_string(),
            "--drain-ms".into(),
            self.drain_ms.to_string(),
        ]);
        argv
    }
}

/// Whether this model takes `--workers` (see [`offer_workers`]).
static TAKES_WORKERS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Called by a model that serves with worker processes (procs) before `workload::main`:
/// it alone takes `--workers`.
pub fn offer_workers() {
    TAKES_WORKERS.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The checks of a serve command line that depend on the model.
pub(crate) fn check(args: &ServeArgs) -> Result<(), String> {
    if args.workers.is_some() && !TAKES_WORKERS.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(
            "--workers is taken by procs only (its worker processes); this model serves with \
             its own scheduler's threads"
                .into(),
        );
    }
    Ok(())
}

/// `--backend` is the fixture server on this machine: a loopback address and a port.
fn parse_backend(text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| format!("'{text}' is not an address of the form 127.0.0.1:PORT"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "'{text}' is not a loopback address: the backend is the fixture server on this machine"
        ));
    }
    Ok(addr)
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Hello,
    Work(u32),
    Backend(u64),
}

/// The route of `METHOD PATH`, or the answer a request that asks for none gets: 405 for a
/// method other than GET (and HEAD's cousins), 404 for an unknown path, 400 for a number
/// out of its range.
pub fn route(method: &str, path: &str) -> Result<Route, Answer> {
    if method != "GET" {
        return Err(Answer::text(405, format!("{method}: only GET is served")));
    }
    // The query string plays no part.
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let number = |text: &str, max: u64| -> Result<u64, Answer> {
        match text.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(Answer::text(
                400,
                format!("'{text}' in {path} is not a number from 0 to {max}"),
            )),
        }
    };
    if path == "/hello" {
        return Ok(Route::Hello);
    }
    if let Some(exp) = path.strip_prefix("/work/") {
        let exp = number(exp, MAX_WORK_EXP as u64)?;
        if exp == 0 {
            return Err(Answer::text(
                400,
                format!("{path}: the exponent must be 1 or more"),
            ));
        }
        return Ok(Route::Work(exp as u32));
    }
    if let Some(ms) = path.strip_prefix("/backend/") {
        return Ok(Route::Backend(number(ms, MAX_BACKEND_MS)?));
    }
    Err(Answer::text(
        404,
        format!("{path}: no such route (/hello, /work/{{exp}}, /backend/{{ms}})"),
    ))
}

/// An answer: a status and a short text body. Every answer a server sends goes through
/// here, so every one carries Content-Length and `x-checksum`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(status: u16, body: impl Into<String>) -> Answer {
        let mut body = body.into().into_bytes();
        if body.last() != Some(&b'\n') {
            body.push(b'\n');
        }
        Answer { status, body }
    }

    /// A 200 whose body is a checksum: how /work and /backend answer.
    fn checksum_of(checksum: u64) -> Answer {
        Answer::text(200, format!("{checksum:016x}"))
    }

    /// The body's FNV-1a 64, as the `x-checksum` header carries it.
    pub fn checksum(&self) -> String {
        format!("{:016x}", fnv1a(FNV_START, &self.body))
    }

    pub fn reason(&self) -> &'static str {
        reason(self.status)
    }

    /// The status line and headers, for servers that write them themselves. `close`:
    /// the server closes the connection after this answer, and says so.
    pub fn head(&self, close: bool) -> String {
        format!(
            "HTTP/1.1 {} {}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n{}: {}\r\n{}\r\n",
            self.status,
            self.reason(),
            self.body.len(),
            crate::io::CHECKSUM_HEADER,
            self.checksum(),
            if close { "connection: close\r\n" } else { "" },
        )
    }
}

/// The reason phrase of every status a server here sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// `/hello`.
pub fn hello() -> Answer {
    Answer {
        status: 200,
        body: HELLO.to_vec(),
    }
}

/// `/work/{exp}`: `7777 ** exp` with the cpu workload's kernel, verified as it is there.
/// CPU-bound: an async model calls it on its blocking pool, never on a worker.
pub fn work(exp: u32) -> Answer {
    match crate::cpu::task(BASE, exp) {
        Ok(tally) => Answer::checksum_of(tally.checksum),
        Err(e) => {
            stats::log_once("work", &format!("/work/{exp} failed its check: {e:#}"));
            Answer::text(500, format!("/work/{exp} failed its check: {e:#}"))
        }
    }
}

/// The download behind `/backend/{ms}`, or the 503 when no `--backend` was given.
pub fn backend_target(backend: Option<SocketAddr>, ms: u64) -> Result<Target, Answer> {
    match backend {
        Some(addr) => Ok(Target::new(&format!(
            "http://{addr}/delay/{ms}/bytes/{BACKEND_BYTES}"
        ))),
        None => Err(Answer::text(
            503,
            "no --backend given: /backend/{ms} needs the fixture server's address",
        )),
    }
}

/// How long a backend download may take, connect to last byte: the longest delay plus
/// 10 s. The fixture server answers in its delay; past this it is down or stuck (502).
pub const BACKEND_TIMEOUT: Duration = Duration::from_millis(MAX_BACKEND_MS + 10_000);

/// The answer to `/backend/{ms}` from the model's verified download: 200 with the body's
/// checksum, or 502 naming the cause (logged once per kind of failure).
pub fn backend_answer(download: Result<Tally, crate::io::FetchError>) -> Answer {
    match download {
        Ok(tally) if tally.tasks == 1 && tally.unverified == 0 => {
            Answer::checksum_of(tally.checksum)
        }
        Ok(_) => Answer::text(502, "the backend's body could not be verified"),
        Err(e) => {
            stats::backend_failed(&e);
            Answer::text(502, format!("backend: {e}"))
        }
    }
}

/// Print the bound address as the first stdout line (the contract with scripts and
/// tests) and say on stderr what is served.
pub fn announce(model: &str, addr: SocketAddr, how: &str) -> Result<()> {
    stats::set_listen(addr);
    // Not println!, which panics if nobody reads stdout any more.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{addr}")
        .and_then(|()| stdout.flush())
        .context("cannot print the bound address on stdout")?;
    eprintln!("{model}: serving http://{addr} ({how}); SIGINT or SIGTERM stops it");
    Ok(())
}

/// Bind a std listener on the `--bind`/`--port` address, with the kernel's largest
/// backlog (a listener's default of 128 drops connections in a burst of thousands).
pub fn bind_std(args: &ServeArgs) -> Result<std::net::TcpListener> {
    let addr = args.listen_addr();
    bind(addr, false).with_context(|| format!("cannot listen on {addr}"))
}

/// `count` listeners on the `--bind`/`--port` address, one per thread-per-core runtime,
/// all with SO_REUSEPORT: the kernel spreads new connections over them (by a hash of the
/// connection's addresses), so that no core accepts for another. With `--port 0` the
/// first takes a free port and the others bind that port.
pub fn bind_std_per_core(args: &ServeArgs, count: usize) -> Result<Vec<std::net::TcpListener>> {
    let mut addr = args.listen_addr();
    let mut listeners = Vec::with_capacity(count);
    for _ in 0..count {
        let listener = bind(addr, true).with_context(|| format!("cannot listen on {addr}"))?;
        addr = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<std::net::TcpListener> {
    let domain = match addr {
        SocketAddr::V4(_) => socket2::Domain::IPV4,
        SocketAddr::V6(_) => socket2::Domain::IPV6,
    };
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// The listen backlog asked for; the kernel caps it at `net.core.somaxconn`.
pub const BACKLOG: i32 = 65_535;

/// What an accept loop does when `accept` fails: another process won the connection or
/// it was aborted (`None`: go on), or a resource ran out, such as file descriptors
/// (counted, logged once, and `Some(pause)`: the loop waits that long, on its own timer,
/// instead of spinning at 100% CPU on a listener that stays readable).
pub fn accept_failed(e: &std::io::Error) -> Option<Duration> {
    use std::io::ErrorKind::*;
    match e.kind() {
        WouldBlock | Interrupted | ConnectionAborted | ConnectionReset => None,
        _ => {
            stats::error(stats::ErrorKind::Accept);
            stats::log_once(
                "accept",
                &format!("accept failed: {e}; pausing 100 ms at each failure"),
            );
            Some(Duration::from_millis(100))
        }
    }
}

/// What a serve run returns to [`crate::main`]: the answered requests as its tasks, the
/// body bytes sent as its bytes.
pub fn tally() -> Tally {
    let s = stats::snapshot();
    Tally {
        tasks: s.ok(),
        bytes: stats::bytes_sent(),
        ..Tally::default()
    }
}

/// After the accept loop has ended: wait until the requests in flight have been answered,
/// at most `drain`, then say how it went.
pub fn drain(model: &str, drain: Duration) {
    stats::wait_drained(drain);
    drain_report(model, drain);
}

/// Say so if requests are still in flight once the drain's time is up (an async model
/// waits on its own timer, then calls this).
pub fn drain_report(model: &str, drain: Duration) {
    let left = stats::in_flight();
    if left > 0 {
        eprintln!(
            "{model}: {left} request(s) still in flight after --drain-ms {}; stopping anyway",
            drain.as_millis()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_their_refusals() {
        assert_eq!(route("GET", "/hello"), Ok(Route::Hello));
        assert_eq!(route("GET", "/hello?x=1"), Ok(Route::Hello));
        assert_eq!(route("GET", "/work/10000"), Ok(Route::Work(10_000)));
        assert_eq!(route("GET", "/backend/50"), Ok(Route::Backend(50)));
        assert_eq!(route("GET", "/backend/0"), Ok(Route::Backend(0)));
        let status = |m, p| route(m, p).unwrap_err().status;
        assert_eq!(status("POST", "/hello"), 405);
        assert_eq!(status("GET", "/"), 404);
        assert_eq!(status("GET", "/hello/"), 404);
        assert_eq!(status("GET", "/work/0"), 400);
        assert_eq!(status("GET", "/work/200001"), 400);
        assert_eq!(status("GET", "/work/-1"), 400);
        assert_eq!(status("GET", "/work/"), 400);
        assert_eq!(status("GET", "/backend/10001"), 400);
        assert_eq!(status("GET", "/backend/99999999999999999999"), 400);
    }

    #[test]
    fn every_answer_carries_its_checksum() {
        let a = hello();
        assert_eq!(a.body, b"hello, world\n");
        let head = a.head(true);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("content-length: 13\r\n"), "{head}");
        assert!(head.contains(&format!("x-checksum: {}\r\n", a.checksum())));
        assert!(head.ends_with("connection: close\r\n\r\n"), "{head}");
        assert!(!a.head(false).contains("connection"));
        // FNV-1a 64 of the body, as the clients compute it.
        let hash = fnv1a(FNV_START, b"hello, world\n");
        assert_eq!(a.checksum(), format!("{hash:016x}"));
    }

    #[test]
    fn work_answers_the_powers_checksum() {
        let a = work(1000);
        let expected = crate::cpu::task(BASE, 1000).unwrap().checksum;
        assert_eq!(
            (a.status, a.body),
            (200, format!("{expected:016x}\n").into_bytes())
        );
    }

    #[test]
    fn backend_needs_an_address_and_names_its_failure() {
        assert_eq!(backend_target(None, 5).unwrap_err().status, 503);
        let t = backend_target(Some("127.0.0.1:9".parse().unwrap()), 5).unwrap();
        assert_eq!(t.url, "http://127.0.0.1:9/delay/5/bytes/1024");
        let ok = backend_answer(Ok(Tally::task(1024, 0xabc)));
        assert_eq!(ok.body, b"0000000000000abc\n");
        let refused = crate::io::FetchError::new(&t.url, crate::io::Cause::Refused);
        let bad = backend_answer(Err(refused));
        assert_eq!(bad.status, 502);
        assert!(String::from_utf8_lossy(&bad.body).contains("connection refused"));
        assert_eq!(backend_answer(Ok(Tally::unverified_task(1, 1))).status, 502);
    }

    #[test]
    fn backend_must_be_loopback() {
        assert!(parse_backend("127.0.0.1:80").is_ok());
        assert!(parse_backend("[::1]:80").is_ok());
        assert!(parse_backend("10.0.0.1:80")
            .unwrap_err()
            .contains("loopback"));
        assert!(parse_backend("localhost").is_err());
    }
}
