//! scale.csv and scale-fit.csv of the scale sweep, as cells and fits.

use crate::stats::compare::Spread;
use crate::sweep::scale::{FitRow, ScaleRow, Status};
use crate::table::check::Check;
use crate::table::Table;
use anyhow::Result;
use std::path::Path;

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
    /// The I/O driver the runs ran on; empty where the model names none or the sweep
    /// predates the column ([`super::wrong_driver`]).
    pub driver: String,
    /// CPU time of a run, user + system, as the model counted it; None in old sweeps and
    /// where the model reported none.
    pub cpu_s: Option<f64>,
    /// Runs behind the median, and the fastest and slowest of them (the median where a
    /// sweep kept none).
    pub runs: u64,
    pub min: f64,
    pub max: f64,
    pub reason: String,
}

impl ScaleCell {
    /// The median and the spread of the runs, for rankings ([`crate::stats::compare`]).
    pub fn spread(&self) -> Spread {
        Spread::of_runs(self.median, self.min, self.max, self.runs)
    }
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
    table.refuse_duplicates(|r| format!("{} {} n={}", r.model, r.workload, r.n))?;
    let mut cells = Vec::new();
    for line in &table.rows {
        let r = &line.row;
        let check = Check {
            path: &table.path,
            line,
        };
        let ok = r.status == Status::Ok;
        let median = if ok {
            check.time("median_s", r.median_s.or(r.mean_s))?
        } else {
            0.0
        };
        let runs = |x: Option<f64>, name: &str| -> Result<f64> {
            Ok(check
                .optional(name, x.filter(|_| ok), Check::time)?
                .unwrap_or(median))
        };
        cells.push(ScaleCell {
            model: r.model.clone(),
            workload: r.workload.clone(),
            n: r.n,
            status: r.status,
            median,
            runs: r.runs.unwrap_or(1),
            min: runs(r.min_s, "min_s")?,
            max: runs(r.max_s, "max_s")?,
            rss: if ok {
                check.non_negative("peak_rss_bytes", r.peak_rss_bytes)?
            } else {
                0.0
            },
            pss: check.optional_bytes("peak_pss_bytes", r.peak_pss_bytes)?,
            overflows: r.listen_overflows.unwrap_or(0) as f64,
            driver: r.driver.clone(),
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
    table.refuse_duplicates(|r| format!("{} {}", r.model, r.workload))?;
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
