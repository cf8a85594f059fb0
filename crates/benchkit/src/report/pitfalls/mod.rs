//! The report's "What blocks a scheduler" section, from mixed.csv (see [`crate::sweep::mixed`]),
//! read and checked by [`super::inputs::read_mixed`].
//!
//! [`section`] returns the section's markdown (a table per cell, one sentence per variant
//! saying what happened and why, computed from the measured numbers, and the chart) and
//! the two rows it adds to the claims table: the seed's one-second stall and its
//! `sleep(0)` advice. It writes the chart, the latency percentiles of every variant per
//! model on a log scale ([`crate::charts::percentiles`]), to CHARTS/mixed.svg.
//!
//! - [`variants`]: the sentence of each variant;
//! - [`claims`]: the two rows of the claims table.

mod claims;
mod variants;

use super::inputs::MixedRow as Row;
use crate::charts::{self, Percentiles};
use crate::report::format::thousands;
use anyhow::Result;
use claims::claims;
use std::fmt::Write as _;
use std::path::Path;
use variants::explain;
pub(super) use variants::tail;

/// What the report gets from mixed.csv.
pub struct Section {
    /// "## What blocks a scheduler", ending with the chart.
    pub markdown: String,
    /// Rows for the claims table (`| claim | article | measured here | verdict |`).
    pub claims: Vec<String>,
}

/// The variants in the order the report shows them, the baseline first.
const ORDER: [&str; 6] = [
    "none",
    "offload",
    "inline",
    "yield",
    "block",
    "current-thread",
];

/// Why a yield between a job's steps did not let a model's requests in, where its
/// scheduler is known to work that way (its pitfalls.rs says more): green's may reads
/// sockets only when no coroutine is ready; monoio fires a core's timers only when no task
/// is ready, and every request of `mixed` starts on a timer.
fn why_yield_waits(model: &str) -> String {
    let why = match model {
        "green" => "whose scheduler reads sockets only when its queue is empty",
        m if m.starts_with("monoio-") => {
            "whose runtime fires a core's timers only when its queue is empty, and each request starts on a timer"
        }
        _ => "whose scheduler does not look at what waits between yields",
    };
    format!("{model}, {why}")
}

/// The section for the rows of mixed.csv, its chart written to CHARTS/mixed.svg.
pub fn section(rows: &[Row], charts_dir: &Path) -> Result<Section> {
    let mut bench: Vec<&Row> = rows
        .iter()
        .filter(|r| r.purpose == "bench" && r.status == "ok")
        .collect();
    bench.sort_by_key(|r| (r.model != "threads", r.model.clone(), rank(&r.variant)));
    let mut md = String::from("## What blocks a scheduler\n\n");
    if let Some(r) = bench.first() {
        let seconds = r.probes as f64 / r.rate.max(1) as f64;
        let _ = writeln!(
            md,
            "`mixed`: {} requests a second for {seconds:.0} s, each on a task of its own, while {} CPU jobs (7777 ** {} computed in steps) submitted together a quarter of the way in run the way the variant says. A request's latency counts from when it was due, not from when the model got round to it, so a stalled scheduler shows as latency. One run per cell (results/mixed.csv); `block`'s jobs sleep on their thread instead of computing.\n",
            r.rate,
            r.jobs,
            thousands(r.exp as u64)
        );
    }
    md += "| model | variant | p50 | p99 | max | CPU jobs' total time |\n| --- | --- | ---: | ---: | ---: | ---: |\n";
    for r in &bench {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            r.model,
            r.variant,
            ms(r.p50_ms),
            ms(r.p99_ms),
            ms(r.max_ms),
            ms(r.jobs_ms)
        );
    }
    for r in rows.iter().filter(|r| r.status == "failed") {
        let _ = writeln!(
            md,
            "| {} | {} | failed | | | {} |",
            r.model,
            r.variant,
            r.reason.replace('|', "/")
        );
    }
    let not_offered: Vec<String> = rows
        .iter()
        .filter(|r| r.status == "not-offered")
        .map(|r| format!("{} ({})", r.model, short_reason(&r.reason)))
        .collect();
    if !not_offered.is_empty() {
        let _ = writeln!(md, "\nNot offered: {}.", not_offered.join("; "));
    }
    md += "\nWhat happened, variant by variant:\n\n";
    for variant in ORDER {
        if let Some(sentence) = explain(variant, &bench) {
            let _ = writeln!(md, "- **{variant}**: {sentence}");
        }
    }
    md.push('\n');
    if !bench.is_empty() {
        let series: Vec<Percentiles> = bench
            .iter()
            .map(|r| Percentiles {
                model: r.model.clone(),
                variant: r.variant.clone(),
                ms: [r.p50_ms, r.p90_ms, r.p99_ms, r.p999_ms, r.max_ms],
            })
            .collect();
        charts::percentiles(&charts_dir.join("mixed.svg"), &series)?;
        md += &super::charts_embed(
            "latency percentiles per variant",
            "charts/mixed.svg",
            "mixed.csv (purpose bench)",
            "p50_ms, p90_ms, p99_ms, p999_ms, max_ms",
        );
    }
    let claims = claims(rows, &bench);
    Ok(Section {
        markdown: md,
        claims,
    })
}

fn rank(variant: &str) -> usize {
    ORDER
        .iter()
        .position(|v| *v == variant)
        .unwrap_or(ORDER.len())
}

/// The rows of one variant, and the same model's row of another.
fn of<'a>(bench: &[&'a Row], variant: &str) -> Vec<&'a Row> {
    bench
        .iter()
        .copied()
        .filter(|r| r.variant == variant)
        .collect()
}

fn same<'a>(bench: &[&'a Row], model: &str, variant: &str) -> Option<&'a Row> {
    bench
        .iter()
        .copied()
        .find(|r| r.model == model && r.variant == variant)
}

/// 12.3 ms, 512 ms, 1.25 s; – when missing.
fn ms(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v >= 1000.0 => format!("{:.2} s", v / 1e3),
        Some(v) if v >= 100.0 => format!("{v:.0} ms"),
        Some(v) => format!("{v:.1} ms"),
    }
}

fn secs(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.2} s", v / 1e3))
}

fn ratio_of(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x the job", a / b),
        _ => "–".into(),
    }
}

/// "12 ms" or "12 ms to 30 ms" over some values; "–" for none.
fn span(values: impl Iterator<Item = f64>) -> String {
    let v: Vec<f64> = values.collect();
    if v.is_empty() {
        return "–".into();
    }
    let (lo, hi) = (
        v.iter().cloned().fold(f64::MAX, f64::min),
        v.iter().cloned().fold(f64::MIN, f64::max),
    );
    if ms(Some(lo)) == ms(Some(hi)) {
        ms(Some(lo))
    } else {
        format!("{} to {}", ms(Some(lo)), ms(Some(hi)))
    }
}

fn span_of(values: impl Iterator<Item = f64>, f: impl Fn(f64) -> String) -> String {
    let v: Vec<f64> = values.collect();
    let (lo, hi) = (
        v.iter().cloned().fold(f64::MAX, f64::min),
        v.iter().cloned().fold(f64::MIN, f64::max),
    );
    match v.len() {
        0 => "–".into(),
        _ if f(lo) == f(hi) => f(lo),
        _ => format!("{} to {}", f(lo), f(hi)),
    }
}

fn span_pct(values: impl Iterator<Item = f64>) -> String {
    span_of(values, |x| format!("{:.0}%", x * 100.0))
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The model's reason without its "model: mixed is not offered here: " prefix.
fn short_reason(reason: &str) -> String {
    reason
        .split_once("not offered here: ")
        .map_or(reason, |(_, why)| why)
        .replace('|', "/")
}

#[cfg(test)]
mod tests;
