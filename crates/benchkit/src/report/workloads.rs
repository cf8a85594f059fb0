//! One section per workload of `make bench`: the table of times, speedups and memory
//! (PSS first, then peak RSS), a warning when the runs look disturbed, and the bar chart.

use super::costs::cpu_us_per_download;
use super::format::mib;
use super::inputs::{Cell, Measure, Settings};
use crate::charts::{self, Bar, Group};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;

/// The best possible time with perfect concurrency: io, one task's URLs x delay; cpu,
/// sync's time spread over the cores.
pub fn ideal(workload: &str, cells: &[&Cell], settings: &Settings, cores: f64) -> Option<f64> {
    match workload {
        "io" if settings.get("io_urls") == Some("fixture") => {
            Some(settings.num("urls")? * settings.num("delay_ms")? / 1000.0)
        }
        "cpu" => {
            let sync = sync_of(cells)?;
            let n = sync.n as f64;
            Some(sync.median * (n / cores).ceil() / n)
        }
        _ => None,
    }
}

/// The baseline of these cells: sync, or python-sync for the Python models'.
pub fn sync_of<'a>(cells: &'a [&Cell]) -> Option<&'a Cell> {
    cells
        .iter()
        .copied()
        .find(|c| c.model == crate::models::baseline(&c.model) && c.ok)
}

/// The memory to compare models by: PSS when every measured cell has it (what the
/// machine pays), else peak RSS (CSVs from before the models reported PSS).
pub fn measure(cells: &[&Cell]) -> Measure {
    if cells.iter().filter(|c| c.ok).all(|c| c.pss.is_some()) {
        Measure::Pss
    } else {
        Measure::Rss
    }
}

/// A cell's memory by `measure`.
pub fn memory(cell: &Cell, measure: Measure) -> f64 {
    match measure {
        Measure::Pss => cell.pss.unwrap_or(cell.rss),
        Measure::Rss => cell.rss,
    }
}

/// The Python models' cells of one workload (`make bench-python`) and their run's settings.
pub struct PythonCells<'a> {
    pub cells: Vec<&'a Cell>,
    pub settings: &'a Settings,
}

/// The section of one workload: heading, table, warning and chart (with the Python
/// models' bars beside ours, when they were measured).
pub fn section(
    workload: &str,
    cells: &[&Cell],
    settings: &Settings,
    cores: f64,
    charts_dir: &Path,
    python: Option<PythonCells>,
) -> Result<String> {
    let ideal = ideal(workload, cells, settings, cores);
    let mut md = heading(workload, cells, settings);
    if let Some(ideal) = ideal {
        let _ = writeln!(md, "Ideal time with perfect concurrency: {ideal:.3} s.\n");
    }
    md += "The speedup is the median of the per-round ratios (sync's time over the model's in the same round of the interleaved rounds), which one disturbed run cannot move; efficiency compares the median with the ideal. ";
    md += "Memory: PSS is the whole model's proportional memory (shared pages divided among the processes sharing them), peak RSS the sum of each process's peak resident memory; see \"Memory: PSS and peak RSS\" below.\n\n";
    // io: what one download costs in CPU, the figure that explains a CPU-bound run.
    let downloads = (workload == "io")
        .then(|| settings.num("urls"))
        .flatten()
        .map(|urls| urls as u64 * cells[0].n);
    md += &table(cells, ideal, downloads);
    if workload == "io" {
        md += &unverified(cells);
    }
    if let Some(warning) = noise_warning(cells, ideal) {
        let _ = writeln!(md, "{warning}\n");
    }
    let mut title = format!("{workload}: mean time per model (n={})", cells[0].n);
    let mut groups = vec![Group {
        name: "Rust".into(),
        label: "Rust: our models".into(),
        bars: bars(cells),
        ideal,
    }];
    if let Some(python) = python.filter(|p| !p.cells.is_empty()) {
        let n = python.cells[0].n;
        if n != cells[0].n {
            let _ = write!(title, ", Python n={n}");
        }
        groups.push(Group {
            name: "Python".into(),
            label: "Python: the article's programs (scripts/python)".into(),
            bars: bars(&python.cells),
            ideal: self::ideal(workload, &python.cells, python.settings, cores),
        });
    }
    charts::bars(&charts_dir.join(format!("{workload}.svg")), &title, &groups)?;
    let csv = if groups.len() > 1 {
        "summary.csv and python-summary.csv"
    } else {
        "summary.csv"
    };
    md += &super::charts_embed(
        workload,
        &format!("charts/{workload}.svg"),
        csv,
        "mean_s (bar), min_s and max_s (whiskers)",
    );
    if groups.len() > 1 {
        md += "The orange bars are the article's programs in Python (scripts/python, `make bench-python`: python-summary.csv), measured against the same server; their times and speedups are in \"Beside the seed article\" below.\n\n";
    }
    Ok(md)
}

fn bars(cells: &[&Cell]) -> Vec<Bar> {
    cells
        .iter()
        .map(|c| Bar {
            model: c.model.clone(),
            mean: c.ok.then_some(c.mean),
            min: c.min,
            max: c.max,
        })
        .collect()
}

fn heading(workload: &str, cells: &[&Cell], settings: &Settings) -> String {
    let what = match workload {
        "cpu" => format!("{} tasks, each 7777^200000 as a big integer", cells[0].n),
        _ => format!(
            "{} tasks, each downloading {} URLs in turn ({} ms server delay, {} bytes each)",
            cells[0].n,
            settings.get("urls").unwrap_or("?"),
            settings.get("delay_ms").unwrap_or("?"),
            settings.get("body_bytes").unwrap_or("?")
        ),
    };
    format!("## {workload}: {what}\n\n")
}

/// The workload's table; with `downloads` (io), a column of CPU time per download: user +
/// system over the run's downloads, start-up included.
fn table(cells: &[&Cell], ideal: Option<f64>, downloads: Option<u64>) -> String {
    let mut md = String::from("| model | mean ± stddev | median | min – max | speedup vs sync | efficiency vs ideal | peak PSS | peak RSS |");
    md += if downloads.is_some() {
        " CPU per download |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    } else {
        "\n| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    };
    let sync = sync_of(cells);
    for c in cells {
        if !c.ok {
            let reason = c.reason.replace('|', "/").replace('\n', " ");
            let extra = if downloads.is_some() { " |" } else { "" };
            let _ = writeln!(md, "| {} | failed: {reason} | | | | | | |{extra}", c.model);
            continue;
        }
        let speedup = sync
            .map(|s| format!("{:.2}x", c.speedup_over(s)))
            .unwrap_or_default();
        let efficiency = ideal
            .map(|i| format!("{:.0}%", 100.0 * i / c.median))
            .unwrap_or_default();
        let cpu = match (downloads, c.cpu_s) {
            (Some(d), cpu) => match cpu.and_then(|cpu| cpu_us_per_download(cpu, d)) {
                Some(us) => format!(" {us:.0} µs |"),
                None => " – |".into(),
            },
            (None, _) => String::new(),
        };
        let _ = writeln!(
            md,
            "| {} | {:.3} ± {:.3} s | {:.3} s | {:.3} – {:.3} s | {speedup} | {efficiency} | {} | {} |{cpu}",
            c.model,
            c.mean,
            c.sd,
            c.median,
            c.min,
            c.max,
            c.pss.map(mib).unwrap_or_else(|| "–".into()),
            mib(c.rss)
        );
    }
    md.push('\n');
    md
}

/// Runs whose spread says the machine was busy: a standard deviation over 5% of the mean,
/// or a model faster than the ideal (which only a slowed-down baseline can produce).
pub fn noise_warning(cells: &[&Cell], ideal: Option<f64>) -> Option<String> {
    let noisy: Vec<String> = cells
        .iter()
        .filter(|c| c.ok && c.sd > 0.05 * c.mean)
        .map(|c| format!("{} ({:.0}%)", c.model, 100.0 * c.sd / c.mean))
        .collect();
    let beyond: Vec<&str> = match ideal {
        Some(ideal) => cells
            .iter()
            .filter(|c| c.ok && c.median < 0.98 * ideal)
            .map(|c| c.model.as_str())
            .collect(),
        None => vec![],
    };
    let mut parts = Vec::new();
    if !beyond.is_empty() {
        parts.push(format!(
            "**Caution:** faster than the ideal, so the baseline was slowed: {}; re-run `make bench` before trusting this table.",
            beyond.join(", ")
        ));
    }
    if !noisy.is_empty() {
        parts.push(format!(
            "Some runs were disturbed (standard deviation over 5% of the mean: {}); the speedups are medians of per-round ratios, and the run-to-run table in REPORT.md compares every full run kept.",
            noisy.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// How many downloads went unverified: none can against the fixture server (such a
/// download fails the run); from other servers, those without Content-Length or
/// x-checksum are counted, and named here.
fn unverified(cells: &[&Cell]) -> String {
    let counted: Vec<(&str, u64)> = cells
        .iter()
        .filter(|c| c.ok)
        .filter_map(|c| Some((c.model.as_str(), c.unverified?)))
        .collect();
    if counted.is_empty() {
        return String::new();
    }
    let some: Vec<String> = counted
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(m, n)| format!("{m} {n}"))
        .collect();
    if some.is_empty() {
        "Every download was verified (status, length and checksum): 0 unverified.\n\n".into()
    } else {
        format!(
            "**Unverified downloads** (no Content-Length or `x-checksum`, from a server other than the fixture server; the most in one run): {}. Their bytes were counted, not checked.\n\n",
            some.join(", ")
        )
    }
}
