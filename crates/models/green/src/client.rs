//! The io task's client: ureq, as in the OS-thread models, but on may's sockets.
//!
//! The download code is `workload::blocking::Client`'s. What differs is how the agent is
//! built: [`Agent::with_parts`] from our [`MayConnector`] (chained with ureq's own rustls
//! connector, so https works) and [`BlockingLookup`], one agent per task, with smaller
//! buffers. The code still reads as blocking code; every wait in it now parks a coroutine
//! instead of a thread.

use crate::transport::{BlockingLookup, MayConnector};
use std::io::Read;
use std::time::Duration;
use ureq::unversioned::transport::{Connector, RustlsConnector};
use ureq::Agent;
use workload::io::{Cause, FetchError, Verifier};
use workload::Tally;

/// One task's client: a ureq agent of its own and the per-request timeout.
///
/// Each coroutine builds its own (see `run_io`): its keep-alive pool then holds just the
/// task's connection, which its next request to the same host reuses. One agent shared
/// by every coroutine would put all of them behind one `std::sync::Mutex` and a pool
/// that ureq scans linearly on every request: with 10,000 coroutines, a 100 ms workload
/// took 20 s, two thirds of it comparing pool keys under the lock. And a std mutex does
/// not yield: a coroutine waiting for it blocks its whole worker.
#[derive(Clone)]
pub struct Client {
    agent: Agent,
    timeout: Duration,
}

impl Client {
    pub fn new(timeout: Duration) -> Client {
        let config = Agent::config_builder()
            // Connect to last byte: ureq hands the shrinking remainder to our transport,
            // which sets it as may's socket timeout before every read and write.
            .timeout_global(Some(timeout))
            // A 4xx/5xx is a response we check ourselves (the Verifier names it).
            .http_status_as_error(false)
            // ureq's default is 128 KiB in and 128 KiB out per connection. With thousands
            // of connections on two worker threads, malloc recycles freed buffers and
            // zeroes all 256 KiB of each (every page resident). 16 KiB holds any header
            // block our servers send, and bodies stream through it.
            .input_buffer_size(16 * 1024)
            .output_buffer_size(16 * 1024)
            .build();
        // Plain socket first; for https:// the rustls connector wraps it in TLS.
        let connector = MayConnector.chain(RustlsConnector::default());
        let agent = Agent::with_parts(config, connector, BlockingLookup::default());
        Client { agent, timeout }
    }

    /// One task of the io workload: download every URL in turn, each body to its end.
    pub fn download_all(&self, urls: &[String]) -> Result<Tally, FetchError> {
        urls.iter().map(|url| self.download(url)).sum()
    }

    /// Download one URL and verify it, chunk by chunk as the body arrives.
    pub fn download(&self, url: &str) -> Result<Tally, FetchError> {
        let timeout = self.timeout;
        let mut response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| FetchError::new(url, classify(&e, timeout)))?;
        let headers = response.headers().clone();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let mut verifier = Verifier::start(url, response.status().as_u16(), header)?;
        let mut reader = response.body_mut().as_reader();
        // On the coroutine's own stack: 16 KiB of the stack size chosen in main.
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return verifier.finish(),
                Ok(n) => verifier.update(&buf[..n]),
                Err(e) => {
                    // ureq wraps its own errors (a timeout, a closed socket) in io::Error.
                    let cause = match e
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<ureq::Error>())
                    {
                        Some(inner) => classify(inner, timeout),
                        None => Cause::from_io(&e, timeout),
                    };
                    return Err(verifier.broken(cause));
                }
            }
        }
    }
}

/// Name the cause of a ureq error in the terms every model uses.
fn classify(e: &ureq::Error, timeout: Duration) -> Cause {
    match e {
        ureq::Error::StatusCode(code) => Cause::Status(*code),
        ureq::Error::Timeout(_) => Cause::Timeout(timeout),
        ureq::Error::Io(io) => Cause::from_io(io, timeout),
        ureq::Error::ConnectionFailed => Cause::Refused,
        other => Cause::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Instant;
    use workload::io::{fnv1a, FNV_START};

    /// A std-thread server on 127.0.0.1:0 that answers every request on a connection with
    /// `response` (or stays silent when it is empty) and counts the connections it accepts.
    fn serve(response: &'static [u8]) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut request = Vec::new();
                    let mut byte = [0u8; 1];
                    while std::io::Read::read(&mut stream, &mut byte).unwrap_or(0) == 1 {
                        request.push(byte[0]);
                        if request.ends_with(b"\r\n\r\n") && !response.is_empty() {
                            request.clear();
                            stream.write_all(response).unwrap();
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    /// Run `f` in a coroutine with the binary's stack size, as `on_coroutines` does.
    fn in_coroutine<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let words = crate::STACK_BYTES / std::mem::size_of::<usize>();
        let builder = may::coroutine::Builder::new().stack_size(words);
        // SAFETY: the test closures use no thread-locals and fit in STACK_BYTES.
        unsafe { builder.spawn(f) }.unwrap().join().unwrap()
    }

    /// Two requests of one task to one host go over one connection, and a chunked body
    /// is decoded before the verifier sees it.
    #[test]
    fn a_task_reuses_its_connection_and_reads_chunked_bodies() {
        let response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nfoo\r\n3\r\nbar\r\n0\r\n\r\n";
        let (url, accepted) = serve(response);
        let urls = vec![url.clone(), url];
        let tally =
            in_coroutine(move || Client::new(Duration::from_secs(5)).download_all(&urls)).unwrap();
        assert_eq!((tally.tasks, tally.bytes), (2, 12));
        let foobar = fnv1a(FNV_START, b"foobar");
        assert_eq!(
            tally.checksum,
            Tally::task(6, foobar).add(Tally::task(6, foobar)).checksum
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    /// A server that accepts and never answers costs one timeout, from connect on.
    #[test]
    fn a_silent_server_times_out_on_time() {
        let (url, _) = serve(b"");
        let started = Instant::now();
        let timeout = Duration::from_millis(200);
        let err = in_coroutine(move || Client::new(timeout).download(&url)).unwrap_err();
        assert_eq!(err.cause, Cause::Timeout(timeout));
        assert!(
            started.elapsed() < Duration::from_millis(600),
            "{:?}",
            started.elapsed()
        );
    }

    /// The fixture server's status route, in miniature: a 503 is an error naming it.
    #[test]
    fn a_non_2xx_status_is_an_error() {
        let (url, _) = serve(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
        let err =
            in_coroutine(move || Client::new(Duration::from_secs(5)).download(&url)).unwrap_err();
        assert_eq!(err.cause, Cause::Status(503));
    }
}
