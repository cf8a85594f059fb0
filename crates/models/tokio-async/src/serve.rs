//! serve in tokio-async: a task per connection, hyper's HTTP/1.1 server on each.
//!
//! The accept loop spawns one task per connection and goes back to accepting; the task
//! runs hyper's connection future, which parses each request and awaits its answer. A
//! connection waiting for its next request, or a request waiting on the backend, is a
//! parked task: no thread is held, so thousands of idle keep-alive connections cost
//! memory, not workers. `/work` is CPU-bound and goes to the blocking pool, as
//! `spawn_blocking` does in the cpu workload: computed on a worker it would stall every
//! connection queued on that worker.

use crate::fetch;
use anyhow::{Context, Result};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::time::Duration;
use workload::serve::{self, hyper_server, shutdown, stats, Answer, ServeArgs};
use workload::Tally;

/// Accept until SIGINT/SIGTERM, a task per connection; then let requests in flight finish.
pub async fn run_serve(args: &ServeArgs) -> Result<Tally> {
    let listener = serve::bind_std(args)?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    serve::announce(
        "tokio-async",
        listener.local_addr()?,
        "a task per connection",
    )?;
    // One client for every task, as in the io workload: a clone is a reference count.
    let client = fetch::client().context("cannot build the HTTP client")?;
    let http = hyper_server::builder(TokioTimer::new(), args.header_timeout());
    let backend = args.backend;
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    if let Some(pause) = serve::accept_failed(&e) {
                        tokio::time::sleep(pause).await;
                    }
                    continue;
                }
            },
            () = shutdown::signalled() => break,
        };
        let _ = stream.set_nodelay(true);
        let (http, client) = (http.clone(), client.clone());
        let open = stats::connection_opened();
        // The model: a task per connection, and back to accepting at once.
        tokio::spawn(async move {
            let _open = open;
            let service = service_fn(move |request| {
                let client = client.clone();
                hyper_server::answer(request, work, move |ms| async move {
                    match serve::backend_target(backend, ms) {
                        Ok(target) => serve::backend_answer(
                            fetch::download(&client, &target, serve::BACKEND_TIMEOUT).await,
                        ),
                        Err(refusal) => refusal,
                    }
                })
            });
            let served = http.serve_connection(TokioIo::new(stream), service).await;
            hyper_server::connection_ended(served);
        });
    }
    drain(args.drain()).await;
    Ok(serve::tally())
}

/// `/work/{exp}` on the blocking pool: a power computes for a millisecond or more without
/// an `.await`, and on a worker it would stall every connection queued there.
async fn work(exp: u32) -> Answer {
    tokio::task::spawn_blocking(move || serve::work(exp))
        .await
        .unwrap_or_else(|e| Answer::text(500, format!("/work/{exp} panicked: {e}")))
}

/// Wait on tokio's timer until no request is in flight, at most `limit`.
async fn drain(limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while stats::in_flight() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    serve::drain_report("tokio-async", limit);
}
