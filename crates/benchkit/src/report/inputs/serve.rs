//! serve.csv and serve-knees.csv of the serve sweep (`make bench-serve`), read as
//! the serve contract of issue 16 fixes them and checked: a measured step has its offered rate
//! (above 0) and every latency (0 or more, in order p50 ≤ p90 ≤ p99 ≤ p99.9 ≤ max); a
//! knee lies below the rate at which the budget broke and names a bound with its
//! prediction. The two files come together: one without the other is an error.
//!
//! A step that was not measured (the `connections` scenario's cells skipped for a limit,
//! a model that would not start) is a row with a `reason` and its numbers empty. The
//! contract has no status column; this reader takes an optional `status` (`ok`,
//! `skipped`, `failed`) when the sweep writes one, and otherwise counts a row with no p99
//! and a reason as skipped.
//!
//! A sweep measures each cell in rounds (`round`, 1 in files from before rounds): one
//! serve-knees.csv row per round, which the reader folds into one knee per cell
//! ([`merge_rounds`]): the rate sustained in every round, and the highest at which any
//! round broke. So a ranking of two cells holds in every round or is not made.

use crate::table::check::Check;
use crate::table::Table;
use anyhow::{bail, Result};
use serde::Deserialize;
use std::path::Path;

/// One row of serve.csv: one rate step of one (model, scenario, workers, connections).
#[derive(Debug, Deserialize)]
pub struct ServeRow {
    pub model: String,
    pub scenario: String,
    /// procs and python-procs: the pre-forked workers (K); empty where it does not apply.
    pub workers: Option<u64>,
    pub connections: Option<u64>,
    #[serde(default)]
    pub keepalive: String,
    pub step: Option<u64>,
    pub offered_rps: Option<f64>,
    pub achieved_rps: Option<f64>,
    pub requests: Option<f64>,
    pub errors: Option<f64>,
    pub error_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub server_cpu_us_per_req: Option<f64>,
    pub server_pss_bytes: Option<f64>,
    pub pss_per_conn_bytes: Option<f64>,
    pub generator_cpu_share: Option<f64>,
    #[serde(default)]
    pub generator_saturated: String,
    #[serde(default)]
    pub within_budget: String,
    /// `yes`: the step broke and was run again at the same rate (the next step), which the
    /// ladder judged the rate by. Empty in files written before the sweep reran steps.
    #[serde(default)]
    pub rerun: String,
    /// Not in the contract: `ok`, `skipped` or `failed` when the sweep writes it.
    #[serde(default)]
    pub status: String,
    /// Not in the contract: why a step was skipped or failed.
    #[serde(default)]
    pub reason: String,
    /// The round of the sweep (empty in files from before rounds: round 1).
    #[serde(default)]
    pub round: Option<u64>,
    /// The I/O driver the server ran on (monoio's: `io_uring` or `epoll`); empty for a
    /// model that names none, and in files from before the column.
    #[serde(default)]
    pub driver: String,
}

impl ServeRow {
    pub fn round(&self) -> u64 {
        self.round.unwrap_or(1)
    }

    /// Measured: a status of `ok`, or no status and not a reason with an empty p99.
    pub fn measured(&self) -> bool {
        match self.status.as_str() {
            "" => self.p99_ms.is_some() || self.reason.trim().is_empty(),
            s => s == "ok",
        }
    }

    /// True when the step failed rather than was skipped (for the chart's marker).
    pub fn failed(&self) -> bool {
        self.status == "failed"
    }
}

/// One row of serve-knees.csv: the knee of one (model, scenario, workers, connections)
/// and the bound that predicts it.
#[derive(Debug, Deserialize)]
pub struct KneeRow {
    pub model: String,
    pub scenario: String,
    pub workers: Option<u64>,
    pub connections: Option<u64>,
    /// The highest offered rate within budget; empty when even the first step broke.
    pub knee_rps: Option<f64>,
    /// The rate at which the budget broke; empty when the top step was reached.
    pub broke_at_rps: Option<f64>,
    /// `p99`, `errors` or `none` (the top step was reached).
    pub broke_by: String,
    pub cpu_us_per_req: Option<f64>,
    pub cpu_bound_rps: Option<f64>,
    pub little_bound_rps: Option<f64>,
    /// `little`, `cpu` or `generator`.
    pub bound: String,
    pub predicted_rps: Option<f64>,
    pub generator_ceiling_rps: Option<f64>,
    /// The round whose steps this knee comes from (empty in files from before rounds: 1).
    #[serde(default)]
    pub round: Option<u64>,
    /// The driver the ladder's server ran on (as in serve.csv).
    #[serde(default)]
    pub driver: String,
    /// Not in the file: after [`merge_rounds`], each round's own knee and break, in round
    /// order.
    #[serde(skip)]
    pub by_round: Vec<RoundKnee>,
}

/// One round's knee of a cell, and the rate above it at which that round broke.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoundKnee {
    pub round: u64,
    pub knee: Option<f64>,
    pub broke_at: Option<f64>,
}

impl KneeRow {
    /// Whether every round's interval (its knee up to the rate it broke at) overlaps every
    /// other's: the rounds found the same knee to within their steps.
    pub fn rounds_agree(&self) -> bool {
        let highest_knee = self
            .by_round
            .iter()
            .map(|r| r.knee.unwrap_or(0.0))
            .fold(0.0, f64::max);
        self.by_round
            .iter()
            .all(|r| r.broke_at.is_none_or(|b| b > highest_knee))
    }

    /// A cell with a knee: not one whose knee, break and `broke_by` are all empty (a
    /// cell the sweep skipped, whose steps in serve.csv say why).
    pub fn measured(&self) -> bool {
        !(self.knee_rps.is_none() && self.broke_at_rps.is_none() && self.broke_by.is_empty())
    }
}

/// serve.csv and serve-knees.csv, read together.
pub struct Serve {
    /// The steps the ladders were judged by (a step run again is in `reruns`, not here),
    /// and the cells not measured.
    pub rows: Vec<ServeRow>,
    pub knees: Vec<KneeRow>,
    /// Steps that broke and were run again at the same rate.
    pub reruns: Vec<ServeRow>,
    /// The sentences for rows left out because their server ran another driver than its
    /// name stands for ([`super::wrong_driver`]): one per model and driver.
    pub wrong_driver: Vec<String>,
}

impl Serve {
    /// The reruns whose second run was within budget: breaks the server did not repeat.
    pub fn breaks_not_repeated(&self) -> usize {
        self.reruns
            .iter()
            .filter(|r| {
                self.rows.iter().any(|s| {
                    s.within_budget == "yes"
                        && (
                            &s.model,
                            &s.scenario,
                            s.workers,
                            s.connections,
                            s.offered_rps,
                            s.round(),
                        ) == (
                            &r.model,
                            &r.scenario,
                            r.workers,
                            r.connections,
                            r.offered_rps,
                            r.round(),
                        )
                })
            })
            .count()
    }
}

impl Serve {
    /// Both files when both are in `results`, None when neither is; one alone is an error.
    pub fn read(results: &Path) -> Result<Option<Serve>> {
        let (steps, knees) = (results.join("serve.csv"), results.join("serve-knees.csv"));
        match (steps.exists(), knees.exists()) {
            (false, false) => Ok(None),
            (true, true) => {
                let mut all = read_serve(&steps)?;
                let mut knee_rows = read_knees(&knees)?;
                // A monoio-async server that fell back to epoll measured epoll under the
                // io_uring name: its steps and knees are left out, and the section says so.
                let mut wrong_driver = Vec::new();
                for r in &all {
                    if super::wrong_driver(&r.model, &r.driver) {
                        let note = super::wrong_driver_note(
                            &format!("serve.csv: the steps of {}", r.model),
                            &r.model,
                            &r.driver,
                        );
                        if !wrong_driver.contains(&note) {
                            wrong_driver.push(note);
                        }
                    }
                }
                all.retain(|r| !super::wrong_driver(&r.model, &r.driver));
                knee_rows.retain(|k| !super::wrong_driver(&k.model, &k.driver));
                let (reruns, mut rows): (Vec<ServeRow>, Vec<ServeRow>) =
                    all.into_iter().partition(|r| r.rerun == "yes");
                // The cells the sweep skipped or that failed, with why, as rows not
                // measured (the sweep writes them to serve-skips.csv).
                let skips = results.join("serve-skips.csv");
                if skips.exists() {
                    rows.extend(read_skips(&skips)?);
                }
                Ok(Some(Serve {
                    rows,
                    knees: merge_rounds(knee_rows),
                    reruns,
                    wrong_driver,
                }))
            }
            (true, false) => bail!(
                "{}: missing beside {} (`make bench-serve` writes both)",
                knees.display(),
                steps.display()
            ),
            (false, true) => bail!(
                "{}: missing beside {} (`make bench-serve` writes both)",
                steps.display(),
                knees.display()
            ),
        }
    }
}

/// "yes", "no" or empty, else an error naming the column.
fn yes_no<T>(check: &Check<T>, name: &str, value: &str) -> Result<()> {
    match value {
        "" | "yes" | "no" => Ok(()),
        other => Err(check.error(format!("{name} is {other:?}, not yes or no"))),
    }
}

/// Read serve.csv: one row per (model, scenario, workers, connections, step).
pub fn read_serve(path: &Path) -> Result<Vec<ServeRow>> {
    let required = [
        "model",
        "scenario",
        "workers",
        "connections",
        "step",
        "offered_rps",
        "achieved_rps",
        "p99_ms",
        "within_budget",
    ];
    let table = Table::<ServeRow>::read(path, &required)?;
    table.refuse_duplicates(|r| {
        format!(
            "{} {} workers={} connections={}{} step {}",
            r.model,
            r.scenario,
            opt(r.workers),
            opt(r.connections),
            in_round(r.round),
            opt(r.step)
        )
    })?;
    if table.rows.is_empty() {
        bail!("{}: no rows", table.path);
    }
    table.checked(|r, check| {
        match r.status.as_str() {
            "" | "ok" | "skipped" | "failed" => {}
            other => {
                return Err(check.error(format!("status is {other:?}, not ok, skipped or failed")))
            }
        }
        for (name, value) in [
            ("keepalive", &r.keepalive),
            ("generator_saturated", &r.generator_saturated),
            ("within_budget", &r.within_budget),
            ("rerun", &r.rerun),
        ] {
            yes_no(check, name, value)?;
        }
        if !r.measured() {
            if r.reason.trim().is_empty() {
                return Err(check.error("a step not measured has no reason"));
            }
            return Ok(());
        }
        check.rate("offered_rps", r.offered_rps)?;
        check.non_negative("achieved_rps", r.achieved_rps)?;
        check.non_negative("requests", r.requests)?;
        check.non_negative("errors", r.errors)?;
        check.optional("error_rate", r.error_rate, Check::non_negative)?;
        let mut last = ("p50_ms", 0.0);
        for (name, x) in [
            ("p50_ms", r.p50_ms),
            ("p90_ms", r.p90_ms),
            ("p99_ms", r.p99_ms),
            ("p999_ms", r.p999_ms),
            ("max_ms", r.max_ms),
        ] {
            let x = check.non_negative(name, x)?;
            if x < last.1 {
                return Err(check.error(format!("{name} is {x}, below {} {}", last.0, last.1)));
            }
            last = (name, x);
        }
        for (name, x) in [
            ("server_cpu_us_per_req", r.server_cpu_us_per_req),
            ("server_pss_bytes", r.server_pss_bytes),
            ("pss_per_conn_bytes", r.pss_per_conn_bytes),
            ("generator_cpu_share", r.generator_cpu_share),
        ] {
            check.optional(name, x, Check::non_negative)?;
        }
        if r.within_budget.is_empty() {
            return Err(check.error("within_budget is empty in a measured row"));
        }
        if r.rerun == "yes" && r.within_budget == "yes" {
            return Err(
                check.error("rerun is yes in a step within budget (only a break is run again)")
            );
        }
        Ok(())
    })
}

/// One row of serve-skips.csv: a cell not measured, and why.
#[derive(Debug, Deserialize)]
struct SkipRow {
    model: String,
    scenario: String,
    workers: Option<u64>,
    connections: Option<u64>,
    status: String,
    reason: String,
    #[serde(default)]
    round: Option<u64>,
}

/// Read serve-skips.csv (it may hold no row: nothing was skipped) as rows not measured.
fn read_skips(path: &Path) -> Result<Vec<ServeRow>> {
    let table = Table::<SkipRow>::read(path, &["model", "scenario", "status", "reason"])?;
    let skips = table.checked(|r, check| {
        if !matches!(r.status.as_str(), "skipped" | "failed") {
            return Err(check.error(format!("status is {:?}, not skipped or failed", r.status)));
        }
        if r.reason.trim().is_empty() {
            return Err(check.error("a skip without a reason"));
        }
        Ok(())
    })?;
    Ok(skips
        .into_iter()
        .map(|r| ServeRow {
            model: r.model,
            scenario: r.scenario,
            workers: r.workers,
            connections: r.connections,
            keepalive: String::new(),
            step: None,
            offered_rps: None,
            achieved_rps: None,
            requests: None,
            errors: None,
            error_rate: None,
            p50_ms: None,
            p90_ms: None,
            p99_ms: None,
            p999_ms: None,
            max_ms: None,
            server_cpu_us_per_req: None,
            server_pss_bytes: None,
            pss_per_conn_bytes: None,
            generator_cpu_share: None,
            generator_saturated: String::new(),
            within_budget: String::new(),
            rerun: String::new(),
            status: r.status,
            reason: r.reason,
            round: r.round,
            driver: String::new(),
        })
        .collect())
}

/// Read serve-knees.csv: one row per (model, scenario, workers, connections).
pub fn read_knees(path: &Path) -> Result<Vec<KneeRow>> {
    let required = [
        "model",
        "scenario",
        "workers",
        "knee_rps",
        "broke_at_rps",
        "broke_by",
        "bound",
        "predicted_rps",
    ];
    let table = Table::<KneeRow>::read(path, &required)?;
    table.refuse_duplicates(|r| {
        format!(
            "{} {} workers={} connections={}{}",
            r.model,
            r.scenario,
            opt(r.workers),
            opt(r.connections),
            in_round(r.round)
        )
    })?;
    if table.rows.is_empty() {
        bail!("{}: no rows", table.path);
    }
    table.checked(|r, check| {
        let knee = check.optional("knee_rps", r.knee_rps, Check::rate)?;
        let broke = check.optional("broke_at_rps", r.broke_at_rps, Check::rate)?;
        check.optional("cpu_us_per_req", r.cpu_us_per_req, Check::time)?;
        for (name, x) in [
            ("cpu_bound_rps", r.cpu_bound_rps),
            ("little_bound_rps", r.little_bound_rps),
            ("predicted_rps", r.predicted_rps),
            ("generator_ceiling_rps", r.generator_ceiling_rps),
        ] {
            check.optional(name, x, Check::rate)?;
        }
        if !r.measured() {
            return Ok(());
        }
        // The connections scenario runs at one fixed rate: no knee to predict, and at
        // that rate the server's CPU may be under one clock tick, so no CPU bound either.
        if r.scenario == "connections" && r.bound.is_empty() && r.predicted_rps.is_none() {
            return Ok(());
        }
        match (r.broke_by.as_str(), broke) {
            ("p99" | "errors", None) => {
                return Err(check.error(format!(
                    "broke_by is {} but broke_at_rps is empty",
                    r.broke_by
                )))
            }
            ("none", Some(_)) => {
                return Err(check.error("broke_by is none but broke_at_rps is set"))
            }
            ("none", None) if knee.is_none() => {
                return Err(check.error("broke_by is none (top step reached) but knee_rps is empty"))
            }
            ("p99" | "errors" | "none", _) => {}
            (other, _) => {
                return Err(check.error(format!("broke_by is {other:?}, not p99, errors or none")))
            }
        }
        if let (Some(k), Some(b)) = (knee, broke) {
            if k >= b {
                return Err(check.error(format!("knee_rps {k} is not below broke_at_rps {b}")));
            }
        }
        let needed = match r.bound.as_str() {
            "little" => Some(("little_bound_rps", r.little_bound_rps)),
            "cpu" => Some(("cpu_bound_rps", r.cpu_bound_rps)),
            "generator" => None,
            other => {
                return Err(check.error(format!("bound is {other:?}, not little, cpu or generator")))
            }
        };
        if let Some((name, None)) = needed {
            return Err(check.error(format!("bound is {} but {name} is empty", r.bound)));
        }
        if r.predicted_rps.is_none() {
            return Err(check.error("predicted_rps is empty: every knee names its prediction"));
        }
        Ok(())
    })
}

/// One knee per cell from its rounds' rows, in the order each cell first appears. The
/// knee is the lowest of the rounds' knees (a rate every round sustained; none if a
/// round had none) and the break the highest of their breaks (none if a round never
/// broke), so the interval holds every round's. The bound, prediction and CPU per request
/// are those of the round with the lowest knee; the generator's where any round's knee
/// was the generator's, since then no knee may rank above it. Cells not measured are kept
/// as they are.
pub fn merge_rounds(rows: Vec<KneeRow>) -> Vec<KneeRow> {
    let mut cells: Vec<Vec<KneeRow>> = Vec::new();
    for row in rows {
        let key = |k: &KneeRow| {
            (
                k.model.clone(),
                k.scenario.clone(),
                k.workers,
                k.connections,
            )
        };
        match cells.iter_mut().find(|c| key(&c[0]) == key(&row)) {
            Some(cell) => cell.push(row),
            None => cells.push(vec![row]),
        }
    }
    cells
        .into_iter()
        .map(|rows| {
            let (mut rounds, not_measured): (Vec<KneeRow>, Vec<KneeRow>) =
                rows.into_iter().partition(KneeRow::measured);
            if rounds.is_empty() {
                return not_measured
                    .into_iter()
                    .next()
                    .expect("every cell has a row");
            }
            rounds.sort_by_key(|r| r.round.unwrap_or(1));
            let by_round: Vec<RoundKnee> = rounds
                .iter()
                .map(|r| RoundKnee {
                    round: r.round.unwrap_or(1),
                    knee: r.knee_rps,
                    broke_at: r.broke_at_rps,
                })
                .collect();
            let generator = rounds.iter().any(|r| r.bound == "generator");
            let knee = rounds
                .iter()
                .map(|r| r.knee_rps)
                .min_by(|a, b| a.unwrap_or(0.0).total_cmp(&b.unwrap_or(0.0)))
                .flatten();
            let broke = rounds
                .iter()
                .max_by(|a, b| {
                    let rank = |r: &KneeRow| r.broke_at_rps.unwrap_or(f64::INFINITY);
                    rank(a).total_cmp(&rank(b))
                })
                .map(|r| (r.broke_at_rps, r.broke_by.clone()));
            // The row of the lowest knee (the first such round), among the generator's
            // rounds if there are any.
            let key = |r: &KneeRow| {
                (
                    r.bound != "generator" || !generator,
                    r.knee_rps.unwrap_or(0.0),
                )
            };
            let lowest = (0..rounds.len())
                .min_by(|&i, &j| {
                    let (a, b) = (key(&rounds[i]), key(&rounds[j]));
                    a.0.cmp(&b.0).then(a.1.total_cmp(&b.1))
                })
                .expect("at least one round");
            let mut merged = rounds.swap_remove(lowest);
            merged.knee_rps = knee;
            if let Some((broke_at, broke_by)) = broke {
                merged.broke_at_rps = broke_at;
                merged.broke_by = broke_by;
            }
            merged.by_round = by_round;
            merged
        })
        .collect()
}

/// " round 2" where the file has a round column, for the line naming a duplicate.
fn in_round(round: Option<u64>) -> String {
    round.map_or(String::new(), |n| format!(" round {n}"))
}

fn opt(x: Option<u64>) -> String {
    x.map_or("–".into(), |x| x.to_string())
}
