//! `benchkit costs`: what one task costs in every model, as the slope of a sweep.
//!
//! - spawn: `<model> spawn --n N`; the cost of one task is the slope of time against N.
//! - switch: `<model> switch --n RING --rounds R`, the ring's size fixed; the cost of one
//!   switch is the slope of time against the hand-offs made (RING x R). Starting the
//!   ring's tasks is the same in every cell, so it falls into the fit's base, not its slope.
//!
//! Each (model, workload) is measured in two stages:
//!
//! 1. **probe**: one run at N (or R) doubling from the plan's start, until the time has
//!    grown over the first cell by [`Plan::growth`] and by twice that first cell's time
//!    (so the part that grows dominates the part that does not), or until a limit: the
//!    workload's own (1,000,000 tasks; 100,000,000 hand-offs), and for a model with a
//!    kernel task per task a quarter of `pid_max`/`threads-max`. The largest size probed
//!    is the scale X.
//! 2. **fit**: [`Plan::points`] sizes evenly spaced up to X (X/k, 2X/k, ... X), each run
//!    [`Plan::runs`] times (up to 4 times as many where a limit cut the probe short: see
//!    [`fit_runs`]), round-robin (every size once, then again), so that a burst of
//!    load on the shared machine falls on every size rather than on one. The fastest run
//!    of each size is fitted with a straight line: other processes on the machine only
//!    ever add time (a preempted thread, a stolen core), so the least disturbed run is the
//!    best estimate of the cost itself. (The fit of the medians is written beside it.)
//!    Evenly spaced sizes give each point the same weight, so r² says whether the cost
//!    is linear over that range.
//!
//! A cell that fails ends its stage and is recorded with the model's own error; a model
//! that cannot run a workload (exit 2: sync) is recorded with its one-line reason.
//!
//! Time is the model's own `wall_ms` from its summary line (first task started to last
//! task joined, inside the process): process start and dynamic loading, which hyperfine
//! would add, are not part of a task's cost.
//!
//! Writes `costs.csv` (every cell, probes included) and `costs-fit.csv` (per model and
//! workload: cost in µs, base in ms, r², points, or why there is no fit) as it goes.

mod fits;

pub use fits::fits;

use crate::models::Model;
use crate::sweep::runner::Failure;
use crate::table;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};
use workload::cli::{MAX_HAND_OFFS, MAX_ROUNDS, MAX_SPAWN_N};
use workload::Summary;

/// What to sweep.
pub struct Plan {
    /// The first N of spawn's probe.
    pub spawn_from: u64,
    /// The ring's size for switch, the same in every cell and every model.
    pub ring_n: u64,
    /// The first R of switch's probe.
    pub rounds_from: u64,
    /// The probe stops once its time has grown this much over its first cell (and by
    /// twice that first cell's time).
    pub growth: Duration,
    /// Evenly spaced sizes fitted, up to the probe's largest.
    pub points: u64,
    /// Runs per fitted size, round-robin; the median is kept.
    pub runs: usize,
    /// A run still going after this is killed and the cell fails.
    pub kill_after: Duration,
}

impl Plan {
    /// The sweep of `make bench-scale`: about two minutes for eight models on 2 cores.
    pub fn full() -> Plan {
        Plan {
            spawn_from: 16,
            ring_n: 100,
            rounds_from: 1,
            growth: Duration::from_millis(250),
            points: 6,
            runs: 5,
            kill_after: Duration::from_secs(60),
        }
    }

    /// A sweep of seconds for the tests: tiny rings, a few milliseconds of growth.
    pub fn tiny() -> Plan {
        Plan {
            spawn_from: 2,
            ring_n: 4,
            rounds_from: 2,
            growth: Duration::from_millis(2),
            points: 3,
            runs: 1,
            kill_after: Duration::from_secs(20),
        }
    }
}

/// One row of costs.csv: one (model, workload, size) cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub model: String,
    pub workload: String,
    /// Tasks for spawn; the ring's size for switch.
    pub n: u64,
    /// Times round the ring (switch only).
    pub rounds: Option<u64>,
    /// What the fit counts: tasks (spawn) or hand-offs, N x R (switch).
    pub units: u64,
    /// probe (finding the scale, one run) or fit (a fitted size).
    pub stage: String,
    /// ok, failed, or unsupported (the model exits 2 and says why).
    pub status: String,
    pub runs: Option<usize>,
    /// The median of the runs' own wall time, and the fastest and slowest.
    pub wall_ms: Option<f64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub reason: String,
}

/// One row of costs-fit.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    pub model: String,
    pub workload: String,
    /// Microseconds per task (spawn) or per hand-off (switch): the slope through the
    /// fastest run of every fitted size.
    pub cost_us: Option<f64>,
    /// Milliseconds at zero tasks or hand-offs: the intercept (runtime start, and for
    /// switch starting the ring).
    pub base_ms: Option<f64>,
    pub r2: Option<f64>,
    /// The same fit through the medians, to show how much the machine's noise moves it.
    pub median_cost_us: Option<f64>,
    pub median_r2: Option<f64>,
    pub points: usize,
    /// Why there is no fit, when there is none.
    pub reason: String,
}

/// The host's limits on kernel tasks, read once.
struct KernelLimits {
    pid_max: u64,
    threads_max: u64,
}

impl KernelLimits {
    fn read() -> KernelLimits {
        let number = |path: &str| {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0)
        };
        KernelLimits {
            pid_max: number("/proc/sys/kernel/pid_max"),
            threads_max: number("/proc/sys/kernel/threads-max"),
        }
    }

    /// The largest N of tasks that are each a kernel task: a quarter of the tighter limit.
    fn kernel_task_cap(&self) -> u64 {
        match self.pid_max.min(self.threads_max) {
            0 => u64::MAX,
            limit => limit / 4,
        }
    }
}

/// One size of a ladder: N, and R for switch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Size {
    n: u64,
    rounds: Option<u64>,
}

impl Size {
    fn units(self) -> u64 {
        self.n * self.rounds.unwrap_or(1)
    }
}

/// Sweep spawn and switch for every model; write costs.csv and costs-fit.csv into `out`.
pub fn sweep(plan: &Plan, models: &[Model], bin_dir: &Path, out: &Path) -> Result<Vec<Cell>> {
    let limits = KernelLimits::read();
    let started = Instant::now();
    let mut cells: Vec<Cell> = Vec::new();
    for workload in ["spawn", "switch"] {
        for model in models {
            let ladder = Ladder {
                plan,
                model,
                workload,
                exe: bin_dir.join(&model.name),
                started,
            };
            if let Some((scale, runs)) = ladder.probe(&limits, &mut cells, out)? {
                ladder.fit(scale, runs, &mut cells);
                write_csvs(out, &cells)?;
            }
        }
    }
    eprintln!("== costs sweep done in {:.0?}", started.elapsed());
    Ok(cells)
}

/// One (model, workload) being measured.
struct Ladder<'a> {
    plan: &'a Plan,
    model: &'a Model,
    workload: &'a str,
    exe: std::path::PathBuf,
    started: Instant,
}

impl Ladder<'_> {
    /// Size number `step` of the probe: N doubling (spawn), or R doubling (switch).
    fn probe_size(&self, step: u32) -> Size {
        match self.workload {
            "spawn" => Size {
                n: self.plan.spawn_from << step,
                rounds: None,
            },
            _ => Size {
                n: self.plan.ring_n,
                rounds: Some(self.plan.rounds_from << step),
            },
        }
    }

    /// Stage 1: one run per doubling size until the time has grown enough or a limit;
    /// the largest size measured, if any, and the runs each fitted size gets.
    fn probe(
        &self,
        limits: &KernelLimits,
        cells: &mut Vec<Cell>,
        out: &Path,
    ) -> Result<Option<(Size, usize)>> {
        for step in 0.. {
            let size = self.probe_size(step);
            let cell = self.cell(run_cell(
                &self.exe,
                self.workload,
                size,
                "probe",
                self.plan.kill_after,
            ));
            cells.push(cell);
            write_csvs(out, cells)?;
            let probes: Vec<&Cell> = cells
                .iter()
                .filter(|c| c.model == self.model.name && c.workload == self.workload)
                .collect();
            let next = self.probe_size(step + 1).units();
            if let Some(why) = probe_done(self.plan, limits, self.model, &probes, next) {
                eprintln!(
                    "[costs] {:<16} {:<6} probe done: {why}",
                    self.model.name, self.workload
                );
                let ok: Vec<&&Cell> = probes.iter().filter(|c| c.status == "ok").collect();
                return Ok(ok.last().map(|last| {
                    let ms = |c: &Cell| c.wall_ms.unwrap_or(0.0);
                    let size = Size {
                        n: last.n,
                        rounds: last.rounds,
                    };
                    let first = ms(ok[0]);
                    (size, fit_runs(self.plan, first, ms(last) - first))
                }));
            }
        }
        unreachable!("the probe stops at a limit")
    }

    /// Stage 2: evenly spaced sizes up to `scale`, each run `runs` times round-robin.
    fn fit(&self, scale: Size, runs: usize, cells: &mut Vec<Cell>) {
        let sizes = fit_sizes(scale, self.plan.points);
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
        let mut failures: Vec<Option<Cell>> = vec![None; sizes.len()];
        for _ in 0..runs {
            for (i, &size) in sizes.iter().enumerate() {
                if failures[i].is_some() {
                    continue;
                }
                match run_once(&self.exe, &args(self.workload, size), self.plan.kill_after) {
                    Ok(summary) => times[i].push(summary.wall_ms),
                    Err((status, reason)) => {
                        failures[i] = Some(failed_cell(self.workload, size, "fit", status, reason))
                    }
                }
            }
        }
        for ((size, mut times), failure) in sizes.into_iter().zip(times).zip(failures) {
            let cell = failure.unwrap_or_else(|| ok_cell(self.workload, size, "fit", &mut times));
            cells.push(self.cell(cell));
        }
    }

    /// The cell, named after this ladder's model and shown on the progress line.
    fn cell(&self, cell: Cell) -> Cell {
        eprintln!(
            "[costs] {:>4}s {:<16} {:<6} {:<5} n={:<8} {}{}",
            self.started.elapsed().as_secs(),
            self.model.name,
            self.workload,
            cell.stage,
            cell.n,
            cell.rounds
                .map_or(String::new(), |r| format!("rounds={r:<8} ")),
            describe(&cell)
        );
        Cell {
            model: self.model.name.clone(),
            ..cell
        }
    }
}

/// `points` sizes evenly spaced up to `scale`: the ring's size stays, R is spaced.
fn fit_sizes(scale: Size, points: u64) -> Vec<Size> {
    let spaced = |top: u64| -> Vec<u64> {
        let mut xs: Vec<u64> = (1..=points)
            .map(|i| ((top * i) as f64 / points as f64).round().max(1.0) as u64)
            .collect();
        xs.dedup();
        xs
    };
    match scale.rounds {
        None => spaced(scale.n)
            .into_iter()
            .map(|n| Size { n, rounds: None })
            .collect(),
        Some(r) => spaced(r)
            .into_iter()
            .map(|r| Size {
                n: scale.n,
                rounds: Some(r),
            })
            .collect(),
    }
}

/// Why the probe stops before its next cell (`next` tasks or hand-offs), if it does.
fn probe_done(
    plan: &Plan,
    limits: &KernelLimits,
    model: &Model,
    cells: &[&Cell],
    next: u64,
) -> Option<String> {
    let last = cells.last()?;
    if last.status != "ok" {
        return Some(last.status.clone());
    }
    let first = cells.first()?.wall_ms.unwrap_or(0.0);
    let grown = last.wall_ms.unwrap_or(0.0) - first;
    if grown >= enough_ms(plan, first) {
        return Some(format!(
            "time grew {grown:.0} ms over {} cells",
            cells.len()
        ));
    }
    let cap = match last.workload.as_str() {
        "spawn" if model.kernel_task_per_task => MAX_SPAWN_N.min(limits.kernel_task_cap()),
        "spawn" => MAX_SPAWN_N,
        _ => MAX_HAND_OFFS.min(plan.ring_n * MAX_ROUNDS),
    };
    (next > cap).then(|| format!("the next cell ({next}) is over the limit of {cap}"))
}

/// Runs per fitted size: the plan's, or up to 4 times as many where a limit stopped the
/// probe before the time had grown enough (green's spawn stops at `vm.max_map_count`
/// after some 40 ms of growth, where the rest reach 250 ms). On a short range the same
/// few milliseconds of noise weigh more, and the fastest of more runs is a steadier floor.
fn fit_runs(plan: &Plan, first_ms: f64, grown_ms: f64) -> usize {
    let short = if grown_ms > 0.0 {
        enough_ms(plan, first_ms) / grown_ms
    } else {
        4.0
    };
    plan.runs * short.ceil().clamp(1.0, 4.0) as usize
}

/// The growth over a probe's first cell that ends it: the plan's, and at least twice that
/// first cell's time, so that the part that grows dominates the part that does not.
fn enough_ms(plan: &Plan, first_ms: f64) -> f64 {
    (plan.growth.as_secs_f64() * 1e3).max(2.0 * first_ms)
}

fn args(workload: &str, size: Size) -> Vec<String> {
    let mut args = vec![workload.to_string(), "--n".into(), size.n.to_string()];
    if let Some(r) = size.rounds {
        args.extend(["--rounds".into(), r.to_string()]);
    }
    args
}

fn describe(cell: &Cell) -> String {
    match (cell.status.as_str(), cell.wall_ms) {
        ("ok", Some(ms)) => format!("{ms:.1} ms"),
        (status, _) => format!("{status}: {}", cell.reason),
    }
}

/// Run the model once and read its summary line; on failure, the status for costs.csv
/// ("unsupported": the model exits 2 and says why it cannot run the workload) and the
/// model's own line.
fn run_once(
    exe: &Path,
    args: &[String],
    kill_after: Duration,
) -> Result<Summary, (&'static str, String)> {
    crate::sweep::runner::run_once(exe, args, kill_after)
        .map(|run| run.summary)
        .map_err(|failure| match failure {
            Failure::Refused(line) => ("unsupported", line),
            Failure::Failed(reason) => ("failed", reason),
        })
}

/// Run one cell once (a probe).
fn run_cell(exe: &Path, workload: &str, size: Size, stage: &str, kill_after: Duration) -> Cell {
    match run_once(exe, &args(workload, size), kill_after) {
        Ok(summary) => ok_cell(workload, size, stage, &mut [summary.wall_ms]),
        Err((status, reason)) => failed_cell(workload, size, stage, status, reason),
    }
}

/// A cell that failed or that the model cannot run, with the model's own line.
fn failed_cell(workload: &str, size: Size, stage: &str, status: &str, reason: String) -> Cell {
    Cell {
        workload: workload.into(),
        n: size.n,
        rounds: size.rounds,
        units: size.units(),
        stage: stage.into(),
        status: status.into(),
        reason,
        ..Cell::default()
    }
}

/// A measured cell from its runs' times: the median, the fastest and the slowest.
fn ok_cell(workload: &str, size: Size, stage: &str, times: &mut [f64]) -> Cell {
    times.sort_by(f64::total_cmp);
    Cell {
        workload: workload.into(),
        n: size.n,
        rounds: size.rounds,
        units: size.units(),
        stage: stage.into(),
        status: "ok".into(),
        runs: Some(times.len()),
        wall_ms: Some(median(times)),
        min_ms: times.first().copied(),
        max_ms: times.last().copied(),
        ..Cell::default()
    }
}

/// The middle of sorted values (the mean of the two middle ones for an even count).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn write_csvs(out: &Path, cells: &[Cell]) -> Result<()> {
    table::write(&out.join("costs.csv"), cells)?;
    table::write(&out.join("costs-fit.csv"), &fits(cells))
}

#[cfg(test)]
mod tests;
