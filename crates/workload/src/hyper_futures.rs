//! The async HTTP/1.1 client shared by the runtimes that are not tokio (smol, async-std).
//!
//! hyper 1.x is runtime-agnostic at its lowest layer: `hyper::client::conn::http1::handshake`
//! speaks HTTP/1.1 over any socket that implements hyper's `Read`/`Write`, and hands back a
//! `Connection` future that moves the connection's bytes and must be spawned on some
//! executor. The higher-level clients (`hyper-util`'s legacy client, `reqwest`) spawn it on
//! tokio, which would start a tokio runtime inside a smol or async-std model and blur what
//! is being measured. hyper rather than a futures-io client such as `surf`/`async-h1` (the
//! async-std era's, no longer maintained): hyper is the most used, maintained HTTP
//! implementation in Rust, the one under `reqwest` in the tokio model, so the async models
//! differ in their runtime, not in HTTP code. So this module:
//!
//! - takes the socket, the timer and the spawner from the model, through the small
//!   [`Runtime`] trait: `smol::net::TcpStream` or `async_std::net::TcpStream` (both
//!   `futures-io` sockets), their runtime's timer, and their executor's `spawn`;
//! - adapts the socket to hyper with `smol-hyper`'s `FuturesIo` (a 200-line crate of the
//!   smol-rs organisation, used only for that adapter);
//! - spawns each `Connection` future as a task of the model's executor, as hyper's own
//!   client examples do with `tokio::spawn`; the connection task ends when the
//!   connection closes or the task that owns the request handle drops it;
//! - keeps a task's connection open between its consecutive requests to the same
//!   scheme://host:port (HTTP keep-alive). Unlike reqwest's pool in tokio-async, a
//!   connection is never handed to another task; with every task in flight at once, both
//!   open one connection per task, and a task's later URLs reuse it in both. A server
//!   (`serve`'s `/backend`) keeps one per client connection the same way ([`Kept`]): a
//!   connection's requests come one after another, as a task's URLs do;
//! - speaks https through `futures-rustls` (rustls on ring, the provider ureq already uses,
//!   so no C toolchain is needed) with the Mozilla roots of `webpki-roots`, built once, on
//!   the first https URL;
//! - follows the policy every client here shares (see [`Target`]): no proxy, no redirect
//!   followed, URL credentials sent as `Authorization: Basic`.
//!
//! The deadline covers the whole download, connect to last body byte: one race between
//! the download and the runtime's timer. A race is decided only when the racing future is
//! polled, and a body whose bytes are always ready never makes the download wait, so the
//! body loop yields to the executor between frames ([`yield_now`]): the timer is then
//! looked at after every frame, and an endless body cannot outrun the deadline.
//!
//! Each body streams through [`Verifier`] chunk by chunk, and every failure becomes a
//! [`FetchError`] naming the URL and the [`Cause`].
//!
//! Serving (feature `hyper-server`) needs two more things from smol-hyper, re-exported
//! here: the same `FuturesIo` adapter for an accepted socket, and `SmolTimer`, hyper's
//! [`hyper::rt::Timer`] on async-io's `Timer` (what bounds a request head's time). One
//! timer serves both models: smol's `Timer` is async-io's, and async-std's `task::sleep`
//! waits on it too, with the same reactor thread (`async-io`) behind both.

use crate::io::{Cause, FetchError, Target, Verifier};
use crate::summary::Tally;
use bytes::Bytes;
use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::rustls::{self, pki_types::ServerName};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{header, Request, Uri};
use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use std::time::Duration;

/// A `futures-io` socket as hyper's `Read`/`Write`: the client's connections, and a
/// server's accepted sockets.
pub use smol_hyper::rt::FuturesIo;
/// hyper's timer on async-io, for a server's head timeout (see the module doc).
#[cfg(feature = "hyper-server")]
pub use smol_hyper::rt::SmolTimer;

/// What a model lends the client: its runtime's TCP socket, timer and spawner.
pub trait Runtime: Send + Sync + 'static {
    /// The runtime's TCP stream (any `futures-io` socket).
    type Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Open a TCP connection to `host:port` (resolving the name if need be).
    fn connect(
        &self,
        host: &str,
        port: u16,
    ) -> impl Future<Output = std::io::Result<Self::Socket>> + Send;

    /// Run `work` for at most `limit`: `None` if the runtime's timer fired first.
    fn timeout<F: Future + Send>(
        &self,
        limit: Duration,
        work: F,
    ) -> impl Future<Output = Option<F::Output>> + Send;

    /// Run `task` on the model's executor, detached: a connection's byte mover.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static);
}

/// Where a connection goes: requests to the same endpoint can share one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    https: bool,
    host: String,
    port: u16,
}

/// A plain or TLS socket, boxed so that http and https connections have one type.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One open HTTP/1.1 connection of a task: where it goes, and the handle that sends
/// requests on it. Its bytes move on a task of its own (see [`Client::open`]).
struct Conn {
    to: Endpoint,
    sender: SendRequest<Empty<Bytes>>,
}

/// The connection a server's client connection keeps to its backend between requests
/// (see [`Client::download_kept`]); a clone is a reference to the same one.
#[derive(Clone, Default)]
pub struct Kept(Arc<Mutex<Option<Conn>>>);

/// The client: the model's runtime, the per-request timeout and the TLS settings.
///
/// Holds no connections itself: each task keeps its own (see [`Client::download_all`]),
/// so tasks share nothing but this read-only value (wrap it in an `Arc` to spawn tasks).
pub struct Client<R> {
    runtime: R,
    timeout: Duration,
    tls: OnceLock<Result<futures_rustls::TlsConnector, String>>,
}

impl<R: Runtime> Client<R> {
    pub fn new(runtime: R, timeout: Duration) -> Client<R> {
        Client {
            runtime,
            timeout,
            tls: OnceLock::new(),
        }
    }

    /// One task of the io workload: download every URL in turn, each body to its end,
    /// over one kept-alive connection while the URLs go to the same place.
    pub async fn download_all(&self, urls: &[Target]) -> Result<Tally, FetchError> {
        let mut conn = None;
        let mut total = Tally::default();
        for target in urls {
            total += self.download(target, &mut conn).await?;
        }
        Ok(total)
    }

    /// Download one URL over `kept`'s connection, opening one if it has none: a server's
    /// `/backend`, with the keep-alive of [`Client::download_all`].
    pub async fn download_kept(&self, target: &Target, kept: &Kept) -> Result<Tally, FetchError> {
        // Taken out for the download and put back after, so no lock is held across an
        // await. A client connection's requests come one at a time (HTTP/1.1), so two
        // downloads never want the same `Kept` at once; if they did, the second would
        // open a connection of its own. A cancelled download drops (closes) its connection.
        let lock = || kept.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut conn = lock().take();
        let result = self.download(target, &mut conn).await;
        *lock() = conn;
        result
    }

    /// Download one URL within the timeout (connect to last body byte) and verify it.
    async fn download(
        &self,
        target: &Target,
        conn: &mut Option<Conn>,
    ) -> Result<Tally, FetchError> {
        let result = match self
            .runtime
            .timeout(self.timeout, self.fetch(target, conn))
            .await
        {
            Some(result) => result,
            None => Err(FetchError::new(&target.url, Cause::Timeout(self.timeout))),
        };
        if result.is_err() {
            // Unread body, half-sent request, or a dead peer: the connection cannot carry
            // another request, so the next URL opens a new one (dropping the handle ends
            // the connection's task).
            *conn = None;
        }
        result
    }

    async fn fetch(&self, target: &Target, slot: &mut Option<Conn>) -> Result<Tally, FetchError> {
        let url = target.url.as_str();
        let fail = |cause| FetchError::new(url, cause);
        let (to, authority, path) = split_url(url).map_err(fail)?;
        if slot.as_ref().is_some_and(|c| c.to != to) {
            *slot = None;
        }
        // Reuse the open connection if there is one. If the server has closed it since the
        // last response (an idle keep-alive timeout), `ready` says so: open a new one.
        let mut reused = slot.is_some();
        let conn = loop {
            if slot.is_none() {
                *slot = Some(self.open(&to).await.map_err(fail)?);
            }
            let conn = slot.as_mut().expect("filled just above");
            match conn.sender.ready().await {
                Ok(()) => break conn,
                Err(_) if reused => (*slot, reused) = (None, false),
                Err(e) => return Err(fail(self.classify(&e))),
            }
        };

        let mut request = Request::get(path).header(header::HOST, authority);
        if let Some(authorization) = &target.authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| fail(Cause::Other(format!("bad request: {e}"))))?;
        let response = conn
            .sender
            .send_request(request)
            .await
            .map_err(|e| fail(self.classify(&e)))?;
        let headers = response.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let mut verifier = Verifier::start(url, response.status().as_u16(), header)?;

        // Stream the body frame by frame, as the connection's task reads it off the socket.
        let mut body = response.into_body();
        loop {
            match body.frame().await {
                None => return verifier.finish(),
                Some(Ok(frame)) => {
                    if let Some(chunk) = frame.data_ref() {
                        verifier.update(chunk);
                    }
                }
                Some(Err(e)) => return Err(verifier.broken(self.classify(&e))),
            }
            // Let the deadline's timer (and every other task) have a turn: see the module doc.
            yield_now().await;
        }
    }

    /// Connect (TCP, then TLS for https), start HTTP/1.1 on the socket, and spawn the
    /// connection's byte mover on the model's executor.
    async fn open(&self, to: &Endpoint) -> Result<Conn, Cause> {
        let io_cause = |e: std::io::Error| Cause::from_io(&e, self.timeout);
        let host = &to.host;
        let tcp = self
            .runtime
            .connect(host, to.port)
            .await
            .map_err(io_cause)?;
        let stream: Box<dyn Stream> = if to.https {
            let name = ServerName::try_from(host.clone())
                .map_err(|e| Cause::Other(format!("bad TLS server name {host}: {e}")))?;
            Box::new(self.tls()?.connect(name, tcp).await.map_err(io_cause)?)
        } else {
            Box::new(tcp)
        };
        let (sender, connection) = http1::handshake(FuturesIo::new(stream))
            .await
            .map_err(|e| self.classify(&e))?;
        // The connection's errors reach the request or body that was waiting on it, which
        // reports them: nothing to do with them here.
        self.runtime.spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            to: to.clone(),
            sender,
        })
    }

    /// The TLS connector, built on first use: http-only runs never load the roots.
    fn tls(&self) -> Result<&futures_rustls::TlsConnector, Cause> {
        let built = self.tls.get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config).into())
        });
        built.as_ref().map_err(|e| Cause::Other(e.clone()))
    }

    /// Name the cause of a hyper error: the I/O error underneath if there is one (refused,
    /// reset, unexpected EOF), else hyper's own kind.
    fn classify(&self, e: &hyper::Error) -> Cause {
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            if let Some(io) = inner.downcast_ref::<std::io::Error>() {
                return Cause::from_io(io, self.timeout);
            }
            source = inner.source();
        }
        if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
            Cause::Reset
        } else {
            Cause::Other(e.to_string())
        }
    }
}

/// Return to the executor once, to be polled again at once: every runtime's `yield_now`,
/// written here so the client needs none of them.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// Split a URL into its endpoint, its Host header, and its path with query.
fn split_url(url: &str) -> Result<(Endpoint, String, String), Cause> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Cause::Other(format!("bad URL: {e}")))?;
    let https = uri.scheme_str() == Some("https");
    let host = uri
        .host()
        .ok_or_else(|| Cause::Other("URL has no host".into()))?;
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or(host);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    // An IPv6 literal is bracketed in a URL, bare in a socket address.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let to = Endpoint {
        https,
        host: host.into(),
        port,
    };
    Ok((to, authority.into(), path.into()))
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn targets_split_into_address_host_header_and_path() {
        let (to, authority, path) = split_url("http://127.0.0.1:8080/delay/1/bytes/2?x=1").unwrap();
        assert_eq!(
            (to.https, to.host.as_str(), to.port),
            (false, "127.0.0.1", 8080)
        );
        assert_eq!(
            (authority.as_str(), path.as_str()),
            ("127.0.0.1:8080", "/delay/1/bytes/2?x=1")
        );
        let (to, authority, path) = split_url("https://example.com").unwrap();
        assert_eq!(
            (to.https, to.host.as_str(), to.port),
            (true, "example.com", 443)
        );
        assert_eq!((authority.as_str(), path.as_str()), ("example.com", "/"));
        let (to, _, _) = split_url("http://[::1]/x").unwrap();
        assert_eq!((to.https, to.host.as_str(), to.port), (false, "::1", 80));
    }
}
