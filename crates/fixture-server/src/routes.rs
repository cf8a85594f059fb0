//! What the fixture server answers, route by route.
//!
//! Every number in a path is plain ASCII digits: `+5`, `-1`, `0x10`, `5e3` or an empty
//! segment get 400. Every wait is capped by the delay cap (400 above it) and every body
//! by the body cap (413 above it), except `/endless`, which is capped in time.

use crate::body::{self, Pattern, Until};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, HOST, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// The routes, for `--help`; the README's fixture server section says the same.
pub const HELP: &str = "\
Routes (GET only). {ms} is at most the delay cap (400 above), {n} at most the body cap
(413 above); numbers are plain digits (400 otherwise). Bodies are deterministic bytes
(byte i is i % 251) with Content-Length and x-checksum (FNV-1a 64 of the body, hex).
Every answer carries x-fixture-server: 1, which tells the models' verifier that a body
without Content-Length or x-checksum is a fault (from other servers it is counted as
unverified).
  /health                              ok
  /delay/{ms}/bytes/{n}                n bytes after ms: the io workload's download
  /status/{code}                       that status, 200..=599 (100..=199: 400, not an answer)
  /truncate/{n}                        announces n bytes (n >= 2), sends half, drops the connection
  /reset                               drops the connection without answering
  /badsum/{n}                          n bytes with a wrong x-checksum: a client must refuse them
  /no-checksum/{n}                     n bytes with Content-Length but no x-checksum: a client must
                                       refuse them (from this server, a body it cannot check)
  /endless                             bytes without end (chunked) as fast as the client reads,
                                       until the delay cap, then drops the connection mid-body
  /redirect/{k}/bytes/{n}              302 to /redirect/{k-1}/bytes/{n} (relative Location), k <= 20;
                                       /redirect/0/bytes/{n} answers n bytes
  /slow-headers/{ms}/bytes/{n}         n bytes; the status line at once, the rest of the head
                                       trickled line by line, complete after ms
  /basic-auth/{user}/{pass}/bytes/{n}  n bytes if Authorization is Basic base64(user:pass), else 401;
                                       400 if the Host header holds '@' (credentials leaked into it)";

/// Most hops of a `/redirect` chain.
const MAX_REDIRECTS: u64 = 20;

pub type Body = BoxBody<Bytes, io::Error>;

/// Shared by every connection: the caps and the pattern every body is made of.
pub struct State {
    max_delay_ms: u64,
    max_bytes: u64,
    pattern: Arc<Pattern>,
}

impl State {
    pub fn new(max_delay_ms: u64, max_bytes: u64) -> State {
        State {
            max_delay_ms,
            max_bytes,
            pattern: Arc::new(Pattern::new(max_bytes)),
        }
    }

    /// A delay from the path, within the cap.
    fn delay(&self, ms: &str) -> Result<Duration, Refusal> {
        match digits(ms) {
            Some(ms) if ms <= self.max_delay_ms => Ok(Duration::from_millis(ms)),
            Some(ms) => Err(Refusal(
                StatusCode::BAD_REQUEST,
                format!("delay {ms} ms is over the cap of {} ms", self.max_delay_ms),
            )),
            None => Err(not_a_number(ms)),
        }
    }

    /// A body size from the path, within the cap.
    fn size(&self, n: &str) -> Result<u64, Refusal> {
        match digits(n) {
            Some(n) if n <= self.max_bytes => Ok(n),
            Some(_) => Err(Refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{n} bytes is over the cap of {} bytes", self.max_bytes),
            )),
            None => Err(not_a_number(n)),
        }
    }
}

/// Why a request is refused: the status, and one line for the client.
struct Refusal(StatusCode, String);

/// A response whose head the connection trickles out over this long (`/slow-headers`).
#[derive(Clone, Copy, Debug)]
pub struct SlowHead(pub Duration);

/// A number written as plain ASCII digits; `None` for anything else (a sign, spaces, hex,
/// an exponent, nothing). Too many digits for a u64 read as `u64::MAX`, which every cap
/// refuses.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().unwrap_or(u64::MAX))
}

/// Route one request. An `Err` makes hyper drop the connection without an answer, which is
/// exactly what `/reset` wants; every other route answers.
pub async fn handle(req: Request<Incoming>, state: &State) -> Result<Response<Body>, io::Error> {
    if req.method() != Method::GET {
        return Ok(marked(text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n")));
    }
    if req.uri().path() == "/reset" {
        let reset = io::Error::new(io::ErrorKind::ConnectionReset, "reset on request");
        return Err(reset);
    }
    // A refusal (400, 413) is an answer like any other.
    let response = route(&req, state)
        .await
        .unwrap_or_else(|Refusal(status, why)| text(status, &format!("{why}\n")));
    Ok(marked(response))
}

/// Answer one request on a connection accepted over the connection cap, while every
/// connection under it is busy (conn.rs): `/health` as usual, anything else 503 at once,
/// so that nothing holds the connection.
pub async fn handle_over_cap(
    req: Request<Incoming>,
    state: &State,
) -> Result<Response<Body>, io::Error> {
    if req.method() == Method::GET && req.uri().path() == "/health" {
        return handle(req, state).await;
    }
    let mut response = text(
        StatusCode::SERVICE_UNAVAILABLE,
        "every connection is busy: over the connection cap only /health is answered\n",
    );
    let retry = hyper::header::HeaderValue::from_static("1");
    response.headers_mut().insert(RETRY_AFTER, retry);
    Ok(marked(response))
}

/// Add the mark that makes a missing Content-Length or x-checksum a fault in the clients.
fn marked(mut response: Response<Body>) -> Response<Body> {
    let mark = hyper::header::HeaderValue::from_static("1");
    response
        .headers_mut()
        .insert(workload::io::FIXTURE_HEADER, mark);
    response
}

async fn route(req: &Request<Incoming>, state: &State) -> Result<Response<Body>, Refusal> {
    let path = req.uri().path();
    let parts: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    Ok(match parts.as_slice() {
        ["health"] => text(StatusCode::OK, "ok\n"),
        ["delay", ms, "bytes", n] => {
            let (ms, n) = (state.delay(ms)?, state.size(n)?);
            tokio::time::sleep(ms).await;
            bytes(state, n)
        }
        ["status", code] => {
            let status = status(code)?;
            text(status, &format!("status {}\n", status.as_u16()))
        }
        ["truncate", n] => match state.size(n)? {
            n if n >= 2 => truncated(state, n),
            _ => {
                return Err(Refusal(
                    StatusCode::BAD_REQUEST,
                    "truncate needs n >= 2".into(),
                ))
            }
        },
        ["badsum", n] => {
            let n = state.size(n)?;
            // Right bytes, wrong announcement: the lowest bit of the checksum flipped.
            with_body(state, n, state.pattern.checksum(n) ^ 1)
        }
        ["no-checksum", n] => {
            let n = state.size(n)?;
            let mut response = bytes(state, n);
            response.headers_mut().remove(workload::io::CHECKSUM_HEADER);
            response
        }
        ["endless"] => endless(state),
        ["redirect", k, "bytes", n] => {
            let n = state.size(n)?;
            match digits(k) {
                Some(0) => bytes(state, n),
                Some(k) if k <= MAX_REDIRECTS => {
                    redirect(&format!("/redirect/{}/bytes/{n}", k - 1))
                }
                Some(k) => {
                    let why = format!("{k} redirects is over the cap of {MAX_REDIRECTS}");
                    return Err(Refusal(StatusCode::BAD_REQUEST, why));
                }
                None => return Err(not_a_number(k)),
            }
        }
        ["slow-headers", ms, "bytes", n] => {
            let (ms, n) = (state.delay(ms)?, state.size(n)?);
            let mut response = bytes(state, n);
            response.extensions_mut().insert(SlowHead(ms));
            response
        }
        ["basic-auth", user, pass, "bytes", n] => {
            let n = state.size(n)?;
            match basic_auth(req, user, pass)? {
                true => bytes(state, n),
                false => unauthorized(),
            }
        }
        _ => text(StatusCode::NOT_FOUND, &format!("no such route\n\n{HELP}\n")),
    })
}

/// A final status, 200..=599, written in plain digits. (hyper would turn a 1xx answer
/// into a 500: informational statuses only ever precede the answer.)
fn status(code: &str) -> Result<StatusCode, Refusal> {
    let why = match digits(code) {
        Some(c @ 200..=599) => {
            return Ok(StatusCode::from_u16(c as u16).expect("200..=599 is a valid status"))
        }
        Some(c @ 100..=199) => format!("status {c} is informational, not an answer: use 200..=599"),
        _ => format!("{code:?} is not a status: use 200..=599"),
    };
    Err(Refusal(StatusCode::BAD_REQUEST, why))
}

/// Whether the request carries `Authorization: Basic base64(user:pass)`. `user` and
/// `pass` are taken from the path as they are (no percent-decoding). Credentials in the
/// Host header (`Host: user:pass@host`, from a client that copied the URL's authority)
/// are refused outright.
fn basic_auth(req: &Request<Incoming>, user: &str, pass: &str) -> Result<bool, Refusal> {
    let host = req.headers().get(HOST).map(|h| h.as_bytes()).unwrap_or(b"");
    if host.contains(&b'@') {
        let why = "the Host header holds '@': credentials belong in Authorization, not in Host";
        return Err(Refusal(StatusCode::BAD_REQUEST, why.into()));
    }
    let credentials = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
        });
    Ok(credentials.as_deref() == Some(format!("{user}:{pass}").as_bytes()))
}

/// 401, with the challenge that tells a client which credentials to send.
fn unauthorized() -> Response<Body> {
    let mut response = text(StatusCode::UNAUTHORIZED, "wrong or missing credentials\n");
    let challenge = hyper::header::HeaderValue::from_static("Basic realm=\"fixture-server\"");
    response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    response
}

fn not_a_number(s: &str) -> Refusal {
    let why = format!("{s:?} is not a number: plain digits only");
    Refusal(StatusCode::BAD_REQUEST, why)
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let body = Full::new(Bytes::from(body.to_string()))
        .map_err(|e: Infallible| match e {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

fn redirect(location: &str) -> Response<Body> {
    let mut response = text(StatusCode::FOUND, &format!("redirect to {location}\n"));
    let location = hyper::header::HeaderValue::from_str(location).expect("a path of digits");
    response.headers_mut().insert(LOCATION, location);
    response
}

/// `n` pattern bytes, announced with their length and checksum.
fn bytes(state: &State, n: u64) -> Response<Body> {
    with_body(state, n, state.pattern.checksum(n))
}

/// `n` pattern bytes, streamed, announced with their length and `checksum`.
fn with_body(state: &State, n: u64, checksum: u64) -> Response<Body> {
    let frames = body::frames(state.pattern.clone(), Until::Bytes(n));
    Response::builder()
        .header(CONTENT_LENGTH, n)
        .header(workload::io::CHECKSUM_HEADER, format!("{checksum:016x}"))
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .expect("static headers are valid")
}

/// Pattern bytes with no length announced (so hyper sends them chunked) until the delay
/// cap, then an error that drops the connection before the final chunk.
fn endless(state: &State) -> Response<Body> {
    let until = tokio::time::Instant::now() + Duration::from_millis(state.max_delay_ms);
    let frames = body::frames(state.pattern.clone(), Until::Deadline(until));
    Response::new(BodyExt::boxed(StreamBody::new(frames)))
}

/// Announce `n` bytes, send half, then fail the body so hyper drops the connection. The
/// pause lets the half reach the client first, as from a server that dies mid-body.
fn truncated(state: &State, n: u64) -> Response<Body> {
    use futures_util::StreamExt;
    let half = body::frames(state.pattern.clone(), Until::Bytes(n / 2));
    let frames = half.chain(futures_util::stream::once(async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "truncated on request",
        ))
    }));
    Response::builder()
        .header(CONTENT_LENGTH, n)
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_plain_digits_only() {
        assert_eq!(digits("0"), Some(0));
        assert_eq!(digits("007"), Some(7));
        assert_eq!(
            digits("18446744073709551616"),
            Some(u64::MAX),
            "overflow: over any cap"
        );
        for bad in ["", "+5", "-1", " 5", "5 ", "0x10", "5e3", "1_000", "٣"] {
            assert_eq!(digits(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn status_codes_are_final_ones_only() {
        assert_eq!(status("200").ok(), Some(StatusCode::OK));
        assert_eq!(status("599").ok().map(|s| s.as_u16()), Some(599));
        for bad in ["100", "199", "600", "999", "+5", "20", "2000", ""] {
            assert!(status(bad).is_err(), "{bad:?}");
        }
    }
}
