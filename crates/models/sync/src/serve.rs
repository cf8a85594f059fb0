//! serve in sync: one connection at a time, on this one thread.
//!
//! The thread accepts a connection, reads its request, answers it and closes it, then
//! accepts the next. Meanwhile every other client waits in the kernel's accept queue: a
//! `/backend/50` request holds the whole server for 50 ms, so it answers at most 20 such
//! requests a second (Little's law: 1 worker / 50 ms). Each answer says `connection:
//! close`, as gunicorn's sync workers do: a kept-alive idle connection would hold the
//! only thread until its timeout. For the same reason a client that trickles its head
//! holds the server until `--header-timeout-ms` frees it: the slow-client weakness for
//! which gunicorn's documentation puts a buffering proxy in front of sync workers.

use anyhow::Result;
use workload::blocking::Client;
use workload::serve::{self, http1, ServeArgs};
use workload::Tally;

/// Accept, serve to the end, close; again, until SIGINT/SIGTERM.
pub fn run_serve(args: &ServeArgs) -> Result<Tally> {
    let listener = serve::bind_std(args)?;
    serve::announce("sync", listener.local_addr()?, "one connection at a time")?;
    // One client: its keep-alive connection to the backend serves every request in turn.
    let client = Client::new(serve::BACKEND_TIMEOUT);
    let policy = http1::Policy {
        close_after_each: true,
        header_timeout: args.header_timeout(),
    };
    http1::accept_loop(&listener, |stream| {
        // The model: this thread serves the connection to its end before the next accept.
        http1::serve_connection(stream, policy, |route| {
            http1::answer(route, &client, args.backend)
        });
    })?;
    Ok(serve::tally())
}
