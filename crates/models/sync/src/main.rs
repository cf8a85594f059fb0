//! # sync: one thing after another (the baseline)
//!
//! **The model.** One thread does every task in turn: the next power starts when the last
//! one is done, the next download when the last body has arrived. There is no concurrency
//! at all, which is what makes it the baseline every other model is compared to.
//!
//! **Who schedules the work.** Nobody: program order. Each blocking call (a socket read, a
//! sleep) parks the one thread in the kernel, and nothing else runs meanwhile.
//!
//! **What it costs.** Nothing beyond the work itself: one thread, one connection at a time,
//! nothing allocated per task. Time is the sum of every task's time: N waits of D ms are
//! N x D ms of wall time.
//!
//! **When to pick it.** When there is one thing to do, or when the things must happen in
//! order anyway. The seed article's Python sync version:
//! cpu 2.18 s, io 31.4 s. <!-- outside: seed article -->
//!
//! ```sh
//! target/release/sync cpu --n 10
//! target/release/sync io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! ```
//!
//! `spawn` and `switch` (what one task costs, see `costs.rs`) exit 2 here: sync starts no
//! tasks and has no second one to hand a token to.
//!
//! **As a server** (`serve`, see `serve.rs`): one connection at a time, each closed after
//! its answer; every other client waits in the accept queue meanwhile.
//!
//! ```sh
//! target/release/sync serve --port 0 --backend 127.0.0.1:FIXTURE_PORT
//! ```
//!
//! **What to observe.** cpu takes N times one power; io takes N x URLs x the server delay.
//! Diff this file against another model's `main.rs`: what differs is the model, and for
//! the async models the HTTP client their runtime needs (see the `workload` crate's doc).
//!
//! **No `mixed`.** The workload that runs requests beside CPU jobs needs something that
//! runs them side by side; sync has nothing, and its requests would queue one after
//! another, which io already shows: refused before any work (exit 2), with the reason in
//! [`NO_MIXED`].

mod costs;
mod serve;

use anyhow::{bail, Result};
use std::process::ExitCode;
use workload::blocking::Client;
use workload::budget::{self, AtOnce, Shape};
use workload::cli::SleepArgs;
use workload::mixed::Offer;
use workload::{cpu, Command, CpuArgs, IoArgs, Tally};

/// Why `mixed` is refused before any work, with exit code 2 (`sync mixed --help` says it).
const NO_MIXED: &str = "sync has no scheduler: nothing runs beside a job, and its probes would \
    queue one after another (the io workload already shows that); see threads for the baseline";

/// How this model runs its tasks (one task at a time, on this thread): `workload::main`
/// predicts a run's length and memory from it, and refuses one over `--max-run-s` or the
/// memory limits.
const SHAPE: Shape = Shape {
    waits: AtOnce::One,
    task: budget::NOTHING,
    computes: AtOnce::One,
    compute_task: budget::NOTHING,
    base: budget::NOTHING,
    kernel_task_each: false,
    own_process: false,
    task_time: budget::CALL_TIME,
};

fn main() -> ExitCode {
    workload::mixed::offer(&Offer::NotOffered(NO_MIXED));
    workload::budget::shape(SHAPE);
    workload::main("sync", |command| match command {
        Command::Cpu(args) => run_cpu(args),
        Command::Io(args) => run_io(args),
        Command::Sleep(args) => run_sleep(args),
        Command::Spawn(args) => costs::run_spawn(args),
        Command::Switch(args) => costs::run_switch(args),
        // Not reached: the offer above refuses `mixed` before the run starts.
        Command::Mixed(_) => bail!("mixed is not offered here: {NO_MIXED}"),
        Command::Serve(args) => serve::run_serve(args),
    })
}

/// N powers, one after another, on this thread.
fn run_cpu(args: &CpuArgs) -> Result<Tally> {
    let mut total = Tally::default();
    for _ in 0..args.n {
        total += cpu::task(args.base, args.exp)?;
    }
    Ok(total)
}

/// N tasks, one after another; each downloads its URLs in turn. The first failure stops
/// the run: there is nothing running beside it to wait for.
fn run_io(args: &IoArgs) -> Result<Tally> {
    // One client, so every request after the first reuses the keep-alive connection.
    let client = Client::new(args.timeout());
    let mut total = Tally::default();
    for _ in 0..args.n {
        total += client.download_all(&args.urls)?;
    }
    Ok(total)
}

/// N waits, one after another: N x MS of wall time, by design.
fn run_sleep(args: &SleepArgs) -> Result<Tally> {
    let mut total = Tally::default();
    for _ in 0..args.n {
        std::thread::sleep(args.duration());
        total += Tally::task(0, 0);
    }
    Ok(total)
}
