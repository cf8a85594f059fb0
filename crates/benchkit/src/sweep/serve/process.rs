//! The processes the serve sweep starts, as the kernel counts them: children that end
//! with benchkit, a child's own CPU time (its rusage, from wait4), and a server's process
//! tree (the server and every descendant: procs' workers, gunicorn's) read from /proc:
//! CPU time, PSS and threads.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Ask the kernel to kill the child when benchkit ends, however it ends (SIGKILL
/// included): no server or oha outlives an interrupted sweep. The setting survives the
/// exec of `taskset` into the program it starts.
pub fn die_with_parent(command: &mut Command) -> &mut Command {
    // SAFETY: prctl is async-signal-safe, as pre_exec requires; it only sets a number in
    // the kernel's record of the child.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// A child reaped by [`wait_with_rusage`]: how it ended and the CPU it used.
pub struct Reaped {
    pub status: ExitStatus,
    /// User + system time of the child (and of its own reaped children), in seconds.
    pub cpu_s: f64,
}

/// Wait for `child` until `deadline`, reaping it with wait4 to read its rusage; past the
/// deadline, kill it and return None. `child` must not be waited for again.
pub fn wait_with_rusage(child: &mut Child, deadline: Instant) -> Option<Reaped> {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id() as libc::pid_t;
    let mut killed = false;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: wait4 writes the status and the rusage struct we own.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if killed { 0 } else { libc::WNOHANG };
        let got = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if got == pid {
            if killed {
                return None;
            }
            let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            return Some(Reaped {
                status: ExitStatus::from_raw(status),
                cpu_s: seconds(usage.ru_utime) + seconds(usage.ru_stime),
            });
        }
        if got < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
        if !killed && Instant::now() >= deadline {
            let _ = child.kill();
            killed = true;
            continue;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Send `signal` to process `pid`.
pub fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) on a pid we started and have not reaped yet.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}

/// One reading of a process tree.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TreeSample {
    /// CPU time of every live process of the tree, with that of its reaped children.
    pub cpu_s: f64,
    pub threads: u64,
    /// Only when asked for: reading smaps_rollup walks every map of a process.
    pub pss_bytes: Option<u64>,
}

/// The tree rooted at `root` now: `root` and its descendants, found by their parent pid.
pub fn sample_tree(root: u32, with_pss: bool) -> TreeSample {
    let tick = clock_tick();
    let mut stats: Vec<(u32, Stat)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(stat) = read_stat(pid) {
                stats.push((pid, stat));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            stats
                .iter()
                .filter(|(_, s)| s.ppid == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    let mut sample = TreeSample::default();
    for (pid, stat) in stats.iter().filter(|(p, _)| tree.contains(p)) {
        sample.cpu_s += stat.cpu_ticks as f64 / tick;
        sample.threads += stat.threads;
        if with_pss {
            let pss = pss_bytes(*pid).unwrap_or(0);
            *sample.pss_bytes.get_or_insert(0) += pss;
        }
    }
    sample
}

struct Stat {
    ppid: u32,
    /// utime + stime + cutime + cstime, in clock ticks.
    cpu_ticks: u64,
    threads: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// `/proc/PID/stat`: the command name (field 2) may hold spaces and parentheses, so the
/// fields are counted from its closing parenthesis; a zombie (state Z) counts no threads.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
    // f[0] is field 3 (state): field k is f[k - 3].
    Some(Stat {
        ppid: n(1)? as u32,
        cpu_ticks: n(11)? + n(12)? + n(13)? + n(14)?,
        threads: if f.first() == Some(&"Z") { 0 } else { n(17)? },
    })
}

fn pss_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Pss:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

fn clock_tick() -> f64 {
    // SAFETY: sysconf reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime cutime cstime priority nice num_threads ...
        let line = "42 (a) b (c)) S 7 42 42 0 -1 0 0 0 0 0 10 5 3 2 20 0 4 0 100";
        let stat = parse_stat(line).unwrap();
        assert_eq!((stat.ppid, stat.cpu_ticks, stat.threads), (7, 20, 4));
        let zombie = parse_stat("9 (w) Z 7 0 0 0 0 0 0 0 0 0 1 1 0 0 20 0 1 0 5").unwrap();
        assert_eq!(zombie.threads, 0);
    }

    /// The tree of a shell with two children: their threads and CPU are counted, and a
    /// busy child's CPU shows up in the sum.
    #[test]
    fn a_tree_counts_the_children() {
        let mut child = Command::new("/bin/sh")
            .args([
                "-c",
                "sleep 1 & i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1 & wait",
            ])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let sample = sample_tree(child.id(), true);
        let _ = child.kill();
        let _ = child.wait();
        assert!(sample.threads >= 3, "{sample:?}");
        assert!(sample.cpu_s > 0.0, "{sample:?}");
        assert!(sample.pss_bytes.unwrap() > 0, "{sample:?}");
    }
}
