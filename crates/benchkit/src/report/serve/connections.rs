//! The `connections` scenario: p99 at each count of open keep-alive connections (one
//! modest rate throughout), in each round, PSS per open connection, the cells skipped with
//! their reasons, and a chart of p99 against open connections (round 1), one line per
//! model.

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

/// The rows of one model (and K) at `conns` connections, one per round (its last step
/// where a round ran more than one), in round order.
pub fn at<'a>(
    steps: &[&'a ServeRow],
    model: &str,
    workers: Option<u64>,
    conns: u64,
) -> Vec<&'a ServeRow> {
    let mut rows: Vec<&ServeRow> = Vec::new();
    for r in steps
        .iter()
        .copied()
        .filter(|r| r.model == model && r.workers == workers && r.connections == Some(conns))
    {
        match rows.iter_mut().find(|x| x.round() == r.round()) {
            Some(x) if x.step < r.step => *x = r,
            Some(_) => {}
            None => rows.push(r),
        }
    }
    rows.sort_by_key(|r| r.round());
    rows
}

/// Round 1's measured row, for the chart.
fn first_round<'a>(rows: &[&'a ServeRow]) -> Option<&'a ServeRow> {
    rows.iter()
        .copied()
        .find(|r| r.measured() && r.round() == 1)
}

/// Each round's p99, "1.2 ms · 1.4 ms", with "(over budget)" after one that broke;
/// "skipped" or "failed" for a round not measured.
fn cell(rows: &[&ServeRow]) -> String {
    let each: Vec<String> = rows
        .iter()
        .map(|r| {
            if !r.measured() {
                return (if r.failed() { "failed" } else { "skipped" }).into();
            }
            let p99 = r.p99_ms.map_or("–".into(), latency);
            if r.within_budget == "no" {
                format!("{p99} (over budget)")
            } else {
                p99
            }
        })
        .collect();
    each.join(" · ")
}

/// PSS per open connection at the largest count the model was measured at, the highest
/// of its rounds: "3.1 KiB (at 10,000)"; "–" where none was recorded.
pub fn pss_per_connection(steps: &[&ServeRow], model: &str, workers: Option<u64>) -> String {
    counts(steps)
        .into_iter()
        .rev()
        .find_map(|n| {
            let pss = at(steps, model, workers, n)
                .iter()
                .filter(|r| r.measured())
                .filter_map(|r| r.pss_per_conn_bytes)
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))?;
            Some(format!("{} (at {})", bytes(pss), thousands(n)))
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
    let rounds = steps.iter().map(|r| r.round()).max().unwrap_or(1);
    if rounds > 1 {
        let _ = writeln!(
            md,
            "Each cell gives its p99 in each round it ran, in order: round 2 checks the fewest and the most connections, the two counts the claim compares. The chart shows round 1.\n"
        );
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
            .map(|n| cell(&at(steps, model, *workers, *n)))
            .collect();
        let _ = writeln!(
            md,
            "| {name} | {} | {} |",
            cells.join(" | "),
            pss_per_connection(steps, model, *workers)
        );
        for n in &counts {
            for r in at(steps, model, *workers, *n)
                .into_iter()
                .filter(|r| !r.measured())
            {
                let round = if rounds > 1 {
                    format!(", round {}", r.round())
                } else {
                    String::new()
                };
                reasons.push(format!(
                    "- {name} at {}{round}: {}",
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
                    let r = first_round(&at(steps, model, *workers, *n))?;
                    Some((*n as f64, r.p99_ms.filter(|p| *p > 0.0)?))
                })
                .collect(),
            missing: counts
                .iter()
                .filter_map(|n| {
                    let rows = at(steps, model, *workers, *n);
                    let r = rows.iter().find(|r| !r.measured() && r.round() == 1)?;
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
            "serve.csv (scenario connections, round 1)",
            "connections, p99_ms, per model",
        );
    }
    Ok(md)
}
