//! `benchkit mixed`: the `mixed` workload for every model and variant, into mixed.csv.
//!
//! Each model is asked which variants it offers (`<model> mixed --list-variants`: a list,
//! nothing for a model that takes no variant, or exit code 2 with the reason for a model
//! that does not offer `mixed`), and each (model, variant) cell runs once: a probe stream
//! of a few seconds against the fixture server with CPU jobs beside it. Its summary line's
//! percentiles become one row. A model that offers `current-thread` also runs the seed's
//! one-second claim: one job of about a second, inline on the one thread (purpose
//! `claim-1s`). The CSV is rewritten after every cell, so an interruption loses nothing
//! already measured.
//!
//! ```sh
//! target/release/benchkit mixed --server 127.0.0.1:PORT --out results/runs/STAMP [--quick]
//! ```

use crate::table;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use workload::Summary;

/// The stream and jobs of every cell.
#[derive(Debug, Clone)]
pub struct Plan {
    pub path: &'static str,
    pub rate: u64,
    pub duration_ms: u64,
    pub jobs: u64,
    pub exp: u32,
    pub block_ms: u64,
    /// The exponent of the claim's single job (7777 ** 200,000 in steps: about 1 s).
    pub claim_exp: u32,
}

impl Plan {
    /// The bench's cells: 3 s of 200 probes a second (600 probes, so p99 is the 6th
    /// largest), two jobs per core (every model runs one worker per core: two jobs per
    /// worker; 4 here) of 7777 ** 100,000 (about 0.25 s each here) a quarter of the way
    /// in. About 3.3 s a cell.
    pub fn full() -> Plan {
        Plan {
            path: "/delay/10/bytes/1024",
            rate: 200,
            duration_ms: 3_000,
            jobs: two_per_core(),
            exp: 100_000,
            block_ms: 300,
            claim_exp: 200_000,
        }
    }

    /// A smoke run for tests: under a second a cell.
    pub fn quick() -> Plan {
        Plan {
            path: "/delay/10/bytes/1024",
            rate: 100,
            duration_ms: 600,
            jobs: two_per_core(),
            exp: 30_000,
            block_ms: 100,
            claim_exp: 60_000,
        }
    }
}

fn two_per_core() -> u64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    (2 * cores).min(workload::cli::MAX_JOBS)
}

/// One row of mixed.csv (the report reads it back with its checks:
/// [`crate::report`]'s inputs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub model: String,
    /// The variant, "none" for a model that takes none, "" when not offered.
    pub variant: String,
    /// "bench" for the grid, "claim-1s" for the one-second job.
    pub purpose: String,
    /// ok, failed, or not-offered.
    pub status: String,
    pub rate: u64,
    pub probes: u64,
    pub jobs: u64,
    pub exp: u32,
    /// `block` only: how long each job slept on its thread.
    pub block_ms: u64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// The CPU jobs' total time: from their submission to the end of the last.
    pub jobs_ms: Option<f64>,
    /// The longest job's own length, first step to result.
    pub job_ms: Option<f64>,
    pub wall_ms: Option<f64>,
    pub workers: u64,
    pub reason: String,
}

/// One cell to run: the variant (None for a model that takes none), its purpose
/// ("bench" or "claim-1s"), and its jobs and exponent.
struct CellPlan<'a> {
    variant: Option<&'a str>,
    purpose: &'static str,
    jobs: u64,
    exp: u32,
}

/// Run every cell for these models and write OUT/mixed.csv.
pub fn run(plan: &Plan, models: &[String], bin_dir: &Path, server: &str, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let csv = out.join("mixed.csv");
    let url = format!("http://{server}{}", plan.path);
    let mut rows = Vec::new();
    for model in models {
        server_answers(server, &rows, &csv)?;
        let exe = bin_dir.join(model);
        let variants = match list_variants(&exe) {
            Ok(v) => v,
            Err(reason) => {
                eprintln!("== mixed {model}: not offered");
                rows.push(Row {
                    model: model.clone(),
                    purpose: "bench".into(),
                    status: "not-offered".into(),
                    reason,
                    ..Row::default()
                });
                table::write(&csv, &rows)?;
                continue;
            }
        };
        for cell in cells(plan, &variants) {
            server_answers(server, &rows, &csv)?;
            rows.push(run_cell(plan, model, &exe, &url, &cell));
            table::write(&csv, &rows)?;
        }
    }
    eprintln!("== mixed: {}", csv.display());
    let failed = rows.iter().filter(|r| r.status == "failed").count();
    anyhow::ensure!(
        failed == 0,
        "{failed} mixed cell(s) failed; their reasons are in {}",
        csv.display()
    );
    Ok(())
}

/// Before each cell: the fixture server still answers /health within a few seconds, or
/// the step ends here in one line (the cells already measured stay in mixed.csv), rather
/// than running every cell against a dead or hung server.
fn server_answers(server: &str, rows: &[Row], csv: &Path) -> Result<()> {
    crate::models::wait_health(server, std::time::Duration::from_secs(3)).with_context(|| {
        format!(
            "the mixed step stops after {} cell(s), kept in {}",
            rows.len(),
            csv.display()
        )
    })
}

/// The cells of a model that offers these variants: each variant (or the one cell of a
/// model that takes none), and the one-second claim where there is a current-thread one.
fn cells<'a>(plan: &Plan, variants: &'a [String]) -> Vec<CellPlan<'a>> {
    let bench = |variant| CellPlan {
        variant,
        purpose: "bench",
        jobs: plan.jobs,
        exp: plan.exp,
    };
    let mut cells: Vec<CellPlan> = Vec::new();
    if variants.is_empty() {
        cells.push(bench(None));
    }
    for v in variants {
        cells.push(bench(Some(v.as_str())));
    }
    if variants.iter().any(|v| v == "current-thread") {
        cells.push(CellPlan {
            variant: Some("current-thread"),
            purpose: "claim-1s",
            jobs: 1,
            exp: plan.claim_exp,
        });
    }
    cells
}

/// Run one cell of one model: its row, failed with the reason if it failed.
fn run_cell(plan: &Plan, model: &str, exe: &Path, url: &str, cell: &CellPlan) -> Row {
    let CellPlan {
        variant,
        purpose,
        jobs,
        exp,
    } = *cell;
    eprintln!(
        "== mixed {model} {} ({purpose})",
        variant.unwrap_or("(no variant)")
    );
    let mut args: Vec<String> = vec!["mixed".into()];
    if let Some(v) = variant {
        args.extend(["--variant".into(), v.into()]);
    }
    for (flag, value) in [
        ("--rate", plan.rate),
        ("--duration-ms", plan.duration_ms),
        ("--jobs", jobs),
        ("--exp", exp as u64),
        ("--block-ms", plan.block_ms),
    ] {
        args.extend([flag.to_string(), value.to_string()]);
    }
    args.extend(["--url".into(), url.to_string()]);
    // A cell that takes ten times its stream plus a minute is stuck, not slow.
    let kill_after = Duration::from_millis(plan.duration_ms * 10) + Duration::from_secs(60);
    let mut row = Row {
        model: model.to_string(),
        variant: variant.unwrap_or("none").into(),
        purpose: purpose.into(),
        rate: plan.rate,
        jobs,
        exp,
        block_ms: if variant == Some("block") {
            plan.block_ms
        } else {
            0
        },
        ..Row::default()
    };
    match crate::sweep::runner::run_once(exe, &args, kill_after) {
        Ok(run) => fill(&mut row, &run.summary),
        Err(failure) => {
            let reason = failure.reason();
            eprintln!("   FAILED: {reason}");
            row.status = "failed".into();
            row.reason = reason;
        }
    }
    row
}

/// The row's figures from the model's summary line.
fn fill(row: &mut Row, summary: &Summary) {
    let Some(m) = &summary.mixed else {
        row.status = "failed".into();
        row.reason = "the summary line has no mixed figures".into();
        return;
    };
    row.status = "ok".into();
    row.variant = m.variant.clone();
    row.probes = m.probes;
    row.p50_ms = Some(m.p50_ms);
    row.p90_ms = Some(m.p90_ms);
    row.p99_ms = Some(m.p99_ms);
    row.p999_ms = Some(m.p999_ms);
    row.max_ms = Some(m.max_ms);
    row.jobs_ms = Some(m.jobs_ms);
    row.job_ms = Some(m.job_ms);
    row.wall_ms = Some((summary.wall_ms * 1e3).round() / 1e3);
    row.workers = summary.workers;
}

/// The model's variants (empty: it takes none), or why it does not offer `mixed`.
fn list_variants(exe: &Path) -> Result<Vec<String>, String> {
    let out = Command::new(exe)
        .args(["mixed", "--list-variants"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr.lines().rev().find(|l| !l.trim().is_empty());
        return Err(line.unwrap_or("no reason given").to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    /// A dead fixture server ends the step before its first cell, in one line, within
    /// the health check's few seconds (issue 19, item 9: it used to run every cell).
    #[test]
    fn a_dead_server_ends_the_step_at_once() {
        let out = crate::test_dir("mixed-dead-server");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = listener.local_addr().unwrap().to_string();
        drop(listener);
        let started = std::time::Instant::now();
        let models = ["sync".to_string(), "threads".to_string()];
        let err = super::run(&Plan::quick(), &models, &out, &dead, &out).unwrap_err();
        let line = format!("{err:#}");
        assert!(
            line.starts_with("the mixed step stops after 0 cell(s), kept in ")
                && line.ends_with(&format!(
                    "fixture server at {dead} did not answer /health within 3s"
                )),
            "{line}"
        );
        assert_eq!(line.lines().count(), 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(6));
        std::fs::remove_dir_all(&out).unwrap();
    }

    use super::*;

    /// What is written reads back the same, empty figures included.
    #[test]
    fn rows_round_trip() {
        let dir = crate::test_dir("mixed-csv");
        let rows = vec![
            Row {
                model: "tokio-async".into(),
                variant: "inline".into(),
                purpose: "bench".into(),
                status: "ok".into(),
                p99_ms: Some(512.25),
                reason: String::new(),
                ..Row::default()
            },
            Row {
                model: "sync".into(),
                status: "not-offered".into(),
                reason: "sync: mixed is not offered here: a, with \"quotes\"".into(),
                ..Row::default()
            },
        ];
        table::write(&dir.join("mixed.csv"), &rows).unwrap();
        let back = table::Table::<Row>::read(&dir.join("mixed.csv"), &[]).unwrap();
        let back: Vec<Row> = back.rows.into_iter().map(|l| l.row).collect();
        assert_eq!(back, rows);
    }
}
