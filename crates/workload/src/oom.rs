//! Out of memory in the middle of a run: one line and exit code 3, never an abort.
//!
//! Rust's default reaction to a failed allocation is `handle_alloc_error`: it prints
//! "memory allocation of N bytes failed" and aborts (exit 134), and when several threads
//! fail at once their messages interleave, or a runtime's destructor panics on top of it.
//! The stable way to change that (`std::alloc::set_alloc_error_hook` is unstable in the
//! Rust we build with) is the global allocator itself: [`System`], wrapped so that an
//! allocation that returns null writes one line naming the model and the size, with
//! `write(2)` (it must not allocate), and ends the process with `_exit(3)` (no destructor,
//! no atexit handler: nothing that could allocate or wait). Only the first thread to fail
//! writes; any other that fails meanwhile waits for the exit.
//!
//! Every failed allocation ends the run, including a fallible one (`try_reserve`): std's
//! `fs::read` and `read_to_end` use them and would return an error instead. In these
//! binaries a run that cannot allocate cannot be measured either way, and the one line
//! names the real cause. Among our dependencies, no other caller of `try_reserve` recovers
//! from a failed allocation (http's `try_reserve` is a size cap, not an allocation).
//!
//! With `WORKLOAD_FAULT=out-of-memory` in its environment ([`crate::cpu::FAULT_ENV`]), a
//! model's every allocation of 1 MiB or more fails once the run has started: how the
//! end-to-end tests drive this path from real allocation sites in every thread at once
//! (`threads cpu`'s powers), as `wrong-power` drives the verification's.
//!
//! The run is checked against the memory limits before it starts
//! ([`crate::limits::check_memory`]): this is for what those estimates miss.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// Exit code of a run that ran out of memory (documented with `workload::main`'s).
pub const EXIT_OUT_OF_MEMORY: i32 = 3;

/// [`System`], ending the process in one line when it cannot allocate.
pub struct ExitOnOom;

#[global_allocator]
static ALLOCATOR: ExitOnOom = ExitOnOom;

/// The model's name for the line (its bytes and length), set by `workload::main`.
static MODEL: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static MODEL_LEN: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicBool = AtomicBool::new(false);
/// Set by [`plant_fault`]: allocations of [`FAULT_BYTES`] or more fail.
static FAULT: AtomicBool = AtomicBool::new(false);
const FAULT_BYTES: usize = 1 << 20;

/// Arm the `out-of-memory` fault if the environment asks for it (see the module's header).
pub(crate) fn plant_fault() {
    if std::env::var(crate::cpu::FAULT_ENV).is_ok_and(|v| v == "out-of-memory") {
        FAULT.store(true, Ordering::Relaxed);
    }
}

fn faulty(size: usize) -> bool {
    size >= FAULT_BYTES && FAULT.load(Ordering::Relaxed)
}

/// Name the model in the out-of-memory line.
pub(crate) fn set_model(model: &'static str) {
    MODEL_LEN.store(model.len(), Ordering::Release);
    MODEL.store(model.as_ptr().cast_mut(), Ordering::Release);
}

// SAFETY: every method hands the call to System unchanged; only a null result is
// handled, by ending the process.
unsafe impl GlobalAlloc for ExitOnOom {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if faulty(layout.size()) {
            out_of_memory(layout.size());
        }
        checked(unsafe { System.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if faulty(layout.size()) {
            out_of_memory(layout.size());
        }
        checked(unsafe { System.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if faulty(new_size) {
            out_of_memory(new_size);
        }
        checked(unsafe { System.realloc(ptr, layout, new_size) }, new_size)
    }
}

fn checked(ptr: *mut u8, size: usize) -> *mut u8 {
    if ptr.is_null() {
        out_of_memory(size);
    }
    ptr
}

#[cold]
fn out_of_memory(size: usize) -> ! {
    if FAILED.swap(true, Ordering::AcqRel) {
        // Another thread is writing the line and exiting: wait for it.
        loop {
            // SAFETY: pause only waits for a signal.
            unsafe { libc::pause() };
        }
    }
    let model = MODEL.load(Ordering::Acquire);
    // SAFETY: MODEL is null or the start of a &'static str of MODEL_LEN bytes (set_model
    // stores the length first).
    let model: &[u8] = match model.is_null() {
        true => b"model",
        false => unsafe { std::slice::from_raw_parts(model, MODEL_LEN.load(Ordering::Acquire)) },
    };
    let mut line = Line::default();
    line.push(model);
    line.push(b": error: out of memory: an allocation of ");
    line.number(size as u64);
    line.push(b" bytes failed (see ulimit -v and MemAvailable); exit code 3\n");
    // SAFETY: write and _exit are async-signal-safe and allocate nothing; the buffer is ours.
    unsafe {
        libc::write(2, line.buf.as_ptr().cast(), line.len);
        libc::_exit(EXIT_OUT_OF_MEMORY);
    }
}

/// Under an address-space limit (`ulimit -v`), make glibc's malloc keep one arena for every
/// thread. By default each new thread that allocates reserves an arena of 64 MiB of
/// address space; under a limit that reservation fails, and glibc then tries again on
/// every allocation of that thread and serves each with an mmap of its own: a run of
/// seconds took minutes (threads cpu --n 4 --exp 1000000 under a limit of 60 MB). One
/// shared arena costs some lock contention, only when a limit is set. Called by
/// `workload::main` before any thread starts.
pub(crate) fn one_arena_under_an_address_limit() {
    // SAFETY: getrlimit writes into the struct we own; mallopt only sets malloc's option.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_AS, &mut lim) == 0 && lim.rlim_cur != libc::RLIM_INFINITY {
            #[cfg(target_env = "gnu")]
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// A line built on the stack: nothing here may allocate.
struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Default for Line {
    fn default() -> Line {
        Line {
            buf: [0; 256],
            len: 0,
        }
    }
}

impl Line {
    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    fn number(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set in the environment of this test binary when it is run again as the child of
    /// [`threads_that_fail_at_once_write_one_line`].
    const CHILD_ENV: &str = "WORKLOAD_OOM_TEST_CHILD";
    const THREADS: usize = 16;

    /// The child's part: sixteen threads run out of memory at the same moment (a barrier
    /// releases them together), each with its own size. Does nothing in a normal test run.
    #[test]
    fn child_many_threads_run_out_of_memory_at_once() {
        if std::env::var_os(CHILD_ENV).is_none() {
            return;
        }
        set_model("oom-test");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS)
            .map(|i| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    out_of_memory(1000 + i)
                })
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        unreachable!("out_of_memory returned");
    }

    /// Threads that fail together write one line between them, never two interleaved:
    /// the first one writes and exits with code 3, the others wait for the exit. Run in a
    /// child process (this test binary again, running the test above), five times.
    #[test]
    fn threads_that_fail_at_once_write_one_line() {
        let exe = std::env::current_exe().unwrap();
        for _ in 0..5 {
            let out = std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "oom::tests::child_many_threads_run_out_of_memory_at_once",
                ])
                .args(["--nocapture", "--test-threads", "1"])
                .env(CHILD_ENV, "1")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(EXIT_OUT_OF_MEMORY), "{stderr}");
            let lines: Vec<&str> = stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{stderr}");
            assert!(
                lines[0].starts_with("oom-test: error: out of memory: an allocation of 10")
                    && lines[0]
                        .ends_with(" bytes failed (see ulimit -v and MemAvailable); exit code 3"),
                "{stderr}"
            );
        }
    }

    #[test]
    fn the_line_is_built_without_allocating() {
        let mut line = Line::default();
        line.push(b"n=");
        line.number(0);
        line.push(b",");
        line.number(18_446_744_073_709_551_615);
        assert_eq!(&line.buf[..line.len], b"n=0,18446744073709551615");
    }
}
