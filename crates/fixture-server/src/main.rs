//! The fixture server: the io workload's stand-in for the internet.
//!
//! No machine here reaches the internet, so the io workload downloads from this server on
//! loopback, which simulates remote latency: `GET /delay/{ms}/bytes/{n}` waits `ms`
//! milliseconds, then answers `n` deterministic bytes with Content-Length and an
//! `x-checksum` header (FNV-1a 64 of the body) the clients verify. Every answer carries
//! `x-fixture-server: 1`, the mark that tells a client this server owes both headers on
//! every body ([`workload::io`]). Other routes inject the faults the clients' tests need.
//!
//! It binds 127.0.0.1 only, caps what one request can ask (delay, size), raises its own
//! open-file limit, listens with the kernel's largest backlog so that 10,000 simultaneous
//! connects are queued rather than dropped, and exits cleanly on SIGTERM, on SIGINT unless
//! it was started with SIGINT ignored (a script's background command), or,
//! with `--exit-with-parent`, when the process that started it ends ([`parent`]). It
//! stays responsive under abuse: idle and slow connections time out and, at the connection
//! cap, the one that has waited longest for a request makes room, and when every
//! connection is busy a few more are let in to answer `/health` ([`conn`]); big bodies
//! stream in chunks that let small requests through ([`body`]); repeated log lines are
//! folded ([`log`]).
//!
//! Routes (GET only; [`routes::HELP`] is the same list, printed by `--help`):
//! - `/health`: `ok`.
//! - `/delay/{ms}/bytes/{n}`: the workload's download.
//! - `/status/{code}`: answers that status, 200..=599.
//! - `/truncate/{n}`: announces `n` bytes, sends half, then drops the connection.
//! - `/reset`: drops the connection without answering.
//! - `/badsum/{n}`: `n` bytes with a wrong `x-checksum`.
//! - `/no-checksum/{n}`: `n` bytes with Content-Length but no `x-checksum`.
//! - `/endless`: bytes without end (chunked) until the delay cap, then drops the connection.
//! - `/redirect/{k}/bytes/{n}`: 302 to `/redirect/{k-1}/bytes/{n}`; at 0, `n` bytes.
//! - `/slow-headers/{ms}/bytes/{n}`: `n` bytes, the head trickled out over `ms`.
//! - `/basic-auth/{user}/{pass}/bytes/{n}`: `n` bytes only with those Basic credentials.
//!
//! ```sh
//! target/release/fixture-server --port 0      # first stdout line: the bound address
//! curl -s localhost:PORT/delay/100/bytes/51200 | wc -c
//! ```

mod body;
mod conn;
mod log;
mod parent;
mod routes;
mod socket;

use anyhow::{bail, Context, Result};
use clap::Parser;
use conn::{Registry, Timeouts, RESERVED_FDS};
use log::Log;
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
    /// Time a request head may take to arrive once its first byte has, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    header_timeout_ms: u64,
    /// Time a connection waiting for a request, or sending an answer, may go without a byte
    /// in or out, in milliseconds.
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    idle_timeout_ms: u64,
    /// Most connections open at once [default: the open-file limit minus 32 kept for the
    /// server]. At the cap, the connection that has waited longest for a request (250 ms
    /// at least) is closed to make room for the next; if all are busy, up to 8 more get one answer each:
    /// /health, or 503 to anything else.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// Shut down (as on SIGTERM) when process PID ends. PID must be the server's parent:
    /// `$$` in the script that starts it with `&`. Then a driver killed even by SIGKILL
    /// leaves no server behind. Without it the server outlives whoever started it.
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(u32).range(1..))]
    exit_with_parent: Option<u32>,
}

fn main() -> std::process::ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            // The routes follow the options. Not as clap's `after_help`: clap turns every
            // `{n}` in help text into a line break.
            if e.kind() == clap::error::ErrorKind::DisplayHelp {
                println!("\n{}", routes::HELP);
            }
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
    // First of all: with a parent already gone there is nothing to serve.
    let parent_ended = match args.exit_with_parent {
        Some(pid) => Some(parent::watch(pid)?),
        None => None,
    };
    let parent_ended = async {
        match parent_ended {
            Some(ended) => ended.await,
            None => std::future::pending().await,
        }
    };
    let (nofile, _) = workload::mem::raise_nofile_limit();
    let room = nofile.saturating_sub(RESERVED_FDS);
    let max_connections = match args.max_connections {
        Some(max) => max,
        None if room == 0 => bail!(
            "the open-file limit of {nofile} leaves no room for connections ({RESERVED_FDS} are kept for the server): raise `ulimit -n`"
        ),
        None => room,
    };
    let log = Arc::new(Log::stderr());
    if max_connections > room {
        log.line(&format!(
            "--max-connections {max_connections} is over the open-file limit of {nofile} minus {RESERVED_FDS}: accepts may fail for want of a file descriptor"
        ));
    }
    let backlog = kernel_backlog();
    let listener =
        bind(args.port, backlog).with_context(|| format!("cannot bind 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    // Handle SIGINT/SIGTERM from before anyone can know our address, so that a signal
    // sent right after the address appears still means a clean exit.
    let mut shutdown = std::pin::pin!(shutdown_signal()?);
    // Computes the body checksums' checkpoints: done before the address is out, so the
    // first request is served at full speed.
    let state = Arc::new(routes::State::new(args.max_delay_ms, args.max_bytes));
    // The first stdout line is the contract with scripts and tests: the bound address.
    // Not println!, which panics if nobody reads it any more (a parent gone).
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{addr}")
        .and_then(|()| stdout.flush())
        .context("cannot print the bound address on stdout")?;
    eprintln!(
        "fixture-server: listening on http://{addr} (backlog {backlog}, open files {nofile}, \
         max connections {max_connections}, max delay {} ms, max body {} bytes, \
         header timeout {} ms, idle timeout {} ms)",
        args.max_delay_ms, args.max_bytes, args.header_timeout_ms, args.idle_timeout_ms
    );

    // Print the counts of repeated log lines every few seconds.
    let folding = log.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(log::WINDOW);
        loop {
            every.tick().await;
            folding.fold_repeats();
        }
    });

    let registry = Registry::new(usize::try_from(max_connections).unwrap_or(usize::MAX));
    let timeouts = Timeouts {
        header: Duration::from_millis(args.header_timeout_ms),
        idle: Duration::from_millis(args.idle_timeout_ms),
    };
    tokio::select! {
        never = accept_loop(listener, registry, state, timeouts, log) => match never {},
        signal = &mut shutdown => {
            eprintln!("fixture-server: {signal}, shutting down");
            Ok(())
        }
        () = parent_ended => {
            eprintln!("fixture-server: the process that started it has ended, shutting down");
            Ok(())
        }
    }
}

/// Accept connections for ever, each served on a task of its own, only when the registry
/// has a place for one (under the connection cap, or over it for one answer).
async fn accept_loop(
    listener: TcpListener,
    registry: Arc<Registry>,
    state: Arc<routes::State>,
    timeouts: Timeouts,
    log: Arc<Log>,
) -> std::convert::Infallible {
    loop {
        registry.make_room().await;
        match listener.accept().await {
            Ok((stream, _)) => {
                // Counted from now, before its task first runs: accepting a burst must not
                // overshoot the cap.
                let registration = registry.register(&log);
                tokio::spawn(conn::serve(stream, registration, state.clone(), timeouts));
            }
            Err(e) => {
                // Out of file descriptors (EMFILE: only if --max-connections is set above
                // the limit) and the like: back off, keep serving.
                log.line(&format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
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
///
/// SIGINT only if it is not ignored already. A shell without job control (a script)
/// starts each background command with SIGINT ignored, so that a Ctrl-C meant for the
/// foreground leaves it alone; a handler would undo that. The bench driver relies on it:
/// started in the background by a script, it cannot trap SIGINT itself, and a SIGINT to
/// its process group used to stop this server alone, under a run that went on against a
/// dead port. SIGTERM always stops the server.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = match sigint_ignored() {
        true => None,
        false => Some(signal(SignalKind::interrupt())?),
    };
    Ok(async move {
        let interrupted = async {
            match &mut int {
                Some(int) => int.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = interrupted => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    })
}

/// Whether this process started with SIGINT ignored (inherited from its parent).
fn sigint_ignored() -> bool {
    // SAFETY: sigaction with a null new action only reads the current one into ours.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGINT, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    }
}
