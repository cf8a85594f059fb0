//! The workloads every concurrency model runs, written once.
//!
//! A model crate (`crates/models/*`) owns its concurrency: how it spawns, waits for and
//! joins N tasks. Everything that does not depend on the model lives here. Two models'
//! code then differs in the model and in one more thing the model drags in: the HTTP
//! client, because an async client is tied to its runtime's sockets and timers. The
//! blocking models share ureq ([`blocking`]: sync, threads, procs, rayon, and green on
//! may's sockets), tokio-async uses reqwest (its `fetch.rs`), and smol-async and
//! async-std-async share a bare hyper client ([`hyper_futures`]). Every client follows
//! the same policy (one deadline from connect to last byte, no proxy, no redirect, a
//! task's connection reused for its next URL) and is verified the same way ([`io`]).
//!
//! - [`cli`]: the one command line every binary accepts (`cpu`, `io`, `sleep`, `spawn`,
//!   `switch`, `mixed`, `serve`), validated before any work starts.
//! - [`cpu`]: the CPU-bound task, `base ** exp` as a big integer, verified on every run.
//! - [`io`]: the I/O-bound task's verification: status, length and checksum of every body,
//!   and the error that names the URL and the cause.
//! - [`blocking`] (feature `blocking`): the blocking `ureq` client of sync, threads, procs and
//!   rayon, which green also runs on may's sockets.
//! - [`hyper_futures`] (feature `hyper-futures`): the async hyper client that the smol and
//!   async-std models share, on their own sockets and timers (no tokio runtime).
//! - [`costs`]: what `spawn` and `switch` share: the ring of places, the token's mark at
//!   every hand-off, and the check that it went round exactly R times.
//! - [`mixed`]: the `mixed` workload's probe stream (open-loop schedule, latency from
//!   each probe's scheduled start into an HDR histogram), its step-wise CPU jobs and the
//!   variants each model offers; the model's own part is in its `pitfalls.rs`, and a model
//!   that does not offer `mixed` says why in its `main.rs`.
//! - [`serve`]: every model as an HTTP/1.1 server: the routes (`/hello`, `/work/{exp}`,
//!   `/backend/{ms}`), their answers and checks, the counters of the summary line, the
//!   stop on SIGINT/SIGTERM, a blocking connection ([`serve::http1`], feature `blocking`)
//!   and the hyper service of the async models (`serve::hyper_server`, feature
//!   `hyper-server`).
//! - [`summary`]: the tally of finished tasks and the one JSON line printed at the end.
//! - [`limits`]: the machine's limits on threads, processes, memory maps, open files and
//!   memory, checked before a run that needs many.
//! - [`budget`]: what a run will cost, predicted before it starts from the model's
//!   [`budget::Shape`]: its length against `--max-run-s`, its memory against the limits.
//! - [`oom`]: out of memory during a run is one line and exit code 3, not an abort.
//! - [`mem`]: peak memory (RSS of each process, PSS of the whole model) and threads.
//! - [`rusage`]: CPU time (user, system) of the model and its reaped worker processes.
//! - [`main`] (module `run`): the `main` every model calls: parse, time, run, print, exit.

pub mod budget;
pub mod cli;
pub mod costs;
pub mod cpu;
pub mod io;
pub mod limits;
pub mod mem;
pub mod mixed;
pub mod oom;
pub mod rusage;
pub mod serve;
pub mod summary;

#[cfg(feature = "blocking")]
pub mod blocking;

#[cfg(feature = "hyper-futures")]
pub mod hyper_futures;

mod run;

pub use cli::{Command, CpuArgs, IoArgs, MixedArgs, SpawnArgs, SwitchArgs};
pub use run::{
    catch_panic, gather, joined, main, model, record_driver, record_workers, worker_main,
};
pub use summary::{Summary, Tally};
