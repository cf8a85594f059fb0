//! The scale section: per workload, time and memory by N for every model (with why a
//! cell was skipped or failed), the charts against N, and memory per task.

use super::costs::cpu_us_per_download;
use super::format::{bytes, mib, thousands, unique};
use super::inputs::{Fit, Measure, ScaleCell};
use crate::charts::{self, Line};
use crate::sweep::scale::Status;
use anyhow::Result;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The memory a workload's cells are shown by: PSS when every measured cell has it.
fn measure(cells: &[&ScaleCell]) -> Measure {
    let ok = cells.iter().filter(|c| c.status == Status::Ok);
    if ok.clone().count() > 0 && ok.clone().all(|c| c.pss.is_some()) {
        Measure::Pss
    } else {
        Measure::Rss
    }
}

fn memory(cell: &ScaleCell, by: Measure) -> f64 {
    match by {
        Measure::Pss => cell.pss.unwrap_or(cell.rss),
        Measure::Rss => cell.rss,
    }
}

pub fn section(
    scale: &[ScaleCell],
    fits: Option<&[Fit]>,
    charts_dir: &Path,
    cores: f64,
) -> Result<String> {
    let mut md = String::from("## Scale: how far each model goes\n\n");
    md += "Every cell is one command run 1-3 times (results/scale.csv); its time is the median run, as in make bench. Cells predicted to harm the machine or run over budget are skipped, with the reason; cells that failed keep the model's error.\n\n";
    for workload in ["sleep", "io", "cpu"] {
        let these: Vec<&ScaleCell> = scale.iter().filter(|c| c.workload == workload).collect();
        if these.is_empty() {
            continue;
        }
        md += &table(workload, &these);
        if workload == "io" {
            let overflows: f64 = these.iter().map(|c| c.overflows).sum();
            let _ = writeln!(md, "Listen-queue overflows counted by the kernel during the io cells: {overflows:.0}.\n");
        }
        md += &workload_charts(workload, &these, charts_dir, cores)?;
    }
    if let Some(fits) = fits {
        md += &fits_table(fits);
    }
    Ok(md)
}

/// Time and memory of every model at every N, then why cells were skipped or failed.
fn table(workload: &str, these: &[&ScaleCell]) -> String {
    let ns = sizes(these);
    let by = measure(these);
    let mut md = format!("### {workload}: time and {} by N\n\n", by.label());
    let header: Vec<String> = ns.iter().map(|n| format!("n={}", thousands(*n))).collect();
    let _ = writeln!(md, "| model | {} |", header.join(" | "));
    let _ = writeln!(md, "| --- |{}", " --- |".repeat(ns.len()));
    let mut reasons: BTreeMap<String, String> = BTreeMap::new();
    for m in unique(these.iter().map(|c| c.model.as_str())) {
        let row: Vec<String> = ns
            .iter()
            .map(|n| match these.iter().find(|c| c.model == m && c.n == *n) {
                Some(c) if c.status == Status::Ok => {
                    // io: one URL per task, so CPU per download is CPU per task.
                    let cpu = match (workload, c.cpu_s) {
                        ("io", Some(cpu)) => cpu_us_per_download(cpu, c.n)
                            .map(|us| format!(", {us:.0} µs CPU/download"))
                            .unwrap_or_default(),
                        _ => String::new(),
                    };
                    format!("{:.3} s, {}{cpu}", c.median, mib(memory(c, by)))
                }
                Some(c) => {
                    if !c.reason.contains("so not tried") {
                        reasons.insert(format!("{m} n={}", thousands(c.n)), c.reason.clone());
                    }
                    c.status.to_string()
                }
                None => String::new(),
            })
            .collect();
        let _ = writeln!(md, "| {m} | {} |", row.join(" | "));
    }
    md.push('\n');
    for (cell, reason) in &reasons {
        let _ = writeln!(
            md,
            "- {cell}: {}",
            reason.replace('|', "/").replace('\n', " ")
        );
    }
    if !reasons.is_empty() {
        md.push('\n');
    }
    md
}

/// The distinct N of these cells, ascending.
fn sizes(these: &[&ScaleCell]) -> Vec<u64> {
    let mut ns: Vec<u64> = these.iter().map(|c| c.n).collect();
    ns.sort();
    ns.dedup();
    ns
}

/// One line per model of `value` against N, with the cells not measured marked.
fn lines(these: &[&ScaleCell], value: &dyn Fn(&ScaleCell) -> f64) -> Vec<Line> {
    unique(these.iter().map(|c| c.model.as_str()))
        .into_iter()
        .map(|m| Line {
            model: m.to_string(),
            points: these
                .iter()
                .filter(|c| c.model == m && c.status == Status::Ok)
                .map(|c| (c.n as f64, value(c)))
                .collect(),
            missing: these
                .iter()
                .filter(|c| c.model == m && c.status != Status::Ok)
                .map(|c| (c.n as f64, c.status == Status::Failed))
                .collect(),
        })
        .collect()
}

/// cpu: time against N beside the ideal; the others: time and memory, log-log.
fn workload_charts(
    workload: &str,
    these: &[&ScaleCell],
    charts_dir: &Path,
    cores: f64,
) -> Result<String> {
    if workload == "cpu" {
        // Where the cores run out: one task's time, times the rounds N / cores needs.
        let one = these
            .iter()
            .find(|c| c.model == "sync" && c.n == 1 && c.status == Status::Ok)
            .map(|c| c.median);
        let reference = one.map(|t| Line {
            model: format!("ideal on {cores} cores"),
            points: sizes(these)
                .iter()
                .map(|&n| (n as f64, t * (n as f64 / cores).ceil()))
                .collect(),
            missing: vec![],
        });
        let path = charts_dir.join("scale-cpu-time.svg");
        let time = lines(these, &|c| c.median);
        charts::lines(
            &path,
            "cpu: time against N",
            "N (tasks)",
            "seconds",
            &time,
            false,
            reference,
        )?;
        return Ok(super::charts_embed(
            "cpu time against N",
            "charts/scale-cpu-time.svg",
            "scale.csv (workload cpu)",
            "n, median_s",
        ));
    }
    let by = measure(these);
    let unit = format!("{}, MiB", by.label());
    let mut md = String::new();
    for (what, unit, value) in [
        (
            "time",
            "seconds",
            &(|c: &ScaleCell| c.median) as &dyn Fn(&ScaleCell) -> f64,
        ),
        ("memory", unit.as_str(), &|c: &ScaleCell| {
            memory(c, by) / 1048576.0
        }),
    ] {
        let file = format!("scale-{workload}-{what}.svg");
        charts::lines(
            &charts_dir.join(&file),
            &format!("{workload}: {what} against N (log-log)"),
            "N (tasks)",
            unit,
            &lines(these, value),
            true,
            None,
        )?;
        let columns = match what {
            "time" => "n, median_s",
            _ => "n, peak_pss_bytes (peak_rss_bytes where a model reported no PSS)",
        };
        md += &super::charts_embed(
            &format!("{workload} {what}"),
            &format!("charts/{file}"),
            &format!("scale.csv (workload {workload})"),
            columns,
        );
    }
    Ok(md)
}

fn fits_table(fits: &[Fit]) -> String {
    let mut md = String::from("### Memory per task\n\nThe slope of a least-squares line through peak memory against N (as jimblandy/context-switch measures it), its intercept (the fixed base), and r². The line is fitted on the memory named under \"fitted on\": PSS, what the machine pays, wherever the sweep measured it, else peak RSS; the last column is the slope of summed peak RSS, which for procs counts the shared code once per process.\n\n");
    md += "| model | workload | per task | base | r² | points | fitted on | per task by peak RSS |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for f in fits {
        let rss = match (f.on, f.rss_per_task) {
            (Measure::Rss, _) => bytes(f.per_task),
            (Measure::Pss, Some(rss)) => bytes(rss),
            (Measure::Pss, None) => "–".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.3} | {} | {} | {rss} |",
            f.model,
            f.workload,
            bytes(f.per_task),
            bytes(f.base),
            f.r2,
            f.points,
            f.on.label()
        );
    }
    md.push('\n');
    let loose: Vec<String> = fits
        .iter()
        .filter(|f| f.r2 < LINEAR)
        .map(|f| format!("{} {} (r² {:.2})", f.model, f.workload, f.r2))
        .collect();
    if !loose.is_empty() {
        let _ = writeln!(
            md,
            "Not a cost per task: {}. Their peak memory does not grow in step with N, because \
             their tasks were not all alive at once (a process that has finished its download \
             exits while the parent is still starting the rest), so the line's slope says nothing \
             about one task; the time tables above show each cell's peak instead.\n",
            loose.join(", ")
        );
    }
    md
}

/// Below this r², a line through memory against N does not describe a cost per task.
const LINEAR: f64 = 0.9;

/// Per model: the largest N that completed for `workload`, and the first cell that did not.
pub fn reach<'a>(
    scale: &'a [ScaleCell],
    workload: &str,
) -> Vec<(&'a str, u64, Option<&'a ScaleCell>)> {
    let these: Vec<&ScaleCell> = scale.iter().filter(|c| c.workload == workload).collect();
    unique(these.iter().copied().map(|c| c.model.as_str()))
        .into_iter()
        .map(|m| {
            let cells = these.iter().copied().filter(|c| c.model == m);
            let best = cells
                .clone()
                .filter(|c| c.status == Status::Ok)
                .map(|c| c.n)
                .max()
                .unwrap_or(0);
            let stop = cells.clone().find(|c| c.status != Status::Ok);
            (m, best, stop)
        })
        .collect()
}
