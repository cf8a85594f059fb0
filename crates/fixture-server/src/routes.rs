//! What the fixture server answers, route by route.

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

pub type Body = BoxBody<Bytes, io::Error>;

/// Shared by every connection: the caps, and one buffer of deterministic bytes that every
/// response is a slice of (a cheap reference count, no allocation per request).
pub struct State {
    max_delay_ms: u64,
    max_bytes: u64,
    pattern: Bytes,
}

impl State {
    pub fn new(max_delay_ms: u64, max_bytes: u64) -> State {
        let pattern: Vec<u8> = (0..max_bytes).map(pattern_byte).collect();
        State {
            max_delay_ms,
            max_bytes,
            pattern: Bytes::from(pattern),
        }
    }
}

/// Byte `i` of every body: deterministic, and not a multiple of any power-of-two period.
pub fn pattern_byte(i: u64) -> u8 {
    (i % 251) as u8
}

/// Route one request. An `Err` makes hyper drop the connection without an answer, which is
/// exactly what `/reset` wants; every other route answers.
pub async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Body>, io::Error> {
    if req.method() != Method::GET {
        return Ok(text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n"));
    }
    let parts: Vec<&str> = req.uri().path().trim_matches('/').split('/').collect();
    Ok(match parts.as_slice() {
        ["health"] => text(StatusCode::OK, "ok\n"),
        ["delay", ms, "bytes", n] => match (ms.parse::<u64>(), n.parse::<u64>()) {
            (Ok(ms), _) if ms > state.max_delay_ms => text(
                StatusCode::BAD_REQUEST,
                &format!(
                    "delay {ms} ms is over the cap of {} ms\n",
                    state.max_delay_ms
                ),
            ),
            (_, Ok(n)) if n > state.max_bytes => text(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("{n} bytes is over the cap of {} bytes\n", state.max_bytes),
            ),
            (Ok(ms), Ok(n)) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                bytes(&state, n)
            }
            _ => text(
                StatusCode::BAD_REQUEST,
                "usage: /delay/{ms}/bytes/{n} with whole numbers\n",
            ),
        },
        ["status", code] => match code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            Some(code) if code.as_u16() >= 200 => {
                text(code, &format!("status {}\n", code.as_u16()))
            }
            _ => text(StatusCode::BAD_REQUEST, "usage: /status/{200..599}\n"),
        },
        ["truncate", n] => match n.parse::<u64>() {
            Ok(n) if n >= 2 && n <= state.max_bytes => truncated(&state, n),
            _ => text(
                StatusCode::BAD_REQUEST,
                "usage: /truncate/{n} with 2 <= n <= the byte cap\n",
            ),
        },
        ["reset"] => {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "reset on request",
            ))
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "routes: /health /delay/{ms}/bytes/{n} /status/{code} /truncate/{n} /reset\n",
        ),
    })
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let body = Full::new(Bytes::from(body.to_string()))
        .map_err(|e: Infallible| match e {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

/// `n` pattern bytes, announced with their length and checksum.
fn bytes(state: &State, n: u64) -> Response<Body> {
    let body = state.pattern.slice(..n as usize);
    let checksum = workload::io::fnv1a(workload::io::FNV_START, &body);
    Response::builder()
        .header("content-length", n)
        .header(workload::io::CHECKSUM_HEADER, format!("{checksum:016x}"))
        .body(Full::new(body).map_err(|e: Infallible| match e {}).boxed())
        .expect("static headers are valid")
}

/// Announce `n` bytes, send half, then fail the body so hyper drops the connection. The
/// pause lets the half reach the client first, as from a server that dies mid-body.
fn truncated(state: &State, n: u64) -> Response<Body> {
    use futures_util::StreamExt;
    let half = state.pattern.slice(..(n / 2) as usize);
    let frames = futures_util::stream::once(async move { Ok(Frame::data(half)) }).chain(
        futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "truncated on request",
            ))
        }),
    );
    Response::builder()
        .header("content-length", n)
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .expect("static headers are valid")
}
