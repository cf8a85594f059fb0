//! serve.csv, serve-knees.csv and serve-skips.csv: their rows as typed records (the
//! columns of the serve contract, in its order), and the knee of one ladder computed from
//! its steps.

use crate::table::{self, fixed};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A `yes`/`no` cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum YesNo {
    Yes,
    #[default]
    No,
}

impl From<bool> for YesNo {
    fn from(b: bool) -> YesNo {
        if b {
            YesNo::Yes
        } else {
            YesNo::No
        }
    }
}

impl YesNo {
    pub fn yes(self) -> bool {
        self == YesNo::Yes
    }

    pub fn as_str(self) -> &'static str {
        if self.yes() {
            "yes"
        } else {
            "no"
        }
    }
}

/// One row of serve.csv: one rate step of one (model, scenario, workers, connections).
/// An empty cell is a value that does not apply (no response to take a percentile of,
/// no open connection to divide the memory by, no `--workers` given).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    pub model: String,
    pub scenario: String,
    /// The `--workers K` the server was started with; empty: its default.
    pub workers: Option<u64>,
    /// Connections: oha's `-c`, or in the connections scenario the idle keep-alive
    /// connections held open during the step.
    pub connections: u64,
    pub keepalive: YesNo,
    /// 1 for the first step of the ladder.
    pub step: u64,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub offered_rps: Option<f64>,
    #[serde(serialize_with = "fixed::<1, _>")]
    pub achieved_rps: Option<f64>,
    #[serde(serialize_with = "fixed::<3, _>")]
    pub duration_s: Option<f64>,
    /// Every request oha counted: answered, or failed (a request cut off by the end of the
    /// step is not counted: it never had the chance to be answered).
    pub requests: u64,
    /// 2xx answers.
    pub ok: u64,
    /// requests - ok: other statuses and failed connections.
    pub errors: u64,
    #[serde(serialize_with = "fixed::<5, _>")]
    pub error_rate: Option<f64>,
    /// `kind:count;kind:count` (`status_503`, or oha's own words for a failed request).
    pub error_kinds: String,
    #[serde(serialize_with = "fixed::<3, _>")]
    pub p50_ms: Option<f64>,
    #[serde(serialize_with = "fixed::<3, _>")]
    pub p90_ms: Option<f64>,
    #[serde(serialize_with = "fixed::<3, _>")]
    pub p99_ms: Option<f64>,
    #[serde(serialize_with = "fixed::<3, _>")]
    pub p999_ms: Option<f64>,
    #[serde(serialize_with = "fixed::<3, _>")]
    pub max_ms: Option<f64>,
    /// CPU time (user + system) of the server's processes during the step.
    #[serde(serialize_with = "fixed::<1, _>")]
    pub server_cpu_ms: Option<f64>,
    #[serde(serialize_with = "fixed::<2, _>")]
    pub server_cpu_us_per_req: Option<f64>,
    /// Largest PSS summed over the server's processes during the step.
    pub server_pss_bytes: Option<u64>,
    /// Largest thread count summed over the server's processes during the step.
    pub server_threads: Option<u64>,
    /// The connections scenario: (PSS with the connections open - PSS before) / open ones.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub pss_per_conn_bytes: Option<f64>,
    /// oha's CPU time over its wall time: the share of its one core it used.
    #[serde(serialize_with = "fixed::<3, _>")]
    pub generator_cpu_share: Option<f64>,
    pub generator_saturated: YesNo,
    pub within_budget: YesNo,
    /// `yes`: this step broke and was run again at the same rate on a fresh server (the
    /// next step of the ladder), and the ladder judged the rate by that run alone.
    pub rerun: YesNo,
    /// The round: 1 climbs the whole ladder; 2 checks round 1's knee on a fresh server,
    /// later in the sweep ([`super::ladder::next_confirming`]).
    pub round: u64,
    /// The I/O driver the server ran on, from its summary line (`io_uring` or `epoll` for
    /// monoio's binaries; empty for a model that names none).
    pub driver: String,
}

/// How a ladder ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokeBy {
    P99,
    Errors,
    /// No step broke: the top rate, or the generator's limit, was reached within budget.
    #[default]
    None,
}

/// Which prediction a knee is set beside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    /// Concurrency / service time (the backend scenario).
    Little,
    /// One core / measured CPU per request.
    Cpu,
    /// The load generator was saturated at the knee, or busy at the break: the server's
    /// limit is not known.
    Generator,
}

/// One row of serve-knees.csv: one ladder's knee beside the bound that predicts it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KneeRow {
    pub model: String,
    pub scenario: String,
    pub workers: Option<u64>,
    pub connections: u64,
    /// The highest offered rate within budget; empty when even the lowest step broke.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub knee_rps: Option<f64>,
    /// The lowest offered rate above the knee that broke; empty when none did.
    #[serde(serialize_with = "fixed::<0, _>")]
    pub broke_at_rps: Option<f64>,
    pub broke_by: BrokeBy,
    /// Server CPU per request measured at the knee.
    #[serde(serialize_with = "fixed::<2, _>")]
    pub cpu_us_per_req: Option<f64>,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub cpu_bound_rps: Option<f64>,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub little_bound_rps: Option<f64>,
    pub bound: Option<Bound>,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub predicted_rps: Option<f64>,
    #[serde(serialize_with = "fixed::<0, _>")]
    pub generator_ceiling_rps: Option<f64>,
    /// The round whose steps this knee comes from: one row per round of each ladder.
    pub round: u64,
    /// The driver the ladder's server ran on (as in serve.csv).
    pub driver: String,
}

/// One row of serve-skips.csv: a ladder not run (and why), or one that failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SkipRow {
    pub model: String,
    pub scenario: String,
    pub workers: Option<u64>,
    pub connections: u64,
    /// `skipped` (a guard said no) or `failed` (the server or the generator failed).
    pub status: String,
    pub reason: String,
    /// The round the ladder was to run in.
    pub round: u64,
}

/// What a knee is predicted from, besides the steps: the ladder's Little's-law
/// concurrency and service time (backend only), and the generator's ceiling.
pub struct Predictions {
    /// (requests served at once, seconds each): the backend scenario's Little's law.
    pub little: Option<(f64, f64)>,
    pub generator_ceiling_rps: Option<f64>,
}

/// The knee of one ladder from its steps (all of the same model, scenario, workers and
/// connections): the highest offered rate within budget, the lowest above it that broke
/// and why, and the bounds: one core over the CPU per request measured at the knee, and
/// Little's law. The bound named is the lower prediction, or `generator` when the
/// generator was saturated at the knee or busy ([`super::GENERATOR_BUSY`]) at the step
/// that broke: then the break may be oha's own queueing, and the server's limit is not
/// known.
pub fn knee(steps: &[StepRow], predictions: &Predictions) -> Option<KneeRow> {
    let first = steps.first()?;
    let rate = |s: &StepRow| s.offered_rps.unwrap_or(0.0);
    let at_knee = steps
        .iter()
        .filter(|s| s.within_budget.yes())
        .max_by(|a, b| rate(a).total_cmp(&rate(b)));
    let knee_rps = at_knee.map(rate);
    // A step run again is judged by its rerun (the next row), not by itself.
    let broke = steps
        .iter()
        .filter(|s| {
            !s.within_budget.yes() && !s.rerun.yes() && knee_rps.is_none_or(|k| rate(s) > k)
        })
        .min_by(|a, b| rate(a).total_cmp(&rate(b)));
    let broke_by = match broke {
        None => BrokeBy::None,
        Some(s) if s.error_rate.is_none_or(|e| e > super::MAX_ERROR_RATE) => BrokeBy::Errors,
        Some(_) => BrokeBy::P99,
    };
    let cpu_us_per_req = at_knee.and_then(|s| s.server_cpu_us_per_req);
    let cpu_bound_rps = cpu_us_per_req.filter(|us| *us > 0.0).map(|us| 1e6 / us);
    let little_bound_rps = predictions
        .little
        .map(|(concurrency, service_s)| concurrency / service_s);
    let lower = match (cpu_bound_rps, little_bound_rps) {
        (Some(c), Some(l)) if l <= c => Some((Bound::Little, l)),
        (Some(c), _) => Some((Bound::Cpu, c)),
        (None, Some(l)) => Some((Bound::Little, l)),
        (None, None) => None,
    };
    let generator_busy = at_knee.is_some_and(|s| s.generator_saturated.yes())
        || broke.is_some_and(|s| {
            s.generator_cpu_share
                .is_some_and(|g| g > super::GENERATOR_BUSY)
        });
    let (bound, predicted_rps) = if generator_busy {
        (Some(Bound::Generator), predictions.generator_ceiling_rps)
    } else {
        (lower.map(|l| l.0), lower.map(|l| l.1))
    };
    Some(KneeRow {
        model: first.model.clone(),
        scenario: first.scenario.clone(),
        workers: first.workers,
        connections: first.connections,
        knee_rps,
        broke_at_rps: broke.map(rate),
        broke_by,
        cpu_us_per_req,
        cpu_bound_rps,
        little_bound_rps,
        bound,
        predicted_rps,
        generator_ceiling_rps: predictions.generator_ceiling_rps,
        round: first.round,
        driver: first.driver.clone(),
    })
}

/// Rewrite the three CSVs in `out` (after every step: an interruption loses nothing).
pub fn write_csvs(
    out: &Path,
    steps: &[StepRow],
    knees: &[KneeRow],
    skips: &[SkipRow],
) -> Result<()> {
    write(&out.join("serve.csv"), steps)?;
    write(&out.join("serve-knees.csv"), knees)?;
    write(&out.join("serve-skips.csv"), skips)
}

/// `rows` under their header, which stands alone when there is no row (a file with no
/// skip still says what its rows would hold, and reads back as a table).
fn write<T: Serialize + Default>(path: &Path, rows: &[T]) -> Result<()> {
    if !rows.is_empty() {
        return table::write(path, rows);
    }
    let text = table::to_text(&[T::default()])?;
    let header = text.lines().next().unwrap_or_default();
    std::fs::write(path, format!("{header}\n"))
        .with_context(|| format!("cannot write {}", path.display()))
}
