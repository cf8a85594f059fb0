//! scale.csv and scale-fit.csv: their rows as typed records, and memory per task fitted
//! from the measured cells.

use super::{Cell, Status};
use crate::stats::fit::{linear_fit, Fit};
use crate::table::{self, fixed};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// One row of scale.csv: a (model, workload, N) cell. A skipped or failed cell has only
/// its reason; every number is empty.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleRow {
    pub model: String,
    pub workload: String,
    pub n: u64,
    pub status: Status,
    pub runs: Option<u64>,
    #[serde(serialize_with = "fixed::<4, _>")]
    pub mean_s: Option<f64>,
    /// Not in sweeps written before the prediction used it.
    #[serde(default, serialize_with = "fixed::<4, _>")]
    pub median_s: Option<f64>,
    #[serde(serialize_with = "fixed::<4, _>")]
    pub min_s: Option<f64>,
    #[serde(serialize_with = "fixed::<4, _>")]
    pub max_s: Option<f64>,
    /// A float so that a negative value is reported as impossible, not as "not a number".
    #[serde(serialize_with = "fixed::<0, _>")]
    pub peak_rss_bytes: Option<f64>,
    /// Not in sweeps written before the models reported PSS.
    #[serde(default, serialize_with = "fixed::<0, _>")]
    pub peak_pss_bytes: Option<f64>,
    #[serde(default)]
    pub workers: Option<u64>,
    #[serde(default)]
    pub peak_threads: Option<u64>,
    /// The I/O driver the runs ran on (monoio: `io_uring` or `epoll`), as in summary.csv;
    /// empty for the models that name none, and in sweeps written before the column.
    #[serde(default)]
    pub driver: String,
    /// CPU time, user and system, mean over the runs. Not in sweeps written before the
    /// models reported it.
    #[serde(default, serialize_with = "fixed::<4, _>")]
    pub user_s: Option<f64>,
    #[serde(default, serialize_with = "fixed::<4, _>")]
    pub system_s: Option<f64>,
    #[serde(default)]
    pub listen_overflows: Option<u64>,
    #[serde(default)]
    pub syn_retrans: Option<u64>,
    /// Sockets in TIME_WAIT when the cell started.
    #[serde(default)]
    pub time_wait_at_start: Option<u64>,
    pub reason: String,
}

impl From<&Cell> for ScaleRow {
    fn from(c: &Cell) -> ScaleRow {
        let ok = c.status == Status::Ok;
        let f = |x: f64| ok.then_some(x);
        let u = |x: u64| ok.then_some(x);
        ScaleRow {
            model: c.model.clone(),
            workload: c.workload.clone(),
            n: c.n,
            status: c.status,
            runs: u(c.runs as u64),
            mean_s: f(c.mean_s),
            median_s: f(c.median_s),
            min_s: f(c.min_s),
            max_s: f(c.max_s),
            peak_rss_bytes: f(c.peak_rss_bytes as f64),
            // 0: not reported by the model, left empty.
            peak_pss_bytes: f(c.peak_pss_bytes as f64).filter(|x| *x > 0.0),
            workers: u(c.workers).filter(|x| *x > 0),
            peak_threads: u(c.peak_threads).filter(|x| *x > 0),
            driver: c.driver.clone(),
            // 0 s of CPU in all: not reported by the model (a run always uses some).
            user_s: f(c.user_s).filter(|_| c.user_s + c.system_s > 0.0),
            system_s: f(c.system_s).filter(|_| c.user_s + c.system_s > 0.0),
            listen_overflows: u(c.listen_overflows),
            syn_retrans: u(c.syn_retrans),
            time_wait_at_start: u(c.time_wait_at_start),
            reason: c.reason.clone(),
        }
    }
}

/// One row of scale-fit.csv: memory per task of one (model, workload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitRow {
    pub model: String,
    pub workload: String,
    /// Slope of peak memory against N, of the memory named in `fitted_on`.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub bytes_per_task: Option<f64>,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub base_bytes: Option<f64>,
    #[serde(serialize_with = "fixed::<4, _>")]
    pub r2: Option<f64>,
    pub points: u64,
    /// "pss" (what the machine pays), or "rss" where a model reported no PSS. Sweeps
    /// written before PSS have no such column: their fits are RSS.
    #[serde(default)]
    pub fitted_on: Option<String>,
    /// The slope of summed peak RSS, for comparison: it counts shared pages once per
    /// process.
    #[serde(default, serialize_with = "fixed::<0, _>")]
    pub rss_bytes_per_task: Option<f64>,
}

/// Memory per task for every (model, workload) but cpu with at least three measured
/// cells: a straight line through peak PSS against N (peak RSS if any cell lacks PSS),
/// and the RSS slope beside it.
pub fn fits(cells: &[Cell], sleep: Duration) -> Vec<FitRow> {
    // Each (model, workload) once, in the order of its first cell: the sweep interleaves
    // sequences, so a pair's cells need not be next to each other.
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for c in cells {
        let key = (c.model.as_str(), c.workload.as_str());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.into_iter()
        .filter(|(_, w)| *w != "cpu")
        .filter_map(|(model, workload)| {
            let ok: Vec<&Cell> = cells
                .iter()
                .filter(|c| c.model == model && c.workload == workload)
                .filter(|c| c.status == Status::Ok && all_at_once(c, sleep))
                .collect();
            let line = |y: fn(&Cell) -> u64| -> Option<Fit> {
                let points: Vec<(f64, f64)> =
                    ok.iter().map(|c| (c.n as f64, y(c) as f64)).collect();
                (points.len() >= 3).then(|| linear_fit(&points))?
            };
            let rss = line(|c| c.peak_rss_bytes)?;
            let pss = ok.iter().all(|c| c.peak_pss_bytes > 0);
            let fit = if pss {
                line(|c| c.peak_pss_bytes)?
            } else {
                rss
            };
            Some(FitRow {
                model: model.to_string(),
                workload: workload.to_string(),
                bytes_per_task: Some(fit.slope),
                base_bytes: Some(fit.intercept),
                r2: Some(fit.r2),
                points: ok.len() as u64,
                fitted_on: Some(if pss { "pss" } else { "rss" }.into()),
                rss_bytes_per_task: Some(rss.slope),
            })
        })
        .collect()
}

/// Rewrite scale.csv and scale-fit.csv in `out` from every cell so far.
pub fn write_csvs(out: &Path, cells: &[Cell], sleep: Duration) -> Result<()> {
    let rows: Vec<ScaleRow> = cells.iter().map(ScaleRow::from).collect();
    table::write(&out.join("scale.csv"), &rows)?;
    table::write(&out.join("scale-fit.csv"), &fits(cells, sleep))
}

/// Whether a cell's peak memory counts every task at once. A sleep cell's tasks wait
/// `sleep` each, and its run takes about the time to start them all plus one wait: if
/// starting them took longer than one wait (the run, longer than two), the first ended
/// before the last began (procs at 10,000: 18 s of process starts), and the peak holds
/// only some of them, so the cell says nothing about memory per task.
fn all_at_once(c: &Cell, sleep: Duration) -> bool {
    c.workload != "sleep" || c.median_s < 2.0 * sleep.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLEEP: Duration = Duration::from_secs(1);

    fn ok(n: u64, rss: u64, pss: u64) -> Cell {
        Cell {
            model: "procs".into(),
            workload: "sleep".into(),
            n,
            status: Status::Ok,
            peak_rss_bytes: rss,
            peak_pss_bytes: pss,
            median_s: 1.0,
            ..Cell::default()
        }
    }

    /// The fit is on PSS, with the RSS slope beside it; a model without PSS is fitted on
    /// RSS and says so.
    #[test]
    fn memory_per_task_is_fitted_on_pss() {
        let cells = [
            ok(10, 30_000, 3_000),
            ok(100, 300_000, 12_000),
            ok(1000, 3_000_000, 102_000),
        ];
        let fit = &fits(&cells, SLEEP)[0];
        assert_eq!(fit.fitted_on.as_deref(), Some("pss"));
        assert!(
            (fit.bytes_per_task.unwrap() - 100.0).abs() < 1e-6,
            "{fit:?}"
        );
        assert!(
            (fit.rss_bytes_per_task.unwrap() - 3000.0).abs() < 1e-6,
            "{fit:?}"
        );
        let old = [
            ok(10, 30_000, 0),
            ok(100, 300_000, 0),
            ok(1000, 3_000_000, 0),
        ];
        let fit = &fits(&old, SLEEP)[0];
        assert_eq!(fit.fitted_on.as_deref(), Some("rss"));
        assert_eq!(fit.bytes_per_task, fit.rss_bytes_per_task);
    }

    /// A sleep cell whose tasks were not all waiting at once (it took far longer than one
    /// wait) is left out of the fit.
    #[test]
    fn cells_whose_tasks_did_not_overlap_are_not_fitted() {
        let mut late = ok(10_000, 1, 1_000);
        late.median_s = 2.5; // 1.5 s of starts for 1 s waits
        let cells = [ok(10, 1, 10), ok(100, 1, 100), ok(1000, 1, 1000), late];
        let fit = &fits(&cells, SLEEP)[0];
        assert_eq!(fit.points, 3, "{fit:?}");
        assert!((fit.bytes_per_task.unwrap() - 1.0).abs() < 1e-6, "{fit:?}");
    }

    /// The sweep interleaves sequences: a (model, workload) whose cells are apart still
    /// gets one fit.
    #[test]
    fn interleaved_cells_get_one_fit_each() {
        let other = |n| Cell {
            workload: "io".into(),
            ..ok(n, 10 * n, n)
        };
        let cells = [
            ok(10, 1, 1),
            other(10),
            ok(100, 2, 2),
            other(100),
            ok(1000, 3, 3),
            other(1000),
        ];
        let keys: Vec<String> = fits(&cells, SLEEP)
            .iter()
            .map(|f| format!("{} {}", f.model, f.workload))
            .collect();
        assert_eq!(keys, ["procs sleep", "procs io"]);
    }

    /// A model that reports no CPU time leaves the columns empty, not 0 s.
    #[test]
    fn cpu_time_not_reported_is_left_empty() {
        let silent = ScaleRow::from(&ok(10, 1, 1));
        assert_eq!((silent.user_s, silent.system_s), (None, None));
        let reported = ScaleRow::from(&Cell {
            user_s: 0.25,
            ..ok(10, 1, 1)
        });
        assert_eq!(
            (reported.user_s, reported.system_s),
            (Some(0.25), Some(0.0))
        );
    }

    #[test]
    fn skipped_cells_have_a_reason_and_no_numbers() {
        let skipped = Cell {
            n: 8,
            status: Status::Skipped,
            mean_s: 1.0,
            reason: "predicted 2 s, over the budget".into(),
            ..Cell::default()
        };
        let text = table::to_text(&[ScaleRow::from(&skipped)]).unwrap();
        assert_eq!(
            text.lines().nth(1),
            Some(",,8,skipped,,,,,,,,,,,,,,,,\"predicted 2 s, over the budget\"")
        );
    }
}
