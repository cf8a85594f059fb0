//! serve in async-std-async: a task per connection on async-std's executor, hyper's
//! HTTP/1.1 server on each.
//!
//! The accept loop spawns one task per connection on the global executor (one thread per
//! core, see main.rs) and goes back to accepting; the task runs hyper's connection future,
//! which parses each request and awaits its answer. A connection waiting for its next
//! request, or a request waiting on the backend, is a parked task: no thread is held, so
//! thousands of idle keep-alive connections cost memory (a future, hyper's buffers and a
//! socket each), not threads. The sockets are async-std's (async-io's reactor), handed to
//! hyper through `FuturesIo`; hyper's head timeout waits on async-io's timer (`SmolTimer`),
//! as async-std's own `task::sleep` does. `/work` is CPU-bound and goes to
//! `task::spawn_blocking`'s pool, as the cpu workload's powers do: each one computing holds
//! a pool thread (at most 500 unless `BLOCKING_MAX_THREADS` says otherwise). `/backend`
//! downloads with the shared hyper client (`workload::hyper_futures`), each client
//! connection keeping its own backend connection between its requests.

use crate::AsyncStd;
use anyhow::Result;
use async_std::task;
use futures_lite::FutureExt;
use hyper::service::service_fn;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::hyper_futures::{Client, FuturesIo, Kept, SmolTimer};
use workload::serve::{self, hyper_server, shutdown, stats, Answer, ServeArgs};
use workload::Tally;

/// Accept until SIGINT/SIGTERM, a task per connection; then let requests in flight finish.
pub async fn run_serve(args: &ServeArgs) -> Result<Tally> {
    let listener = async_std::net::TcpListener::from(serve::bind_std(args)?);
    serve::announce(
        "async-std-async",
        listener.local_addr()?,
        "a task per connection",
    )?;
    // One client for every task, as in the io workload (an Arc: spawned tasks are 'static).
    let client = Arc::new(Client::new(AsyncStd, serve::BACKEND_TIMEOUT));
    let http = hyper_server::builder(SmolTimer::new(), args.header_timeout());
    let backend = args.backend;
    loop {
        // The stop first: `or` polls its left side first, so a flood of connections
        // always ready to accept cannot hide the signal.
        let accepted = async {
            shutdown::signalled().await;
            None
        }
        .or(async { Some(listener.accept().await) })
        .await;
        let stream = match accepted {
            None => break,
            Some(Ok((stream, _))) => stream,
            Some(Err(e)) => {
                if let Some(pause) = serve::accept_failed(&e) {
                    task::sleep(pause).await;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (http, client, kept) = (http.clone(), client.clone(), Kept::default());
        let open = stats::connection_opened();
        // The model: a task per connection, and back to accepting at once.
        let connection = task::spawn(async move {
            let _open = open;
            let service = service_fn(move |request| {
                let (client, kept) = (client.clone(), kept.clone());
                hyper_server::answer(request, work, move |ms| async move {
                    match serve::backend_target(backend, ms) {
                        Ok(target) => {
                            serve::backend_answer(client.download_kept(&target, &kept).await)
                        }
                        Err(refusal) => refusal,
                    }
                })
            });
            // hyper ends a connection with `poll_close`, which on async-std's socket only
            // flushes (smol's and tokio's shut the write half down), so a close with the
            // client's bytes still unread (a head over the cap) would be a bare reset.
            // The FIN goes first, through a second handle to the same socket.
            let closer = stream.clone();
            let served = http.serve_connection(FuturesIo::new(stream), service).await;
            let _ = closer.shutdown(std::net::Shutdown::Write);
            hyper_server::connection_ended(served);
        });
        // A `JoinHandle` dropped detaches its task: it runs to its end.
        drop(connection);
    }
    drain(args.drain()).await;
    Ok(serve::tally())
}

/// `/work/{exp}` on async-std's blocking pool: a power computes for a millisecond or more
/// without an `.await`, and on an executor thread it would stall every connection queued
/// there.
async fn work(exp: u32) -> Answer {
    task::spawn_blocking(move || serve::work(exp)).await
}

/// Wait on async-std's timer until no request is in flight, at most `limit`.
async fn drain(limit: Duration) {
    let deadline = Instant::now() + limit;
    while stats::in_flight() > 0 && Instant::now() < deadline {
        task::sleep(Duration::from_millis(5)).await;
    }
    serve::drain_report("async-std-async", limit);
}
