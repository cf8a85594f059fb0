//! Memory and threads of the whole model, as the kernel counts them.
//!
//! Two figures, because they answer different questions:
//!
//! - **Peak RSS** ([`peak_rss_bytes`]): the high-water mark of the pages resident in this
//!   process (`VmHWM` in `/proc/self/status`). It counts every page the process can touch,
//!   shared ones included: the binary's code and libc count in full in every process that
//!   maps them. Summed over the 1,000 workers of `procs`, it counts the same code 1,000
//!   times. (`getrusage`'s `ru_maxrss` would be worse still: the kernel carries it across
//!   `exec`, so a process started by a bigger one inherits that one's peak.)
//! - **Proportional memory, PSS** ([`Sampler`]): each page divided by the number of
//!   processes that map it (`Pss` in `/proc/<pid>/smaps_rollup`), summed over the model's
//!   processes. A page shared by 1,000 workers counts 1/1,000 in each, once in the sum:
//!   this is what the model really adds to the machine. The kernel keeps no peak of it, so
//!   a sampler thread reads it while the tasks run and keeps the largest sum.
//!
//! The sampler also keeps the largest number of OS threads the model's processes ran at
//! once (`Threads` in `/proc/<pid>/status`, not counting the sampler itself): a runtime's
//! workers, its blocking pool, or one thread per task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Peak resident set size of this process since it started (`VmHWM`), in bytes.
pub fn peak_rss_bytes() -> u64 {
    status_field("/proc/self/status", "VmHWM:").unwrap_or(0)
}

/// Other processes of this model whose memory and threads count with ours (procs' workers).
/// A process is tracked from its start until it has been reaped.
static TRACKED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Count `pid` (a worker process this model started) in the model's memory and threads.
pub fn track(pid: u32) {
    lock_tracked().push(pid);
}

/// Stop counting `pid` (it has exited and been reaped).
pub fn untrack(pid: u32) {
    lock_tracked().retain(|&p| p != pid);
}

fn lock_tracked() -> std::sync::MutexGuard<'static, Vec<u32>> {
    // The list holds plain pids: a panic elsewhere cannot leave it inconsistent.
    TRACKED.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the sampler saw: the largest sums over the model's processes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Peaks {
    /// Largest sum of PSS over this process and every tracked one, in bytes.
    pub pss_bytes: u64,
    /// Largest sum of OS threads over the same processes, the sampler's own excluded.
    pub threads: u64,
}

/// Reads the model's PSS and thread count on its own thread while the workload runs.
///
/// Threads are counted every 10 ms while that is cheap (one `/proc/<pid>/status` per
/// process). Reading `smaps_rollup` walks every memory map of a process (thousands for
/// thousands of thread or coroutine stacks), so PSS is read at a pace of its own: after a
/// reading that took `t`, the next one comes `max(10 ms, 20 t)` later, which keeps it under
/// 5% of one core. Threads are paced the same way, for thousands of processes (see
/// [`sample_until`]): the whole sampler stays under 10% of one core.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    peaks: Arc<Mutex<Peaks>>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Start sampling now (one sample is taken before this returns).
    pub fn start() -> Sampler {
        Sampler::start_every(TICK)
    }

    /// The same at a slower pace: at most one sample per `tick`. A server runs for minutes
    /// and its CPU per request is measured: sampling it every 10 ms would be a cost of its
    /// own in that figure (an idle tokio-async server spent 2% of a core on it).
    pub fn start_every(tick: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks = Arc::new(Mutex::new(Peaks::default()));
        sample_into(&peaks, Sample::All);
        let (stop2, peaks2) = (Arc::clone(&stop), Arc::clone(&peaks));
        let thread = sampler_wanted()
            .then(|| {
                std::thread::Builder::new()
                    .name("mem-sampler".into())
                    .spawn(move || {
                        sample_until(&stop2, tick.max(TICK), |what| sample_into(&peaks2, what));
                    })
                    // Without a thread (at a thread limit) the run still goes on: the start
                    // and end samples below still bound the figure from below.
                    .ok()
            })
            .flatten();
        Sampler {
            stop,
            peaks,
            thread,
        }
    }

    /// Take a last sample, stop the thread, and return the peaks seen. A burst that fell
    /// between two samples is still counted for this process: see [`own_peak_pss`].
    pub fn finish(mut self) -> Peaks {
        sample_into(&self.peaks, Sample::All);
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
        let mut peaks = *self.peaks.lock().unwrap_or_else(|e| e.into_inner());
        peaks.pss_bytes = peaks.pss_bytes.max(own_peak_pss().unwrap_or(0));
        peaks
    }
}

/// `WORKLOAD_SAMPLER=off` in a model's environment: no sampler thread, only the samples
/// at the start and the end of the run, so its peaks are lower bounds. For runs that
/// measure the model itself rather than its memory: `benchkit syscalls` counts every
/// system call of the model's process, and the sampler's reads of /proc (thousands a
/// second at its 10 ms pace) would be counted as the model's.
pub const SAMPLER_ENV: &str = "WORKLOAD_SAMPLER";

/// Whether the sampler thread runs: unless [`SAMPLER_ENV`] says `off`.
fn sampler_wanted() -> bool {
    std::env::var_os(SAMPLER_ENV).is_none_or(|v| v != "off")
}

/// The sampler's pace: one sample per [`TICK`] at most.
const TICK: Duration = Duration::from_millis(10);

/// The sampler's loop, until `stop`: `sample` takes one sample and says how long it took.
/// Each kind of sample waits twenty times its own length before the next one of its kind
/// (at least a `tick`, [`TICK`] for a workload): each kind stays under 5% of one core however many processes it
/// reads. Threads once came every tick whatever a sample cost: with the 6,000 workers of
/// `procs switch --n 6000` a threads sample (6,000 `status` files) took longer than its
/// tick, and the sampler took a whole core from the parent that was starting them.
fn sample_until(stop: &AtomicBool, tick: Duration, mut sample: impl FnMut(Sample) -> Duration) {
    let mut next_pss = Instant::now();
    let mut next_threads = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(tick);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now = Instant::now();
        if now >= next_pss {
            // A PSS sample reads the threads too.
            let pace = (sample(Sample::All) * 20).max(tick);
            next_pss = Instant::now() + pace;
            next_threads = next_threads.max(Instant::now() + tick);
        } else if now >= next_threads {
            next_threads = Instant::now() + (sample(Sample::Threads) * 20).max(tick);
        }
    }
}

/// What one sample reads: threads only, or PSS too.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sample {
    Threads,
    All,
}

/// One sample: add up threads (and PSS) over the model's processes, keep the largest, and
/// return how long it took.
fn sample_into(peaks: &Mutex<Peaks>, what: Sample) -> Duration {
    let started = Instant::now();
    let tracked = lock_tracked().clone();
    let pids = || std::iter::once("self".to_string()).chain(tracked.iter().map(u32::to_string));
    // The sampler's own thread is not the model's (when it runs; see Sampler::start).
    let threads = pids()
        .map(|pid| live_threads(&format!("/proc/{pid}/status")))
        .sum::<u64>()
        .saturating_sub(1)
        .max(1);
    let pss = (what == Sample::All).then(|| {
        pids()
            .map(|pid| pss_bytes(&format!("/proc/{pid}/smaps_rollup")).unwrap_or(0))
            .sum::<u64>()
    });
    let mut p = peaks.lock().unwrap_or_else(|e| e.into_inner());
    p.threads = p.threads.max(threads);
    p.pss_bytes = p.pss_bytes.max(pss.unwrap_or(0));
    started.elapsed()
}

/// This process's peak PSS, known without sampling. Its peak RSS is exact (`VmHWM`), and
/// its PSS differs from its RSS only by the pages it shares with other processes (the
/// binary's code, libc: counted whole in RSS, divided in PSS), which hardly change during
/// a run. So `VmHWM - (VmRSS - Pss)`, read at the end, is its peak PSS, also when the peak
/// was a burst shorter than the sampler's pace (10,000 threads that each live 100 ms).
fn own_peak_pss() -> Option<u64> {
    let hwm = status_field("/proc/self/status", "VmHWM:")?;
    let rss = status_field("/proc/self/status", "VmRSS:")?;
    let pss = pss_bytes("/proc/self/smaps_rollup")?;
    Some(hwm.saturating_sub(rss.saturating_sub(pss)))
}

/// `Threads:` of a process that still runs; a worker that has exited and waits to be
/// reaped (a zombie, `State: Z`) still shows one thread, but runs none.
fn live_threads(status_path: &str) -> u64 {
    let Ok(text) = std::fs::read_to_string(status_path) else {
        return 0;
    };
    let zombie = text
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .is_some_and(|state| state.trim_start().starts_with('Z'));
    if zombie {
        0
    } else {
        kib_field(&text, "Threads:").unwrap_or(0)
    }
}

/// `Pss:` of a `smaps_rollup` file, in bytes.
fn pss_bytes(path: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    kib_field(&text, "Pss:")
}

/// A `Key:   123 kB` (or bare count) field of a `/proc` status file: bytes for kB values.
fn status_field(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    kib_field(&text, key)
}

fn kib_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let mut words = line[key.len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    Some(match words.next() {
        Some("kB") => value * 1024,
        _ => value,
    })
}

/// Raise this process's open-file limit to its hard limit, so that thousands of sockets
/// fit. Returns the (soft, hard) limit in force afterwards.
pub fn raise_nofile_limit() -> (u64, u64) {
    // SAFETY: get/setrlimit read and write the struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return (0, 0);
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
        (lim.rlim_cur as u64, lim.rlim_max as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_grows_with_touched_memory() {
        let before = peak_rss_bytes();
        assert!(before > 0);
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        assert!(
            peak_rss_bytes() >= before.max(64 << 20),
            "64 MiB touched but peak is {}",
            peak_rss_bytes()
        );
    }

    #[test]
    fn fields_are_read_in_bytes_or_as_counts() {
        let text = "Name:\tx\nVmHWM:\t    2024 kB\nThreads:\t7\n";
        assert_eq!(kib_field(text, "VmHWM:"), Some(2024 * 1024));
        assert_eq!(kib_field(text, "Threads:"), Some(7));
        assert_eq!(kib_field(text, "Pss:"), None);
    }

    /// The sampler sees memory that exists only while it runs, and threads started meanwhile.
    #[test]
    fn the_sampler_keeps_the_largest_pss_and_thread_count() {
        let sampler = Sampler::start();
        let block = vec![1u8; 48 << 20];
        std::hint::black_box(&block);
        let sleepers: Vec<_> = (0..5)
            .map(|_| std::thread::spawn(|| std::thread::sleep(Duration::from_millis(200))))
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        drop(block);
        sleepers.into_iter().for_each(|t| t.join().unwrap());
        let peaks = sampler.finish();
        assert!(peaks.pss_bytes >= 48 << 20, "{peaks:?}");
        // The test harness runs other tests on threads of its own: at least our five more.
        assert!(peaks.threads >= 6, "{peaks:?}");
    }

    /// A sample that is slow (thousands of processes to read) is taken less often: the
    /// sampler stays under 10% of one core. Each sample here takes 5 ms, half a tick: at
    /// one threads sample per tick the sampler was busy a third of the time.
    #[test]
    fn slow_samples_are_paced_to_a_small_share_of_a_core() {
        let stop = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(Mutex::new(Duration::ZERO));
        let (stop2, busy2) = (Arc::clone(&stop), Arc::clone(&busy));
        let started = Instant::now();
        let sampler = std::thread::spawn(move || {
            sample_until(&stop2, TICK, |_| {
                std::thread::sleep(Duration::from_millis(5));
                *busy2.lock().unwrap() += Duration::from_millis(5);
                Duration::from_millis(5)
            })
        });
        std::thread::sleep(Duration::from_millis(600));
        stop.store(true, Ordering::Relaxed);
        sampler.join().unwrap();
        let share = busy.lock().unwrap().as_secs_f64() / started.elapsed().as_secs_f64();
        assert!(
            share < 0.10,
            "the sampler was busy {:.0}% of the time",
            share * 100.0
        );
        assert!(*busy.lock().unwrap() > Duration::ZERO, "no sample taken");
    }

    /// Memory touched and given back between two samples still counts in the peak.
    #[test]
    fn a_burst_between_samples_counts_in_the_peak_pss() {
        let block = vec![1u8; 96 << 20];
        std::hint::black_box(&block);
        drop(block); // a large block goes back to the kernel: RSS falls, VmHWM stays
        let peak = own_peak_pss().unwrap();
        let now = pss_bytes("/proc/self/smaps_rollup").unwrap();
        assert!(peak >= 96 << 20, "peak PSS {peak}");
        assert!(peak > now + (64 << 20), "peak {peak} now {now}");
    }

    /// PSS and threads of one process, as a sample reads them.
    fn totals(pid: u32) -> (u64, u64) {
        (
            pss_bytes(&format!("/proc/{pid}/smaps_rollup")).unwrap_or(0),
            live_threads(&format!("/proc/{pid}/status")),
        )
    }

    /// A child process is counted by its pid, and only while it is tracked.
    #[test]
    fn a_tracked_child_counts_its_own_pss_and_threads() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let pid = child.id();
        std::thread::sleep(Duration::from_millis(50));
        let (pss, threads) = totals(pid);
        track(pid);
        let listed = lock_tracked().contains(&pid);
        untrack(pid);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(pss > 0 && threads == 1, "pss {pss} threads {threads}");
        assert!(listed && !lock_tracked().contains(&pid));
        // Exited but not yet reaped: no thread runs in a zombie.
        let mut quick = std::process::Command::new("true").spawn().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            live_threads(&format!("/proc/{}/status", quick.id())),
            0,
            "a zombie"
        );
        quick.wait().unwrap();
        assert_eq!(totals(pid), (0, 0), "a reaped child counts nothing");
    }

    #[test]
    fn nofile_limit_ends_at_the_hard_limit() {
        let (soft, hard) = raise_nofile_limit();
        assert!(soft > 0 && soft == hard, "soft {soft} hard {hard}");
    }
}
