//! The report's "What one task costs" section, and its three rows of the claims table.
//!
//! [`costs_report`] returns the section and the rows; the report places the two parts.
//!
//! Inputs (read and checked by [`super::inputs`]), each optional (a missing one leaves
//! its cells as "–"):
//! - `costs-fit.csv`, `costs.csv` (`benchkit costs`, in `make bench-scale`): spawn and
//!   switch, the slope and its r², and the fitted points for the charts.
//! - `scale-fit.csv`: memory per waiting task (`bytes_per_task` of the sleep workload).
//! - `summary.csv` with `bench-settings.txt` (`make bench`): hyperfine's user and system
//!   time of each io cell, divided by its downloads (N x URLs) for the CPU one download
//!   costs.
//! - `scale.csv`: the same for the sweep's io cells (one URL per task), from its `user_s`
//!   and `system_s` columns when it has them.

mod claims;

use super::inputs::{Cell, CostCell, CostFit, Fit, ScaleCell};
use crate::charts::{self, Line};
use crate::report::format::{bytes, thousands};
use crate::stats::compare::{compare, Order, Spread};
use crate::sweep::scale::Status;
use anyhow::Result;
use claims::claims_rows;
use std::fmt::Write as _;
use std::path::Path;

/// jimblandy/context-switch's figures (its README, on its authors' machine): the outside
/// reference the report names beside ours.
const OUTSIDE: &str = "jimblandy/context-switch, on another machine and kernel: about 1.7 µs per switch between threads against 0.2 µs between async tasks, 17 µs to create a thread against 0.3 µs for a tokio task. Machines differ: compare ratios, not absolute figures";

/// The two parts: the section (with its charts written into the charts folder), and three
/// rows for the claims table "| claim | article: processes / threads / async | measured
/// here | verdict in Rust |", without its header.
pub struct CostsReport {
    pub section: String,
    pub claims_rows: String,
}

/// User plus system time (`cpu_s`) over the downloads it paid for, in µs: the CPU one
/// download costs (for the io table and the scale table too). None where there were no
/// downloads.
pub fn cpu_us_per_download(cpu_s: f64, downloads: u64) -> Option<f64> {
    (downloads > 0).then(|| cpu_s * 1e6 / downloads as f64)
}

/// A fitted cost in µs and its spread: the fit through the fastest runs and the one
/// through the medians, each widened by its standard error. None where it was not fitted.
pub fn spread_of(f: &CostFit) -> Option<Spread> {
    Some(Spread::of_fit(
        f.cost_us?,
        f.r2?,
        f.points as u64,
        f.median_cost_us,
    ))
}

/// URLs per io task in `make bench`, from bench-settings.txt's first line: the count of
/// `io_urls=` when real URLs were given, else `urls=` (the fixture server's).
pub fn bench_urls(settings: &str) -> Option<u64> {
    let line = settings.lines().next()?;
    if let Some(real) = line.split_once("io_urls=").map(|(_, rest)| rest.trim()) {
        if !real.is_empty() && real != "fixture" {
            return Some(real.split_whitespace().count() as u64);
        }
    }
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("urls="))
        .and_then(|v| v.parse().ok())
}

/// Everything the section is made of, from the report's inputs.
pub struct Sources<'a> {
    fits: &'a [CostFit],
    cells: &'a [CostCell],
    memory: &'a [Fit],
    /// make bench's io cells that were measured.
    bench_io: Vec<&'a Cell>,
    bench_urls: Option<u64>,
    /// The sweep's io cells that were measured.
    scale_io: Vec<&'a ScaleCell>,
}

impl<'a> Sources<'a> {
    pub fn of(inputs: &'a super::Inputs) -> Sources<'a> {
        Sources {
            fits: &inputs.cost_fits,
            cells: &inputs.cost_cells,
            memory: inputs.fits.as_deref().unwrap_or_default(),
            bench_io: inputs
                .cells
                .iter()
                .filter(|c| c.workload == "io" && c.ok)
                .collect(),
            bench_urls: bench_urls(&inputs.settings.text),
            scale_io: inputs
                .scale
                .iter()
                .flatten()
                .filter(|c| c.workload == "io" && c.status == Status::Ok)
                .collect(),
        }
    }

    /// Every model named anywhere, sync (the baseline) first, the rest in order seen.
    fn models(&self) -> Vec<String> {
        let mut models: Vec<String> = Vec::new();
        let names = self.fits.iter().map(|f| &f.model);
        let names = names.chain(self.bench_io.iter().map(|c| &c.model));
        for name in names.chain(self.memory.iter().map(|m| &m.model)) {
            if !models.contains(name) {
                models.push(name.clone());
            }
        }
        models.sort_by_key(|m| m != "sync");
        models
    }

    fn fit(&self, model: &str, workload: &str) -> Option<&CostFit> {
        self.fits
            .iter()
            .find(|f| f.model == model && f.workload == workload)
    }

    /// The fitted cost in µs and its spread: the fit through the fastest runs and the one
    /// through the medians, each widened by its standard error.
    fn spread(&self, model: &str, workload: &str) -> Option<Spread> {
        spread_of(self.fit(model, workload)?)
    }

    /// How `a`'s cost stands against `b`'s, when both were fitted.
    fn order(&self, a: &str, b: &str, workload: &str) -> Option<Order> {
        Some(compare(
            &self.spread(a, workload)?,
            &self.spread(b, workload)?,
        ))
    }

    /// The fitted cost in µs, when there is one.
    fn cost(&self, model: &str, workload: &str) -> Option<f64> {
        self.fit(model, workload)?.cost_us
    }

    fn bench_cpu(&self, model: &str) -> Option<f64> {
        let cell = self.bench_io.iter().find(|c| c.model == model)?;
        cpu_us_per_download(cell.cpu_s?, cell.n * self.bench_urls?)
    }

    /// CPU per download at the largest io cell of the sweep that has CPU columns, and its N.
    fn scale_cpu(&self, model: &str) -> Option<(f64, u64)> {
        self.scale_io
            .iter()
            .filter(|c| c.model == model)
            .filter_map(|c| Some((cpu_us_per_download(c.cpu_s?, c.n)?, c.n)))
            .max_by_key(|&(_, n)| n)
    }

    fn memory(&self, model: &str) -> Option<f64> {
        self.memory
            .iter()
            .find(|m| m.model == model && m.workload == "sleep")
            .map(|m| m.per_task)
    }
}

/// The "What one task costs" section and three claims-table rows, from the CSVs the
/// report read; the charts go into `charts_dir` (results/charts).
pub fn costs_report(sources: &Sources, charts_dir: &Path) -> Result<CostsReport> {
    Ok(CostsReport {
        section: section(sources, charts_dir)?,
        claims_rows: claims_rows(sources),
    })
}

fn section(inputs: &Sources, charts_dir: &Path) -> Result<String> {
    let mut md = String::from("## What one task costs\n\n");
    if inputs.fits.is_empty() {
        md +=
            "spawn and switch: not measured yet (`make bench-scale` writes results/costs.csv).\n\n";
    } else {
        md += "spawn: the slope of time against N for N tasks that do nothing, started and joined the model's own way. switch: N tasks in a ring hand a token on through the model's own channel, R times round; the slope of time against the hand-offs (N x R). Both fitted through the fastest of each size's runs (`benchkit costs`; costs.csv has every cell, costs-fit.csv the fits and the fit of the medians). CPU per download: user + system time of an io run over its downloads, start-up included, so it is largest where there are fewest downloads. Memory per waiting task: the slope of peak memory against N (scale sweep, sleep).\n\n";
    }
    md += &table(inputs);
    let _ = writeln!(md, "Outside reference: {OUTSIDE}.\n");
    for (workload, title) in [
        ("spawn", "spawn: time against N tasks"),
        ("switch", "switch: time against hand-offs (N x R)"),
    ] {
        let lines = chart_lines(inputs, workload);
        if lines.is_empty() {
            continue;
        }
        let file = format!("costs-{workload}.svg");
        charts::lines(
            &charts_dir.join(&file),
            title,
            "N (tasks)",
            "milliseconds, fastest run",
            &lines,
            true,
            None,
        )?;
        md += &super::charts_embed(
            title,
            &format!("charts/{file}"),
            &format!("costs.csv (workload {workload}, stage fit)"),
            "units, min_ms (the fastest run)",
        );
    }
    Ok(md)
}

/// The table, a row per model, then the reasons of the fits that were not run.
fn table(inputs: &Sources) -> String {
    let mut md = String::new();
    let scale_n = inputs
        .models()
        .iter()
        .filter_map(|m| inputs.scale_cpu(m).map(|(_, n)| n))
        .max();
    let _ = writeln!(
        md,
        "| model | spawn, µs per task | switch, µs per hand-off | CPU µs per download, make bench ({}) | CPU µs per download, scale sweep{} | memory per waiting task |\n| --- | --- | --- | --- | --- | --- |",
        match inputs.bench_urls {
            Some(urls) => format!("N x {urls} URLs"),
            None => "N x URLs".into(),
        },
        scale_n.map_or(String::new(), |n| format!(" (largest N, up to {})", thousands(n)))
    );
    let mut not_run = Vec::new();
    for model in inputs.models() {
        let mut fitted = |workload: &str| match inputs.fit(&model, workload) {
            Some(CostFit {
                cost_us: Some(us),
                r2: Some(r2),
                ..
            }) => format!(
                "{} (r² {r2:.2}{})",
                us_text(*us),
                if *r2 < 0.9 { ", under 0.9" } else { "" }
            ),
            Some(f) if !f.reason.is_empty() => {
                not_run.push(format!("{model} {workload}: {}", f.reason));
                "–".into()
            }
            _ => "–".into(),
        };
        let (spawn, switch) = (fitted("spawn"), fitted("switch"));
        let scale = inputs.scale_cpu(&model).map_or("–".into(), |(us, n)| {
            format!("{} (N={})", us_text(us), thousands(n))
        });
        let _ = writeln!(
            md,
            "| {model} | {spawn} | {switch} | {} | {scale} | {} |",
            inputs.bench_cpu(&model).map_or("–".into(), us_text),
            inputs.memory(&model).map_or("–".into(), bytes)
        );
    }
    md.push('\n');
    if !not_run.is_empty() {
        md += "Not fitted:\n\n";
        for line in &not_run {
            let _ = writeln!(md, "- {}", line.replace('|', "/"));
        }
        md.push('\n');
    }
    md
}

/// The fitted sizes of every model, one line each (log-log: the costs span 10,000x).
fn chart_lines(inputs: &Sources, workload: &str) -> Vec<Line> {
    inputs
        .models()
        .into_iter()
        .filter_map(|model| {
            let cells = inputs
                .cells
                .iter()
                .filter(|c| c.model == model && c.workload == workload && c.stage == "fit");
            let (mut points, mut missing) = (Vec::new(), Vec::new());
            for c in cells {
                match (c.status.as_str(), c.min_ms) {
                    ("ok", Some(ms)) if ms > 0.0 => points.push((c.units as f64, ms)),
                    ("ok", _) => {}
                    _ => missing.push((c.units as f64, true)),
                }
            }
            (!points.is_empty()).then_some(Line {
                model,
                points,
                missing,
            })
        })
        .collect()
}

/// 0.153 -> "0.15 µs", 4.06 -> "4.1 µs", 2593 -> "2,593 µs".
fn us_text(us: f64) -> String {
    if us >= 100.0 {
        format!("{} µs", thousands(us.round() as u64))
    } else if us >= 10.0 {
        format!("{us:.0} µs")
    } else if us >= 1.0 {
        format!("{us:.1} µs")
    } else {
        format!("{us:.2} µs")
    }
}

/// A ratio: 1.73 -> "1.7x", 48.6 -> "49x", 1841.3 -> "1,841x".
fn times(x: f64) -> String {
    if x >= 10.0 {
        format!("{}x", thousands(x.round() as u64))
    } else {
        format!("{x:.1}x")
    }
}

fn opt_us(us: Option<f64>) -> String {
    us.map_or("–".into(), us_text)
}

/// Microseconds as milliseconds: 2593 -> "2.6 ms", 4060 -> "4.1 ms".
fn ms_text(us: f64) -> String {
    let ms = us / 1e3;
    if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests;
