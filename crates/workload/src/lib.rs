//! The workloads every concurrency model runs, written once.
//!
//! A model crate (`crates/models/*`) owns only its concurrency: how it spawns, waits for and
//! joins N tasks. Everything that does not depend on the model lives here, so that two
//! models differ in nothing but the model:
//!
//! - [`cli`]: the one command line every binary accepts (`cpu`, `io`, `sleep`, `mixed`), validated
//!   before any work starts.
//! - [`cpu`]: the CPU-bound task, `base ** exp` as a big integer, verified on every run.
//! - [`io`]: the I/O-bound task's verification: status, length and checksum of every body,
//!   and the error that names the URL and the cause.
//! - [`blocking`] (feature `blocking`): the blocking `ureq` client of sync, threads, procs and
//!   rayon, which green also runs on may's sockets.
//! - [`hyper_futures`] (feature `hyper-futures`): the async hyper client that the smol and
//!   async-std models share, on their own sockets and timers (no tokio runtime).
//! - [`mixed`]: the `mixed` workload's probe stream (open-loop schedule, latency from
//!   each probe's scheduled start into an HDR histogram), its step-wise CPU jobs and the
//!   variants each model offers; the model's own part is in its `pitfalls.rs`.
//! - [`summary`]: the tally of finished tasks and the one JSON line printed at the end.
//! - [`mem`]: peak memory (RSS of each process, PSS of the whole model) and threads.
//! - [`run`]: the `main` every model calls: parse, time, run, print, exit.

pub mod cli;
pub mod cpu;
pub mod io;
pub mod mem;
pub mod mixed;
pub mod summary;

#[cfg(feature = "blocking")]
pub mod blocking;

#[cfg(feature = "hyper-futures")]
pub mod hyper_futures;

mod run;

pub use cli::{Command, CpuArgs, IoArgs, MixedArgs};
pub use run::{gather, joined, main, record_workers, worker_main};
pub use summary::{Summary, Tally};
