//! ureq over may's sockets: the Rust counterpart of gevent's `monkey.patch_all()`.
//!
//! gevent makes `requests` cooperative by swapping the `socket` module under it. ureq 3
//! lets us do the same without patching anything: an agent is built from a [`Connector`]
//! that opens the socket and a [`Transport`] that reads and writes it. Ours open a
//! `may::net::TcpStream`, whose `read` and `write` park the calling coroutine (not the
//! worker thread) until epoll says the socket is ready. Everything above the socket stays
//! ureq: HTTP/1.1 parsing, chunked bodies, the keep-alive pool, and TLS, because ureq's
//! own `RustlsConnector` is chained on top of our plain socket for `https://`.
//!
//! - [`MayConnector`] connects with may's `connect_timeout` (the coroutine waits, the
//!   worker does not).
//! - [`MayTransport`] moves ureq's buffers through the socket, applying ureq's remaining
//!   deadline as may's read/write timeout before every call.
//! - Host names are resolved on the calling worker (`workload::blocking::InlineLookup`):
//!   ureq's default resolver would start an OS thread per lookup and block the worker on
//!   a channel.
//!
//! ureq keeps this API in its `unversioned` module: it may change in a minor release, which
//! is why Cargo.toml pins `ureq = "~3.5"`.

use std::fmt;
use std::io::{self, Read, Write};
use std::time::Duration;

use may::net::TcpStream;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};
use ureq::{Error, Timeout};

/// Opens a may socket for every new connection ureq's pool asks for.
#[derive(Debug, Default)]
pub struct MayConnector;

impl Connector<()> for MayConnector {
    type Out = MayTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> Result<Option<MayTransport>, Error> {
        let deadline = remaining(details.timeout)?;
        // Try each resolved address in turn, as ureq's TcpConnector does; the last error
        // (usually "connection refused") is the one reported.
        let mut last = io::Error::from(io::ErrorKind::ConnectionRefused);
        for addr in &details.addrs {
            // Inside a coroutine this registers the socket with may's epoll and parks the
            // coroutine until the handshake completes or the timeout fires.
            let connected = match deadline {
                Some(t) => TcpStream::connect_timeout(addr, t),
                None => TcpStream::connect(addr),
            };
            match connected {
                Ok(stream) => {
                    stream.set_nodelay(details.config.no_delay())?;
                    let buffers = LazyBuffers::new(
                        details.config.input_buffer_size(),
                        details.config.output_buffer_size(),
                    );
                    return Ok(Some(MayTransport { stream, buffers }));
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Err(Error::Timeout(Timeout::Connect))
                }
                Err(e) => last = e,
            }
        }
        Err(Error::Io(last))
    }
}

/// One keep-alive connection: a may socket and ureq's buffers for it.
pub struct MayTransport {
    stream: TcpStream,
    buffers: LazyBuffers,
}

impl Transport for MayTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let timeout = timeout.for_write();
        // may keeps the timeout in the socket object (no syscall) and arms its own timer
        // when the coroutine parks; the parked write returns TimedOut when it fires.
        self.stream.set_write_timeout(remaining(timeout)?)?;
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|e| io_error(e, timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        let timeout = timeout.for_read();
        self.stream.set_read_timeout(remaining(timeout)?)?;
        let input = self.buffers.input_append_buf();
        let amount = loop {
            match self.stream.read(input) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => break result.map_err(|e| io_error(e, timeout))?,
            }
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    /// Asked by the pool before it hands out an idle connection: a socket that is readable
    /// while idle has been closed by the server (or sent garbage) and must not be reused.
    fn is_open(&mut self) -> bool {
        // may's socket is already non-blocking underneath; reading the std socket directly
        // checks readiness without parking the coroutine.
        // Ok(0) is EOF, Ok(1) is unexpected bytes: either way the connection is done.
        let mut probe = [0u8; 1];
        let idle = self.stream.inner().read(&mut probe);
        matches!(idle, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

impl fmt::Debug for MayTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MayTransport")
            .field("peer", &self.stream.peer_addr().ok())
            .finish()
    }
}

/// ureq's remaining budget as a std duration: `None` when there is no deadline, a timeout
/// error when it is already spent.
fn remaining(timeout: NextTimeout) -> Result<Option<Duration>, Error> {
    if timeout.after.is_zero() {
        return Err(Error::Timeout(timeout.reason));
    }
    Ok(timeout.not_zero().map(|t| *t))
}

/// may reports an expired timeout as `TimedOut`; ureq wants its own timeout error for it.
fn io_error(e: io::Error, timeout: NextTimeout) -> Error {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::Timeout(timeout.reason),
        _ => Error::Io(e),
    }
}
