//! The four server claims of issue 16, each with a verdict computed from serve.csv and
//! serve-knees.csv: async and tens of thousands of connections; more workers for
//! synchronous frameworks; aiohttp 26x Flask; uvloop at least 2x. A claim whose rows were
//! not measured says so; a ratio of knees is given only beyond one step
//! ([`crate::stats::compare::compare_knees`]).

use super::connections::{at, counts};
use super::knees::knee;
use super::{latency, rate};
use crate::report::claims::is_async;
use crate::report::format::{bytes, thousands};
use crate::report::inputs::{KneeRow, Serve, ServeRow};
use crate::stats::compare::{compare_knees, Order};
use std::fmt::Write as _;

/// The async models as servers: the Rust runtimes and green, and the Python peers that
/// serve on an event loop (aiohttp on asyncio or uvloop, gunicorn's gevent worker).
fn serves_async(model: &str) -> bool {
    is_async(model) || matches!(model, "python-asyncio" | "python-uvloop" | "python-gevent")
}

/// The connections the first claim is about: "tens of thousands".
const MANY: u64 = 10_000;

/// The table of the four claims: `### The server claims, measured here`.
pub fn claims_table(serve: &Serve) -> String {
    let mut md = String::from("### The server claims, measured here\n\n");
    md += "From `make bench-serve` (serve.csv, serve-knees.csv): every model as a server under open-loop load. A knee is known only to within its step, so two knees are compared only where one's knee is at or above the rate at which the other broke; otherwise they are within one step.\n\n";
    md += "| claim | made by | measured here | verdict |\n| --- | --- | --- | --- |\n";
    let rows = [
        (
            "Async goes into tens of thousands of connections \"and it's like nothing\"",
            "the processes/threads/async article",
            connections(serve),
        ),
        (
            "Synchronous frameworks must be given more workers; with more workers they did better",
            "the seed article, of gunicorn's sync workers",
            workers(serve),
        ),
        (
            "aiohttp was 26x faster than Flask",
            "the seed article",
            times_faster(
                serve,
                "python-asyncio",
                "python-sync",
                &["hello", "backend"],
                26.0,
            ),
        ),
        (
            "uvloop: \"at least 2x\" as a server",
            "uvloop's authors (HTTP server throughput; the seed article recommends it)",
            times_faster(serve, "python-uvloop", "python-asyncio", &["hello"], 2.0),
        ),
    ];
    for (claim, by, (measured, verdict)) in rows {
        let _ = writeln!(md, "| {claim} | {by} | {measured} | {verdict} |");
    }
    md.push('\n');
    md
}

fn not_measured(what: &str) -> (String, String) {
    (format!("not measured ({what})"), "–".into())
}

/// Claim 1: each async model's p99 at 10,000 open connections within 2x of its p99 at
/// the fewest (100), without errors over budget, in every round; and PSS per connection.
/// A model within 2x in one round and not in another is neither: the rounds disagree.
pub fn connections(serve: &Serve) -> (String, String) {
    let steps: Vec<&ServeRow> = serve
        .rows
        .iter()
        .filter(|r| r.scenario == "connections")
        .collect();
    let counts = counts(&steps);
    let (Some(&fewest), Some(&most)) = (counts.first(), counts.last()) else {
        return not_measured("no connections scenario in serve.csv");
    };
    let mut models: Vec<(&str, Option<u64>)> = Vec::new();
    for r in steps.iter().filter(|r| serves_async(&r.model)) {
        if !models.contains(&(r.model.as_str(), r.workers)) {
            models.push((r.model.as_str(), r.workers));
        }
    }
    if models.is_empty() || most < MANY {
        return not_measured(&format!(
            "no async model at {} connections",
            thousands(MANY)
        ));
    }
    let (mut measured, mut over, mut missing, mut split) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for &(model, workers) in &models {
        let low = at(&steps, model, workers, fewest);
        let high = at(&steps, model, workers, most);
        if low.is_empty() || high.is_empty() {
            missing.push(format!("{model} (not run at both counts)"));
            continue;
        }
        if let Some(r) = high.iter().find(|r| !r.measured()) {
            missing.push(format!("{model} ({})", r.reason.replace('|', "/")));
            continue;
        }
        // Each round's p99 at the most connections over its p99 at the fewest.
        let mut rounds = Vec::new();
        for h in &high {
            let Some(l) = low.iter().find(|l| l.round() == h.round() && l.measured()) else {
                continue;
            };
            let (a, b) = (l.p99_ms.unwrap_or(0.0), h.p99_ms.unwrap_or(0.0));
            let x = if a > 0.0 { b / a } else { f64::INFINITY };
            let broke = x > 2.0 || h.within_budget == "no";
            rounds.push((h.round(), a, b, x, broke, h.within_budget == "no"));
        }
        if rounds.is_empty() {
            missing.push(format!("{model} (no round at both counts)"));
            continue;
        }
        let pss = high
            .iter()
            .filter_map(|r| r.pss_per_conn_bytes)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
            .map_or("no PSS recorded".into(), |b| format!("{} PSS", bytes(b)));
        let each: Vec<String> = rounds
            .iter()
            .map(|&(round, a, b, x, _, _)| {
                let which = if rounds.len() > 1 {
                    format!("round {round}: ")
                } else {
                    String::new()
                };
                format!(
                    "{which}p99 {} at {}, {} at {} ({x:.2}x)",
                    latency(a),
                    thousands(fewest),
                    latency(b),
                    thousands(most),
                )
            })
            .collect();
        measured.push(format!(
            "{model}: {}, {pss} per connection",
            each.join(", ")
        ));
        let broken = rounds.iter().filter(|r| r.4).count();
        let ratios: Vec<String> = rounds.iter().map(|r| format!("{:.2}x", r.3)).collect();
        if broken == rounds.len() {
            match rounds.iter().all(|r| r.5 && r.3 <= 2.0) {
                true => over.push(format!(
                    "{model} (errors or p99 over budget at {})",
                    thousands(most)
                )),
                false => over.push(format!("{model} ({})", ratios.join(", "))),
            }
        } else if broken > 0 {
            split.push(format!("{model} ({})", ratios.join(", ")));
        }
    }
    if measured.is_empty() {
        return (
            format!(
                "not measured at {}: {}",
                thousands(most),
                missing.join("; ")
            ),
            "–".into(),
        );
    }
    let every = if models_rounds(&steps) > 1 {
        " in every round"
    } else {
        ""
    };
    let mut verdict = match (over.is_empty(), split.is_empty()) {
        (true, true) => format!(
            "holds: every async model measured kept p99 at {} within 2x of its p99 at {}{every}",
            thousands(most),
            thousands(fewest),
        ),
        (true, false) => format!(
            "not shown: the rounds disagree for {} (within 2x in one round, not in another)",
            split.join(", ")
        ),
        (false, _) => format!("does not hold for {}", over.join(", ")),
    };
    if !over.is_empty() && !split.is_empty() {
        let _ = write!(verdict, "; the rounds disagree for {}", split.join(", "));
    }
    if !missing.is_empty() {
        let _ = write!(
            verdict,
            "; not measured at {}: {}",
            thousands(most),
            missing.join(", ")
        );
    }
    (measured.join("; "), verdict)
}

/// The most rounds any step of `steps` ran in.
fn models_rounds(steps: &[&ServeRow]) -> u64 {
    steps.iter().map(|r| r.round()).max().unwrap_or(1)
}

/// Claim 2: in the backend scenario, procs' (and python-procs') knee at each K above the
/// one before beyond one step (the claim); beside it, whether each knee lies within 25%
/// of its Little's-law bound (K / 50 ms), which explains it.
pub fn workers(serve: &Serve) -> (String, String) {
    let mut measured = Vec::new();
    let (mut off, mut flat) = (Vec::new(), Vec::new());
    for model in ["procs", "python-procs"] {
        let mut rows: Vec<&KneeRow> = serve
            .knees
            .iter()
            .filter(|k| k.scenario == "backend" && k.model == model && k.measured())
            .filter(|k| k.workers.is_some())
            .collect();
        rows.sort_by_key(|k| k.workers);
        let mut each = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let k = r.workers.unwrap_or(0);
            let knee_text = r.knee_rps.map_or("none within budget".into(), rate);
            match r.little_bound_rps {
                Some(little) => {
                    let x = r.knee_rps.unwrap_or(0.0) / little;
                    each.push(format!(
                        "K={k} {knee_text} (K / service time: {}, {x:.2}x)",
                        rate(little)
                    ));
                    if (x - 1.0).abs() > 0.25 {
                        off.push(format!("{model} K={k} at {x:.2}x"));
                    }
                }
                None => {
                    each.push(format!(
                        "K={k} {knee_text} (no Little's-law bound recorded)"
                    ));
                    off.push(format!("{model} K={k} without a bound"));
                }
            }
            if let Some(before) = i.checked_sub(1).map(|j| rows[j]) {
                if compare_knees(&knee(r), &knee(before)) != Order::Above {
                    flat.push(format!(
                        "{model} K={k} within one step of K={}",
                        before.workers.unwrap_or(0)
                    ));
                }
            }
        }
        if !each.is_empty() {
            measured.push(format!("{model}: {}", each.join(", ")));
        }
    }
    if measured.is_empty() {
        return not_measured("no procs knees in the backend scenario");
    }
    // The claim is "more workers did better": each K beyond one step of the one before.
    // How closely the knees follow K / service time (Little's law) says why, not whether.
    let follows = match off.is_empty() {
        true => "each knee within 25% of K / service time (Little's law)".to_string(),
        false => format!(
            "the knees follow K / service time (Little's law) within 25% except {}",
            off.join(", ")
        ),
    };
    let verdict = match flat.is_empty() {
        true => format!(
            "holds: more workers sustained more, each K beyond one step of the one before; {follows}"
        ),
        false => format!(
            "does not hold here: no better with more workers: {}; {follows}",
            flat.join(", ")
        ),
    };
    (measured.join("; "), verdict)
}

/// One scenario's outcome of "a is N times faster than b".
enum Outcome {
    /// Ranked above: the knees' ratio, and the lowest and highest ratio the steps allow.
    Above {
        ratio: Option<f64>,
        lo: f64,
        hi: Option<f64>,
    },
    Below,
    /// Within one step: the highest ratio the steps allow (None: no upper end).
    WithinStep {
        hi: Option<f64>,
    },
}

/// Claims 3 and 4: `fast`'s knee against `slow`'s in each of `scenarios`, as a ratio
/// only beyond one step. A sustained rate lies at or above its knee and below its break,
/// so the true ratio lies between `fast.knee / slow.broke_at` and `fast.broke_at /
/// slow.knee`: the claim holds where the lower reaches `times`, does not where the upper
/// does not pass it, and is not shown either way otherwise.
pub fn times_faster(
    serve: &Serve,
    fast: &str,
    slow: &str,
    scenarios: &[&str],
    times: f64,
) -> (String, String) {
    let find = |model: &str, scenario: &str| {
        serve
            .knees
            .iter()
            .find(|k| k.model == model && k.scenario == scenario && k.measured())
    };
    let mut measured = Vec::new();
    let (mut holds, mut not, mut unsure) = (Vec::new(), Vec::new(), Vec::new());
    for &scenario in scenarios {
        let (Some(a), Some(b)) = (find(fast, scenario), find(slow, scenario)) else {
            continue;
        };
        let (ka, kb) = (knee(a), knee(b));
        let outcome = match compare_knees(&ka, &kb) {
            Order::Above => Outcome::Above {
                ratio: (kb.knee > 0.0).then(|| ka.knee / kb.knee),
                // Above: b broke at or below a's knee, so b's broke_at is there.
                lo: ka.knee / kb.broke_at.unwrap_or(f64::INFINITY),
                hi: ka.broke_at.filter(|_| kb.knee > 0.0).map(|h| h / kb.knee),
            },
            Order::Below => Outcome::Below,
            _ => Outcome::WithinStep {
                hi: ka.broke_at.filter(|_| kb.knee > 0.0).map(|h| h / kb.knee),
            },
        };
        let both = format!(
            "{scenario}: {fast} {} against {slow} {}",
            a.knee_rps.map_or("none within budget".into(), rate),
            b.knee_rps.map_or("none within budget".into(), rate)
        );
        let text = match &outcome {
            Outcome::Above { ratio, lo, hi } => {
                let ratio = ratio.map_or(format!("at least {lo:.1}x"), |r| format!("{r:.1}x"));
                let hi = hi.map_or("no upper end".into(), |h| format!("{h:.1}x"));
                format!("{both}: {ratio} ({lo:.1}x to {hi} by the steps)")
            }
            Outcome::Below => format!("{both}: {slow} higher beyond one step"),
            Outcome::WithinStep { .. } => format!("{both}: within one step"),
        };
        measured.push(text);
        match outcome {
            Outcome::Above { lo, .. } if lo >= times => holds.push(scenario),
            Outcome::Above { hi: Some(h), .. } if h <= times => not.push(scenario),
            Outcome::Above { .. } => unsure.push(scenario),
            Outcome::WithinStep { hi: Some(h) } if h <= times => not.push(scenario),
            Outcome::WithinStep { .. } => unsure.push(scenario),
            Outcome::Below => not.push(scenario),
        }
    }
    if measured.is_empty() {
        return not_measured(&format!(
            "no {fast} and {slow} knees in {}",
            scenarios.join(" or ")
        ));
    }
    let times = format!("{times:.0}x");
    let verdict = match (holds.is_empty(), not.is_empty(), unsure.is_empty()) {
        (false, true, true) => format!("holds: at least {times} in {}", holds.join(" and ")),
        (true, false, true) => {
            format!("does not hold here: under {times} in {}", not.join(" and "))
        }
        _ => {
            let mut parts = Vec::new();
            if !holds.is_empty() {
                parts.push(format!("holds in {}", holds.join(" and ")));
            }
            if !not.is_empty() {
                parts.push(format!("under {times} in {}", not.join(" and ")));
            }
            if !unsure.is_empty() {
                parts.push(format!(
                    "not shown in {}: the steps allow both more and less than {times}",
                    unsure.join(" and ")
                ));
            }
            parts.join("; ")
        }
    };
    (measured.join("; "), verdict)
}
