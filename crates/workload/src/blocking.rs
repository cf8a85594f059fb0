//! The blocking HTTP client shared by the OS-thread models (sync, threads, procs, rayon)
//! and, on may's sockets, by green (see `crates/models/green/src/client.rs`).
//!
//! `ureq` 3: a small blocking client on plain `std::net` sockets, with rustls and bundled
//! root certificates for https, so it builds on a fresh machine with no system TLS library.
//! A call blocks its OS thread (green: its coroutine) until the response has arrived:
//! exactly what these models are about.

use crate::io::{Cause, FetchError, Target, Verifier};
use crate::summary::Tally;
use std::io::Read;
use std::time::Duration;

/// A blocking client: one `ureq` agent and the per-request timeout.
///
/// Its agent keeps a pool of keep-alive connections, so a task's second request to the
/// same host reuses the socket of its first. It is `Clone + Send + Sync`, and clones share
/// the pool, so threads can share one client (sync and rayon do: one and two threads);
/// threads and green give each task its own, because the shared pool is one lock that
/// thousands of threads queue on (see `crates/models/threads/src/main.rs`).
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    timeout: Duration,
}

impl Client {
    pub fn new(timeout: Duration) -> Client {
        Client::from_agent(Client::config(timeout).build().into(), timeout)
    }

    /// The agent settings every ureq client in this study uses. A model that needs its
    /// own transport (green: may's sockets) builds its agent from these.
    pub fn config(timeout: Duration) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
        ureq::Agent::config_builder()
            // Connect to last byte: a slow server is an error, not a hang.
            .timeout_global(Some(timeout))
            // The same policy as every client in the study (see `workload::io::Target`):
            // no proxy from the environment (ureq reads HTTP_PROXY and friends by
            // default), and no redirect followed (ureq follows 10 by default): the 3xx
            // comes back to the verifier, which names it.
            .proxy(None)
            .max_redirects(0)
            // A 4xx/5xx is a response we check ourselves (the Verifier names it).
            .http_status_as_error(false)
            // Threads that share one agent (rayon's workers) each keep their connection.
            .max_idle_connections(100_000)
            .max_idle_connections_per_host(100_000)
            // ureq's default is 128 KiB in and 128 KiB out per connection, all of it
            // resident once malloc recycles and zeroes it: at thousands of connections
            // that dominates memory. 16 KiB holds any header block; bodies stream through.
            .input_buffer_size(16 * 1024)
            .output_buffer_size(16 * 1024)
    }

    /// A client whose agent resolves host names on the calling thread ([`InlineLookup`])
    /// instead of on a thread of its own: for a model that counts its threads against the
    /// machine's limits (threads' `serve`), where each new connection would otherwise
    /// start one more.
    pub fn resolving_inline(timeout: Duration) -> Client {
        use ureq::unversioned::transport::DefaultConnector;
        let config = Client::config(timeout).build();
        let agent =
            ureq::Agent::with_parts(config, DefaultConnector::default(), InlineLookup::default());
        Client::from_agent(agent, timeout)
    }

    /// A client around an agent built elsewhere (from [`Client::config`]).
    pub fn from_agent(agent: ureq::Agent, timeout: Duration) -> Client {
        Client { agent, timeout }
    }

    /// One task of the io workload: download every URL in turn, each body to its end.
    pub fn download_all(&self, urls: &[Target]) -> Result<Tally, FetchError> {
        urls.iter().map(|target| self.download(target)).sum()
    }

    /// Download one URL and verify it.
    pub fn download(&self, target: &Target) -> Result<Tally, FetchError> {
        let (timeout, url) = (self.timeout, target.url.as_str());
        let mut request = self.agent.get(url);
        if let Some(authorization) = &target.authorization {
            request = request.header("authorization", authorization);
        }
        let mut response = request
            .call()
            .map_err(|e| FetchError::new(url, classify(&e, timeout)))?;
        let headers = response.headers().clone();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let mut verifier = Verifier::start(url, response.status().as_u16(), header)?;
        let mut reader = response.body_mut().as_reader();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return verifier.finish(),
                Ok(n) => verifier.update(&buf[..n]),
                Err(e) => {
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

/// Resolves host names on the calling thread (or coroutine). ureq's default resolver
/// starts an OS thread per lookup whenever a timeout is set, so that the lookup can be
/// abandoned at the deadline, even for an IP address: one more thread for every new
/// connection. A real DNS query then blocks the caller without that deadline, but an IP
/// literal or `localhost` (every URL of the benchmarks) returns at once. It implements
/// ureq's `unversioned` resolver API, which may change in a minor release: Cargo.toml
/// pins ureq to 3.5.
#[derive(Debug, Default)]
pub struct InlineLookup(ureq::unversioned::resolver::DefaultResolver);

impl ureq::unversioned::resolver::Resolver for InlineLookup {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        _timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        self.0.resolve(
            uri,
            config,
            ureq::unversioned::transport::NextTimeout::default(),
        )
    }
}
