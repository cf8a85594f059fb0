//! The knee table of a scenario: every knee beside the bound that predicts it, the
//! prediction and the ratio of the two; then which knee is highest, ranked only beyond
//! one step ([`crate::stats::compare::compare_knees`]). A cell measured in several rounds
//! has one knee here, folded from its rounds (`merge_rounds` in inputs/serve.rs):
//! the rate every round sustained, up to the highest at which one broke. So a knee that
//! moved between rounds widens its interval, and ranks only where every round agrees.
//!
//! The bounds, as the sweep computes them (serve-knees.csv): Little's law (requests in
//! flight over the time each takes: K workers waiting 50 ms each serve at most 20·K a
//! second), and one core over the CPU one request costs; the lower is the prediction,
//! unless the generator was saturated at the knee or busy at the break, when the knee is
//! the generator's.

use super::{label, rate, series};
use crate::report::format::{and_list, thousands};
use crate::report::inputs::KneeRow;
use crate::stats::compare::{compare_knees, Knee, Order};
use std::fmt::Write as _;

/// The knee of a row as the ranking rule takes it (no knee: 0, it broke at the first step).
/// A knee the generator set has no known upper end: the server's own limit lies somewhere
/// above it, so no other knee ranks above it.
pub fn knee(row: &KneeRow) -> Knee {
    Knee {
        knee: row.knee_rps.unwrap_or(0.0),
        broke_at: row.broke_at_rps.filter(|_| row.bound != "generator"),
    }
}

/// The generator's ceiling, printed above the tables: its highest rate against the
/// cheapest route of the fastest server, once per run.
pub fn ceiling(knees: &[KneeRow]) -> String {
    let mut values: Vec<f64> = knees
        .iter()
        .filter_map(|k| k.generator_ceiling_rps)
        .collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    let figure = match values.as_slice() {
        [] => return "The generator's ceiling was not recorded (serve-knees.csv, generator_ceiling_rps): a knee cannot be told from the generator's limit except where a row says `generator`.\n\n".into(),
        [one] => rate(*one),
        [lo, .., hi] => format!("{} to {}", rate(*lo), rate(*hi)),
    };
    format!("**The generator's ceiling: {figure}** (oha's highest rate against the cheapest route of the fastest server, measured once per run). A knee reached while the generator was saturated, or that broke while the generator was busy (over {busy:.0}% of its core), is the generator's limit, not the server's: its bound says `generator`, and no knee is ranked above it.\n\n", busy = crate::sweep::serve::GENERATOR_BUSY * 1e2)
}

/// The bound a knee is predicted by, named with what it is made of, and the other bound's
/// rate in brackets where the sweep computed both: "CPU: one core / 410 µs per request
/// (Little's law: 20,000 req/s)", "Little's law: concurrency / service time (CPU: 6,667
/// req/s)".
pub fn bound(row: &KneeRow) -> String {
    let cpu = match row.cpu_us_per_req {
        Some(us) => format!("CPU: one core / {} per request", micros(us)),
        None => "CPU: one core / CPU per request".into(),
    };
    let little = "Little's law: concurrency / service time";
    match row.bound.as_str() {
        "little" => match row.cpu_bound_rps {
            Some(x) => format!("{little} (CPU: {})", rate(x)),
            None => little.into(),
        },
        "cpu" => match row.little_bound_rps {
            Some(x) => format!("{cpu} (Little's law: {})", rate(x)),
            None => cpu,
        },
        "generator" => "the generator, saturated at the knee or busy at the break".into(),
        _ => "–".into(),
    }
}

/// 12 µs, 1.05 ms.
fn micros(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1e3)
    } else if us >= 10.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.1} µs")
    }
}

/// The knee table of one scenario, then the highest knee and those within one step of it.
pub fn table(rows: &[&KneeRow]) -> String {
    let labels = series(rows, |k| (k.model.as_str(), k.workers));
    let mut md = String::from("| model | workers | knee | broke at | broke by | rounds | bound | predicted | measured / predicted |\n| --- | ---: | ---: | ---: | --- | --- | --- | ---: | ---: |\n");
    for r in rows {
        let workers = r.workers.map_or("–".into(), thousands);
        if !r.measured() {
            let _ = writeln!(md, "| {} | {workers} | not measured | | | | | | |", r.model);
            continue;
        }
        let knee = r.knee_rps.map_or("none within budget".into(), rate);
        let broke_at = r.broke_at_rps.map_or("–".into(), rate);
        let broke_by = match r.broke_by.as_str() {
            "p99" => "p99 over budget",
            "errors" => "errors over 0.1%",
            _ => "not broken: top step reached",
        };
        let predicted = r.predicted_rps.map_or("–".into(), rate);
        let _ = writeln!(
            md,
            "| {} | {workers} | {knee} | {broke_at} | {broke_by} | {} | {} | {predicted} | {} |",
            r.model,
            rounds(r),
            bound(r),
            measured_over_predicted(r)
        );
    }
    md.push('\n');
    if let Some(sentence) = highest(rows, &labels) {
        let _ = writeln!(md, "{sentence}\n");
    }
    if let Some(sentence) = unexplained(rows) {
        let _ = writeln!(md, "{sentence}\n");
    }
    md
}

/// What each round found: "2, the same" where every round's knee and break were equal;
/// else each round's knee up to its break, "16,000–19,027 · 34,896–40,609", and
/// "(disagree)" where the intervals do not overlap.
pub fn rounds(r: &KneeRow) -> String {
    match r.by_round.as_slice() {
        [] | [_] => "1".into(),
        [first, rest @ ..]
            if rest
                .iter()
                .all(|x| (x.knee, x.broke_at) == (first.knee, first.broke_at)) =>
        {
            format!("{}, the same", r.by_round.len())
        }
        _ if r.rounds_agree() => intervals(r),
        _ => format!("{} (disagree)", intervals(r)),
    }
}

/// Each round's knee up to the rate it broke at: "16,000–19,027 · 34,896–40,609" ("none"
/// for no knee, "top" for no break).
pub fn intervals(r: &KneeRow) -> String {
    let each: Vec<String> = r
        .by_round
        .iter()
        .map(|x| {
            let knee = x.knee.map_or("none".into(), bare);
            let broke = x.broke_at.map_or("top".into(), bare);
            format!("{knee}–{broke}")
        })
        .collect();
    each.join(" · ")
}

/// A rate without its unit, for a list of them: "19,027", "46.0".
fn bare(x: f64) -> String {
    rate(x).trim_end_matches(" req/s").to_string()
}

/// A knee under this share of its prediction is not explained by its bound.
pub const EXPLAINED: f64 = 0.5;

/// The knees that broke far below their bound (under [`EXPLAINED`] of it, the generator's
/// aside), each with the share of its core the server used at the knee: a server that
/// broke its latency budget with most of its CPU idle broke on a queue or a stall, not for
/// want of CPU or workers.
fn unexplained(rows: &[&KneeRow]) -> Option<String> {
    let items: Vec<String> = rows
        .iter()
        .filter(|r| r.measured() && r.bound != "generator" && r.broke_at_rps.is_some())
        .filter_map(|r| {
            let (k, p) = (r.knee_rps?, r.predicted_rps?);
            (k < EXPLAINED * p).then_some(())?;
            let label = label(&r.model, r.workers, r.workers.is_some());
            Some(match r.cpu_us_per_req {
                Some(us) => format!(
                    "{label} ({:.2}x, its core {:.0}% busy at the knee)",
                    k / p,
                    (k * us / 1e4).min(100.0)
                ),
                None => format!("{label} ({:.2}x)", k / p),
            })
        })
        .collect();
    (!items.is_empty()).then(|| {
        format!(
            "Not explained by their bound (a knee under {:.0}% of its prediction): {}. Their budget broke on latency, a queue or a stall, before the CPU or the workers ran out; serve.csv has their steps.",
            EXPLAINED * 1e2,
            and_list(&items)
        )
    })
}

/// knee / predicted: "0.92x"; "≥ 0.92x" where the top step was reached (the knee is a
/// floor); "–" without a knee or a prediction.
pub fn measured_over_predicted(r: &KneeRow) -> String {
    match (r.knee_rps, r.predicted_rps) {
        (Some(k), Some(p)) if r.broke_at_rps.is_none() => format!("≥ {:.2}x", k / p),
        (Some(k), Some(p)) => format!("{:.2}x", k / p),
        _ => "–".into(),
    }
}

/// "Highest knee: tokio-async (12,000 req/s); within one step of it: smol-async." The
/// highest knee, and every other whose interval reaches it.
fn highest(rows: &[&KneeRow], labels: &[((&str, Option<u64>), String)]) -> Option<String> {
    let measured: Vec<&&KneeRow> = rows.iter().filter(|r| r.measured()).collect();
    if measured.len() < 2 {
        return None;
    }
    let name = |r: &KneeRow| {
        labels
            .iter()
            .find(|(k, _)| *k == (r.model.as_str(), r.workers))
            .map_or_else(|| label(&r.model, r.workers, true), |(_, l)| l.clone())
    };
    // The first in the file among equal knees (max_by keeps the last, so reversed).
    let top = measured.iter().copied().rev().max_by(|a, b| {
        let (a, b) = (knee(a), knee(b));
        a.knee.total_cmp(&b.knee).then(
            a.broke_at
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.broke_at.unwrap_or(f64::INFINITY)),
        )
    })?;
    let near: Vec<String> = measured
        .iter()
        .filter(|r| !std::ptr::eq(**r, top))
        .filter(|r| compare_knees(&knee(top), &knee(r)) != Order::Above)
        .map(|r| name(r))
        .collect();
    let figure = top.knee_rps.map_or("none within budget".into(), rate);
    Some(if near.is_empty() {
        format!(
            "Highest knee: {} ({figure}), above every other beyond one step.",
            name(top)
        )
    } else {
        format!(
            "Highest knee: {} ({figure}); within one step of it, so not ranked below it: {}.",
            name(top),
            and_list(&near)
        )
    })
}
