//! One step of load from oha (pinned, installed into target/tools by the driver): the
//! command line, its run on the generator's CPU with its own CPU time measured, and its
//! JSON report read into one step's figures.
//!
//! oha 1.16's `--output-format json` (checked against its printer.rs and a captured run,
//! testdata/oha-1.16-*.json beside this file): `summary.total` is the run's length in seconds,
//! `latencyPercentiles` maps `p50`, `p90`, `p99`, `p99.9`, ... to seconds over every
//! answered request (with `--latency-correction`, counted from when each was due), `null`
//! when none was answered; `statusCodeDistribution` maps each status to its count, and
//! `errorDistribution` each failure's message to its count.

use super::process::{die_with_parent, wait_with_rusage};
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// oha's message for a request still under way when the step ended, cut off by oha
/// itself (client.rs: `ClientError::Deadline`). Not the server's failure, so not counted.
pub const DEADLINE: &str = "aborted due to deadline";

/// One step of load.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub url: String,
    /// Requests per second, open loop with latency correction; None: as fast as oha can
    /// (the generator's ceiling).
    pub rate: Option<f64>,
    pub connections: u64,
    pub keepalive: bool,
    pub duration: Duration,
}

impl Load {
    /// oha's arguments for this load.
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--no-tui".into(),
            "--output-format".into(),
            "json".into(),
            "-z".into(),
            format!("{}ms", self.duration.as_millis()),
            "-c".into(),
            self.connections.to_string(),
        ];
        if let Some(rate) = self.rate {
            args.extend([
                "-q".into(),
                format!("{rate}"),
                "--latency-correction".into(),
            ]);
        }
        if !self.keepalive {
            args.push("--disable-keepalive".into());
        }
        args.push(self.url.clone());
        args
    }
}

/// What one step measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    pub duration_s: f64,
    /// Answered (any status) plus failed; requests cut off by the end are not counted.
    pub requests: u64,
    /// Answered, whatever the status.
    pub answered: u64,
    pub ok: u64,
    /// (kind, count), kinds sorted: `status_NNN` for a non-2xx answer, oha's message for a
    /// failed request (with `:` and `;` taken out, which the CSV's list uses).
    pub error_kinds: Vec<(String, u64)>,
    /// Answered requests per second.
    pub achieved_rps: f64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Cut off by the end of the step (not in `requests`).
    pub cut_off: u64,
}

impl Measured {
    pub fn errors(&self) -> u64 {
        self.requests - self.ok
    }

    /// errors / requests; None when no request was counted at all.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors() as f64 / self.requests as f64)
    }

    /// `kind:count;kind:count`.
    pub fn error_kinds_cell(&self) -> String {
        self.error_kinds
            .iter()
            .map(|(kind, n)| format!("{kind}:{n}"))
            .collect::<Vec<_>>()
            .join(";")
    }
}

#[derive(Deserialize)]
struct Report {
    summary: Summary,
    #[serde(rename = "latencyPercentiles")]
    latency_percentiles: BTreeMap<String, Option<f64>>,
    #[serde(rename = "statusCodeDistribution")]
    status_code_distribution: BTreeMap<String, u64>,
    #[serde(rename = "errorDistribution")]
    error_distribution: BTreeMap<String, u64>,
}

#[derive(Deserialize)]
struct Summary {
    total: f64,
    slowest: Option<f64>,
}

/// Read oha's JSON report.
pub fn parse(json: &str) -> Result<Measured> {
    let report: Report = serde_json::from_str(json).context("oha's JSON report")?;
    let ms = |key: &str| {
        report
            .latency_percentiles
            .get(key)
            .copied()
            .flatten()
            .map(|s| s * 1e3)
    };
    let answered: u64 = report.status_code_distribution.values().sum();
    let ok: u64 = report
        .status_code_distribution
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .map(|(_, n)| n)
        .sum();
    let mut kinds: Vec<(String, u64)> = report
        .status_code_distribution
        .iter()
        .filter(|(code, _)| !code.starts_with('2'))
        .map(|(code, n)| (format!("status_{code}"), *n))
        .collect();
    let mut cut_off = 0;
    let mut failed = 0;
    for (message, n) in &report.error_distribution {
        if message == DEADLINE {
            cut_off += n;
            continue;
        }
        failed += n;
        let kind: String = message
            .chars()
            .map(|c| if c == ':' || c == ';' { ' ' } else { c })
            .collect();
        kinds.push((kind.split_whitespace().collect::<Vec<_>>().join(" "), *n));
    }
    kinds.sort();
    if report.summary.total.is_nan() || report.summary.total <= 0.0 {
        bail!("oha's report says the run took {} s", report.summary.total);
    }
    Ok(Measured {
        duration_s: report.summary.total,
        requests: answered + failed,
        answered,
        ok,
        error_kinds: kinds,
        achieved_rps: answered as f64 / report.summary.total,
        p50_ms: ms("p50"),
        p90_ms: ms("p90"),
        p99_ms: ms("p99"),
        p999_ms: ms("p99.9"),
        max_ms: report.summary.slowest.map(|s| s * 1e3),
        cut_off,
    })
}

/// A finished step: its figures and the generator's share of its core.
pub struct Step {
    pub measured: Measured,
    /// oha's CPU time over its wall time.
    pub cpu_share: f64,
}

/// Run oha with `load` on CPU `cpu` (taskset; one tokio worker thread, since oha sizes its
/// runtime by the machine's cores whatever its affinity), and read its report.
pub fn run(oha: &Path, cpu: u32, load: &Load) -> Result<Step> {
    let mut command = Command::new("taskset");
    command
        .args(["-c", &cpu.to_string()])
        .arg(oha)
        .args(load.args())
        .env("TOKIO_WORKER_THREADS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    die_with_parent(&mut command);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .context("cannot start taskset (util-linux)")?;
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as _));
    // A step that takes its length plus a minute is stuck (oha ends in-flight requests
    // at its deadline).
    let deadline = started + load.duration + Duration::from_secs(60);
    let reaped = wait_with_rusage(&mut child, deadline);
    let wall_s = started.elapsed().as_secs_f64();
    let (stdout, stderr) = (
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
    );
    let Some(reaped) = reaped else {
        bail!("oha did not finish within {:?}; killed", deadline - started);
    };
    if !reaped.status.success() {
        let line = stderr.lines().rev().find(|l| !l.trim().is_empty());
        bail!(
            "oha failed ({}): {}",
            reaped.status,
            line.unwrap_or("no message")
        );
    }
    Ok(Step {
        measured: parse(&stdout)?,
        cpu_share: reaped.cpu_s / wall_s.max(1e-9),
    })
}
