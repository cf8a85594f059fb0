//! The report's "Servers" section, from serve.csv and serve-knees.csv (`make bench-serve`,
//! read and checked by [`super::inputs::Serve`]), and its four rows of claims.
//!
//! Per scenario: a chart of p99 against the offered rate, one line per model (and per K
//! where a model was run with several worker counts: `procs K=8`), log-log, where a
//! server's hockey stick shows as the line turning up; and the knee table, in which every
//! knee stands beside the bound that predicts it. The `connections` scenario, at one
//! modest rate, has p99 by open connections instead, and PSS per connection.
//!
//! - [`knees`]: the knee table, its bound and its ranking ("within one step");
//! - [`connections`]: the connections table and its chart;
//! - [`claims`]: the four server claims, with verdicts computed from the CSVs.

mod claims;
mod connections;
mod knees;

pub use claims::claims_table;

use super::format::{thousands, unique};
use super::inputs::{KneeRow, Serve, ServeRow};
use crate::charts::{self, Line};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;

/// The scenarios in the order the report shows them; any other the CSVs hold follows.
const ORDER: [&str; 4] = ["hello", "work", "backend", "connections"];

/// What each scenario asks of a server (its setup, as the serve contract fixes it).
fn what(scenario: &str) -> &'static str {
    match scenario {
        "hello" => "`GET /hello`: the cost of serving one request and nothing else",
        "work" => "`GET /work/10000`: `7777 ** 10000` computed per request, CPU per request (the GIL, the blocking pool)",
        "backend" => "`GET /backend/50`: each request waits 50 ms on the fixture server, as a handler waits on a database. oha opens its connections as the rate calls for them and each server connection opens its own to the backend, so the first requests of every step also wait for two new connections: a knee far below both bounds can be that burst's tail, not a server out of CPU",
        "connections" => "`GET /hello` on many open keep-alive connections at one modest rate",
        _ => "a scenario this report does not describe",
    }
}

/// The section, its charts written into `charts_dir`.
pub fn section(serve: &Serve, charts_dir: &Path) -> Result<String> {
    let mut md = String::from("## Servers: every model under open-loop load\n\n");
    md += "Every model serves HTTP (`<model> serve`) alone on one CPU, while oha, an open-loop generator, and the fixture server share the other. oha sends requests at a fixed rate and counts each one's latency from when it was due, so a stalled server shows as latency, not as fewer requests. The rate is raised step by step until p99 passes the scenario's budget or errors pass 0.1% (results/serve.csv has every step). The knee is the highest rate within budget; the rate a server sustains lies between its knee and the step at which it broke, so two knees are ranked only when those intervals do not overlap, and otherwise are \"within one step\" (serve-knees.csv).\n\n";
    for note in &serve.wrong_driver {
        md += note;
    }
    md += &disturbances(serve);
    md += &knees::ceiling(&serve.knees);
    for scenario in scenarios(serve) {
        let steps: Vec<&ServeRow> = serve
            .rows
            .iter()
            .filter(|r| r.scenario == scenario)
            .collect();
        let knees: Vec<&KneeRow> = serve
            .knees
            .iter()
            .filter(|k| k.scenario == scenario)
            .collect();
        let _ = writeln!(
            md,
            "### {scenario}\n\n{}{}.\n",
            what(scenario),
            setup(&steps)
        );
        if scenario == "connections" {
            md += &connections::section(&steps, charts_dir)?;
            continue;
        }
        if !knees.is_empty() {
            md += &knees::table(&knees);
        }
        md += &not_measured(&steps);
        md += &chart(scenario, &steps, charts_dir)?;
    }
    Ok(md)
}

/// The rows of `model` (its default workers) at `conns` held connections, one per round.
pub(super) fn connections_at<'a>(
    steps: &[&'a ServeRow],
    model: &str,
    conns: u64,
) -> Vec<&'a ServeRow> {
    connections::at(steps, model, None, conns)
}

/// The scenarios of either file, in [`ORDER`] first.
fn scenarios(serve: &Serve) -> Vec<&str> {
    let all = unique(
        serve
            .rows
            .iter()
            .map(|r| r.scenario.as_str())
            .chain(serve.knees.iter().map(|k| k.scenario.as_str())),
    );
    let mut out: Vec<&str> = ORDER.into_iter().filter(|s| all.contains(s)).collect();
    out.extend(all.into_iter().filter(|s| !ORDER.contains(s)));
    out
}

/// "; 64 connections, no keep-alive", from the scenario's measured steps.
fn setup(steps: &[&ServeRow]) -> String {
    let mut conns: Vec<u64> = steps.iter().filter_map(|r| r.connections).collect();
    conns.sort_unstable();
    conns.dedup();
    let conns: Vec<String> = conns.iter().map(|c| thousands(*c)).collect();
    let mut parts = Vec::new();
    if !conns.is_empty() {
        parts.push(format!("{} connections", conns.join(", ")));
    }
    let keepalive = unique(steps.iter().map(|r| r.keepalive.as_str()));
    match keepalive.as_slice() {
        ["yes"] => parts.push("keep-alive".into()),
        ["no"] => parts.push("no keep-alive".into()),
        _ => {}
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join(", "))
    }
}

/// A line's name: the model, with its K where the model ran with more than one worker
/// count in this scenario.
pub(crate) fn label(model: &str, workers: Option<u64>, several: bool) -> String {
    match workers {
        Some(k) if several => format!("{model} K={k}"),
        _ => model.to_string(),
    }
}

/// For each (model, workers) of these rows, in order of appearance: its label.
fn series<'a, T>(
    rows: &[&'a T],
    key: impl Fn(&'a T) -> (&'a str, Option<u64>),
) -> Vec<((&'a str, Option<u64>), String)> {
    let mut keys: Vec<(&str, Option<u64>)> = Vec::new();
    for r in rows {
        if !keys.contains(&key(*r)) {
            keys.push(key(*r));
        }
    }
    keys.iter()
        .map(|&(m, w)| {
            let several = keys
                .iter()
                .filter(|(other, _)| *other == m)
                .nth(1)
                .is_some();
            ((m, w), label(m, w, several))
        })
        .collect()
}

/// What guards the knees against the rest of the machine, and how often it was needed: a
/// step that broke was run once more on a fresh server before its ladder believed it, and
/// every cell ran in rounds whose knees must agree before two cells are ranked.
fn disturbances(serve: &Serve) -> String {
    let reruns = serve.reruns.len();
    let cleared = serve.breaks_not_repeated();
    let counted = if reruns == 0 {
        "No step was run again in this run (serve.csv's `rerun` column is empty or `no`)"
            .to_string()
    } else {
        format!(
            "In this run {reruns} step{} broke and {} run again; {cleared} of them were within budget the second time, so the first break was something other than the server (serve.csv, `rerun`)",
            if reruns == 1 { "" } else { "s" },
            if reruns == 1 { "was" } else { "were" },
        )
    };
    let mut md = format!("**A break must repeat.** A step that broke is run once more at the same rate on a fresh server, and the ladder judges the rate by that second run: a burst of other work on the machine can break one step, but rarely two in a row. {counted}.\n\n");
    md += &rounds(serve);
    md
}

/// The rounds paragraph: how many cells ran in more than one round, and those whose
/// rounds disagree (their intervals do not overlap), each with its rounds' intervals.
fn rounds(serve: &Serve) -> String {
    let checked: Vec<&KneeRow> = serve
        .knees
        .iter()
        .filter(|k| k.measured() && k.by_round.len() > 1)
        .collect();
    let measured = serve.knees.iter().filter(|k| k.measured()).count();
    if checked.is_empty() {
        return "**One round.** Each cell's ladder ran once (serve-knees.csv has one round per cell): a disturbance that outlasted a step and its rerun would lower a knee unseen. Repeat `make bench-serve`, which runs two rounds, before relying on a ranking that turns on one step.\n\n".into();
    }
    let rounds = checked.iter().map(|k| k.by_round.len()).max().unwrap_or(1);
    let disagree: Vec<String> = checked
        .iter()
        .filter(|k| !k.rounds_agree())
        .map(|k| {
            format!(
                "{} {} ({})",
                label(&k.model, k.workers, k.workers.is_some()),
                k.scenario,
                knees::intervals(k)
            )
        })
        .collect();
    // Round 1's knees at the generator's limit or the ladder's top are not checked again
    // (a later round could only find them lower, if disturbed): counted apart.
    let at_limit = serve
        .knees
        .iter()
        .filter(|k| k.measured() && k.by_round.len() == 1 && k.scenario != "connections")
        .filter(|k| k.bound == "generator" || k.broke_at_rps.is_none())
        .count();
    let only_one = measured - checked.len() - at_limit;
    let mut md = format!("**Rounds.** Every cell ran in {rounds} rounds: round 1 climbed its ladder; then, after all of round 1 and in reverse order, round 2 checked each knee on a fresh server (the knee, then the rate that broke: two steps where it repeats). A knee below is the rate every round sustained, and its interval reaches the highest rate at which a round broke, so two cells are ranked only where every round agrees. ");
    if disagree.is_empty() {
        let _ = write!(
            md,
            "In this run the rounds of all {} cells checked agree.",
            checked.len()
        );
    } else {
        let _ = write!(
            md,
            "In this run the rounds of {} of {} cells disagree (knee to break, by round): {}.",
            disagree.len(),
            checked.len(),
            disagree.join("; ")
        );
    }
    if at_limit > 0 {
        let _ = write!(
            md,
            " {at_limit} cell{} not checked again: round 1's knee was at the generator's limit or the top of the ladder, as high as the sweep measures, and a later round could only find it lower.",
            if at_limit == 1 { " was" } else { "s were" }
        );
    }
    if only_one > 0 {
        let _ = write!(
            md,
            " {only_one} cell{} measured in round 1 only (a later round failed or did not run).",
            if only_one == 1 { " was" } else { "s were" }
        );
    }
    md + "\n\n"
}

/// The steps not measured, with their reasons.
fn not_measured(steps: &[&ServeRow]) -> String {
    let labels = series(steps, |r| (r.model.as_str(), r.workers));
    let mut md = String::new();
    for r in steps.iter().filter(|r| !r.measured()) {
        let name = &labels
            .iter()
            .find(|(k, _)| *k == (r.model.as_str(), r.workers))
            .map(|(_, l)| l.clone())
            .unwrap_or_default();
        let at = r
            .offered_rps
            .map(|x| format!(" at {}", rate(x)))
            .unwrap_or_default();
        let status = if r.failed() { "failed" } else { "skipped" };
        let round = match r.round() {
            1 => String::new(),
            n => format!(" in round {n}"),
        };
        let _ = writeln!(md, "- {name}{at}: {status}{round}: {}", clean(&r.reason));
    }
    if !md.is_empty() {
        md.push('\n');
    }
    md
}

/// p99 against the offered rate, one line per model (and K), log-log: round 1's ladder
/// (a later round checks its knee with a step or two, which the knee table gives).
fn chart(scenario: &str, steps: &[&ServeRow], charts_dir: &Path) -> Result<String> {
    let steps: Vec<&ServeRow> = steps.iter().copied().filter(|r| r.round() == 1).collect();
    let steps = steps.as_slice();
    let mut lines: Vec<Line> = series(steps, |r| (r.model.as_str(), r.workers))
        .into_iter()
        .map(|((m, w), label)| {
            let mine = steps.iter().filter(move |r| r.model == m && r.workers == w);
            let mut points: Vec<(f64, f64)> = mine
                .clone()
                .filter(|r| r.measured())
                .filter_map(|r| Some((r.offered_rps?, r.p99_ms.filter(|p| *p > 0.0)?)))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Line {
                model: label,
                points,
                missing: mine
                    .filter(|r| !r.measured())
                    .filter_map(|r| Some((r.offered_rps?, r.failed())))
                    .collect(),
            }
        })
        .collect();
    lines.retain(|l| !l.points.is_empty() || !l.missing.is_empty());
    if lines.iter().all(|l| l.points.is_empty()) {
        return Ok(String::new());
    }
    let file = format!("serve-{scenario}.svg");
    charts::lines(
        &charts_dir.join(&file),
        &format!("{scenario}: p99 against offered rate (log-log)"),
        "offered rate, requests/s",
        "p99 latency, ms",
        &lines,
        true,
        None,
    )?;
    Ok(super::charts_embed(
        &format!("{scenario}: p99 against offered rate"),
        &format!("charts/{file}"),
        &format!("serve.csv (scenario {scenario}, round 1)"),
        "offered_rps, p99_ms, per model and workers",
    ))
}

/// A rate as the tables print it: "12,500 req/s", "46.0 req/s", "4.20 req/s".
pub(crate) fn rate(x: f64) -> String {
    if x >= 100.0 {
        format!("{} req/s", thousands(x.round() as u64))
    } else if x >= 10.0 {
        format!("{x:.1} req/s")
    } else {
        format!("{x:.2} req/s")
    }
}

/// A latency: "0.42 ms", "12.5 ms", "512 ms", "1.25 s".
pub(crate) fn latency(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1e3)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// A reason fit for a table cell or a list item: one line, no `|`.
fn clean(reason: &str) -> String {
    reason.replace('|', "/").replace('\n', " ")
}

#[cfg(test)]
mod tests;
