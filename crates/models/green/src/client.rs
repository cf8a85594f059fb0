//! The io task's client: ureq, as in the OS-thread models, but on may's sockets.
//!
//! This is `workload::blocking::Client` line for line except for one call: the agent is
//! built with [`Agent::with_parts`] from our [`MayConnector`] (chained with ureq's own
//! rustls connector, so https works) and [`BlockingLookup`]. The code still reads as
//! blocking code; what changed is that every wait in it parks a coroutine instead of a
//! thread.

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
/// that ureq scans linearly on every request; with 10,000 coroutines that turned a
/// 100 ms workload into 20 s, with the workers blocked on the lock instead of yielding.
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
