//! The io task's client: ureq, as in the OS-thread models, but on may's sockets.
//!
//! The download code is `workload::blocking::Client`'s. What differs is how the agent is
//! built: [`Agent::with_parts`] from our [`MayConnector`] (chained with ureq's own rustls
//! connector, so https works) and [`InlineLookup`], one agent per task. The code still
//! reads as blocking code; every wait in it now parks a coroutine instead of a thread.

use crate::transport::MayConnector;
use std::time::Duration;
use ureq::unversioned::transport::{Connector, RustlsConnector};
use ureq::Agent;
pub use workload::blocking::Client;
use workload::blocking::InlineLookup;

/// One task's client: the shared ureq settings and download code, on may's sockets.
///
/// Each coroutine builds its own (see `run_io`): its keep-alive pool then holds just the
/// task's connection, which its next request to the same host reuses. One agent shared
/// by every coroutine would put all of them behind one `std::sync::Mutex` and a pool
/// that ureq scans linearly on every request: with 10,000 coroutines a 100 ms workload
/// took many times the wait, most of it comparing pool keys under the lock. And a std mutex does
/// not yield: a coroutine waiting for it blocks its whole worker.
pub fn client(timeout: Duration) -> Client {
    // The timeout is connect to last byte: ureq hands the shrinking remainder to our
    // transport, which sets it as may's socket timeout before every read and write.
    let config = Client::config(timeout).build();
    // Plain socket first; for https:// the rustls connector wraps it in TLS.
    let connector = MayConnector.chain(RustlsConnector::default());
    Client::from_agent(
        Agent::with_parts(config, connector, InlineLookup::default()),
        timeout,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Instant;
    use workload::io::{fnv1a, Cause, Target, FNV_START};
    use workload::Tally;

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
        let urls = vec![Target::new(&url), Target::new(&url)];
        let tally =
            in_coroutine(move || client(Duration::from_secs(5)).download_all(&urls)).unwrap();
        assert_eq!((tally.tasks, tally.bytes), (2, 12));
        let foobar = fnv1a(FNV_START, b"foobar");
        assert_eq!(
            tally.checksum,
            (Tally::task(6, foobar) + Tally::task(6, foobar)).checksum
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    /// A server that accepts and never answers costs one timeout, from connect on: at
    /// least the timeout (1 s), and less than two of them, which a retry or a deadline
    /// restarted per phase would cost; the 0.9 s between is room for a loaded machine.
    #[test]
    fn a_silent_server_times_out_on_time() {
        let (url, _) = serve(b"");
        let started = Instant::now();
        let timeout = Duration::from_secs(1);
        let err = in_coroutine(move || client(timeout).download(&Target::new(&url))).unwrap_err();
        assert_eq!(err.cause, Cause::Timeout(timeout));
        let took = started.elapsed();
        assert!(
            took >= timeout && took < 2 * timeout - Duration::from_millis(100),
            "{took:?}"
        );
    }

    /// The fixture server's status route, in miniature: a 503 is an error naming it.
    #[test]
    fn a_non_2xx_status_is_an_error() {
        let (url, _) = serve(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
        let err = in_coroutine(move || client(Duration::from_secs(5)).download(&Target::new(&url)))
            .unwrap_err();
        assert_eq!(err.cause, Cause::Status(503));
    }
}
