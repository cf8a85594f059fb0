//! The I/O-bound task's verification, shared by every HTTP client.
//!
//! A task downloads a list of URLs one after another (the seed's `io_bound`), reading every
//! body to its end. Each client feeds the body to a [`Verifier`] chunk by chunk; at the end
//! the verifier checks what the client cannot: the status was 2xx, the byte count equals
//! Content-Length, and the FNV-1a checksum of the bytes equals the server's `x-checksum`
//! header. Any failure is a [`FetchError`] that names the URL and the [`Cause`].
//!
//! Which server must announce both. Our fixture server marks every answer with
//! [`FIXTURE_HEADER`] and announces every body's length and checksum: from it, a body
//! without either header fails the run ([`Cause::Unverifiable`]), since a check that
//! silently did not run would pass a broken client. Any other server (a URL of the
//! user's) owes us neither header: its body is checked as far as its headers allow and
//! counted as `unverified` in the summary line (see [`Tally::unverified`]), so that a
//! run's verification is never claimed where it did not happen. The marker, not the
//! address, says which server it is: a loopback URL may well be the user's own server.
//!
//! Every client does the same work for the same URL (see [`Target`]): one GET, no proxy,
//! no redirect followed (a 3xx is an error that names where it pointed), and credentials
//! in the URL sent as the same `Authorization: Basic` header.

use crate::summary::Tally;
use base64::Engine as _;
use std::fmt;
use std::time::Duration;

/// One URL to download, as every client sends it.
///
/// Clients differ in what they do with `http://user:pass@host/` (one puts `user:pass@host`
/// in the Host header, another percent-decodes, another does not) and with redirects (some
/// follow ten, some none). So the credentials are taken out here, once, and every client
/// sends the URL without them plus this exact `Authorization` header; and no client
/// follows redirects: one URL is one request in every model, and a redirect is reported
/// (see [`Cause::Redirect`]) so that the user can give the final URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL without `user:password@`: what is requested, and what errors name, so
    /// that no password ends up in a log.
    pub url: String,
    /// `Basic base64(user:password)`, percent-decoded as RFC 3986 says, when the URL had
    /// credentials.
    pub authorization: Option<String>,
    /// The URL as given on the command line (procs hands it to its workers as is).
    pub given: String,
}

impl Target {
    /// Split the credentials off an `http(s)://[user[:password]@]host...` URL.
    pub fn new(given: &str) -> Target {
        let (scheme, rest) = given.split_once("://").unwrap_or(("", given));
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let Some((userinfo, host)) = authority.rsplit_once('@') else {
            return Target {
                url: given.to_string(),
                authorization: None,
                given: given.to_string(),
            };
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let pair = format!("{}:{}", decode(user), decode(password));
        Target {
            url: format!("{scheme}://{host}{path}"),
            authorization: Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )),
            given: given.to_string(),
        }
    }
}

/// The header in which the fixture server announces the FNV-1a 64 checksum of a body.
pub const CHECKSUM_HEADER: &str = "x-checksum";

/// The header (value `1`) with which the fixture server marks every answer, so that the
/// verifier knows it must find Content-Length and [`CHECKSUM_HEADER`] on every body.
pub const FIXTURE_HEADER: &str = "x-fixture-server";

/// Why one download failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The server answered, but not with 2xx.
    Status(u16),
    /// The server answered with a redirect, which no client follows (see [`Target`]).
    Redirect { status: u16, location: String },
    /// The body ended before Content-Length bytes arrived.
    Truncated { expected: u64, got: u64 },
    /// The bytes arrived, but not the bytes the server announced.
    Checksum { expected: u64, got: u64 },
    /// The fixture server (marked by [`FIXTURE_HEADER`]) sent a body without the headers
    /// that let it be checked: `missing` names them.
    Unverifiable { missing: &'static str },
    /// Nothing listens at that address.
    Refused,
    /// The peer closed or reset the connection mid-exchange.
    Reset,
    /// The request did not finish within the per-request timeout.
    Timeout(Duration),
    /// Anything else, in the client's words (DNS, TLS, protocol errors...).
    Other(String),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Status(code) => write!(f, "HTTP status {code}"),
            Cause::Redirect { status, location } => write!(
                f,
                "HTTP status {status}, a redirect to '{location}' (redirects are not followed: give the final URL)"
            ),
            Cause::Truncated { expected, got } => {
                write!(f, "truncated body: {got} of {expected} bytes")
            }
            Cause::Checksum { expected, got } => {
                write!(
                    f,
                    "body checksum {got:#018x}, server announced {expected:#018x}"
                )
            }
            Cause::Unverifiable { missing } => write!(
                f,
                "the fixture server sent no {missing} header, so the body cannot be verified"
            ),
            Cause::Refused => f.write_str("connection refused"),
            Cause::Reset => f.write_str("connection reset or closed by the server"),
            Cause::Timeout(t) => write!(f, "timed out after {} ms", t.as_millis()),
            Cause::Other(msg) => f.write_str(msg),
        }
    }
}

impl Cause {
    /// Classify an `std::io::Error` the way every client below std sees it.
    pub fn from_io(e: &std::io::Error, timeout: Duration) -> Cause {
        use std::io::ErrorKind::*;
        match e.kind() {
            ConnectionRefused => Cause::Refused,
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => Cause::Reset,
            TimedOut | WouldBlock => Cause::Timeout(timeout),
            _ => Cause::Other(e.to_string()),
        }
    }
}

/// One failed download: the URL and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    pub url: String,
    pub cause: Cause,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GET {}: {}", self.url, self.cause)
    }
}

impl std::error::Error for FetchError {}

impl FetchError {
    pub fn new(url: &str, cause: Cause) -> Self {
        FetchError {
            url: url.to_string(),
            cause,
        }
    }
}

/// FNV-1a 64: tiny, dependency-free, and enough to catch a wrong or reordered byte.
pub fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(hash, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// The FNV-1a 64 offset basis: the checksum of no bytes.
pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Checks one response as its body streams through.
#[derive(Debug)]
pub struct Verifier {
    url: String,
    /// The answer carries [`FIXTURE_HEADER`]: both checks are owed.
    fixture: bool,
    content_length: Option<u64>,
    announced: Option<u64>,
    bytes: u64,
    hash: u64,
}

impl Verifier {
    /// Start checking a response from its status and headers. A non-2xx status fails here,
    /// before the body is read. `header` looks up a response header by lower-case name.
    pub fn start<'h>(
        url: &str,
        status: u16,
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Result<Verifier, FetchError> {
        if (300..400).contains(&status) {
            if let Some(location) = header("location") {
                let location = location.to_string();
                return Err(FetchError::new(url, Cause::Redirect { status, location }));
            }
        }
        if !(200..300).contains(&status) {
            return Err(FetchError::new(url, Cause::Status(status)));
        }
        let number = |name: &str, radix| {
            header(name)
                .and_then(|v| u64::from_str_radix(v.trim().trim_start_matches("0x"), radix).ok())
        };
        Ok(Verifier {
            url: url.to_string(),
            fixture: header(FIXTURE_HEADER).is_some(),
            content_length: number("content-length", 10),
            announced: number(CHECKSUM_HEADER, 16),
            bytes: 0,
            hash: FNV_START,
        })
    }

    /// Feed the next chunk of the body.
    pub fn update(&mut self, chunk: &[u8]) {
        self.bytes += chunk.len() as u64;
        self.hash = fnv1a(self.hash, chunk);
    }

    /// The body has ended (EOF or the client's end of message): check length and checksum.
    /// A check whose header is missing fails the run from the fixture server, and makes
    /// the download an unverified one from any other (see the module's doc).
    pub fn finish(self) -> Result<Tally, FetchError> {
        if let Some(expected) = self.content_length {
            if self.bytes != expected {
                let cause = Cause::Truncated {
                    expected,
                    got: self.bytes,
                };
                return Err(FetchError::new(&self.url, cause));
            }
        }
        if let Some(expected) = self.announced {
            if self.hash != expected {
                let cause = Cause::Checksum {
                    expected,
                    got: self.hash,
                };
                return Err(FetchError::new(&self.url, cause));
            }
        }
        let missing = match (self.content_length, self.announced) {
            (Some(_), Some(_)) => return Ok(Tally::task(self.bytes, self.hash)),
            (None, Some(_)) => "Content-Length",
            (Some(_), None) => CHECKSUM_HEADER,
            (None, None) => "Content-Length or x-checksum",
        };
        if self.fixture {
            let cause = Cause::Unverifiable { missing };
            return Err(FetchError::new(&self.url, cause));
        }
        Ok(Tally::unverified_task(self.bytes, self.hash))
    }

    /// The client failed mid-body with `cause`. If fewer bytes than Content-Length have
    /// arrived and the connection broke, name it for what the user sees: a truncated body.
    pub fn broken(self, cause: Cause) -> FetchError {
        let cause = match (cause, self.content_length) {
            (Cause::Reset | Cause::Other(_), Some(expected)) if self.bytes < expected => {
                Cause::Truncated {
                    expected,
                    got: self.bytes,
                }
            }
            (cause, _) => cause,
        };
        FetchError::new(&self.url, cause)
    }

    /// The URL being checked, for error messages raised by the client mid-body.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(list: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> + 'a {
        move |name| list.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference test suite.
        assert_eq!(fnv1a(FNV_START, b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(FNV_START, b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(FNV_START, b"foobar"), 0x85944171f73967e8);
        // Chunking does not change the hash.
        assert_eq!(fnv1a(fnv1a(FNV_START, b"foo"), b"bar"), 0x85944171f73967e8);
    }

    #[test]
    fn a_complete_body_passes_and_is_counted() {
        let h = [("content-length", "6"), ("x-checksum", "85944171f73967e8")];
        let mut v = Verifier::start("http://h/", 200, headers(&h)).unwrap();
        v.update(b"foo");
        v.update(b"bar");
        let t = v.finish().unwrap();
        assert_eq!((t.tasks, t.bytes, t.checksum), (1, 6, 0x85944171f73967e8));
        assert_eq!(t.unverified, 0);
    }

    #[test]
    fn non_2xx_fails_naming_url_and_status() {
        let err = Verifier::start("http://h/x", 503, headers(&[])).unwrap_err();
        assert_eq!(err.cause, Cause::Status(503));
        assert_eq!(err.to_string(), "GET http://h/x: HTTP status 503");
    }

    #[test]
    fn a_redirect_fails_naming_where_it_points() {
        let h = [("location", "/elsewhere")];
        let err = Verifier::start("http://h/x", 302, headers(&h)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "GET http://h/x: HTTP status 302, a redirect to '/elsewhere' (redirects are not followed: give the final URL)"
        );
        let err = Verifier::start("http://h/x", 304, headers(&[])).unwrap_err();
        assert_eq!(err.cause, Cause::Status(304));
    }

    #[test]
    fn credentials_leave_the_url_for_one_basic_header() {
        let t = Target::new("http://u%40x:p%3Aw@127.0.0.1:80/a@b?c");
        assert_eq!(t.url, "http://127.0.0.1:80/a@b?c");
        // base64("u@x:p:w"), checked with `printf 'u@x:p:w' | base64`.
        assert_eq!(t.authorization.as_deref(), Some("Basic dUB4OnA6dw=="));
        let t = Target::new("https://user@h/");
        assert_eq!(
            (t.url.as_str(), t.authorization.as_deref()),
            ("https://h/", Some("Basic dXNlcjo="))
        );
        let t = Target::new("http://h/x@y");
        assert_eq!((t.url.as_str(), t.authorization), ("http://h/x@y", None));
    }

    /// From the fixture server (marked), a body without Content-Length or x-checksum fails,
    /// naming the missing header; from any other server it passes as an unverified download.
    #[test]
    fn a_missing_check_fails_from_the_fixture_server_and_is_counted_elsewhere() {
        let foobar = 0x85944171f73967e8;
        for (list, missing) in [
            (&[("content-length", "6")][..], "x-checksum"),
            (&[("x-checksum", "85944171f73967e8")], "Content-Length"),
            (&[], "Content-Length or x-checksum"),
        ] {
            let mut marked = list.to_vec();
            marked.push((FIXTURE_HEADER, "1"));
            let mut v = Verifier::start("http://h/x", 200, headers(&marked)).unwrap();
            v.update(b"foobar");
            let err = v.finish().unwrap_err();
            assert_eq!(err.cause, Cause::Unverifiable { missing });
            assert_eq!(
                err.to_string(),
                format!("GET http://h/x: the fixture server sent no {missing} header, so the body cannot be verified")
            );
            let mut v = Verifier::start("http://h/x", 200, headers(list)).unwrap();
            v.update(b"foobar");
            let t = v.finish().unwrap();
            assert_eq!(
                (t.tasks, t.unverified, t.bytes, t.checksum),
                (1, 1, 6, foobar)
            );
        }
        // Both headers, marked or not: a verified download.
        let both = [("content-length", "6"), ("x-checksum", "85944171f73967e8")];
        let mut v = Verifier::start("http://h/", 200, headers(&both)).unwrap();
        v.update(b"foobar");
        assert_eq!(v.finish().unwrap().unverified, 0);
    }

    #[test]
    fn short_body_is_truncated() {
        let mut v =
            Verifier::start("http://h/", 200, headers(&[("content-length", "10")])).unwrap();
        v.update(b"12345");
        assert_eq!(
            v.finish().unwrap_err().cause,
            Cause::Truncated {
                expected: 10,
                got: 5
            }
        );
    }

    #[test]
    fn a_connection_broken_mid_body_is_a_truncation() {
        let mut v =
            Verifier::start("http://h/", 200, headers(&[("content-length", "10")])).unwrap();
        v.update(b"123");
        assert_eq!(
            v.broken(Cause::Reset).cause,
            Cause::Truncated {
                expected: 10,
                got: 3
            }
        );
        let v = Verifier::start("http://h/", 200, headers(&[])).unwrap();
        let t = Duration::from_secs(1);
        assert_eq!(v.broken(Cause::Timeout(t)).cause, Cause::Timeout(t));
    }

    #[test]
    fn wrong_bytes_fail_the_checksum() {
        let h = [("content-length", "6"), ("x-checksum", "85944171f73967e8")];
        let mut v = Verifier::start("http://h/", 200, headers(&h)).unwrap();
        v.update(b"foobaz");
        assert!(matches!(
            v.finish().unwrap_err().cause,
            Cause::Checksum { .. }
        ));
    }

    #[test]
    fn io_errors_are_classified() {
        use std::io::{Error, ErrorKind};
        let t = Duration::from_millis(5);
        assert_eq!(
            Cause::from_io(&Error::from(ErrorKind::ConnectionRefused), t),
            Cause::Refused
        );
        assert_eq!(
            Cause::from_io(&Error::from(ErrorKind::ConnectionReset), t),
            Cause::Reset
        );
        assert_eq!(
            Cause::from_io(&Error::from(ErrorKind::UnexpectedEof), t),
            Cause::Reset
        );
        assert_eq!(
            Cause::from_io(&Error::from(ErrorKind::TimedOut), t),
            Cause::Timeout(t)
        );
        assert_eq!(Cause::Timeout(t).to_string(), "timed out after 5 ms");
    }
}
