//! What the host allows and what its network stack is doing: the limits a sweep runs
//! into (open files, pid_max, memory), and the kernel's TCP counters around each cell.

use std::time::Duration;

/// The host's limits, read once and reported with the results.
pub struct Limits {
    pub nofile: (u64, u64),
    pub pid_max: u64,
    pub threads_max: u64,
    pub somaxconn: u64,
    pub mem_available: u64,
}

impl Limits {
    pub fn read() -> Limits {
        let number = |path: &str| {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0)
        };
        Limits {
            // Raised here so that every model we start inherits the hard limit too.
            nofile: workload::mem::raise_nofile_limit(),
            pid_max: number("/proc/sys/kernel/pid_max"),
            threads_max: number("/proc/sys/kernel/threads-max"),
            somaxconn: number("/proc/sys/net/core/somaxconn"),
            mem_available: meminfo("MemAvailable:").unwrap_or(0),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "open files (soft/hard) {}/{}; pid_max {}; threads-max {}; somaxconn {}; MemAvailable {} MiB; cores {}",
            self.nofile.0,
            self.nofile.1,
            self.pid_max,
            self.threads_max,
            self.somaxconn,
            self.mem_available >> 20,
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        )
    }
}

fn meminfo(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// The kernel's TCP counters that show a listen queue overflowing.
#[derive(Default, Clone, Copy)]
pub struct TcpCounters {
    pub listen_overflows: u64,
    pub syn_retrans: u64,
}

pub fn tcp_counters() -> TcpCounters {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    let mut counters = TcpCounters::default();
    if let [names, values, ..] = lines.as_slice() {
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            match name {
                "ListenOverflows" => counters.listen_overflows = value.parse().unwrap_or(0),
                "TCPSynRetrans" => counters.syn_retrans = value.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    counters
}

/// Sockets in TIME_WAIT right now, from /proc/net/sockstat ("TCP: inuse 3 orphan 0 tw 9987 ...").
pub fn time_wait() -> u64 {
    let text = std::fs::read_to_string("/proc/net/sockstat").unwrap_or_default();
    let tcp = text.lines().find(|l| l.starts_with("TCP:")).unwrap_or("");
    let fields: Vec<&str> = tcp.split_whitespace().collect();
    fields
        .windows(2)
        .find(|w| w[0] == "tw")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(0)
}

/// Every closed client connection waits 60 s in TIME_WAIT, and while thousands do, each new
/// connect() searches longer for a free local port (measured here: 10,000 downloads took
/// 1.1 s on a clean port table, 1.5 s right after a run that left 8,000). Before a cell of
/// many connections, wait (at most 65 s) for the earlier cells' sockets to expire, so that
/// no model pays for the one before it. Returns how many were left when the cell started.
pub fn settle_time_wait(threshold: u64) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(65);
    let mut left = time_wait();
    if left > threshold {
        eprint!("(waiting for {left} TIME_WAIT sockets to expire) ");
    }
    while left > threshold && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        left = time_wait();
    }
    left
}
