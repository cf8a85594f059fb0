//! A blocking HTTP/1.1 server connection, for the models whose code blocks (sync, threads,
//! procs, rayon, and green on may's sockets): read a head, answer it, and again while the
//! connection stays open.
//!
//! The head is parsed with `httparse` (the parser under hyper: no allocation, no I/O of
//! its own), so this module only reads bytes and enforces the caps a server owes its
//! neighbours:
//!
//! - a head over [`MAX_HEAD`] bytes (or over 64 headers) gets 431 and the connection is
//!   closed;
//! - a malformed head, or a request with a body (nothing here takes one), gets 400 and
//!   is closed;
//! - a head must be complete within the header timeout, counted from when the server
//!   starts waiting for it: a client that trickles it gets 408 and is closed, and an
//!   idle keep-alive connection is closed after as long.
//!
//! It is generic over [`Socket`], a blocking byte stream with a read timeout: std's
//! `TcpStream` here, may's in green (its coroutine parks where a thread would block).
//! A model that reads and writes its sockets its own way (monoio-async, on io_uring) uses
//! only the parts without I/O (feature `http1`): [`parse`], [`Head`], [`timed_out`] and
//! [`answer_bytes`], so the caps and answers above are the same there.

use super::stats::ErrorKind;
#[cfg(feature = "blocking")]
use super::{route, shutdown, stats, Route};
use super::{Answer, MAX_HEAD};
#[cfg(feature = "blocking")]
use anyhow::Result;
#[cfg(feature = "blocking")]
use std::io::{self, Read, Write};
#[cfg(feature = "blocking")]
use std::net::{SocketAddr, TcpListener, TcpStream};
#[cfg(feature = "blocking")]
use std::os::fd::AsRawFd;
#[cfg(feature = "blocking")]
use std::time::{Duration, Instant};

#[cfg(feature = "blocking")]
/// A blocking byte stream whose reads can be given a timeout.
pub trait Socket: Read + Write {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;
    /// Send a FIN: no more bytes from this side (the client still reads what was sent).
    fn shutdown_write(&mut self) -> io::Result<()>;
}

#[cfg(feature = "blocking")]
impl Socket for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

#[cfg(feature = "blocking")]
/// How a model runs its connections.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Close after every answer (`connection: close`): the models whose worker serves one
    /// connection at a time, where an idle keep-alive connection would hold the worker.
    pub close_after_each: bool,
    /// How long a head may take to arrive (and an idle connection may stay open).
    pub header_timeout: Duration,
}

/// What waiting for a head came to.
pub enum Head {
    /// A request: its method and path, the head's length in the buffer, and whether the
    /// client asked to close after the answer.
    Request {
        method: String,
        path: String,
        len: usize,
        close: bool,
    },
    /// The client closed, or stayed idle past the timeout, between requests: no error.
    Closed,
    /// The head failed: why, and the answer it gets, if any can be sent.
    Failed(ErrorKind, Option<Answer>),
}

#[cfg(feature = "blocking")]
/// Serve one connection until the client closes it, a head fails, or the policy (or a
/// shutdown) says to close. `answer` gives a route its answer: where the model runs
/// `/work` and `/backend`.
pub fn serve_connection<S: Socket>(
    mut stream: S,
    policy: Policy,
    mut answer: impl FnMut(Route) -> Answer,
) {
    let _open = stats::connection_opened();
    let mut buf = Vec::with_capacity(1024);
    loop {
        let (method, path, len, asked_close) =
            match read_head(&mut stream, &mut buf, policy.header_timeout) {
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
                        if write_answer(&mut stream, &reply, true).is_ok() {
                            close_after_reading_the_rest(&mut stream);
                        }
                    }
                    return;
                }
            };
        let _in_flight = stats::request_started();
        let reply = match route(&method, &path) {
            Ok(route) => answer(route),
            Err(refusal) => refusal,
        };
        buf.drain(..len);
        let close = policy.close_after_each || asked_close || shutdown::requested();
        if write_answer(&mut stream, &reply, close).is_err() {
            stats::error(ErrorKind::ClientGone);
            return;
        }
        if close {
            return;
        }
    }
}

#[cfg(feature = "blocking")]
/// Close a connection whose client may still be sending (the rest of a head over 16 KiB,
/// say) so that it reads our answer: closing with unread bytes makes the kernel send a
/// reset, which can reach the client before the answer and destroy it. So: FIN first,
/// then read off what is still coming, for at most 200 ms and 64 KiB, then close.
fn close_after_reading_the_rest<S: Socket>(stream: &mut S) {
    if stream.shutdown_write().is_err()
        || stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .is_err()
    {
        return;
    }
    let deadline = Instant::now() + Duration::from_millis(200);
    let (mut chunk, mut left) = ([0u8; 4096], 64 * 1024usize);
    while left > 0 && Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// Write the answer's head and body in one go, and count it.
#[cfg(feature = "blocking")]
fn write_answer<S: Write>(stream: &mut S, answer: &Answer, close: bool) -> io::Result<()> {
    stream.write_all(&answer_bytes(answer, close))?;
    stream.flush()?;
    stats::answered(answer.status, answer.body.len());
    Ok(())
}

/// An answer's head and body as the bytes to write in one go (count it with
/// `stats::answered` once written).
pub fn answer_bytes(answer: &Answer, close: bool) -> Vec<u8> {
    let mut bytes = answer.head(close).into_bytes();
    bytes.extend_from_slice(&answer.body);
    bytes
}

#[cfg(feature = "blocking")]
/// Read until `buf` holds a whole head (bytes of a next, pipelined request stay in it).
fn read_head<S: Socket>(stream: &mut S, buf: &mut Vec<u8>, timeout: Duration) -> Head {
    let deadline = Instant::now() + timeout;
    let mut chunk = [0u8; 4096];
    loop {
        match parse(buf) {
            Parsed::Complete(head) => return head,
            Parsed::Partial if buf.len() >= MAX_HEAD => {
                return Head::Failed(ErrorKind::HeadTooLarge, Some(too_large()))
            }
            Parsed::Partial => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return timed_out(buf);
        }
        // The timeout of this read is what is left of the head's: a client that sends a
        // byte a second does not reset it.
        if stream.set_read_timeout(Some(left)).is_err() {
            return Head::Closed;
        }
        let room = (MAX_HEAD + 1 - buf.len()).min(chunk.len());
        match stream.read(&mut chunk[..room]) {
            Ok(0) if buf.is_empty() => return Head::Closed,
            Ok(0) => return Head::Failed(ErrorKind::ClientGone, None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return timed_out(buf)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) if buf.is_empty() => return Head::Closed,
            Err(_) => return Head::Failed(ErrorKind::ClientGone, None),
        }
    }
}

/// The head's time is up: an idle connection just closes; a partial head gets 408.
pub fn timed_out(buf: &[u8]) -> Head {
    if buf.is_empty() {
        Head::Closed
    } else {
        Head::Failed(
            ErrorKind::HeaderTimeout,
            Some(Answer::text(408, "the request head did not arrive in time")),
        )
    }
}

/// The 431 of a head over [`MAX_HEAD`] bytes or 64 headers.
pub fn too_large() -> Answer {
    Answer::text(
        431,
        format!("the request head is over {MAX_HEAD} bytes or 64 headers"),
    )
}

/// What the bytes read so far hold: a whole head (or its failure), or not yet.
pub enum Parsed {
    Complete(Head),
    Partial,
}

/// Parse the head at the start of `buf` (a request line and at most 64 headers).
pub fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let bad = |why: &str| {
        Parsed::Complete(Head::Failed(
            ErrorKind::BadRequest,
            Some(Answer::text(400, format!("bad request: {why}"))),
        ))
    };
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Complete(Head::Failed(ErrorKind::HeadTooLarge, Some(too_large())))
        }
        Err(e) => return bad(&e.to_string()),
    };
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    let has_body =
        header("transfer-encoding").is_some() || header("content-length").is_some_and(|v| v != "0");
    if has_body {
        return bad("a request body (nothing here takes one)");
    }
    // HTTP/1.0 closes unless it asks for keep-alive; 1.1 keeps open unless it asks to close.
    let connection = header("connection").unwrap_or_default();
    let close = match request.version {
        Some(0) => !connection.contains("keep-alive"),
        _ => connection.contains("close"),
    };
    Parsed::Complete(Head::Request {
        method: request.method.unwrap_or_default().to_string(),
        path: request.path.unwrap_or_default().to_string(),
        len,
        close,
    })
}

#[cfg(feature = "blocking")]
/// Accept connections on `listener` until SIGINT/SIGTERM, handing each to `on_connection`.
///
/// The listener is non-blocking and waited on with `poll` for at most 100 ms at a time,
/// so that a stop is seen within 100 ms while no connection comes. (Several processes may
/// wait on one listener, as procs' workers do: each takes the connections it wins.) When
/// `accept` fails for want of a resource (out of file descriptors, say), the loop backs
/// off for 100 ms instead of spinning, and logs it once.
pub fn accept_loop(listener: &TcpListener, mut on_connection: impl FnMut(TcpStream)) -> Result<()> {
    listener.set_nonblocking(true)?;
    while !shutdown::requested() {
        let mut fds = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd we own, for the length we give.
        let ready = unsafe { libc::poll(&mut fds, 1, 100) };
        if ready <= 0 || shutdown::requested() {
            continue;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                // Accepted sockets do not inherit the listener's O_NONBLOCK on Linux;
                // said here so that no platform makes them non-blocking behind our back.
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                on_connection(stream);
            }
            Err(e) => {
                if let Some(pause) = super::accept_failed(&e) {
                    std::thread::sleep(pause);
                }
            }
        }
    }
    Ok(())
}

#[cfg(feature = "blocking")]
/// A blocking model's answer to a route: `/work` computed on the calling thread,
/// `/backend` downloaded with the model's blocking `client` (ureq; may's sockets in green).
pub fn answer(
    route: Route,
    client: &crate::blocking::Client,
    backend: Option<SocketAddr>,
) -> Answer {
    match route {
        Route::Hello => super::hello(),
        Route::Work(exp) => super::work(exp),
        Route::Backend(ms) => match super::backend_target(backend, ms) {
            Ok(target) => super::backend_answer(client.download(&target)),
            Err(refusal) => refusal,
        },
    }
}

#[cfg(all(test, feature = "blocking"))]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A scripted client: what it sends, in pieces, and what it received.
    struct Script {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
        /// Reads past the input time out instead of returning EOF.
        stall: bool,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.input.read(buf)?;
            if n == 0 && self.stall {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(n)
        }
    }
    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Socket for &mut Script {
        fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
            Ok(())
        }
        fn shutdown_write(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn serve(input: &[u8], stall: bool, close_after_each: bool) -> String {
        let mut script = Script {
            input: Cursor::new(input.to_vec()),
            output: Vec::new(),
            stall,
        };
        let policy = Policy {
            close_after_each,
            header_timeout: Duration::from_secs(5),
        };
        serve_connection(&mut script, policy, |route| match route {
            Route::Hello => super::super::hello(),
            other => Answer::text(200, format!("{other:?}")),
        });
        String::from_utf8_lossy(&script.output).into_owned()
    }

    fn statuses(out: &str) -> Vec<&str> {
        out.match_indices("HTTP/1.1 ")
            .map(|(i, _)| &out[i + 9..i + 12])
            .collect()
    }

    #[test]
    fn keep_alive_answers_every_pipelined_request() {
        let out = serve(
            b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /work/5 HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n",
            false,
            false,
        );
        assert_eq!(statuses(&out), ["200", "200", "404"], "{out}");
        assert!(out.contains("hello, world\n"));
        assert!(out.contains("Work(5)"));
        assert!(!out.contains("connection: close"));
    }

    #[test]
    fn close_after_each_answers_one_and_says_so() {
        let out = serve(
            b"GET /hello HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n",
            false,
            true,
        );
        assert_eq!(statuses(&out), ["200"], "{out}");
        assert!(out.contains("connection: close\r\n"));
    }

    #[test]
    fn the_client_asking_to_close_is_obeyed() {
        let out = serve(
            b"GET /hello HTTP/1.1\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\n\r\n",
            false,
            false,
        );
        assert_eq!(statuses(&out), ["200"], "{out}");
        let out = serve(
            b"GET /hello HTTP/1.0\r\n\r\nGET /hello HTTP/1.0\r\n\r\n",
            false,
            false,
        );
        assert_eq!(statuses(&out), ["200"], "{out}");
    }

    #[test]
    fn hostile_heads_get_their_status_and_a_close() {
        assert_eq!(statuses(&serve(b"BLAH\r\n\r\n", false, false)), ["400"]);
        assert_eq!(
            statuses(&serve(
                b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
                false,
                false
            )),
            ["400"]
        );
        let mut big = b"GET /hello HTTP/1.1\r\nx: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        assert_eq!(statuses(&serve(&big, false, false)), ["431"]);
        let mut many = b"GET /hello HTTP/1.1\r\n".to_vec();
        for i in 0..65 {
            many.extend(format!("h{i}: v\r\n").bytes());
        }
        many.extend(b"\r\n");
        assert_eq!(statuses(&serve(&many, false, false)), ["431"]);
        // A head that stops coming: 408; an idle connection: closed with nothing sent.
        assert_eq!(statuses(&serve(b"GET /hel", true, false)), ["408"]);
        assert_eq!(serve(b"", true, false), "");
        // A client gone mid-head: nothing to answer.
        assert_eq!(serve(b"GET /hel", false, false), "");
    }
}
