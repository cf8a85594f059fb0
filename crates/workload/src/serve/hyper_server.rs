//! The routes as a hyper service, for the async models (tokio, smol, async-std).
//!
//! hyper's HTTP/1.1 server parses and writes; this module gives it the study's caps and
//! answers, so that a model's `serve.rs` holds only its accept loop, its spawn, where
//! `/work` runs (the runtime's blocking pool) and which client `/backend` uses:
//!
//! - [`builder`]: hyper's `http1::Builder` with the head capped at [`MAX_HEAD`] (hyper
//!   answers 431 over it and 400 to a malformed head, then closes: those two answers are
//!   hyper's own, without `x-checksum`) and the head's time
//!   capped by the model's timer (hyper closes the connection; it sends no 408);
//! - [`answer`]: a request's [`Answer`], with the model's `work` and `backend`;
//! - [`connection_ended`]: hyper's verdict on a connection, counted as the blocking
//!   servers count theirs.

use super::stats::{self, ErrorKind};
use super::{route, Answer, Route, MAX_HEAD};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{header, Request, Response};
use std::future::Future;
use std::time::Duration;

/// hyper's HTTP/1.1 server settings every async model uses, with the runtime's `timer`.
pub fn builder<T>(timer: T, header_timeout: Duration) -> hyper::server::conn::http1::Builder
where
    T: hyper::rt::Timer + Send + Sync + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(timer)
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEAD)
        .keep_alive(true);
    builder
}

/// Answer one request: `/hello` at once, `/work` through the model's `work` (its blocking
/// pool), `/backend` through its `backend` (its client). Never fails: every failure is an
/// answer with its status.
pub async fn answer<W, WF, B, BF>(
    request: Request<Incoming>,
    work: W,
    backend: B,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible>
where
    W: FnOnce(u32) -> WF,
    WF: Future<Output = Answer>,
    B: FnOnce(u64) -> BF,
    BF: Future<Output = Answer>,
{
    let _in_flight = stats::request_started();
    let reply = match route(request.method().as_str(), request.uri().path()) {
        Ok(Route::Hello) => super::hello(),
        Ok(Route::Work(exp)) => work(exp).await,
        Ok(Route::Backend(ms)) => backend(ms).await,
        Err(refusal) => refusal,
    };
    Ok(response(reply))
}

/// An [`Answer`] as hyper's response, counted as sent.
pub fn response(answer: Answer) -> Response<Full<Bytes>> {
    stats::answered(answer.status, answer.body.len());
    let checksum = answer.checksum();
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = hyper::StatusCode::from_u16(answer.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    if let Ok(value) = header::HeaderValue::from_str(&checksum) {
        headers.insert(crate::io::CHECKSUM_HEADER, value);
    }
    response
}

/// Count how a connection ended: hyper's automatic 431 and 400, a head past its time, a
/// client gone mid-answer. A clean close (`Ok`) counts nothing.
pub fn connection_ended(result: Result<(), hyper::Error>) {
    let Err(e) = result else { return };
    if e.is_parse_too_large() {
        stats::answered(431, 0);
        stats::error(ErrorKind::HeadTooLarge);
    } else if e.is_parse() {
        stats::answered(400, 0);
        stats::error(ErrorKind::BadRequest);
    } else if e.is_timeout() {
        stats::error(ErrorKind::HeaderTimeout);
    } else {
        // Closed or reset mid-message, a write that failed: the client went away.
        stats::error(ErrorKind::ClientGone);
    }
}
