//! hyperfine's JSON and the models' summary lines, turned into the CSVs in results/.
//!
//! A run directory holds, per measured cell (workload, model):
//! - `json/<workload>-<model>.json`: hyperfine's `--export-json` (times);
//! - `summaries/<workload>-<model>.jsonl`: every run's summary line (`--summary-file`),
//!   the source of peak memory: the model's own count over all its processes, per run,
//!   which hyperfine 1.20's cumulative, largest-child-only `memory_usage_byte` is not;
//! - `failed.tsv`: `workload<TAB>model<TAB>reason` for each cell that failed.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use workload::Summary;

#[derive(Deserialize)]
struct Export {
    results: Vec<HyperfineResult>,
}

#[derive(Deserialize)]
struct HyperfineResult {
    mean: f64,
    stddev: Option<f64>,
    median: f64,
    user: f64,
    system: f64,
    min: f64,
    max: f64,
    times: Vec<f64>,
}

/// One row of the CSVs.
#[derive(Debug, Default, Clone)]
pub struct Row {
    pub model: String,
    pub workload: String,
    pub n: u64,
    pub status: String,
    pub runs: usize,
    pub mean_s: f64,
    pub stddev_s: f64,
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    pub user_s: f64,
    pub system_s: f64,
    pub peak_rss_bytes: u64,
    pub checksum: String,
    pub speedup_vs_sync: Option<f64>,
    pub reason: String,
}

const HEADER: &str = "model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,speedup_vs_sync,checksum,reason";

pub fn collect(run_dir: &Path) -> Result<()> {
    let rows = read_rows(run_dir)?;
    if rows.is_empty() {
        bail!("nothing measured in {} yet", run_dir.display());
    }
    let mut workloads: Vec<&str> = rows.iter().map(|r| r.workload.as_str()).collect();
    workloads.dedup();
    for workload in workloads {
        let these: Vec<&Row> = rows.iter().filter(|r| r.workload == workload).collect();
        write_csv(&run_dir.join(format!("{workload}.csv")), &these)?;
    }
    write_csv(
        &run_dir.join("summary.csv"),
        &rows.iter().collect::<Vec<_>>(),
    )?;
    for row in &rows {
        eprintln!(
            "  {:<8} {:<16} {:>9}  {}",
            row.workload,
            row.model,
            if row.status == "ok" {
                format!("{:.3} s", row.mean_s)
            } else {
                row.status.clone()
            },
            row.reason
        );
    }
    Ok(())
}

/// Every measured or failed cell, workloads in a fixed order, sync first within each.
pub fn read_rows(run_dir: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let json_dir = run_dir.join("json");
    if json_dir.is_dir() {
        for entry in std::fs::read_dir(&json_dir)
            .with_context(|| format!("cannot read {}", json_dir.display()))?
        {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                rows.push(read_cell(run_dir, &path)?);
            }
        }
    }
    let failed = run_dir.join("failed.tsv");
    if failed.exists() {
        let text = std::fs::read_to_string(&failed)
            .with_context(|| format!("cannot read {}", failed.display()))?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let mut fields = line.splitn(3, '\t');
            let (Some(workload), Some(model), reason) =
                (fields.next(), fields.next(), fields.next())
            else {
                bail!(
                    "{}:{}: expected workload<TAB>model<TAB>reason",
                    failed.display(),
                    i + 1
                );
            };
            rows.retain(|r| !(r.workload == workload && r.model == model));
            let reason = reason.unwrap_or("").to_string();
            rows.push(Row {
                model: model.into(),
                workload: workload.into(),
                status: "failed".into(),
                reason,
                ..Row::default()
            });
        }
    }
    rows.sort_by_key(|r| {
        (
            workload_rank(&r.workload),
            r.model != crate::models::baseline(&r.model),
            r.model.clone(),
        )
    });
    compare_with_sync(&mut rows);
    Ok(rows)
}

fn workload_rank(workload: &str) -> (usize, String) {
    let rank = ["cpu", "io", "sleep"]
        .iter()
        .position(|w| *w == workload)
        .unwrap_or(usize::MAX);
    (rank, workload.to_string())
}

/// One cell from its hyperfine JSON and its summary lines.
fn read_cell(run_dir: &Path, json: &Path) -> Result<Row> {
    let stem = json
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let (workload, model) = stem
        .split_once('-')
        .with_context(|| format!("{}: name is not <workload>-<model>.json", json.display()))?;
    let text =
        std::fs::read_to_string(json).with_context(|| format!("cannot read {}", json.display()))?;
    let export: Export = serde_json::from_str(&text)
        .with_context(|| format!("{}: not hyperfine JSON", json.display()))?;
    let Some(r) = export.results.first() else {
        bail!("{}: no results", json.display())
    };

    let lines_path = run_dir.join("summaries").join(format!("{stem}.jsonl"));
    let lines = std::fs::read_to_string(&lines_path)
        .with_context(|| format!("cannot read {}", lines_path.display()))?;
    let mut summaries = Vec::new();
    for (i, line) in lines
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let s = Summary::from_line(line)
            .with_context(|| format!("{}:{}: not a summary line", lines_path.display(), i + 1))?;
        summaries.push(s);
    }
    let Some(first) = summaries.first() else {
        bail!("{}: no summary lines", lines_path.display())
    };
    let mut row = Row {
        model: model.to_string(),
        workload: workload.to_string(),
        n: first.n,
        status: "ok".into(),
        runs: r.times.len(),
        mean_s: r.mean,
        stddev_s: r.stddev.unwrap_or(0.0),
        median_s: r.median,
        min_s: r.min,
        max_s: r.max,
        user_s: r.user,
        system_s: r.system,
        peak_rss_bytes: summaries
            .iter()
            .map(|s| s.peak_rss_bytes)
            .max()
            .unwrap_or(0),
        checksum: first.checksum.clone(),
        ..Row::default()
    };
    if summaries.iter().any(|s| s.checksum != first.checksum) {
        row.status = "failed".into();
        row.reason = "checksum differs between runs".into();
    }
    Ok(row)
}

/// Speedup against sync's median for the same workload and N (medians: one disturbed run
/// cannot move them); a checksum that differs from
/// sync's means a model computed or downloaded something else: that cell fails.
/// The Python models' sync is python-sync ([`crate::models::baseline`]).
fn compare_with_sync(rows: &mut [Row]) {
    use crate::models::baseline as sync_of;
    let baseline: BTreeMap<(String, String, u64), (f64, String)> = rows
        .iter()
        .filter(|r| r.model == sync_of(&r.model) && r.status == "ok")
        .map(|r| {
            let key = (r.model.clone(), r.workload.clone(), r.n);
            (key, (r.median_s, r.checksum.clone()))
        })
        .collect();
    for row in rows.iter_mut().filter(|r| r.status == "ok") {
        let sync = sync_of(&row.model);
        let key = (sync.to_string(), row.workload.clone(), row.n);
        if let Some((median, checksum)) = baseline.get(&key) {
            row.speedup_vs_sync = Some(median / row.median_s);
            if *checksum != row.checksum {
                row.status = "failed".into();
                row.reason = format!("checksum {} differs from {sync}'s {checksum}", row.checksum);
            }
        }
    }
}

fn write_csv(path: &Path, rows: &[&Row]) -> Result<()> {
    let mut out = String::from(HEADER);
    out.push('\n');
    for r in rows {
        let ok = r.status == "ok";
        let num = |x: f64| if ok { format!("{x:.6}") } else { String::new() };
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.model,
            r.workload,
            if r.n > 0 {
                r.n.to_string()
            } else {
                String::new()
            },
            r.status,
            if ok {
                r.runs.to_string()
            } else {
                String::new()
            },
            num(r.mean_s),
            num(r.stddev_s),
            num(r.median_s),
            num(r.min_s),
            num(r.max_s),
            num(r.user_s),
            num(r.system_s),
            if ok {
                r.peak_rss_bytes.to_string()
            } else {
                String::new()
            },
            r.speedup_vs_sync
                .filter(|_| ok)
                .map(|s| format!("{s:.3}"))
                .unwrap_or_default(),
            r.checksum,
            csv_field(&r.reason),
        );
    }
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

/// Quote a field if it holds a comma, quote or newline (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(dir: &Path, workload: &str, model: &str, mean: f64, checksum: &str, peaks: &[u64]) {
        std::fs::create_dir_all(dir.join("json")).unwrap();
        std::fs::create_dir_all(dir.join("summaries")).unwrap();
        let json = format!(
            r#"{{"results":[{{"command":"{model}","mean":{mean},"stddev":0.01,"median":{mean},"user":0.1,"system":0.01,"min":{mean},"max":{mean},"times":[{mean},{mean}],"memory_usage_byte":[1,1]}}]}}"#
        );
        std::fs::write(dir.join(format!("json/{workload}-{model}.json")), json).unwrap();
        let lines: String = peaks
            .iter()
            .map(|p| {
                format!(
                    r#"{{"model":"{model}","workload":"{workload}","n":10,"wall_ms":1.0,"checksum":"{checksum}","bytes":1,"tasks":10,"processes":1,"peak_rss_bytes":{p}}}"#
                ) + "\n"
            })
            .collect();
        std::fs::write(
            dir.join(format!("summaries/{workload}-{model}.jsonl")),
            lines,
        )
        .unwrap();
    }

    #[test]
    fn rows_have_speedup_peak_memory_and_failures() {
        let dir = crate::test_dir("rows");
        cell(&dir, "cpu", "threads", 0.25, "0xab", &[10, 30, 20]);
        cell(&dir, "cpu", "sync", 0.5, "0xab", &[5]);
        cell(&dir, "cpu", "procs", 0.3, "0xcd", &[50]);
        cell(&dir, "io", "sync", 4.0, "0x1", &[5]);
        std::fs::write(
            dir.join("failed.tsv"),
            "io\tthreads\tthreads: error: GET http://x/: connection refused\n",
        )
        .unwrap();
        collect(&dir).unwrap();

        let cpu = std::fs::read_to_string(dir.join("cpu.csv")).unwrap();
        let lines: Vec<&str> = cpu.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert!(lines[1].starts_with("sync,cpu,10,ok,2,"), "{}", lines[1]);
        let threads = lines.iter().find(|l| l.starts_with("threads,")).unwrap();
        assert!(
            threads.contains(",30,2.000,0xab,"),
            "peak is the max of the runs, speedup 0.5/0.25: {threads}"
        );
        let procs = lines.iter().find(|l| l.starts_with("procs,")).unwrap();
        assert!(
            procs.contains(",failed,") && procs.contains("differs from sync"),
            "{procs}"
        );

        let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
        assert_eq!(summary.lines().count(), 1 + 5);
        let failed = summary
            .lines()
            .find(|l| l.starts_with("threads,io"))
            .unwrap();
        assert!(
            failed.contains(",failed,") && failed.ends_with("connection refused"),
            "{failed}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A python run's cells: named <workload>-python-<model>, python-sync first, speedups
    /// and checksums against python-sync.
    #[test]
    fn python_rows_are_compared_with_python_sync() {
        let dir = crate::test_dir("python");
        cell(&dir, "cpu", "python-threads", 1.0, "0xab", &[10]);
        cell(&dir, "cpu", "python-sync", 0.5, "0xab", &[5]);
        cell(&dir, "cpu", "python-procs", 0.25, "0xcd", &[50]);
        collect(&dir).unwrap();
        let cpu = std::fs::read_to_string(dir.join("cpu.csv")).unwrap();
        let lines: Vec<&str> = cpu.lines().collect();
        assert!(lines[1].starts_with("python-sync,cpu,10,ok,"), "{cpu}");
        assert!(
            lines[1].contains(",1.000,0xab,"),
            "python-sync is its own baseline: {cpu}"
        );
        let threads = lines
            .iter()
            .find(|l| l.starts_with("python-threads,"))
            .unwrap();
        assert!(
            threads.contains(",ok,") && threads.contains(",0.500,0xab,"),
            "{threads}"
        );
        let procs = lines
            .iter()
            .find(|l| l.starts_with("python-procs,"))
            .unwrap();
        assert!(procs.contains("differs from python-sync's 0xab"), "{procs}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_malformed_summary_line_is_named_with_file_and_line() {
        let dir = crate::test_dir("bad");
        cell(&dir, "cpu", "sync", 0.5, "0xab", &[5]);
        std::fs::write(
            dir.join("summaries/cpu-sync.jsonl"),
            "{\"model\":\"sync\"}\n",
        )
        .unwrap();
        let err = format!("{:#}", collect(&dir).unwrap_err());
        assert!(
            err.contains("cpu-sync.jsonl:1: not a summary line"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_empty_run_is_an_error() {
        let dir = crate::test_dir("empty");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(collect(&dir)
            .unwrap_err()
            .to_string()
            .contains("nothing measured"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fields_with_commas_are_quoted() {
        assert_eq!(csv_field("a,b \"c\""), "\"a,b \"\"c\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
