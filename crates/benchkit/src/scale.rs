//! The scale sweep: how far each model goes, in time and memory, as N grows.
//!
//! Cells are (model, workload, N), run from the smallest N up. Before a cell runs, its time
//! and peak memory are predicted from the two largest cells of the same model and workload
//! already measured (a straight line through them); a cell predicted over the time budget,
//! over half the available memory, or (for a model with a kernel task per task) over half
//! of `pid_max`/`threads-max` is skipped and recorded with the reason, never silently
//! missing. A cell that fails is recorded with the model's own error. After every cell the
//! CSVs are rewritten, so an interruption loses nothing already measured.

use crate::fit::{linear_fit, Fit};
use crate::models::Model;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use workload::Summary;

/// What to sweep.
pub struct Plan {
    pub sleep_ns: Vec<u64>,
    pub sleep_ms: u64,
    pub io_ns: Vec<u64>,
    pub io_delay_ms: u64,
    pub io_bytes: u64,
    pub cpu_ns: Vec<u64>,
    pub cpu_exp: u32,
    /// A cell predicted to take longer than this is skipped.
    pub budget: Duration,
}

impl Plan {
    /// The sweep. sleep waits 1 s so that, even at a million tasks, every task is
    /// still waiting when the last one starts: peak memory then counts all N at once.
    pub fn full() -> Plan {
        Plan {
            sleep_ns: vec![10, 100, 1_000, 10_000, 100_000, 1_000_000],
            sleep_ms: 1_000,
            io_ns: vec![10, 100, 1_000, 10_000],
            io_delay_ms: 100,
            io_bytes: 1024,
            cpu_ns: vec![1, 2, 4, 8, 16],
            cpu_exp: 200_000,
            budget: Duration::from_secs(20),
        }
    }

    /// A tiny sweep for the tests: seconds, and a budget small enough that sync's sleep is
    /// skipped at the third step.
    pub fn tiny() -> Plan {
        Plan {
            sleep_ns: vec![2, 4, 8],
            sleep_ms: 40,
            io_ns: vec![2, 4],
            io_delay_ms: 20,
            io_bytes: 64,
            cpu_ns: vec![1, 2],
            cpu_exp: 20_000,
            budget: Duration::from_millis(250),
        }
    }
}

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
struct TcpCounters {
    listen_overflows: u64,
    syn_retrans: u64,
}

fn tcp_counters() -> TcpCounters {
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
fn time_wait() -> u64 {
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
fn settle_time_wait(threshold: u64) -> u64 {
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

/// One row of scale.csv.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub model: String,
    pub workload: String,
    pub n: u64,
    pub status: &'static str,
    pub runs: usize,
    pub mean_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    pub peak_rss_bytes: u64,
    pub listen_overflows: u64,
    pub syn_retrans: u64,
    /// Sockets in TIME_WAIT when the cell started.
    pub time_wait_at_start: u64,
    pub reason: String,
}

/// Run the sweep for `models`, writing scale.csv and scale-fit.csv into `out` after every cell.
pub fn sweep(
    plan: &Plan,
    models: &[Model],
    bin_dir: &Path,
    server: &str,
    out: &Path,
) -> Result<Vec<Cell>> {
    let limits = Limits::read();
    let plan_line = format!(
        "plan: sleep_ms={} io_delay_ms={} io_bytes={} cpu_exp={} budget_s={}",
        plan.sleep_ms,
        plan.io_delay_ms,
        plan.io_bytes,
        plan.cpu_exp,
        plan.budget.as_secs_f64()
    );
    std::fs::write(
        out.join("scale-limits.txt"),
        format!("{}\n{plan_line}\n", limits.describe()),
    )
    .with_context(|| format!("cannot write {}", out.join("scale-limits.txt").display()))?;
    eprintln!("== limits: {}", limits.describe());
    let url = format!(
        "http://{server}/delay/{}/bytes/{}",
        plan.io_delay_ms, plan.io_bytes
    );
    let workloads: [(&str, &[u64]); 3] = [
        ("sleep", &plan.sleep_ns),
        ("io", &plan.io_ns),
        ("cpu", &plan.cpu_ns),
    ];
    let total: usize = models.len() * workloads.iter().map(|(_, ns)| ns.len()).sum::<usize>();
    let started = Instant::now();
    let mut cells: Vec<Cell> = Vec::new();
    for (workload, ns) in workloads {
        for model in models {
            for &n in ns {
                let args: Vec<String> = match workload {
                    "sleep" => vec![
                        "sleep".into(),
                        "--n".into(),
                        n.to_string(),
                        "--ms".into(),
                        plan.sleep_ms.to_string(),
                    ],
                    "io" => vec![
                        "io".into(),
                        "--n".into(),
                        n.to_string(),
                        "--url".into(),
                        url.clone(),
                    ],
                    _ => vec![
                        "cpu".into(),
                        "--n".into(),
                        n.to_string(),
                        "--exp".into(),
                        plan.cpu_exp.to_string(),
                    ],
                };
                let earlier: Vec<&Cell> = cells
                    .iter()
                    .filter(|c| c.model == model.name && c.workload == workload)
                    .collect();
                eprint!(
                    "[{:>3}/{total}] {:>4}s {:<16} {:<6} n={:<8} ",
                    cells.len() + 1,
                    started.elapsed().as_secs(),
                    model.name,
                    workload,
                    n
                );
                let cell = match guard(plan, &limits, model, n, &earlier) {
                    Some(reason) => Cell {
                        status: "skipped",
                        reason,
                        ..Cell::default()
                    },
                    None => {
                        let tw = if workload == "io" && n >= 10_000 {
                            settle_time_wait(1_000)
                        } else {
                            time_wait()
                        };
                        let predicted = predict(&earlier, n).map(|p| p.0);
                        let exe = bin_dir.join(&model.name);
                        Cell {
                            time_wait_at_start: tw,
                            ..run_cell(&exe, &args, predicted, plan.budget)
                        }
                    }
                };
                let cell = Cell {
                    model: model.name.clone(),
                    workload: workload.into(),
                    n,
                    ..cell
                };
                eprintln!("{}", describe(&cell));
                cells.push(cell);
                write_csvs(out, &cells)?;
            }
        }
    }
    eprintln!("== sweep done in {:.0?}", started.elapsed());
    Ok(cells)
}

fn describe(cell: &Cell) -> String {
    match cell.status {
        "ok" => format!(
            "{:.3} s, {:.1} MiB{}",
            cell.mean_s,
            cell.peak_rss_bytes as f64 / 1048576.0,
            if cell.listen_overflows + cell.syn_retrans > 0 {
                format!(
                    " ({} listen overflows, {} SYN retransmits)",
                    cell.listen_overflows, cell.syn_retrans
                )
            } else {
                String::new()
            }
        ),
        status => format!("{status}: {}", cell.reason),
    }
}

/// Predicted (seconds, peak bytes) at `n`: a straight line through the two largest
/// measured cells, or proportional to N from a single one (the pessimistic guess).
pub fn predict(earlier: &[&Cell], n: u64) -> Option<(f64, f64)> {
    let ok: Vec<&&Cell> = earlier.iter().filter(|c| c.status == "ok").collect();
    match ok.as_slice() {
        [] => None,
        [only] => {
            let scale = n as f64 / only.n as f64;
            Some((only.max_s * scale, only.peak_rss_bytes as f64 * scale))
        }
        [.., a, b] => {
            let line = |ya: f64, yb: f64| {
                let slope = (yb - ya) / (b.n as f64 - a.n as f64);
                (yb + slope * (n as f64 - b.n as f64)).max(yb)
            };
            Some((
                line(a.max_s, b.max_s),
                line(a.peak_rss_bytes as f64, b.peak_rss_bytes as f64),
            ))
        }
    }
}

/// Why this cell must not run, if it must not.
fn guard(plan: &Plan, limits: &Limits, model: &Model, n: u64, earlier: &[&Cell]) -> Option<String> {
    if let Some(prev) = earlier.iter().rev().find(|c| c.status != "ok") {
        return Some(format!(
            "{} at n={}, so not tried at a larger n",
            prev.status, prev.n
        ));
    }
    let kernel_cap = limits.pid_max.min(limits.threads_max) / 2;
    if model.kernel_task_per_task && kernel_cap > 0 && n > kernel_cap {
        return Some(format!(
            "{n} kernel tasks would exceed half of min(pid_max {}, threads-max {})",
            limits.pid_max, limits.threads_max
        ));
    }
    let (seconds, bytes) = predict(earlier, n)?;
    if seconds > plan.budget.as_secs_f64() {
        return Some(format!(
            "predicted {seconds:.1} s, over the {:.2} s budget",
            plan.budget.as_secs_f64()
        ));
    }
    if limits.mem_available > 0 && bytes > limits.mem_available as f64 / 2.0 {
        return Some(format!(
            "predicted {:.0} MiB, over half the available {} MiB",
            bytes / 1048576.0,
            limits.mem_available >> 20
        ));
    }
    None
}

/// Run one cell: three runs if it is quick (predicted, or for a first cell, its first
/// run, under 2 s), one if not; the first failure ends it.
fn run_cell(exe: &Path, args: &[String], predicted_s: Option<f64>, budget: Duration) -> Cell {
    const QUICK_S: f64 = 2.0;
    // A run may take a while over its prediction on a busy machine, but never forever.
    let kill_after = budget.mul_f64(3.0).max(Duration::from_secs(10));
    let before = tcp_counters();
    let (mut times, mut peak) = (Vec::new(), 0u64);
    let mut runs = if predicted_s.is_some_and(|s| s < QUICK_S) {
        3
    } else {
        1
    };
    while times.len() < runs {
        match run_once(exe, args, kill_after) {
            Ok((seconds, summary)) => {
                if predicted_s.is_none() && times.is_empty() && seconds < QUICK_S {
                    runs = 3;
                }
                times.push(seconds);
                peak = peak.max(summary.peak_rss_bytes);
            }
            Err(reason) => {
                return Cell {
                    status: "failed",
                    reason,
                    ..Cell::default()
                }
            }
        }
    }
    let after = tcp_counters();
    Cell {
        status: "ok",
        runs,
        mean_s: times.iter().sum::<f64>() / times.len() as f64,
        min_s: times.iter().cloned().fold(f64::INFINITY, f64::min),
        max_s: times.iter().cloned().fold(0.0, f64::max),
        peak_rss_bytes: peak,
        listen_overflows: after
            .listen_overflows
            .saturating_sub(before.listen_overflows),
        syn_retrans: after.syn_retrans.saturating_sub(before.syn_retrans),
        ..Cell::default()
    }
}

/// Start the model, wait at most `kill_after`, and read its summary line.
fn run_once(exe: &Path, args: &[String], kill_after: Duration) -> Result<(f64, Summary), String> {
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    // Read the pipes on their own threads so a chatty child never blocks on a full pipe.
    let stdout = child.stdout.take().map(read_all);
    let stderr = child.stderr.take().map(read_all);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > kill_after => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("killed after {:.0?} without finishing", kill_after));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("cannot wait: {e}")),
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let stdout = stdout
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    let stderr = stderr
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    if !status.success() {
        let line = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(format!("{status}: {line}"));
    }
    let summary = Summary::from_line(stdout.lines().last().unwrap_or(""))
        .map_err(|e| format!("no summary line: {e}"))?;
    Ok((seconds, summary))
}

fn read_all(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Memory per task for every (model, workload) with at least three measured cells: the
/// slope of a straight line through peak memory against N, its intercept, and r^2.
pub fn fits(cells: &[Cell]) -> Vec<(String, String, Fit, usize)> {
    let mut keys: Vec<(String, String)> = cells
        .iter()
        .map(|c| (c.model.clone(), c.workload.clone()))
        .collect();
    keys.dedup();
    keys.into_iter()
        .filter(|(_, w)| w != "cpu")
        .filter_map(|(model, workload)| {
            let points: Vec<(f64, f64)> = cells
                .iter()
                .filter(|c| c.model == model && c.workload == workload && c.status == "ok")
                .map(|c| (c.n as f64, c.peak_rss_bytes as f64))
                .collect();
            let fit = (points.len() >= 3).then(|| linear_fit(&points))??;
            Some((model, workload, fit, points.len()))
        })
        .collect()
}

fn write_csvs(out: &Path, cells: &[Cell]) -> Result<()> {
    let mut csv = String::from(
        "model,workload,n,status,runs,mean_s,min_s,max_s,peak_rss_bytes,listen_overflows,syn_retrans,time_wait_at_start,reason\n",
    );
    for c in cells {
        let ok = c.status == "ok";
        let f = |x: f64| if ok { format!("{x:.4}") } else { String::new() };
        let u = |x: u64| if ok { x.to_string() } else { String::new() };
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            c.model,
            c.workload,
            c.n,
            c.status,
            u(c.runs as u64),
            f(c.mean_s),
            f(c.min_s),
            f(c.max_s),
            u(c.peak_rss_bytes),
            u(c.listen_overflows),
            u(c.syn_retrans),
            u(c.time_wait_at_start),
            crate::collect::csv_field(&c.reason)
        );
    }
    write(&out.join("scale.csv"), &csv)?;
    let mut fit_csv = String::from("model,workload,bytes_per_task,base_bytes,r2,points\n");
    for (model, workload, fit, points) in fits(cells) {
        let _ = writeln!(
            fit_csv,
            "{model},{workload},{:.0},{:.0},{:.4},{points}",
            fit.slope, fit.intercept, fit.r2
        );
    }
    write(&out.join("scale-fit.csv"), &fit_csv)
}

fn write(path: &PathBuf, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(n: u64, s: f64, bytes: u64) -> Cell {
        Cell {
            n,
            status: "ok",
            max_s: s,
            peak_rss_bytes: bytes,
            ..Cell::default()
        }
    }

    #[test]
    fn prediction_follows_the_line_through_the_last_two_cells() {
        let (a, b) = (ok(10, 1.0, 1000), ok(100, 10.0, 10_000));
        let (s, bytes) = predict(&[&a, &b], 1000).unwrap();
        assert!((s - 100.0).abs() < 1e-9 && (bytes - 100_000.0).abs() < 1e-6);
        // Flat time (async sleep) stays flat instead of growing with N.
        let (c, d) = (ok(10, 1.0, 1000), ok(100, 1.0, 2000));
        assert!((predict(&[&c, &d], 1_000_000).unwrap().0 - 1.0).abs() < 1e-9);
        // One point: proportional to N.
        assert!((predict(&[&a], 40).unwrap().0 - 4.0).abs() < 1e-9);
        assert!(predict(&[], 40).is_none());
    }

    #[test]
    fn guard_skips_over_budget_over_memory_over_pid_max_and_after_a_failure() {
        let plan = Plan::full();
        let limits = Limits {
            nofile: (1, 1),
            pid_max: 32768,
            threads_max: 192_000,
            somaxconn: 4096,
            mem_available: 1 << 30,
        };
        let threads = Model {
            name: "threads".into(),
            kernel_task_per_task: true,
        };
        let tokio = Model {
            name: "tokio".into(),
            kernel_task_per_task: false,
        };
        let slow = [ok(10, 1.0, 1000), ok(100, 10.0, 2000)];
        let slow: Vec<&Cell> = slow.iter().collect();
        assert!(guard(&plan, &limits, &tokio, 1000, &slow)
            .unwrap()
            .contains("budget"));
        let fat = [ok(10, 0.1, 10 << 20), ok(100, 0.1, 100 << 20)];
        let fat: Vec<&Cell> = fat.iter().collect();
        assert!(guard(&plan, &limits, &tokio, 1000, &fat)
            .unwrap()
            .contains("available"));
        assert!(guard(&plan, &limits, &threads, 100_000, &[])
            .unwrap()
            .contains("pid_max"));
        assert!(guard(&plan, &limits, &tokio, 100_000, &[]).is_none());
        let failed = Cell {
            n: 10,
            status: "failed",
            ..Cell::default()
        };
        assert!(guard(&plan, &limits, &tokio, 100, &[&failed])
            .unwrap()
            .contains("failed at n=10"));
    }
}
