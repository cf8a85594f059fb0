//! The `connections` scenario: p99 at each count of open keep-alive connections (one
//! modest rate throughout), PSS per open connection, the cells skipped with their reasons,
//! and a chart of p99 against open connections, one line per model.

use super::{clean, latency, series};
use crate::charts::{self, Line};
use crate::report::format::{bytes, thousands};
use crate::report::inputs::ServeRow;
use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;

/// The distinct connection counts of the scenario, ascending.
pub fn counts(steps: &[&ServeRow]) -> Vec<u64> {
    let mut n: Vec<u64> = steps.iter().filter_map(|r| r.connections).collect();
    n.sort_unstable();
    n.dedup();
    n
}

/// The row of one model (and K) at `conns` connections: its last step where the sweep
/// ran more than one.
pub fn at<'a>(
    steps: &[&'a ServeRow],
    model: &str,
    workers: Option<u64>,
    conns: u64,
) -> Option<&'a ServeRow> {
    steps
        .iter()
        .copied()
        .filter(|r| r.model == model && r.workers == workers && r.connections == Some(conns))
        .max_by_key(|r| r.step)
}

/// "1.2 ms", "1.2 ms (over budget)" for a measured cell; "skipped" or "failed" otherwise.
fn cell(row: Option<&ServeRow>) -> String {
    match row {
        None => String::new(),
        Some(r) if !r.measured() => (if r.failed() { "failed" } else { "skipped" }).into(),
        Some(r) => {
            let p99 = r.p99_ms.map_or("–".into(), latency);
            if r.within_budget == "no" {
                format!("{p99} (over budget)")
            } else {
                p99
            }
        }
    }
}

/// PSS per open connection at the largest count the model was measured at: "3.1 KiB
/// (at 10,000)"; "–" where none was recorded.
pub fn pss_per_connection(steps: &[&ServeRow], model: &str, workers: Option<u64>) -> String {
    counts(steps)
        .into_iter()
        .rev()
        .find_map(|n| {
            let r = at(steps, model, workers, n).filter(|r| r.measured())?;
            Some(format!(
                "{} (at {})",
                bytes(r.pss_per_conn_bytes?),
                thousands(n)
            ))
        })
        .unwrap_or_else(|| "–".into())
}

/// The table, the reasons of the cells not measured, and the chart.
pub fn section(steps: &[&ServeRow], charts_dir: &Path) -> Result<String> {
    let counts = counts(steps);
    let labels = series(steps, |r| (r.model.as_str(), r.workers));
    let mut rates: Vec<String> = Vec::new();
    for rate in steps
        .iter()
        .filter(|r| r.measured())
        .filter_map(|r| r.offered_rps)
        .map(super::rate)
    {
        if !rates.contains(&rate) {
            rates.push(rate);
        }
    }
    let mut md = String::new();
    if !rates.is_empty() {
        let _ = writeln!(md, "Offered rate: {}.\n", rates.join(", "));
    }
    let header: Vec<String> = counts
        .iter()
        .map(|n| format!("p99 at {}", thousands(*n)))
        .collect();
    let _ = writeln!(
        md,
        "| model | {} | PSS per connection |\n| --- |{} ---: |",
        header.join(" | "),
        " ---: |".repeat(counts.len())
    );
    let mut reasons = Vec::new();
    for ((model, workers), name) in &labels {
        let cells: Vec<String> = counts
            .iter()
            .map(|n| cell(at(steps, model, *workers, *n)))
            .collect();
        let _ = writeln!(
            md,
            "| {name} | {} | {} |",
            cells.join(" | "),
            pss_per_connection(steps, model, *workers)
        );
        for n in &counts {
            if let Some(r) = at(steps, model, *workers, *n).filter(|r| !r.measured()) {
                reasons.push(format!(
                    "- {name} at {}: {}",
                    thousands(*n),
                    clean(&r.reason)
                ));
            }
        }
    }
    md.push('\n');
    if !reasons.is_empty() {
        md += &reasons.join("\n");
        md += "\n\n";
    }
    let lines: Vec<Line> = labels
        .iter()
        .map(|((model, workers), name)| Line {
            model: name.clone(),
            points: counts
                .iter()
                .filter_map(|n| {
                    let r = at(steps, model, *workers, *n).filter(|r| r.measured())?;
                    Some((*n as f64, r.p99_ms.filter(|p| *p > 0.0)?))
                })
                .collect(),
            missing: counts
                .iter()
                .filter_map(|n| {
                    let r = at(steps, model, *workers, *n).filter(|r| !r.measured())?;
                    Some((*n as f64, r.failed()))
                })
                .collect(),
        })
        .collect();
    if lines.iter().any(|l| !l.points.is_empty()) {
        charts::lines(
            &charts_dir.join("serve-connections.svg"),
            "connections: p99 against open connections (log-log)",
            "open keep-alive connections",
            "p99 latency, ms",
            &lines,
            true,
            None,
        )?;
        md += &crate::report::charts_embed(
            "connections: p99 against open connections",
            "charts/serve-connections.svg",
            "serve.csv (scenario connections)",
            "connections, p99_ms, per model",
        );
    }
    Ok(md)
}
