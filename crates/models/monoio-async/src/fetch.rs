//! The HTTP/1.1 client of monoio-async: a GET on monoio's own TCP socket, so that every
//! connect, write and read is an io_uring operation (or an epoll one on the fallback).
//!
//! Why not monoio-http-client (0.3.3, its newest release), monoio's own client: it reads
//! every body whole into memory before it hands back the response (`send_request` loops
//! over the body's frames first), so a body cannot stream through the verifier, and a
//! body cut short comes back as an error with nothing of what arrived; it has no deadline
//! for a whole request; and it brings rustls 0.21 beside the workspace's 0.23. Why not
//! hyper over monoio-compat: it drives the socket through readiness (`into_poll_io`),
//! which is epoll with an extra copy, not io_uring. So this file speaks HTTP/1.1 itself,
//! with `httparse` (hyper's parser, no I/O of its own) for the response head and the
//! chunk sizes; every body streams through [`Verifier`] exactly as in the other models.
//!
//! The policy every client here shares (see `workload::io::Target`): one deadline for the
//! whole download, connect to last body byte (monoio's `timeout`; with `async-cancel` the
//! operation in flight is cancelled in the ring); no proxy; no redirect followed (a 3xx
//! goes to the verifier, which names it); URL credentials as `Authorization: Basic`; a
//! task's connection kept open for its next URL to the same scheme, host and port. https
//! through `monoio-rustls`: rustls on ring with the Mozilla roots, as every client here,
//! its records read and written with monoio's own reads and writes ([`Stream`]).
//! Host names are resolved with std's blocking resolver on the core's thread (monoio 0.2.4
//! has no other); the fixture server is an IP address, which needs no lookup.

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use monoio::BufResult;
use monoio_rustls::{ClientTlsStream, TlsConnector};
use rustls::pki_types::ServerName;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use workload::io::{Cause, FetchError, Target, Verifier};
use workload::Tally;

/// How much one read asks the kernel for.
const READ_SIZE: usize = 16 * 1024;
/// The largest response head read; over it the download fails.
const MAX_HEAD: usize = 64 * 1024;

/// Where a connection goes: https or not, host, port.
type Endpoint = (bool, String, u16);

/// One open connection: where it goes, its socket, the bytes read past the last response,
/// and the deadline of the download under way on it (see [`fill`]).
pub struct Conn {
    to: Endpoint,
    stream: Stream,
    buf: Vec<u8>,
    deadline: Instant,
    timeout: Duration,
}

/// A connection's socket: plain TCP, or TLS over it. Both read into a buffer lent to the
/// kernel and handed back with the result; TLS decrypts what the socket read.
enum Stream {
    Plain(TcpStream),
    Tls(Box<ClientTlsStream<TcpStream>>),
}

impl Stream {
    async fn read(&mut self, buf: Vec<u8>) -> BufResult<usize, Vec<u8>> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf).await,
            Stream::Tls(tls) => tls.read(buf).await,
        }
    }

    async fn write_all(&mut self, buf: Vec<u8>) -> BufResult<usize, Vec<u8>> {
        match self {
            Stream::Plain(tcp) => tcp.write_all(buf).await,
            Stream::Tls(tls) => tls.write_all(buf).await,
        }
    }
}

/// The TLS client setup, made on the first https URL and shared by every core (rustls'
/// configuration is read-only; each connection has its own session).
static TLS: OnceLock<Result<TlsConnector, String>> = OnceLock::new();

fn tls() -> Result<&'static TlsConnector, Cause> {
    let roots = || rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let built = TLS.get_or_init(|| connector(roots()));
    built.as_ref().map_err(|e| Cause::Other(e.clone()))
}

/// rustls on ring, trusting `roots`, no client certificate.
fn connector(roots: rustls::RootCertStore) -> Result<TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Open a connection to `to`: TCP, then for https the TLS handshake on it.
async fn connect(to: &Endpoint, timeout: Duration) -> Result<Stream, Cause> {
    let io = |e: std::io::Error| Cause::from_io(&e, timeout);
    let (https, host, port) = to;
    let tcp = TcpStream::connect((host.as_str(), *port))
        .await
        .map_err(io)?;
    let _ = tcp.set_nodelay(true);
    if !https {
        return Ok(Stream::Plain(tcp));
    }
    let name = ServerName::try_from(host.clone())
        .map_err(|e| Cause::Other(format!("bad TLS server name {host}: {e}")))?;
    let tls = tls()?.connect(name, tcp).await.map_err(|e| io(e.into()))?;
    Ok(Stream::Tls(Box::new(tls)))
}

/// One task of the io workload: download every URL in turn, over one kept-alive connection
/// while the URLs go to the same place.
pub async fn download_all(urls: &[Target], timeout: Duration) -> Result<Tally, FetchError> {
    let mut conn = None;
    let mut total = Tally::default();
    for target in urls {
        total += download(target, timeout, &mut conn).await?;
    }
    Ok(total)
}

/// Download one URL within `timeout` (connect to last body byte) and verify it, over
/// `conn` if it is open to the same place; a failure drops the connection.
pub async fn download(
    target: &Target,
    timeout: Duration,
    conn: &mut Option<Conn>,
) -> Result<Tally, FetchError> {
    let result = match monoio::time::timeout(timeout, fetch(target, timeout, conn)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::new(&target.url, Cause::Timeout(timeout))),
    };
    if result.is_err() {
        *conn = None;
    }
    result
}

async fn fetch(
    target: &Target,
    timeout: Duration,
    slot: &mut Option<Conn>,
) -> Result<Tally, FetchError> {
    let deadline = Instant::now() + timeout;
    let url = target.url.as_str();
    let fail = |cause| FetchError::new(url, cause);
    let io = |e: std::io::Error| Cause::from_io(&e, timeout);
    let (to, authority, path) = split_url(url).map_err(fail)?;
    if slot.as_ref().is_some_and(|c| c.to != to) {
        *slot = None;
    }
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: {authority}\r\n");
    if let Some(authorization) = &target.authorization {
        request.push_str(&format!("authorization: {authorization}\r\n"));
    }
    request.push_str("\r\n");
    // A kept connection the server has closed meanwhile (an idle timeout) fails before the
    // first byte of an answer: then, once, open a new one and send again.
    let mut reused = slot.is_some();
    let head = loop {
        if slot.is_none() {
            let stream = connect(&to, timeout).await.map_err(fail)?;
            *slot = Some(Conn {
                to: to.clone(),
                stream,
                buf: Vec::new(),
                deadline,
                timeout,
            });
        }
        let conn = slot.as_mut().expect("filled just above");
        (conn.deadline, conn.timeout) = (deadline, timeout);
        let (written, _) = conn.stream.write_all(request.clone().into_bytes()).await;
        let head = match written {
            Ok(_) => read_head(conn).await,
            Err(e) => Err(io(e)),
        };
        match head {
            Err(Cause::Reset) if reused => (*slot, reused) = (None, false),
            Err(cause) => return Err(fail(cause)),
            Ok(head) => break head,
        }
    };
    let conn = slot.as_mut().expect("a head was read on it");
    let header = |name: &str| head.header(name);
    let mut verifier = Verifier::start(url, head.status, header)?;
    let body = match head.framing() {
        Framing::Length(len) => read_fixed(conn, len, &mut verifier).await,
        Framing::Chunked => read_chunked(conn, &mut verifier).await,
        Framing::UntilClose => read_to_close(conn, &mut verifier).await,
    };
    if let Err(cause) = body {
        // Mid-body: a reset or early close is reported as the truncation it causes.
        return Err(verifier.broken(cause));
    }
    if head.close || head.framing() == Framing::UntilClose {
        *slot = None;
    }
    verifier.finish()
}

/// A response head: status, headers (names in lower case), and whether the server closes.
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    close: bool,
}

#[derive(PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// How the body ends (RFC 9112, 6.3): chunked, a length, or the server's close.
    fn framing(&self) -> Framing {
        if matches!(self.status, 100..=199 | 204 | 304) {
            return Framing::Length(0);
        }
        if self
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            return Framing::Chunked;
        }
        match self.header("content-length").map(|v| v.trim().parse()) {
            Some(Ok(len)) => Framing::Length(len),
            _ => Framing::UntilClose,
        }
    }
}

/// Read one more buffer's worth from the socket onto `conn.buf`: an io_uring read into a
/// buffer lent to the kernel and handed back with the result. `Ok(0)` is the server's close.
///
/// Past the download's deadline it reads no more. The timer around the download cannot
/// always say so: it fires only when the core's queue runs empty (see main.rs), and on the
/// epoll driver a read whose bytes are already there completes at once, without waiting,
/// so a body that never stops (or a core whose tasks never all wait) would never let it.
async fn fill(conn: &mut Conn) -> Result<usize, Cause> {
    if Instant::now() >= conn.deadline {
        return Err(Cause::Timeout(conn.timeout));
    }
    let (read, chunk) = conn.stream.read(Vec::with_capacity(READ_SIZE)).await;
    let n = read.map_err(|e| Cause::from_io(&e, conn.timeout))?;
    conn.buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Read until a whole response head is in `conn.buf`, parse it and take it off the buffer.
async fn read_head(conn: &mut Conn) -> Result<Head, Cause> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&conn.buf) {
            Ok(httparse::Status::Complete(len)) => {
                let status = response.code.unwrap_or(0);
                let headers: Vec<(String, String)> = response
                    .headers
                    .iter()
                    .map(|h| {
                        let value = String::from_utf8_lossy(h.value).trim().to_string();
                        (h.name.to_ascii_lowercase(), value)
                    })
                    .collect();
                let connection = headers
                    .iter()
                    .find(|(k, _)| k == "connection")
                    .map(|(_, v)| v.to_ascii_lowercase());
                let close = match response.version {
                    Some(0) => !connection.is_some_and(|v| v.contains("keep-alive")),
                    _ => connection.is_some_and(|v| v.contains("close")),
                };
                conn.buf.drain(..len);
                return Ok(Head {
                    status,
                    headers,
                    close,
                });
            }
            Ok(httparse::Status::Partial) if conn.buf.len() > MAX_HEAD => {
                return Err(Cause::Other(format!(
                    "the response head is over {MAX_HEAD} bytes"
                )))
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => return Err(Cause::Other(format!("bad response head: {e}"))),
        }
        if fill(conn).await? == 0 {
            // Closed before (or during) the head: the server hung up on the request.
            return Err(Cause::Reset);
        }
    }
}

/// A body of `len` bytes, streamed through the verifier as it arrives.
async fn read_fixed(conn: &mut Conn, len: u64, verifier: &mut Verifier) -> Result<(), Cause> {
    let mut left = len;
    loop {
        let take = (conn.buf.len() as u64).min(left) as usize;
        verifier.update(&conn.buf[..take]);
        conn.buf.drain(..take);
        left -= take as u64;
        if left == 0 {
            return Ok(());
        }
        read_more(conn).await?;
    }
}

/// A body up to the server's close (no length announced, not chunked).
async fn read_to_close(conn: &mut Conn, verifier: &mut Verifier) -> Result<(), Cause> {
    loop {
        verifier.update(&conn.buf);
        conn.buf.clear();
        if fill(conn).await? == 0 {
            return Ok(());
        }
    }
}

/// A chunked body: each chunk's size line (parsed by httparse), its bytes streamed through
/// the verifier, its CRLF; a chunk of size 0 and the (ignored) trailers end it.
async fn read_chunked(conn: &mut Conn, verifier: &mut Verifier) -> Result<(), Cause> {
    loop {
        let size = loop {
            match httparse::parse_chunk_size(&conn.buf) {
                Ok(httparse::Status::Complete((used, size))) => {
                    conn.buf.drain(..used);
                    break size;
                }
                Ok(httparse::Status::Partial) => read_more(conn).await?,
                Err(_) => return Err(Cause::Other("bad chunk size in the body".into())),
            }
        };
        if size == 0 {
            // Trailers, if any, then an empty line.
            loop {
                if let Some(end) = conn.buf.windows(2).position(|w| w == b"\r\n") {
                    let empty = end == 0;
                    conn.buf.drain(..end + 2);
                    if empty {
                        return Ok(());
                    }
                } else {
                    read_more(conn).await?;
                }
            }
        }
        read_fixed(conn, size, verifier).await?;
        while conn.buf.len() < 2 {
            read_more(conn).await?;
        }
        if &conn.buf[..2] != b"\r\n" {
            return Err(Cause::Other("a chunk does not end in CRLF".into()));
        }
        conn.buf.drain(..2);
    }
}

/// Read more body bytes: the server's close here cuts the body short.
async fn read_more(conn: &mut Conn) -> Result<(), Cause> {
    match fill(conn).await? {
        0 => Err(Cause::Reset),
        _ => Ok(()),
    }
}

/// Split a URL into where to connect, its Host header, and its path with query.
fn split_url(url: &str) -> Result<(Endpoint, String, String), Cause> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| Cause::Other(format!("bad URL: {e}")))?;
    let host = uri
        .host()
        .ok_or_else(|| Cause::Other("URL has no host".into()))?;
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = uri.authority().map_or(host, |a| a.as_str());
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    // An IPv6 literal is bracketed in a URL, bare in a socket address.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok(((https, host.into(), port), authority.into(), path.into()))
}

#[cfg(test)]
mod tests {
    //! Each way a server can fail maps to the right cause, against a raw socket on
    //! 127.0.0.1:0 served by a std thread, the client on a monoio runtime.

    use super::*;
    use std::io::{Read, Write};

    /// Serve one connection: read the request, write `reply`, then close (or, with
    /// `hang`, keep the socket open and silent for a while).
    fn serve_once(reply: &'static [u8], hang: bool) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf);
            let _ = socket.write_all(reply);
            if hang {
                std::thread::sleep(Duration::from_secs(3));
            }
        });
        url
    }

    fn cause_of(url: &str) -> Cause {
        let mut runtime = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        runtime
            .block_on(download(&Target::new(url), T, &mut None))
            .unwrap_err()
            .cause
    }

    fn tally_of(url: &str) -> Tally {
        let mut runtime = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        runtime
            .block_on(download(&Target::new(url), T, &mut None))
            .unwrap()
    }

    const T: Duration = Duration::from_millis(300);

    // https against a rustls server on 127.0.0.1:0. The certificates in testdata/ were
    // made once with openssl: two CAs (EC P-256, 100 years), each signing a leaf for
    // IP 127.0.0.1 (serverAuth); the client trusts the first CA only, never the Mozilla
    // roots here (every https test of this binary shares the one connector).
    const CA: &[u8] = include_bytes!("../testdata/ca.der");
    const TRUSTED: (&[u8], &[u8]) = (
        include_bytes!("../testdata/leaf1.der"),
        include_bytes!("../testdata/leaf1.key.der"),
    );
    const UNTRUSTED: (&[u8], &[u8]) = (
        include_bytes!("../testdata/leaf2.der"),
        include_bytes!("../testdata/leaf2.key.der"),
    );

    /// Serve one TLS connection with `leaf`: read the request, write `reply`, close.
    fn serve_tls_once(leaf: (&'static [u8], &'static [u8]), reply: &'static [u8]) -> String {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let _ = TLS.get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(CertificateDer::from(CA)).unwrap();
            connector(roots)
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(leaf.0)],
                PrivateKeyDer::Pkcs8(leaf.1.to_vec().into()),
            )
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/x", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            let session = rustls::ServerConnection::new(Arc::new(config)).unwrap();
            let mut tls = rustls::StreamOwned::new(session, socket);
            let mut buf = [0u8; 1024];
            if tls.read(&mut buf).is_ok() {
                let _ = tls.write_all(reply);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        });
        url
    }

    #[test]
    fn https_bodies_are_read_and_verified_through_tls() {
        let url = serve_tls_once(
            TRUSTED,
            b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nfoobar",
        );
        let t = tally_of(&url);
        let foobar = workload::io::fnv1a(workload::io::FNV_START, b"foobar");
        assert_eq!((t.tasks, t.bytes, t.checksum), (1, 6, foobar));
    }

    #[test]
    fn an_untrusted_certificate_is_refused_naming_why() {
        let url = serve_tls_once(UNTRUSTED, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(
            cause_of(&url),
            Cause::Other("invalid peer certificate: UnknownIssuer".into())
        );
    }

    #[test]
    fn a_body_cut_short_is_truncated_counting_what_arrived() {
        let url = serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n123", false);
        let want = Cause::Truncated {
            expected: 10,
            got: 3,
        };
        assert_eq!(cause_of(&url), want);
    }

    #[test]
    fn a_close_before_the_answer_is_a_reset() {
        let url = serve_once(b"", false);
        assert_eq!(cause_of(&url), Cause::Reset);
    }

    #[test]
    fn silence_mid_body_is_a_timeout() {
        let url = serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n1", true);
        assert_eq!(cause_of(&url), Cause::Timeout(T));
    }

    #[test]
    fn chunked_and_close_delimited_bodies_are_read_whole() {
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nfoo\r\n3;x=y\r\nbar\r\n0\r\n\r\n";
        let t = tally_of(&serve_once(chunked, false));
        let foobar = workload::io::fnv1a(workload::io::FNV_START, b"foobar");
        assert_eq!(
            (t.tasks, t.bytes, t.checksum, t.unverified),
            (1, 6, foobar, 1)
        );
        let t = tally_of(&serve_once(b"HTTP/1.1 200 OK\r\n\r\nfoobar", false));
        assert_eq!((t.bytes, t.checksum), (6, foobar));
    }
}
