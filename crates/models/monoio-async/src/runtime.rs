//! One monoio runtime per core: started here, each on a thread of its own, each given
//! its share of the work up front; which I/O driver they run on; and the blocking pool.
//!
//! monoio has no multi-thread runtime to hand work to: a `Runtime` is a thread's own
//! executor and driver. So `on_cores` is the model's `#[tokio::main]`: it starts C
//! threads, builds a runtime on each (`RuntimeBuilder::<FusionDriver>`: io_uring if the
//! kernel offers it, else epoll), lets them start together once all are built, and
//! `block_on`s each core's future, then joins them.

use anyhow::{anyhow, Context, Result};
use monoio::blocking::{BlockingTask, ThreadPool};
use monoio::{FusionDriver, FusionRuntime, RuntimeBuilder};
use std::future::Future;
use std::sync::{Condvar, Mutex, MutexGuard, Once, PoisonError};

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
    on_cores_after(inputs, || Ok(()), core)
}

/// [`on_cores`], with `ready` called on this thread once every core's runtime is built
/// and before any core runs: serve announces its address there. No core starts before
/// all can: work dealt out up front starts together, and a server's first clients never
/// meet a core that is still making its ring (out of file descriptors by then, the ring
/// could not be made at all).
pub fn on_cores_after<I, T, F>(
    inputs: Vec<I>,
    ready: impl FnOnce() -> Result<()>,
    core: impl Fn(I) -> F + Sync,
) -> Result<Vec<T>>
where
    I: Send,
    T: Send,
    F: Future<Output = T>,
{
    let gate = Gate::default();
    std::thread::scope(|scope| {
        let (core, gate) = (&core, &gate);
        let threads: Vec<_> = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| {
                std::thread::Builder::new()
                    .name(format!("monoio-core-{i}"))
                    .spawn_scoped(scope, move || -> Result<Option<T>> {
                        let built = build();
                        if !gate.arrive(built.is_ok()) {
                            // Another core (or `ready`) failed: this one never starts.
                            return built.map(|_| None);
                        }
                        let mut runtime = built?;
                        // block_on: this thread drives the core's future and every task it
                        // spawns; it returns when the future is done (its tasks joined).
                        // `core` is called inside it: monoio::spawn needs the runtime set.
                        Ok(Some(runtime.block_on(async move { core(input).await })))
                    })
                    .context("cannot start a core's thread")
            })
            .collect();
        let started = threads.iter().filter(|t| t.is_ok()).count();
        let built = gate.all_arrived(started) && started == threads.len();
        let ready = if built { ready() } else { Ok(()) };
        gate.open(built && ready.is_ok());
        let joined: Vec<Result<Option<T>>> = threads
            .into_iter()
            .map(|thread| match thread?.join() {
                Ok(result) => result,
                Err(_) => Err(anyhow!("a task panicked")),
            })
            .collect();
        ready?;
        let mut outputs = Vec::with_capacity(joined.len());
        for output in joined {
            outputs.extend(output?);
        }
        Ok(outputs)
    })
}

/// Where the cores' threads meet before any of them starts: each says whether its
/// runtime was built, then waits for the word to go (or to stop).
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    arrived: usize,
    failed: bool,
    go: Option<bool>,
}

impl Gate {
    /// A core's thread: say whether its runtime was built; then wait for the word.
    fn arrive(&self, built: bool) -> bool {
        let mut state = self.lock();
        state.arrived += 1;
        state.failed |= !built;
        self.changed.notify_all();
        let state = self
            .changed
            .wait_while(state, |s| s.go.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        state.go == Some(true)
    }

    /// The starting thread: wait until `threads` cores have arrived; whether every one
    /// built its runtime.
    fn all_arrived(&self, threads: usize) -> bool {
        let state = self
            .changed
            .wait_while(self.lock(), |s| s.arrived < threads)
            .unwrap_or_else(PoisonError::into_inner);
        !state.failed
    }

    /// The word: go, or stop.
    fn open(&self, go: bool) {
        self.lock().go = Some(go);
        self.changed.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
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
