//! From run to run: every full `make bench` kept in results/runs, its speedups side by
//! side, so the spread of this machine's noise is in plain view.

use super::format::{ratio, unique};
use super::inputs::{left_out_notes, read_bench, split_wrong_driver, Cell};
use crate::stats::compare::{compare, Order};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The section, or nothing when fewer than two full runs are kept.
pub fn across_runs(runs_dir: &Path) -> Result<String> {
    let runs = full_runs(runs_dir);
    if runs.len() < 2 {
        return Ok(String::new());
    }
    // A run's cells measured on another driver than their model's name says are left out,
    // as in the other sections ([`super::inputs::wrong_driver`]).
    let (mut all, mut left_out) = (Vec::new(), Vec::new());
    for run in &runs {
        let (kept, left) = split_wrong_driver(read_bench(&run.join("summary.csv"))?, |c| {
            (&c.model, &c.driver)
        });
        all.push(kept);
        left_out.extend(left);
    }
    let notes = left_out_notes(
        "runs/*/summary.csv",
        left_out
            .iter()
            .map(|c| (c.model.as_str(), c.driver.as_str())),
    );
    let mut md = format!(
        "## From run to run\n\n{notes}Speedup over sync (each run's median of per-round ratios) across the {} full runs kept in results/runs: the middle run's, then the lowest and highest. The spread is this machine's noise; a difference between two models smaller than it means nothing.\n\n| model | cpu | io |\n| --- | --- | --- |\n",
        runs.len()
    );
    for model in unique(all.iter().flatten().map(|c| c.model.as_str())) {
        let span = |workload: &str| {
            let mut xs: Vec<f64> = all
                .iter()
                .filter_map(|cells| speedup(cells, model, workload))
                .collect();
            xs.sort_by(f64::total_cmp);
            match xs.as_slice() {
                [] => "–".to_string(),
                [lo, .., hi] => format!("{:.2}x ({lo:.2}x – {hi:.2}x)", xs[xs.len() / 2]),
                [one] => format!("{one:.2}x"),
            }
        };
        let _ = writeln!(md, "| {model} | {} | {} |", span("cpu"), span("io"));
    }
    md.push('\n');
    Ok(md)
}

/// The folders of full runs (`<time>-full-<pid>`) that have a summary.csv, oldest first.
pub fn full_runs(runs_dir: &Path) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir(runs_dir) else {
        return Vec::new();
    };
    let mut runs: Vec<PathBuf> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("-full-"))
        })
        .filter(|p| p.join("summary.csv").exists())
        .collect();
    runs.sort();
    runs
}

/// sync's median over `model`'s, for `workload`, when both were measured (for a Python
/// model, python-sync's).
pub fn speedup(cells: &[Cell], model: &str, workload: &str) -> Option<f64> {
    let ok = |m: &str| {
        cells
            .iter()
            .find(|c| c.model == m && c.workload == workload && c.ok)
    };
    Some(ok(model)?.speedup_over(ok(crate::models::baseline(model))?))
}

/// The speedup as seed.rs shows it: "1.85x", or "1.02x (tie)" where the model's runs and
/// its sync's overlap, so the ratio says nothing ([`crate::stats::compare`]).
pub fn speedup_text(cells: &[Cell], model: &str, workload: &str) -> String {
    let ok = |m: &str| {
        cells
            .iter()
            .find(|c| c.model == m && c.workload == workload && c.ok)
    };
    let x = ratio(speedup(cells, model, workload));
    let (Some(cell), Some(sync)) = (ok(model), ok(crate::models::baseline(model))) else {
        return x;
    };
    if cell.model == sync.model {
        return x;
    }
    match compare(&cell.spread(), &sync.spread()) {
        Order::Tie => format!("{x} (tie)"),
        Order::OneRun => format!("{x} (one run)"),
        Order::Below | Order::Above => x,
    }
}
