//! # green: stackful coroutines on a few threads (may), Rust's gevent
//!
//! **The model.** Every task is a coroutine with its own small stack; `may` runs them all
//! on one worker thread per core. The task code is plain blocking code, as in `threads`,
//! but every wait in it (a may socket, `may::coroutine::sleep`) saves the coroutine's
//! registers, parks it, and lets the worker run another coroutine. The io client is ureq,
//! as in `threads`, with its socket swapped for may's (see `transport.rs`): the Rust
//! counterpart of gevent's `monkey.patch_all()`.
//!
//! **Who schedules the work.** may, in user space: each worker thread runs ready
//! coroutines from its queue (and steals from the others) and polls its own epoll for
//! sockets; one more thread, may's timer thread, wakes coroutines whose sleep or timeout
//! is due. A coroutine gives up its worker only when it waits on may's own primitives. A
//! blocking std call (`std::thread::sleep`, a std socket, a contended `std::sync::Mutex`,
//! a DNS lookup) pins the whole worker and every coroutine queued behind it. CPU-bound
//! coroutines never yield either; here that is fine, there is nothing else to schedule.
//!
//! **What it costs.** Per coroutine: a stack of fixed size (`STACK_BYTES`), reserved with
//! `mmap` plus a guard page, of which only touched pages use memory; no kernel thread,
//! and a switch is a register swap. may keeps a pool of 1,000 ready stacks, made at the
//! first spawn and reused as coroutines end; past that, each new coroutine maps its own.
//! The caveats: the stack cannot grow, so a deeper call chain overflows it and the
//! process dies; each stack is two kernel memory maps, so at most about 32,000 coroutines
//! can be alive at once under Linux's default `vm.max_map_count` of 65,530 (a run that
//! needs more is refused before it starts, naming the limit; may panics on a failed
//! `mmap`, and we report that too); a `thread_local!` belongs to the worker, shared by
//! every coroutine that runs on it. And a library is only cooperative if its waits go
//! through may: ureq's default resolver and its shared connection pool both block
//! threads (see `transport.rs` and `client.rs`).
//!
//! **When to pick it.** Many connections in blocking-style code you can point at may's
//! sockets, without `async`. Here cpu uses every core, as may runs one worker per core.
//! The seed article's Python gevent (one thread: on cpu no faster than its sync version):
//! cpu 2.23 s, io 6.85 s. <!-- outside: seed article -->
//!
//! ```sh
//! target/release/green cpu --n 10
//! target/release/green io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
//! target/release/green sleep --n 10000 --ms 100
//! ```
//!
//! What one coroutine costs to start (`spawn`) and to switch to (`switch`, a token handed
//! round a ring on may's channels: each hand-off wakes a parked coroutine, in user space)
//! is in `costs.rs`.
//!
//! **What to observe.** io takes about one task's time (URLs x delay) while N is small,
//! like `threads`, but on a few OS threads (`ps -L`); sleep runs 10,000 waits on one
//! worker per core where `threads` needs 10,000 kernel threads. How io and sleep grow
//! with N: results/REPORT.md, 'Scale'.
//!
//! **As a server** (`serve`, see `serve.rs`): a coroutine per connection on may's
//! sockets, kept alive; an idle connection or a request waiting on the backend is a
//! parked coroutine. `/work` is offloaded to an OS thread, as `mixed`'s `offload` is:
//! computed in the connection's coroutine it would stall its worker's other connections.
//!
//! ```sh
//! target/release/green serve --port 0 --backend 127.0.0.1:FIXTURE_PORT
//! ```
//!
//! **What blocks it.** `mixed` runs a stream of requests beside CPU jobs and reports the
//! requests' latency percentiles, with the jobs run four ways (`--variant`): `offload`
//! (a plain OS thread), `inline` (in a coroutine), `yield` (in a coroutine,
//! `may::coroutine::yield_now` between steps) and `block` (a coroutine calls
//! `std::thread::sleep`). How each is done and what to observe: [`pitfalls`].
//!
//! ```sh
//! target/release/green mixed --variant inline --url http://127.0.0.1:PORT/delay/10/bytes/1024
//! ```

mod client;
mod costs;
mod pitfalls;
mod serve;
mod transport;

use anyhow::{bail, Result};
use std::process::ExitCode;
use std::sync::Arc;
use workload::budget::{self, AtOnce, Shape};
use workload::cli::SleepArgs;
use workload::{cpu, gather, joined, Command, CpuArgs, IoArgs, Tally};

/// Every coroutine's stack, fixed for its life. may's default is 0x1000 words (32 KiB),
/// which an https handshake (the deepest of our workloads, our 16 KiB read buffer on top)
/// outgrows; may reports each coroutine's peak when the stack size is odd (see below), so
/// that is how to check the headroom. It is address space, not memory: a coroutine makes
/// resident only the pages it touches (memory per task: the report's "Memory per task").
const STACK_BYTES: usize = 128 * 1024;

/// How this model runs its tasks (every task at once, a coroutine each; a power holds its
/// worker until done): `workload::main` predicts a run's length and memory from it, and
/// refuses one over `--max-run-s` or the memory limits.
const SHAPE: Shape = Shape {
    waits: AtOnce::All,
    task: budget::COROUTINE,
    computes: AtOnce::Workers,
    compute_task: budget::COROUTINE,
    kernel_task_each: false,
    own_process: false,
    // may's pool of coroutine stacks, made at the first spawn (see on_coroutines).
    base: budget::COROUTINE.times(1_000),
    task_time: budget::COROUTINE_TIME,
};

fn main() -> ExitCode {
    // may reads its configuration when the scheduler starts, at the first spawn: set it
    // before anything else. One worker per core (may's default too, made visible here).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    may::config()
        .set_workers(cores)
        // In words, not bytes. An odd value makes may print each coroutine's stack use.
        .set_stack_size(STACK_BYTES / std::mem::size_of::<usize>());
    // may pins worker i to core i by default. Unpinned, like the threads of every other
    // model, so the kernel can move a worker off a core that another process is using.
    may::config().set_worker_pin(false);
    workload::record_workers(cores as u64);
    workload::mixed::offer(&pitfalls::OFFER);
    workload::budget::shape(SHAPE);
    workload::main("green", |command| match command {
        Command::Cpu(args) => run_cpu(args),
        Command::Io(args) => run_io(args),
        Command::Sleep(args) => run_sleep(args),
        Command::Spawn(args) => costs::run_spawn(args),
        Command::Switch(args) => costs::run_switch(args),
        Command::Mixed(args) => pitfalls::run_mixed(args),
        Command::Serve(args) => serve::run_serve(args),
    })
}

/// N powers, one coroutine each; the workers (one per core) run them side by side.
fn run_cpu(args: &CpuArgs) -> Result<Tally> {
    let (base, exp) = (args.base, args.exp);
    on_coroutines(args.n, move || cpu::task(base, exp))
}

/// N tasks, one coroutine each; a coroutine waiting on its socket frees its worker.
fn run_io(args: &IoArgs) -> Result<Tally> {
    // Every task is in flight at once, each holding a socket: one open file each.
    workload::limits::check_files(args.n, &format!("{} tasks with a socket each", args.n))?;
    let (timeout, urls) = (args.timeout(), args.urls.clone());
    // A client per coroutine, not one shared: see `client::client` for the lock it avoids.
    on_coroutines(args.n, move || client::client(timeout).download_all(&urls))
}

/// N waits, one coroutine each, on may's timer: no worker is blocked meanwhile.
fn run_sleep(args: &SleepArgs) -> Result<Tally> {
    let duration = args.duration();
    on_coroutines(args.n, move || {
        may::coroutine::sleep(duration);
        Ok::<_, anyhow::Error>(Tally::task(0, 0))
    })
}

/// The model itself: spawn one coroutine per task, then join them all.
fn on_coroutines<E>(
    n: u64,
    task: impl Fn() -> Result<Tally, E> + Send + Sync + 'static,
) -> Result<Tally>
where
    E: Into<anyhow::Error> + Send + 'static,
{
    // Each coroutine's stack is 2 memory maps, and may makes a pool of 1,000 stacks at the
    // first spawn; the scheduler starts a worker per core and a timer thread. Refuse a run
    // the machine cannot hold before starting any, naming the limit.
    workload::limits::check_maps(2 * n.max(1_000), &format!("{n} coroutine stacks"))?;
    workload::limits::check_tasks(may::config().get_workers() as u64 + 1, "may's threads")?;
    // Plain spawn needs a 'static closure, so the coroutines share the task through an
    // Arc. may::coroutine::scope would let them borrow, but its join returns T, not a
    // Result: a panicking task would panic the joiner instead of becoming an error.
    let task = Arc::new(task);
    let mut handles = Vec::with_capacity(n as usize);
    for i in 0..n {
        let task = Arc::clone(&task);
        // SAFETY: may marks spawn unsafe because the compiler cannot check two things.
        // 1. The stack is fixed: a closure that recurses or puts big arrays on the stack
        //    past STACK_BYTES hits the guard page and the process dies. Ours need less
        //    (measured with an odd stack size, see STACK_BYTES).
        // 2. A thread_local! belongs to the worker thread, not the coroutine: a reference
        //    to one held across a wait is seen by other coroutines on that worker, or
        //    points into another thread's storage after the coroutine moves. Our tasks
        //    hold no thread-local across a wait.
        // may panics where it could return an error: when a stack cannot be mapped
        // (ENOMEM, at vm.max_map_count) and when the first spawn cannot start the
        // scheduler's threads. Catch it, and end the run naming what failed.
        let spawned = workload::catch_panic(|| unsafe { may::coroutine::spawn(move || task()) });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(why) if why.contains("stack") => bail!(
                "cannot start coroutine {} of {n}: {why} (each stack is 2 memory maps: \
                 see /proc/sys/vm/max_map_count)",
                i + 1
            ),
            Err(why) => bail!(
                "cannot start coroutine {} of {n}: {why}; see {}",
                i + 1,
                workload::limits::hint()
            ),
        }
    }
    // Join every coroutine from the main thread (it parks until each is done). A panic
    // inside a coroutine is caught by may and comes back here as Err, not as an abort.
    gather(handles.into_iter().map(|h| joined(h.join())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task that panics ends as an error from its join, not as an abort of the process.
    #[test]
    fn a_panicking_coroutine_is_an_error() {
        let err = on_coroutines(2, || -> Result<Tally> { panic!("on purpose") }).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "2 of 2 tasks failed; the first: a task panicked"
        );
    }
}
