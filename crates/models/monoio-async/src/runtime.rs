//! One monoio runtime per core: started here, each on a thread of its own, each given
//! its share of the work up front; which I/O driver they run on; and the blocking pool.
//!
//! monoio has no multi-thread runtime to hand work to: a `Runtime` is a thread's own
//! executor and driver. So `on_cores` is the model's `#[tokio::main]`: it starts C
//! threads, builds a runtime on each (`RuntimeBuilder::<FusionDriver>`: io_uring if the
//! kernel offers it, else epoll) and `block_on`s that core's future, then joins them.

use anyhow::{anyhow, Context, Result};
use monoio::blocking::{BlockingTask, ThreadPool};
use monoio::{FusionDriver, FusionRuntime, RuntimeBuilder};
use std::future::Future;
use std::sync::Once;

/// The cores this process may run on (its CPU affinity, as every runtime here counts them).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// N tasks dealt out to the cores: core i gets every C-th, so shares differ by one at most.
pub fn shares(n: u64) -> Vec<u64> {
    let c = cores() as u64;
    (0..c).map(|i| n / c + u64::from(i < n % c)).collect()
}

/// Start a runtime per input (one per core), run `core(input)` to its end on it, and
/// return each core's output. A core whose thread or runtime could not start, or whose
/// task panicked, fails the run with one line.
pub fn on_cores<I, T, F>(inputs: Vec<I>, core: impl Fn(I) -> F + Sync) -> Result<Vec<T>>
where
    I: Send,
    T: Send,
    F: Future<Output = T>,
{
    std::thread::scope(|scope| {
        let core = &core;
        let threads: Vec<_> = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| {
                std::thread::Builder::new()
                    .name(format!("monoio-core-{i}"))
                    .spawn_scoped(scope, move || -> Result<T> {
                        let mut runtime = build()?;
                        // block_on: this thread drives the core's future and every task it
                        // spawns; it returns when the future is done (its tasks joined).
                        // `core` is called inside it: monoio::spawn needs the runtime set.
                        Ok(runtime.block_on(async move { core(input).await }))
                    })
                    .context("cannot start a core's thread")
            })
            .collect();
        // Every thread joined before any error is looked at: one left unjoined would make
        // the scope itself panic.
        let joined: Vec<Result<T>> = threads
            .into_iter()
            .map(|thread| match thread?.join() {
                Ok(result) => result,
                Err(_) => Err(anyhow!("a task panicked")),
            })
            .collect();
        joined.into_iter().collect()
    })
}

type Runtime = FusionRuntime<
    monoio::time::TimeDriver<monoio::IoUringDriver>,
    monoio::time::TimeDriver<monoio::LegacyDriver>,
>;

/// This core's runtime: io_uring where the kernel offers it (monoio probes once, and reads
/// MONOIO_FORCE_LEGACY_DRIVER), else epoll; a timer; our blocking pool.
fn build() -> Result<Runtime> {
    let runtime = RuntimeBuilder::<FusionDriver>::new()
        .enable_timer()
        .attach_thread_pool(Box::new(ThreadPerJob))
        .build()
        .map_err(|e| match e.raw_os_error() {
            // io_uring_setup: the rings' pages are locked memory, counted against
            // RLIMIT_MEMLOCK on kernels before 5.12.
            Some(ENOBUFS) => anyhow!(
                "cannot start monoio's io_uring driver: {e}: the locked-memory limit ({}) is \
                 too low for its rings; raise it (ulimit -l) or run on epoll \
                 (MONOIO_FORCE_LEGACY_DRIVER=1)",
                memlock()
            ),
            _ => anyhow!("cannot start the monoio runtime: {e}"),
        })?;
    record(&runtime);
    Ok(runtime)
}

const ENOBUFS: i32 = 105;

/// `ulimit -l` as the kernel sees it, for the message above.
fn memlock() -> String {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))
        .map(|l| {
            let soft = l.split_whitespace().nth(3).unwrap_or("?");
            match soft.parse::<u64>() {
                Ok(bytes) => format!("ulimit -l {} KiB", bytes / 1024),
                Err(_) => format!("ulimit -l {soft}"),
            }
        })
        .unwrap_or_else(|| "ulimit -l".into())
}

/// Name the driver in the summary line, once; and say so if io_uring was wanted (not
/// forced off) but monoio fell back to epoll.
fn record(runtime: &Runtime) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let driver = match runtime {
            FusionRuntime::Uring(_) => "io_uring",
            FusionRuntime::Legacy(_) => "epoll",
        };
        workload::record_driver(driver);
        if driver == "epoll" && !forced_legacy() {
            eprintln!(
                "{}: io_uring is not available here (kernel.io_uring_disabled, a \
                 seccomp profile such as Docker's default, or a kernel before 5.6): running \
                 on monoio's epoll driver",
                workload::model()
            );
        }
    });
}

/// Whether MONOIO_FORCE_LEGACY_DRIVER asks for epoll, read as monoio 0.2.4 reads it
/// (utils/uring_detect.rs: "1", "true" or "yes", any case).
fn forced_legacy() -> bool {
    std::env::var("MONOIO_FORCE_LEGACY_DRIVER")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

/// The blocking pool behind `monoio::spawn_blocking`: a thread per job. monoio offers a
/// fixed-size pool (`DefaultThreadPool`, all its threads started at once); tokio's pool
/// grows a thread per waiting job (up to 512), so N powers run on N threads there, and
/// here too. A thread that cannot start drops its job, which its task sees as cancelled.
struct ThreadPerJob;

impl ThreadPool for ThreadPerJob {
    fn schedule_task(&self, task: BlockingTask) {
        let _ = std::thread::Builder::new()
            .name("monoio-blocking".into())
            .spawn(move || task.run());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_differ_by_one_at_most() {
        for n in [0, 1, 7, 1000] {
            let s = shares(n);
            assert_eq!(s.iter().sum::<u64>(), n);
            assert!(s.iter().max().unwrap() - s.iter().min().unwrap() <= 1);
        }
    }
}
