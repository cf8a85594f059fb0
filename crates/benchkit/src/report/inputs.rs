//! The report's inputs: the CSVs of `make bench` and `make bench-scale`, read into the
//! figures the sections use, and checked for numbers no run can produce (a time of 0 or
//! less, NaN, infinity, negative memory), each refused with its file and line.

use crate::collect::{self, BenchRow};
use crate::sweep::scale::{FitRow, ScaleRow, Status};
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
    /// CPU time of a run, user + system (hyperfine's mean); None in old CSVs.
    pub cpu_s: Option<f64>,
    pub reason: String,
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

/// One (model, workload, N) cell of the scale sweep.
pub struct ScaleCell {
    pub model: String,
    pub workload: String,
    pub n: u64,
    pub status: Status,
    /// The median run (the mean in sweeps that kept no median), as make bench reports.
    pub median: f64,
    pub rss: f64,
    pub pss: Option<f64>,
    pub overflows: f64,
    /// CPU time of a run, user + system, as the model counted it; None in old sweeps and
    /// where the model reported none.
    pub cpu_s: Option<f64>,
    pub reason: String,
}

/// Memory per task of one (model, workload), from scale-fit.csv.
pub struct Fit {
    pub model: String,
    pub workload: String,
    pub per_task: f64,
    pub base: f64,
    pub r2: f64,
    pub points: u64,
    /// Which memory the line is fitted on.
    pub on: Measure,
    /// The slope of summed peak RSS, where the fit is on PSS.
    pub rss_per_task: Option<f64>,
}

/// The two memory figures, named as the report names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Pss,
    Rss,
}

impl Measure {
    pub fn label(self) -> &'static str {
        match self {
            Measure::Pss => "PSS",
            Measure::Rss => "peak RSS",
        }
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
            check.bytes("stddev_s", r.stddev_s)?
        } else {
            0.0
        },
        rss: if ok {
            check.bytes("peak_rss_bytes", r.peak_rss_bytes)?
        } else {
            0.0
        },
        pss: check.optional_bytes("peak_pss_bytes", r.peak_pss_bytes)?,
        workers: r.workers.filter(|w| *w > 0),
        peak_threads: r.peak_threads.filter(|t| *t > 0),
        cpu_s: r.user_s.zip(r.system_s).map(|(u, s)| u + s).filter(|_| ok),
        reason: r.reason.clone(),
    })
}

/// Read scale.csv.
pub fn read_scale(path: &Path) -> Result<Vec<ScaleCell>> {
    let required = [
        "model",
        "workload",
        "n",
        "status",
        "mean_s",
        "peak_rss_bytes",
        "reason",
    ];
    let table = Table::<ScaleRow>::read(path, &required)?;
    let mut cells = Vec::new();
    for line in &table.rows {
        let r = &line.row;
        let check = Check {
            path: &table.path,
            line,
        };
        let ok = r.status == Status::Ok;
        cells.push(ScaleCell {
            model: r.model.clone(),
            workload: r.workload.clone(),
            n: r.n,
            status: r.status,
            median: if ok {
                check.time("median_s", r.median_s.or(r.mean_s))?
            } else {
                0.0
            },
            rss: if ok {
                check.bytes("peak_rss_bytes", r.peak_rss_bytes)?
            } else {
                0.0
            },
            pss: check.optional_bytes("peak_pss_bytes", r.peak_pss_bytes)?,
            overflows: r.listen_overflows.unwrap_or(0) as f64,
            cpu_s: r.user_s.zip(r.system_s).map(|(u, s)| u + s).filter(|_| ok),
            reason: r.reason.clone(),
        });
    }
    Ok(cells)
}

/// Read scale-fit.csv. A file without `fitted_on` predates PSS: its fits are RSS.
pub fn read_fits(path: &Path) -> Result<Vec<Fit>> {
    let required = ["model", "workload", "bytes_per_task", "base_bytes", "r2"];
    let table = Table::<FitRow>::read(path, &required)?;
    let mut fits = Vec::new();
    for line in &table.rows {
        let r = &line.row;
        let check = Check {
            path: &table.path,
            line,
        };
        let on = match r.fitted_on.as_deref() {
            None | Some("rss") => Measure::Rss,
            Some("pss") => Measure::Pss,
            Some(other) => {
                return Err(line.error(
                    &table.path,
                    format!("fitted_on is {other:?}, neither pss nor rss"),
                ))
            }
        };
        fits.push(Fit {
            model: r.model.clone(),
            workload: r.workload.clone(),
            per_task: check.finite("bytes_per_task", r.bytes_per_task)?,
            base: check.finite("base_bytes", r.base_bytes)?,
            r2: check.finite("r2", r.r2)?,
            points: r.points,
            on,
            rss_per_task: r.rss_bytes_per_task.filter(|_| on == Measure::Pss),
        });
    }
    Ok(fits)
}

/// Checks of one row's numbers, whose errors name the file, the line and the column.
struct Check<'a, T> {
    path: &'a str,
    line: &'a Line<T>,
}

impl<T> Check<'_, T> {
    /// A number that must be there and be finite.
    fn finite(&self, name: &str, x: Option<f64>) -> Result<f64> {
        match x {
            None => Err(self
                .line
                .error(self.path, format!("{name} is empty in a measured row"))),
            Some(x) if !x.is_finite() => Err(self
                .line
                .error(self.path, format!("{name} is {x}, not a finite number"))),
            Some(x) => Ok(x),
        }
    }

    /// A measured time: above 0 (a median of 0 would print a speedup of "inf").
    fn time(&self, name: &str, x: Option<f64>) -> Result<f64> {
        match self.finite(name, x)? {
            x if x <= 0.0 => Err(self.line.error(
                self.path,
                format!("{name} is {x}: a measured time must be above 0"),
            )),
            x => Ok(x),
        }
    }

    /// Memory (or a spread): 0 or more.
    fn bytes(&self, name: &str, x: Option<f64>) -> Result<f64> {
        match self.finite(name, x)? {
            x if x < 0.0 => Err(self
                .line
                .error(self.path, format!("{name} is {x}: it cannot be negative"))),
            x => Ok(x),
        }
    }

    /// Memory that older files lack: None when absent or 0 (not measured).
    fn optional_bytes(&self, name: &str, x: Option<f64>) -> Result<Option<f64>> {
        match x {
            None => Ok(None),
            some => Ok(Some(self.bytes(name, some)?).filter(|b| *b > 0.0)),
        }
    }
}

/// A `key=value ...` text: what `make bench` recorded about itself (bench-settings.txt),
/// or the sweep's plan line (scale-limits.txt).
pub struct Settings {
    pub text: String,
}

impl Settings {
    /// The file's text, or none if it is missing (the figures it gives are then left out).
    pub fn read(path: &Path) -> Settings {
        Settings {
            text: std::fs::read_to_string(path).unwrap_or_default(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key}=");
        self.text
            .split_whitespace()
            .find_map(|t| t.strip_prefix(prefix.as_str()))
    }

    pub fn num(&self, key: &str) -> Option<f64> {
        self.get(key)?.parse().ok()
    }
}
