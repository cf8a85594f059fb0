//! The scale sweep: how far each model goes, in time and memory, as N grows.
//!
//! Cells are (model, workload, N), run from the smallest N up. Before a cell runs, its time
//! (from each cell's median run) and memory (PSS, what the machine pays) are predicted from
//! the two largest cells of the same model and workload already measured (a straight line
//! through them); a cell predicted over the time budget,
//! over half the available memory, or (for a model with a kernel task per task) over half
//! of `pid_max`/`threads-max` is skipped and recorded with the reason, never silently
//! missing. A cell that fails is recorded with the model's own error. After every cell the
//! CSVs are rewritten, so an interruption loses nothing already measured.
//!
//! - [`host`]: the host's limits and TCP counters;
//! - [`run`]: one cell, each run of the model under a deadline;
//! - [`rows`]: scale.csv and scale-fit.csv, and memory per task.

mod host;
mod rows;
mod run;

pub use host::Limits;
pub use rows::{FitRow, ScaleRow};

use crate::models::Model;
use anyhow::{Context, Result};
use host::{settle_time_wait, time_wait};
use run::run_cell;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::Path;
use std::time::{Duration, Instant};

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
    /// What one run of `workload` takes whatever N: one task's wait.
    pub fn fixed_s(&self, workload: &str) -> f64 {
        match workload {
            "sleep" => self.sleep_ms as f64 / 1e3,
            "io" => self.io_delay_ms as f64 / 1e3,
            _ => 0.0,
        }
    }

    /// The sweep. sleep waits 3 s so that every task is still waiting when the last
    /// one starts, at a million futures (started in about 1 s) and at a thousand processes
    /// (1.4 s): peak memory then counts all N at once. Cells where that failed (10,000
    /// processes take 18 s to start) are left out of the memory fit.
    pub fn full() -> Plan {
        Plan {
            sleep_ns: vec![10, 100, 1_000, 10_000, 100_000, 1_000_000],
            sleep_ms: 3_000,
            io_ns: vec![10, 100, 1_000, 10_000],
            io_delay_ms: 100,
            io_bytes: 1024,
            cpu_ns: vec![1, 2, 4, 8, 16],
            cpu_exp: 200_000,
            budget: Duration::from_secs(20),
        }
    }

    /// A tiny sweep for the tests: seconds, and a budget small enough that sync's sleep is
    /// skipped at the second step (and most of the Python models' slower cells). sleep waits 200 ms, as the full sweep waits 3 s, so that
    /// all 8 of procs' processes are still waiting when the last one starts, on a busy CI
    /// machine too (each takes a few milliseconds to start: with 40 ms tasks, 8 of them ran
    /// in over twice one task's wait, and the memory fit rightly left procs out).
    pub fn tiny() -> Plan {
        Plan {
            sleep_ns: vec![2, 4, 8],
            sleep_ms: 200,
            io_ns: vec![2, 4],
            io_delay_ms: 20,
            io_bytes: 64,
            cpu_ns: vec![1, 2],
            cpu_exp: 20_000,
            budget: Duration::from_millis(500),
        }
    }
}

/// One (model, workload, N) cell of the sweep.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub model: String,
    pub workload: String,
    pub n: u64,
    pub status: Status,
    pub runs: usize,
    pub mean_s: f64,
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    pub peak_rss_bytes: u64,
    pub peak_pss_bytes: u64,
    pub workers: u64,
    pub peak_threads: u64,
    /// The I/O driver the runs ran on, as their summary lines say (monoio: `io_uring` or
    /// `epoll`); empty for the models that name none.
    pub driver: String,
    /// CPU time of the model's processes (user and system), mean over the cell's runs,
    /// as the model counts it itself (getrusage, its reaped workers included).
    pub user_s: f64,
    pub system_s: f64,
    pub listen_overflows: u64,
    pub syn_retrans: u64,
    /// Sockets in TIME_WAIT when the cell started.
    pub time_wait_at_start: u64,
    pub reason: String,
}

impl Cell {
    /// What the machine pays for this cell: peak PSS, or peak RSS where the model
    /// reported no PSS.
    pub fn memory(&self) -> u64 {
        if self.peak_pss_bytes > 0 {
            self.peak_pss_bytes
        } else {
            self.peak_rss_bytes
        }
    }
}

/// What became of a cell.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Status {
    #[default]
    Ok,
    Skipped,
    Failed,
}

impl TryFrom<String> for Status {
    type Error = String;
    fn try_from(s: String) -> Result<Status, String> {
        match s.as_str() {
            "ok" => Ok(Status::Ok),
            "skipped" => Ok(Status::Skipped),
            "failed" => Ok(Status::Failed),
            _ => Err(format!("status {s:?} is not ok, skipped or failed")),
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Status::Ok => "ok",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        })
    }
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
    write_limits(out, plan, &limits)?;
    let url = format!(
        "http://{server}/delay/{}/bytes/{}",
        plan.io_delay_ms, plan.io_bytes
    );
    // io first: its cells of 10,000 connections wait for the port table to clear (see
    // `needs_clear_ports`), and the sleep and cpu cells run meanwhile.
    let workloads: [(&'static str, &[u64]); 3] = [
        ("io", &plan.io_ns),
        ("sleep", &plan.sleep_ns),
        ("cpu", &plan.cpu_ns),
    ];
    let total: usize = models.len() * workloads.iter().map(|(_, ns)| ns.len()).sum::<usize>();
    let mut order = Order::new(
        workloads
            .iter()
            .flat_map(|&(workload, ns)| models.iter().map(move |model| (workload, model, ns))),
    );
    let started = Instant::now();
    let mut cells: Vec<Cell> = Vec::new();
    while let Some((workload, model, n)) = order.next(|| time_wait() <= CLEAR_PORTS) {
        eprint!(
            "[{:>3}/{total}] {:>4}s {:<16} {:<6} n={:<8} ",
            cells.len() + 1,
            started.elapsed().as_secs(),
            model.name,
            workload,
            n
        );
        let earlier: Vec<&Cell> = cells
            .iter()
            .filter(|c| c.model == model.name && c.workload == workload)
            .collect();
        let cell = match guard(plan, &limits, model, n, &earlier) {
            Some(reason) => Cell {
                status: Status::Skipped,
                reason,
                ..Cell::default()
            },
            None => {
                let time_wait_at_start = time_wait_before(workload, n);
                // A binary, or a Python model's python and script.
                let (program, mut args) = model.command_line(bin_dir);
                args.extend(arguments(plan, workload, n, &url));
                let predicted = predict(&earlier, n, plan.fixed_s(workload)).map(|p| p.0);
                // A cell that needs a clear port table runs once: a second run would
                // start among the TIME_WAIT sockets the first one left.
                let repeat = !needs_clear_ports(workload, n);
                Cell {
                    time_wait_at_start,
                    ..run_cell(&program, &args, predicted, plan.budget, repeat)
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
        rows::write_csvs(out, &cells, Duration::from_millis(plan.sleep_ms))?;
    }
    eprintln!("== sweep done in {:.0?}", started.elapsed());
    Ok(cells)
}

/// scale-limits.txt: the host's limits and the plan, written before the first cell.
fn write_limits(out: &Path, plan: &Plan, limits: &Limits) -> Result<()> {
    let plan_line = format!(
        "plan: sleep_ms={} io_delay_ms={} io_bytes={} cpu_exp={} budget_s={}",
        plan.sleep_ms,
        plan.io_delay_ms,
        plan.io_bytes,
        plan.cpu_exp,
        plan.budget.as_secs_f64()
    );
    let path = out.join("scale-limits.txt");
    std::fs::write(&path, format!("{}\n{plan_line}\n", limits.describe()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("== limits: {}", limits.describe());
    Ok(())
}

/// The model's command line for one cell.
fn arguments(plan: &Plan, workload: &str, n: u64, url: &str) -> Vec<String> {
    let (flag, value) = match workload {
        "sleep" => ("--ms", plan.sleep_ms.to_string()),
        "io" => ("--url", url.to_string()),
        _ => ("--exp", plan.cpu_exp.to_string()),
    };
    [workload, "--n", &n.to_string(), flag, &value]
        .map(String::from)
        .to_vec()
}

/// Sockets in TIME_WAIT left by earlier cells that a cell of many connections waits for.
const CLEAR_PORTS: u64 = 1_000;

/// Whether a cell opens so many connections that it must start on a clear port table.
fn needs_clear_ports(workload: &str, n: u64) -> bool {
    workload == "io" && n >= 10_000
}

/// Sockets in TIME_WAIT as a cell starts; before one of many connections, first let
/// those of earlier cells expire.
fn time_wait_before(workload: &str, n: u64) -> u64 {
    if needs_clear_ports(workload, n) {
        settle_time_wait(CLEAR_PORTS)
    } else {
        time_wait()
    }
}

/// The order the cells run in. Each (workload, model) is a sequence of growing N whose
/// cells run in turn (a cell's guard reads the ones before it). A cell that needs a clear
/// port table while TIME_WAIT sockets remain is put aside, and other sequences' cells run
/// meanwhile; it runs as soon as the table is clear, or, when nothing else is left, after
/// waiting for it. Without this, each io cell of 10,000 connections waited about a minute
/// doing nothing.
struct Order<'a> {
    pending: VecDeque<Sequence<'a>>,
    waiting: VecDeque<Sequence<'a>>,
}

struct Sequence<'a> {
    workload: &'static str,
    model: &'a Model,
    ns: &'a [u64],
    next: usize,
}

impl<'a> Order<'a> {
    fn new(sequences: impl Iterator<Item = (&'static str, &'a Model, &'a [u64])>) -> Order<'a> {
        let pending = sequences
            .filter(|(_, _, ns)| !ns.is_empty())
            .map(|(workload, model, ns)| Sequence {
                workload,
                model,
                ns,
                next: 0,
            })
            .collect();
        Order {
            pending,
            waiting: VecDeque::new(),
        }
    }

    /// The next cell to run: (workload, model, N). `clear` says whether the port table is
    /// clear now (`time_wait() <= CLEAR_PORTS`; a test passes its own).
    fn next(&mut self, clear: impl Fn() -> bool) -> Option<(&'static str, &'a Model, u64)> {
        loop {
            let mut seq = match (self.waiting.is_empty(), self.pending.is_empty()) {
                (false, _) if clear() => self.waiting.pop_front()?,
                (_, false) => self.pending.pop_front()?,
                (false, true) => self.waiting.pop_front()?,
                (true, true) => return None,
            };
            let n = seq.ns[seq.next];
            if needs_clear_ports(seq.workload, n) && !self.pending.is_empty() && !clear() {
                self.waiting.push_back(seq);
                continue;
            }
            let cell = (seq.workload, seq.model, n);
            seq.next += 1;
            if seq.next < seq.ns.len() {
                // The same sequence goes on next, unless a cell put aside can run first.
                self.pending.push_front(seq);
            }
            return Some(cell);
        }
    }
}

fn describe(cell: &Cell) -> String {
    if cell.status != Status::Ok {
        return format!("{}: {}", cell.status, cell.reason);
    }
    let tcp = if cell.listen_overflows + cell.syn_retrans > 0 {
        format!(
            " ({} listen overflows, {} SYN retransmits)",
            cell.listen_overflows, cell.syn_retrans
        )
    } else {
        String::new()
    };
    format!(
        "{:.3} s, PSS {:.1} MiB, peak RSS {:.1} MiB, peak threads {}{tcp}",
        cell.mean_s,
        cell.peak_pss_bytes as f64 / 1048576.0,
        cell.peak_rss_bytes as f64 / 1048576.0,
        cell.peak_threads,
    )
}

/// Predicted (seconds, bytes) at `n`: a straight line through the two largest measured
/// cells, or proportional to N from a single one (the pessimistic guess). Time is each
/// cell's median run, so that one run stalled by a busy machine does not move the
/// prediction; memory is what the machine pays (PSS, else peak RSS).
///
/// From a single cell, time is `fixed_s` (what a run takes whatever N: one sleep, one
/// server delay) plus the rest scaled by N, and memory is scaled by N: pessimistic, as a
/// first guess should be, without taking a 3 s sleep for 30 s of work.
pub fn predict(earlier: &[&Cell], n: u64, fixed_s: f64) -> Option<(f64, f64)> {
    let ok: Vec<&&Cell> = earlier.iter().filter(|c| c.status == Status::Ok).collect();
    match ok.as_slice() {
        [] => None,
        [only] => {
            let scale = n as f64 / only.n as f64;
            let fixed = fixed_s.min(only.median_s);
            Some((
                fixed + (only.median_s - fixed) * scale,
                only.memory() as f64 * scale,
            ))
        }
        [.., a, b] => {
            let line = |ya: f64, yb: f64| {
                let slope = (yb - ya) / (b.n as f64 - a.n as f64);
                (yb + slope * (n as f64 - b.n as f64)).max(yb)
            };
            Some((
                line(a.median_s, b.median_s),
                line(a.memory() as f64, b.memory() as f64),
            ))
        }
    }
}

/// Why this cell must not run, if it must not.
fn guard(plan: &Plan, limits: &Limits, model: &Model, n: u64, earlier: &[&Cell]) -> Option<String> {
    if let Some(prev) = earlier.iter().rev().find(|c| c.status != Status::Ok) {
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
    let fixed = earlier.first().map_or(0.0, |c| plan.fixed_s(&c.workload));
    let (seconds, bytes) = predict(earlier, n, fixed)?;
    if seconds > plan.budget.as_secs_f64() {
        return Some(format!(
            "predicted {seconds:.1} s, over the {:.2} s budget",
            plan.budget.as_secs_f64()
        ));
    }
    if limits.mem_available > 0 && bytes > limits.mem_available as f64 / 2.0 {
        return Some(format!(
            "predicted {:.0} MiB (PSS, else peak RSS), over half the available {} MiB",
            bytes / 1048576.0,
            limits.mem_available >> 20
        ));
    }
    None
}

#[cfg(test)]
mod tests;
