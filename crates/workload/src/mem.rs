//! Peak memory of this process, as the kernel counts it.

/// Peak resident set size of the calling process, in bytes (`getrusage(RUSAGE_SELF)`).
/// Linux reports `ru_maxrss` in KiB.
pub fn peak_rss_bytes() -> u64 {
    // SAFETY: getrusage writes into the zeroed struct we own and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return 0;
    }
    usage.ru_maxrss.max(0) as u64 * 1024
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
    fn nofile_limit_ends_at_the_hard_limit() {
        let (soft, hard) = raise_nofile_limit();
        assert!(soft > 0 && soft == hard, "soft {soft} hard {hard}");
    }
}
