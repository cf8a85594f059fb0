//! CPU time of the whole model, as the kernel counts it: user and system time of this
//! process (every thread) plus that of every child process it has waited for, so procs'
//! workers count once they are reaped. Divided by the downloads of an io run, it is the
//! CPU one download costs in this model.

/// User and system CPU time, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTime {
    pub user_ms: f64,
    pub system_ms: f64,
}

/// This process's CPU time so far plus that of its reaped children (`getrusage`
/// `RUSAGE_SELF` + `RUSAGE_CHILDREN`). A child still running counts nothing yet.
pub fn cpu_time() -> CpuTime {
    let (own, children) = (usage(libc::RUSAGE_SELF), usage(libc::RUSAGE_CHILDREN));
    CpuTime {
        user_ms: own.user_ms + children.user_ms,
        system_ms: own.system_ms + children.system_ms,
    }
}

fn usage(who: libc::c_int) -> CpuTime {
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    // SAFETY: getrusage writes the struct we own; on failure (it cannot fail for these two
    // arguments) the zeroed struct reads as no time.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        ru
    };
    CpuTime {
        user_ms: ms(ru.ru_utime),
        system_ms: ms(ru.ru_stime),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This thread's own CPU clock, to compare with.
    fn thread_cpu_ms() -> f64 {
        // SAFETY: clock_gettime writes the struct we own.
        let t = unsafe {
            let mut t: libc::timespec = std::mem::zeroed();
            libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t);
            t
        };
        t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
    }

    /// 50 ms of CPU spent on this thread (by its own clock, whatever the machine's load)
    /// shows as at least 50 ms more, in milliseconds; a reaped child's time is added.
    #[test]
    fn cpu_time_grows_with_work_and_counts_reaped_children() {
        let before = cpu_time();
        let spun_from = thread_cpu_ms();
        let mut x = 1u64;
        while thread_cpu_ms() - spun_from < 50.0 {
            for _ in 0..10_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        let after = cpu_time();
        let grew = after.user_ms + after.system_ms - before.user_ms - before.system_ms;
        assert!((50.0..5_000.0).contains(&grew), "{before:?} -> {after:?}");
        let children_before = usage(libc::RUSAGE_CHILDREN);
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let children_after = usage(libc::RUSAGE_CHILDREN);
        assert!(
            children_after.user_ms + children_after.system_ms
                > children_before.user_ms + children_before.system_ms,
            "{children_before:?} -> {children_after:?}"
        );
    }
}
