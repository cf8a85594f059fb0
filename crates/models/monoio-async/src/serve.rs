//! serve in monoio-async: a listener per core (SO_REUSEPORT), a task per connection on
//! the core that accepted it.
//!
//! Every core binds its own listener on the same port; the kernel spreads new connections
//! over them, so each core accepts, reads, answers and closes its own connections and
//! never hands one to another: the design's home ground, nothing shared on the hot path.
//! The accept, every read and every write are io_uring operations on the core's ring
//! (epoll ones on the fallback). The head is parsed with the blocking servers' parser and
//! caps (`workload::serve::http1`: 431 over 16 KiB, 400 for a malformed head or a body,
//! 408 for a head past `--header-timeout-ms`), since no HTTP server built on monoio reads
//! through io_uring with those caps (hyper would need monoio-compat's readiness path).
//! `/work` goes to the blocking pool, as `spawn_blocking` does in the cpu workload: on a
//! core it would stall every connection of that core. `/backend` downloads with this
//! model's client, on a connection kept per client connection.

use super::{fetch, runtime};
use anyhow::Result;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use workload::serve::http1::{self, Head, Parsed};
use workload::serve::stats::{self, ErrorKind};
use workload::serve::{self, route, shutdown, Answer, Route, ServeArgs, MAX_HEAD};
use workload::Tally;

/// Accept on every core until SIGINT/SIGTERM, a task per connection; then let requests in
/// flight finish.
pub fn run_serve(args: &ServeArgs) -> Result<Tally> {
    let listeners = serve::bind_std_per_core(args, runtime::cores())?;
    let addr = listeners[0].local_addr()?;
    // The address goes out once every core's runtime is ready to accept.
    let announce = || {
        let how = "a listener per core (SO_REUSEPORT), a task per connection on its core";
        serve::announce(workload::model(), addr, how)
    };
    let (timeout, backend, drain) = (args.header_timeout(), args.backend, args.drain());
    runtime::on_cores_after(listeners, announce, |listener| async move {
        // Non-blocking, as monoio's own `TcpListener::bind` makes its listeners: on the
        // epoll driver an accept is tried at once and waited for on EAGAIN, and on a
        // blocking listener it would park the core's thread until a client came.
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        loop {
            let accepted = monoio::select! {
                accepted = listener.accept() => accepted,
                () = shutdown::signalled() => break,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    if let Some(pause) = serve::accept_failed(&e) {
                        monoio::time::sleep(pause).await;
                    }
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            // The model: a task per connection, on this core, and back to accepting.
            monoio::spawn(serve_connection(stream, timeout, backend));
        }
        drain_core(drain).await;
        Ok::<_, anyhow::Error>(())
    })?
    .into_iter()
    .collect::<Result<()>>()?;
    serve::drain_report(workload::model(), drain);
    Ok(serve::tally())
}

/// Serve one connection until the client closes it, a head fails, or a stop says to close:
/// `serve::http1::serve_connection`'s loop, with io_uring reads and writes.
async fn serve_connection(mut stream: TcpStream, timeout: Duration, backend: Option<SocketAddr>) {
    let _open = stats::connection_opened();
    let (mut buf, mut kept) = (Vec::with_capacity(1024), None);
    loop {
        let (method, path, len, asked_close) = match read_head(&mut stream, &mut buf, timeout).await
        {
            Head::Request {
                method,
                path,
                len,
                close,
            } => (method, path, len, close),
            Head::Closed => return,
            Head::Failed(kind, reply) => {
                stats::error(kind);
                if let Some(reply) = reply {
                    if write_answer(&mut stream, &reply, true).await.is_ok() {
                        close_after_reading_the_rest(&mut stream).await;
                    }
                }
                return;
            }
        };
        let _in_flight = stats::request_started();
        let reply = match route(&method, &path) {
            Ok(Route::Hello) => serve::hello(),
            Ok(Route::Work(exp)) => work(exp).await,
            Ok(Route::Backend(ms)) => match serve::backend_target(backend, ms) {
                Ok(target) => serve::backend_answer(
                    fetch::download(&target, serve::BACKEND_TIMEOUT, &mut kept).await,
                ),
                Err(refusal) => refusal,
            },
            Err(refusal) => refusal,
        };
        buf.drain(..len);
        let close = asked_close || shutdown::requested();
        if write_answer(&mut stream, &reply, close).await.is_err() {
            stats::error(ErrorKind::ClientGone);
            return;
        }
        if close {
            return;
        }
    }
}

/// `/work/{exp}` on the blocking pool: a power computes for a millisecond or more without
/// an `.await`, and on a core it would stall every connection of that core.
async fn work(exp: u32) -> Answer {
    monoio::spawn_blocking(move || serve::work(exp))
        .await
        .unwrap_or_else(|_| Answer::text(500, format!("/work/{exp} was cancelled")))
}

/// Read until `buf` holds a whole head, within `timeout` from now: a client that trickles
/// its head does not reset the clock.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>, timeout: Duration) -> Head {
    let deadline = Instant::now() + timeout;
    loop {
        match http1::parse(buf) {
            Parsed::Complete(head) => return head,
            Parsed::Partial if buf.len() >= MAX_HEAD => {
                return Head::Failed(ErrorKind::HeadTooLarge, Some(http1::too_large()))
            }
            Parsed::Partial => {}
        }
        let room = (MAX_HEAD + 1 - buf.len()).min(4096);
        let left = deadline.saturating_duration_since(Instant::now());
        // The read is lent a buffer and gives it back with the result (io_uring).
        let read = monoio::time::timeout(left, stream.read(Vec::with_capacity(room))).await;
        match read {
            Err(_) => return http1::timed_out(buf),
            Ok((Ok(0), _)) if buf.is_empty() => return Head::Closed,
            Ok((Ok(0), _)) => return Head::Failed(ErrorKind::ClientGone, None),
            Ok((Ok(n), chunk)) => buf.extend_from_slice(&chunk[..n]),
            Ok((Err(_), _)) if buf.is_empty() => return Head::Closed,
            Ok((Err(_), _)) => return Head::Failed(ErrorKind::ClientGone, None),
        }
    }
}

/// Write the answer's head and body in one io_uring write, and count it.
async fn write_answer(stream: &mut TcpStream, answer: &Answer, close: bool) -> std::io::Result<()> {
    let (written, _) = stream.write_all(http1::answer_bytes(answer, close)).await;
    written?;
    stats::answered(answer.status, answer.body.len());
    Ok(())
}

/// As `serve::http1` does: FIN first, then read off what the client is still sending (at
/// most 200 ms and 64 KiB), so that closing does not reset the connection before the
/// client has read our answer.
async fn close_after_reading_the_rest(stream: &mut TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let deadline = Instant::now() + Duration::from_millis(200);
    let mut left = 64 * 1024usize;
    while left > 0 {
        let wait = deadline.saturating_duration_since(Instant::now());
        match monoio::time::timeout(wait, stream.read(Vec::with_capacity(4096))).await {
            Ok((Ok(n), _)) if n > 0 => left = left.saturating_sub(n),
            _ => return,
        }
    }
}

/// Wait on this core's timer until no request is in flight (on any core), at most `limit`;
/// meanwhile this core's connection tasks go on running.
async fn drain_core(limit: Duration) {
    let deadline = Instant::now() + limit;
    while stats::in_flight() > 0 && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(5)).await;
    }
}
