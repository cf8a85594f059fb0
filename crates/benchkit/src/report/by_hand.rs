//! "By hand": runs worth keeping that no sweep makes, each with its command, date,
//! machine and commit, from by-hand.csv (`make bench-by-hand`, scripts/by-hand.sh). Today:
//! what a switch costs pinned to one CPU against unpinned, the figure behind the README's
//! caveat that a switch here costs more than on a laptop.

use crate::stats::compare::{compare, Order, Spread};
use crate::table::Table;
use anyhow::{bail, Result};
use serde::Deserialize;
use std::fmt::Write as _;
use std::path::Path;

/// One row of by-hand.csv: one command, run `runs` times.
#[derive(Debug, Deserialize)]
pub struct Row {
    pub experiment: String,
    pub model: String,
    pub pinned: String,
    pub command: String,
    pub runs: u64,
    pub min: Option<f64>,
    pub median: Option<f64>,
    pub max: Option<f64>,
    pub unit: String,
    pub date_utc: String,
    pub cpu: String,
    pub cores: u64,
    pub kernel: String,
    pub git_commit: String,
}

/// Read by-hand.csv, every figure checked (a time above 0, min ≤ median ≤ max).
pub fn read(path: &Path) -> Result<Vec<Row>> {
    let required = [
        "experiment",
        "model",
        "command",
        "min",
        "median",
        "max",
        "unit",
    ];
    let table = Table::<Row>::read(path, &required)?;
    table.refuse_duplicates(|r| format!("{} {} pinned={}", r.experiment, r.model, r.pinned))?;
    if table.rows.is_empty() {
        bail!("{}: no rows", table.path);
    }
    let rows = table.checked(|r, check| {
        let (lo, mid, hi) = (
            check.time("min", r.min)?,
            check.time("median", r.median)?,
            check.time("max", r.max)?,
        );
        if !(lo <= mid && mid <= hi) {
            return Err(check.error(format!("min {lo}, median {mid}, max {hi} are out of order")));
        }
        Ok(())
    })?;
    Ok(rows)
}

/// The section: one row per command, and for each model the ratio of unpinned to pinned
/// where the two runs' spreads do not overlap.
pub fn section(rows: &[Row]) -> String {
    let mut md = String::from("## By hand\n\nRuns no sweep makes, kept with their command, date, machine and commit (by-hand.csv, written by `make bench-by-hand`). A switch pinned to one CPU (`taskset -c 0`) wakes its next task on the same CPU; unpinned, as the costs sweep runs, most hand-offs wake a thread on the other CPU.\n\n");
    md += "| experiment | model | pinned | median (min to max) | runs | command | date | machine | commit |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for r in rows {
        let (lo, mid, hi) = (
            r.min.unwrap_or(0.0),
            r.median.unwrap_or(0.0),
            r.max.unwrap_or(0.0),
        );
        let _ = writeln!(
            md,
            "| {} | {} | {} | {mid:.2} {u} ({lo:.2} to {hi:.2}) | {} | `{}` | {} | {}, {} cores, {} | {} |",
            r.experiment,
            r.model,
            r.pinned,
            r.runs,
            r.command,
            r.date_utc,
            r.cpu,
            r.cores,
            r.kernel,
            r.git_commit,
            u = r.unit,
        );
    }
    md.push('\n');
    for r in rows.iter().filter(|r| r.pinned == "no") {
        let Some(p) = rows
            .iter()
            .find(|p| p.pinned == "yes" && p.model == r.model && p.experiment == r.experiment)
        else {
            continue;
        };
        let spread = |r: &Row| {
            Spread::of_runs(
                r.median.unwrap_or(0.0),
                r.min.unwrap_or(0.0),
                r.max.unwrap_or(0.0),
                r.runs,
            )
        };
        let (u, pm) = (spread(r), spread(p));
        let verdict = match compare(&pm, &u) {
            Order::Below => format!(
                "unpinned {:.2} {} against pinned {:.2}, {:.1}x.",
                u.value,
                r.unit,
                pm.value,
                u.value / pm.value
            ),
            Order::OneRun => format!(
                "unpinned {:.2} {} against pinned {:.2}, one run each: not ranked.",
                u.value, r.unit, pm.value
            ),
            Order::Above | Order::Tie => format!(
                "a tie within the runs' spread (unpinned {:.2} {} against pinned {:.2}).",
                u.value, r.unit, pm.value
            ),
        };
        let _ = writeln!(md, "- {}: {verdict}", r.model);
    }
    md + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "experiment,model,pinned,command,runs,min,median,max,unit,date_utc,cpu,cores,kernel,git_commit\n";

    fn rows(body: &str) -> Result<Vec<Row>> {
        let d = crate::test_dir("by-hand");
        let path = d.join("by-hand.csv");
        std::fs::write(&path, format!("{HEADER}{body}")).unwrap();
        let rows = read(&path);
        std::fs::remove_dir_all(&d).unwrap();
        rows
    }

    /// The ratio is given only where the spreads do not overlap; otherwise a tie.
    #[test]
    fn pinned_against_unpinned_is_ranked_only_outside_the_noise() {
        let body = "switch per hand-off,threads,no,c1,3,6.0,6.5,7.0,µs,D,\"CPU, v2\",2,K,abc\n\
                    switch per hand-off,threads,yes,c2,3,3.0,3.2,3.5,µs,D,\"CPU, v2\",2,K,abc\n\
                    switch per hand-off,procs,no,c3,3,4.0,5.0,6.0,µs,D,\"CPU, v2\",2,K,abc\n\
                    switch per hand-off,procs,yes,c4,3,3.0,4.5,5.0,µs,D,\"CPU, v2\",2,K,abc\n";
        let md = section(&rows(body).unwrap());
        assert!(
            md.contains("| 6.50 µs (6.00 to 7.00) | 3 | `c1` | D | CPU, v2, 2 cores, K | abc |"),
            "{md}"
        );
        assert!(
            md.contains("- threads: unpinned 6.50 µs against pinned 3.20, 2.0x."),
            "{md}"
        );
        assert!(
            md.contains("- procs: a tie within the runs' spread"),
            "{md}"
        );
    }

    #[test]
    fn impossible_figures_are_refused_with_file_and_line() {
        let bad = |body: &str| format!("{:#}", rows(body).unwrap_err());
        let e = bad("switch per hand-off,threads,no,c,3,NaN,1,2,µs,D,C,2,K,a\n");
        assert!(
            e.ends_with("by-hand.csv:2: min is NaN, not a finite number"),
            "{e}"
        );
        let e = bad("switch per hand-off,threads,no,c,3,3,2,4,µs,D,C,2,K,a\n");
        assert!(
            e.contains("by-hand.csv:2: min 3, median 2, max 4 are out of order"),
            "{e}"
        );
        let e = bad("");
        assert!(e.ends_with("no rows"), "{e}");
    }
}
