//! Running one cell of the sweep: the model binary 1-3 times, each run with a deadline,
//! and what its summary lines and the kernel's counters say about it.

use super::host::tcp_counters;
use super::{Cell, Status};
use crate::sweep::runner::Run;
use std::path::Path;
use std::time::Duration;
use workload::Summary;

/// Run one cell: three runs if it is quick (predicted, or for a first cell, its first
/// run, under 2 s) and `repeat` allows, one if not; the first failure ends it.
pub fn run_cell(
    exe: &Path,
    args: &[String],
    predicted_s: Option<f64>,
    budget: Duration,
    repeat: bool,
) -> Cell {
    const QUICK_S: f64 = 2.0;
    // A run may take a while over its prediction on a busy machine, but never forever.
    let kill_after = budget.mul_f64(3.0).max(Duration::from_secs(10));
    let before = tcp_counters();
    let (mut times, mut summaries) = (Vec::new(), Vec::new());
    let mut runs = if repeat && predicted_s.is_some_and(|s| s < QUICK_S) {
        3
    } else {
        1
    };
    while times.len() < runs {
        match crate::sweep::runner::run_once(exe, args, kill_after) {
            Ok(Run { seconds, summary }) => {
                if repeat && predicted_s.is_none() && times.is_empty() && seconds < QUICK_S {
                    runs = 3;
                }
                times.push(seconds);
                summaries.push(summary);
            }
            Err(failure) => {
                return Cell {
                    status: Status::Failed,
                    reason: failure.reason(),
                    ..Cell::default()
                }
            }
        }
    }
    let after = tcp_counters();
    Cell {
        listen_overflows: after
            .listen_overflows
            .saturating_sub(before.listen_overflows),
        syn_retrans: after.syn_retrans.saturating_sub(before.syn_retrans),
        ..measured(&times, &summaries)
    }
}

/// A measured cell from its runs' times and summary lines: time statistics, and the
/// largest memory and thread counts of any run. Runs on two I/O drivers (monoio that
/// fell back to epoll in some runs only) measured neither: the cell fails, naming both.
pub fn measured(times: &[f64], summaries: &[Summary]) -> Cell {
    let driver = summaries.first().and_then(|s| s.driver.clone());
    if let Some(other) = summaries.iter().find(|s| s.driver != driver) {
        let name = |d: &Option<String>| d.clone().unwrap_or_else(|| "none".into());
        return Cell {
            status: Status::Failed,
            reason: format!(
                "driver differs between runs: {} and {}",
                name(&driver),
                name(&other.driver)
            ),
            ..Cell::default()
        };
    }
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = match sorted.len() {
        0 => 0.0,
        len if len % 2 == 1 => sorted[mid],
        _ => (sorted[mid - 1] + sorted[mid]) / 2.0,
    };
    let max = |f: fn(&Summary) -> u64| summaries.iter().map(f).max().unwrap_or(0);
    let mean = |f: fn(&Summary) -> f64| {
        summaries.iter().map(f).sum::<f64>() / summaries.len().max(1) as f64
    };
    Cell {
        status: Status::Ok,
        runs: times.len(),
        mean_s: times.iter().sum::<f64>() / times.len().max(1) as f64,
        median_s: median,
        min_s: sorted.first().copied().unwrap_or(0.0),
        max_s: sorted.last().copied().unwrap_or(0.0),
        peak_rss_bytes: max(|s| s.peak_rss_bytes),
        peak_pss_bytes: max(|s| s.peak_pss_bytes),
        workers: max(|s| s.workers),
        peak_threads: max(|s| s.peak_threads),
        driver: driver.unwrap_or_default(),
        user_s: mean(|s| s.user_ms) / 1e3,
        system_s: mean(|s| s.system_ms) / 1e3,
        ..Cell::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_keeps_the_median_and_the_largest_peaks() {
        let summary = |rss, pss| {
            Summary {
            peak_rss_bytes: rss,
            peak_pss_bytes: pss,
            workers: 2,
            peak_threads: 3,
            ..Summary::from_line(r#"{"model":"m","workload":"sleep","n":1,"wall_ms":1.0,"checksum":"0x0","bytes":0,"tasks":1,"processes":1,"peak_rss_bytes":0}"#).unwrap()
        }
        };
        let cell = measured(&[0.3, 0.1, 0.2], &[summary(10, 4), summary(30, 2)]);
        assert_eq!(
            (cell.median_s, cell.min_s, cell.max_s, cell.runs),
            (0.2, 0.1, 0.3, 3)
        );
        assert_eq!((cell.peak_rss_bytes, cell.peak_pss_bytes), (30, 4));
        assert_eq!(measured(&[0.1, 0.3], &[]).median_s, 0.2);
    }

    /// A cell keeps the driver its runs name (none: empty); runs on two drivers measured
    /// neither, and fail the cell.
    #[test]
    fn a_cell_keeps_its_driver_and_two_drivers_fail_it() {
        let line = r#"{"model":"m","workload":"sleep","n":1,"wall_ms":1.0,"checksum":"0x0","bytes":0,"tasks":1,"processes":1,"peak_rss_bytes":0}"#;
        let on = |driver: Option<&str>| Summary {
            driver: driver.map(String::from),
            ..Summary::from_line(line).unwrap()
        };
        let epoll = measured(&[0.1, 0.2], &[on(Some("epoll")), on(Some("epoll"))]);
        assert_eq!((epoll.status, epoll.driver.as_str()), (Status::Ok, "epoll"));
        assert_eq!(measured(&[0.1], &[on(None)]).driver, "");
        let mixed = measured(&[0.1, 0.2], &[on(Some("io_uring")), on(Some("epoll"))]);
        assert_eq!(
            (mixed.status, mixed.reason.as_str()),
            (
                Status::Failed,
                "driver differs between runs: io_uring and epoll"
            )
        );
    }

    /// A quick cell runs three times, unless it must not repeat (an io cell of 10,000
    /// connections, whose second run would meet the first one's TIME_WAIT sockets).
    #[test]
    fn a_quick_cell_runs_three_times_unless_it_must_not_repeat() {
        let line = r#"{"model":"m","workload":"sleep","n":1,"wall_ms":1.0,"checksum":"0x0","bytes":0,"tasks":1,"processes":1,"peak_rss_bytes":0}"#;
        let sh = Path::new("/bin/sh");
        let args = ["-c".to_string(), format!("echo '{line}'")];
        let budget = Duration::from_secs(20);
        for (predicted, repeat, runs) in [
            (Some(0.1), true, 3),
            (None, true, 3),
            (Some(0.1), false, 1),
            (None, false, 1),
            (Some(5.0), true, 1),
        ] {
            let cell = run_cell(sh, &args, predicted, budget, repeat);
            assert_eq!(
                (cell.status, cell.runs),
                (Status::Ok, runs),
                "{predicted:?} {repeat}: {}",
                cell.reason
            );
        }
    }
}
