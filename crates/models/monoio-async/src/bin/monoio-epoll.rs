//! # monoio-epoll: monoio-async on monoio's epoll driver, measured as a model of its own
//!
//! **The model.** The same thread-per-core program as monoio-async (`../main.rs`, compiled
//! here again): a monoio runtime per core, work dealt out up front, no stealing. One thing
//! differs: the I/O driver. monoio-async asks the kernel for io_uring (completion: the
//! runtime queues the reads and writes themselves); this binary asks for monoio's legacy
//! driver, which waits on **epoll** for a socket to be ready and then makes the call, as
//! every other model here does. So `monoio-async` against `monoio-epoll` is io_uring
//! against epoll with everything else held still, on one machine, in one sweep.
//!
//! **Why a binary, not a variable.** monoio picks its driver from
//! `MONOIO_FORCE_LEGACY_DRIVER`, read once per process (`utils/uring_detect.rs`: a `Once`
//! around the first probe, when the first runtime is built). Every sweep here discovers its
//! models as the binaries of `crates/models/*` and names its rows after them; a second
//! binary puts the epoll run in every sweep, table and chart under its own name, where an
//! environment variable on the side would make two runs of `monoio-async` that no table
//! could tell apart.
//!
//! ```sh
//! target/release/monoio-epoll sleep --n 1000000 --ms 100
//! target/release/monoio-epoll io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! ```
//!
//! **What to observe.** The summary line's `driver` is `epoll` (monoio-async's is
//! `io_uring`); beside monoio-async, `system_ms` shows what waiting for readiness costs
//! in the kernel against queuing the operations themselves.

#[path = "../main.rs"]
// Its `main` is monoio-async's; this binary's is below. Everything else it uses.
#[allow(dead_code)]
mod monoio_async;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Before any runtime is built, and before any thread is started that could read the
    // environment at the same time: monoio reads this once, on its first runtime.
    std::env::set_var("MONOIO_FORCE_LEGACY_DRIVER", "1");
    monoio_async::run("monoio-epoll")
}
