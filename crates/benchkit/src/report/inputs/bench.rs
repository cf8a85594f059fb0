//! summary.csv of `make bench` (and every kept run's, and the Python models'), as cells.

use super::Settings;
use crate::collect::{self, BenchRow};
use crate::stats::compare::Spread;
use crate::table::check::Check;
use crate::table::{Line, Table};
use anyhow::{bail, Result};
use std::path::Path;

/// One (workload, model) cell of `make bench`.
pub struct Cell {
    pub model: String,
    pub workload: String,
    pub n: u64,
    pub ok: bool,
    pub mean: f64,
    pub median: f64,
    pub sd: f64,
    pub min: f64,
    pub max: f64,
    /// Peak RSS, summed over the model's processes.
    pub rss: f64,
    /// Peak PSS of the whole model; None in CSVs from before the models reported it.
    pub pss: Option<f64>,
    pub workers: Option<u64>,
    pub peak_threads: Option<u64>,
    /// The I/O driver the runs ran on; empty where the model names none or the CSV
    /// predates the column ([`super::wrong_driver`]).
    pub driver: String,
    /// Downloads that could not be verified (None in CSVs from before the column).
    pub unverified: Option<u64>,
    /// speedup_vs_sync as collect wrote it: the median of the per-round ratios.
    pub speedup: Option<f64>,
    /// CPU time of a run, user + system (hyperfine's mean); None in old CSVs.
    pub cpu_s: Option<f64>,
    /// Runs behind the times (hyperfine's count).
    pub runs: u64,
    pub reason: String,
}

impl Cell {
    /// The median and the spread of the runs, for rankings ([`crate::stats::compare`]).
    pub fn spread(&self) -> Spread {
        Spread::of_runs(self.median, self.min, self.max, self.runs)
    }

    /// How many times faster than `sync` (its baseline cell): the CSV's speedup, the
    /// median of the per-round ratios, where it has one; else (older CSVs, cells of
    /// different runs) the ratio of the medians.
    pub fn speedup_over(&self, sync: &Cell) -> f64 {
        match self.speedup {
            Some(x) if self.model != sync.model => x,
            _ => sync.median / self.median,
        }
    }
}

/// What `make bench-python` wrote, when results/ has it: the seed's cells over the six
/// Python models, and the uvloop claim's cell.
pub struct Python {
    /// python-summary.csv.
    pub cells: Vec<Cell>,
    /// python-bench-settings.txt: the run's settings, among them the uvloop cell's.
    pub settings: Settings,
    /// python-uvloop.csv: python-asyncio and python-uvloop on io at N=1,000.
    pub uvloop: Option<Vec<Cell>>,
}

impl Python {
    /// None when there is no python-summary.csv (the Python models were not measured).
    pub fn read(results: &Path) -> Result<Option<Python>> {
        let summary = results.join("python-summary.csv");
        if !summary.exists() {
            return Ok(None);
        }
        let uvloop = Some(results.join("python-uvloop.csv")).filter(|p| p.exists());
        Ok(Some(Python {
            cells: read_bench(&summary)?,
            settings: Settings::read(&results.join("python-bench-settings.txt")),
            uvloop: uvloop.map(|p| read_bench(&p)).transpose()?,
        }))
    }
}

/// Read summary.csv (or a kept run's): every cell, failed ones with their reason.
pub fn read_bench(path: &Path) -> Result<Vec<Cell>> {
    let required = [
        "model",
        "workload",
        "n",
        "status",
        "mean_s",
        "stddev_s",
        "median_s",
        "min_s",
        "max_s",
        "peak_rss_bytes",
        "reason",
    ];
    let table = Table::<BenchRow>::read(path, &required)?;
    table.refuse_duplicates(|r| format!("{} {}", r.model, r.workload))?;
    let cells = table
        .rows
        .iter()
        .map(|line| bench_cell(&table.path, line))
        .collect::<Result<Vec<Cell>>>()?;
    if cells.is_empty() {
        bail!("{}: no rows", table.path);
    }
    Ok(cells)
}

fn bench_cell(path: &str, line: &Line<BenchRow>) -> Result<Cell> {
    let r = &line.row;
    let ok = r.status == collect::Status::Ok;
    let check = Check { path, line };
    // A failed cell has no numbers; a measured one must have every time, above 0.
    let time = |name: &str, x: Option<f64>| if ok { check.time(name, x) } else { Ok(0.0) };
    Ok(Cell {
        model: r.model.clone(),
        workload: r.workload.clone(),
        n: r.n.unwrap_or(0),
        ok,
        mean: time("mean_s", r.mean_s)?,
        median: time("median_s", r.median_s)?,
        min: time("min_s", r.min_s)?,
        max: time("max_s", r.max_s)?,
        sd: if ok {
            check.non_negative("stddev_s", r.stddev_s)?
        } else {
            0.0
        },
        rss: if ok {
            check.non_negative("peak_rss_bytes", r.peak_rss_bytes)?
        } else {
            0.0
        },
        pss: check.optional_bytes("peak_pss_bytes", r.peak_pss_bytes)?,
        workers: r.workers.filter(|w| *w > 0),
        peak_threads: r.peak_threads.filter(|t| *t > 0),
        driver: r.driver.clone(),
        unverified: r.unverified,
        speedup: if ok {
            check.optional("speedup_vs_sync", r.speedup_vs_sync, Check::time)?
        } else {
            None
        },
        cpu_s: r.user_s.zip(r.system_s).map(|(u, s)| u + s).filter(|_| ok),
        runs: r.runs.unwrap_or(1),
        reason: r.reason.clone(),
    })
}
