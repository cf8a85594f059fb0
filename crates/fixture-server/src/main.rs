//! The fixture server: the io workload's stand-in for the internet.
//!
//! No machine here reaches the internet, so the io workload downloads from this server on
//! loopback, which simulates remote latency: `GET /delay/{ms}/bytes/{n}` waits `ms`
//! milliseconds, then answers `n` deterministic bytes with Content-Length and an
//! `x-checksum` header (FNV-1a 64 of the body) the clients verify.
//!
//! It binds 127.0.0.1 only, caps what one request can ask (delay, size), raises its own
//! open-file limit, listens with the kernel's largest backlog so that 10,000 simultaneous
//! connects are queued rather than dropped, and exits cleanly on SIGINT or SIGTERM.
//!
//! Routes (GET only):
//! - `/health`: `ok`.
//! - `/delay/{ms}/bytes/{n}`: the workload's download.
//! - `/status/{code}`: answers that status (fault injection for the tests).
//! - `/truncate/{n}`: announces `n` bytes, sends half, then drops the connection.
//! - `/reset`: drops the connection without answering.
//!
//! ```sh
//! target/release/fixture-server --port 0      # first stdout line: the bound address
//! curl -s localhost:PORT/delay/100/bytes/51200 | wc -c
//! ```

mod routes;

use anyhow::{Context, Result};
use clap::Parser;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Loopback HTTP server that simulates remote latency for the io workload."
)]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one. The first line on stdout is the bound address.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Largest delay one request may ask for, in milliseconds.
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    max_delay_ms: u64,
    /// Largest body one request may ask for, in bytes (at most 1 GiB).
    #[arg(long, default_value_t = 16 << 20, value_parser = clap::value_parser!(u64).range(0..=1 << 30))]
    max_bytes: u64,
}

fn main() -> std::process::ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            eprintln!(
                "fixture-server: {}",
                text.lines()
                    .next()
                    .unwrap_or("bad arguments")
                    .trim_start_matches("error: ")
            );
            return std::process::ExitCode::from(2);
        }
    };
    // Two workers, one per core: the server competes with the clients for the same cores.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    match runtime
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(serve(args)))
    {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fixture-server: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<()> {
    let (nofile, _) = workload::mem::raise_nofile_limit();
    let backlog = kernel_backlog();
    let listener =
        bind(args.port, backlog).with_context(|| format!("cannot bind 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    // Handle SIGINT/SIGTERM from before anyone can know our address, so that a signal
    // sent right after the address appears still means a clean exit.
    let mut shutdown = std::pin::pin!(shutdown_signal()?);
    // The first stdout line is the contract with scripts and tests: the bound address.
    println!("{addr}");
    std::io::stdout().flush()?;
    eprintln!(
        "fixture-server: listening on http://{addr} (backlog {backlog}, open files {nofile}, max delay {} ms, max body {} bytes)",
        args.max_delay_ms, args.max_bytes
    );

    let state = Arc::new(routes::State::new(args.max_delay_ms, args.max_bytes));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let state = state.clone();
                    tokio::spawn(async move {
                        let _ = stream.set_nodelay(true);
                        let service = hyper::service::service_fn(move |req| routes::handle(req, state.clone()));
                        // Errors here are clients going away, or our own /reset and
                        // /truncate faults: nothing to report.
                        let _ = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service).await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors (EMFILE) and the like: back off, keep serving.
                    eprintln!("fixture-server: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            signal = &mut shutdown => {
                eprintln!("fixture-server: {signal}, shutting down");
                return Ok(());
            }
        }
    }
}

/// Bind 127.0.0.1 only, with the given listen backlog.
fn bind(port: u16, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(backlog)
}

/// The kernel silently caps a listen backlog at `net.core.somaxconn`; ask for exactly that.
/// With a small backlog, 10,000 simultaneous connects overflow the queue and each dropped
/// SYN costs the client a 1 s retransmit.
fn kernel_backlog() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096)
}

/// Register the signal handlers now; the returned future resolves on the first signal.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    })
}
