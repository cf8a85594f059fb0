//! serve in rayon: connections handed to rayon's pool, one per worker at a time.
//!
//! The main thread accepts and hands each connection to the pool (`rayon::spawn`: a job
//! in the pool's queue of jobs from outside it, taken in order); a worker serves it to
//! its end, then takes the next. So the pool serves as many connections at once as it
//! has workers, one per core: a `/backend/50` request holds a worker for 50 ms, and the
//! server answers at most cores / 50 ms such requests a second (Little's law), as sync
//! does with its one thread. `/work` computes on the worker, which is what a rayon
//! worker is for. Connections the workers have not reached yet wait in rayon's queue,
//! accepted, instead of in the kernel's accept queue: the accept loop never waits.
//!
//! **Why `connection: close`.** A worker serves one connection at a time, so a kept-alive
//! connection between its requests would hold a worker doing nothing until its timeout:
//! with one worker per core, a few idle clients would stop the server. Each answer closes
//! its connection, as gunicorn's sync workers do. For the same reason a client that
//! trickles its head holds a worker until `--header-timeout-ms` frees it: the slow-client
//! weakness for which gunicorn's documentation puts a buffering proxy in front of sync
//! workers.

use anyhow::Result;
use std::sync::Arc;
use workload::blocking::Client;
use workload::serve::{self, http1, stats, ServeArgs};
use workload::Tally;

/// Accept until SIGINT/SIGTERM, each connection a job on the pool; then let requests in
/// flight finish.
pub fn run_serve(args: &ServeArgs) -> Result<Tally> {
    let listener = serve::bind_std(args)?;
    serve::announce(
        "rayon",
        listener.local_addr()?,
        "connections handed to rayon's pool",
    )?;
    // One client shared by the workers (it is Sync), as in run_io: one connection pool,
    // behind one lock that only `cores` workers ever take.
    let client = Arc::new(Client::new(serve::BACKEND_TIMEOUT));
    let policy = http1::Policy {
        close_after_each: true,
        header_timeout: args.header_timeout(),
    };
    let backend = args.backend;
    http1::accept_loop(&listener, |stream| {
        let client = Arc::clone(&client);
        // The model: the connection becomes a job; a worker serves it to its end.
        rayon::spawn(move || {
            // A job that panics aborts the process (rayon's pool has no panic handler
            // here): a panic in a connection is caught, logged once, and closes it.
            let served = workload::catch_panic(|| {
                http1::serve_connection(stream, policy, |route| {
                    http1::answer(route, &client, backend)
                })
            });
            if let Err(why) = served {
                stats::log_once("panic", &format!("a connection's job panicked: {why}"));
            }
        });
    })?;
    // Requests in flight finish on their workers; connections still queued are not
    // requests yet, and end with the process.
    serve::drain("rayon", args.drain());
    Ok(serve::tally())
}
