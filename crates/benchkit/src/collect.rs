//! hyperfine's JSON and the models' summary lines, turned into the CSVs in results/.
//!
//! A run directory holds, per measured cell (workload, model):
//! - `json/<workload>-<model>.json`: hyperfine's `--export-json` (times);
//! - `summaries/<workload>-<model>.jsonl`: every run's summary line (`--summary-file`),
//!   the source of peak memory (RSS and PSS) and of worker and OS thread counts: the
//!   model's own count over all its processes, per run, which hyperfine 1.20's
//!   cumulative, largest-child-only `memory_usage_byte` is not;
//! - `failed.tsv`: `workload<TAB>model<TAB>reason` for each cell that failed.

use crate::table::{self, fixed};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

/// One row of cpu.csv, io.csv and summary.csv: one (workload, model) cell. A failed
/// cell keeps its model, workload, n and checksum, and leaves every number empty.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    pub model: String,
    pub workload: String,
    pub n: Option<u64>,
    pub status: Status,
    pub runs: Option<u64>,
    #[serde(serialize_with = "fixed::<6, _>")]
    pub mean_s: Option<f64>,
    #[serde(serialize_with = "fixed::<6, _>")]
    pub stddev_s: Option<f64>,
    #[serde(serialize_with = "fixed::<6, _>")]
    pub median_s: Option<f64>,
    #[serde(serialize_with = "fixed::<6, _>")]
    pub min_s: Option<f64>,
    #[serde(serialize_with = "fixed::<6, _>")]
    pub max_s: Option<f64>,
    #[serde(serialize_with = "fixed::<6, _>")]
    pub user_s: Option<f64>,
    #[serde(serialize_with = "fixed::<6, _>")]
    pub system_s: Option<f64>,
    /// Largest peak RSS over the runs: each process's VmHWM, summed over procs' workers
    /// (shared pages count once per process). A float only so that a negative value in a
    /// hand-edited file is reported as impossible rather than as "not a number".
    #[serde(serialize_with = "fixed::<0, _>")]
    pub peak_rss_bytes: Option<f64>,
    /// Largest peak PSS over the runs (shared pages divided among their processes). Not
    /// in CSVs written before the models reported it.
    #[serde(default, serialize_with = "fixed::<0, _>")]
    pub peak_pss_bytes: Option<f64>,
    /// Threads (or processes) the model's scheduler runs tasks on, as the model set it up.
    #[serde(default)]
    pub workers: Option<u64>,
    /// Largest OS thread count over the runs, blocking pools and helpers included.
    #[serde(default)]
    pub peak_threads: Option<u64>,
    #[serde(serialize_with = "fixed::<3, _>")]
    pub speedup_vs_sync: Option<f64>,
    pub checksum: String,
    pub reason: String,
}

/// Whether a cell was measured.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Status {
    #[default]
    Ok,
    Failed,
}

impl TryFrom<String> for Status {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Status, String> {
        match s.as_str() {
            "ok" => Ok(Status::Ok),
            "failed" => Ok(Status::Failed),
            _ => Err(format!("status {s:?} is neither ok nor failed")),
        }
    }
}

impl BenchRow {
    /// This cell as failed for `reason`: its numbers are dropped.
    fn failed(self, reason: String) -> BenchRow {
        BenchRow {
            model: self.model,
            workload: self.workload,
            n: self.n,
            status: Status::Failed,
            checksum: self.checksum,
            reason,
            ..BenchRow::default()
        }
    }
}

pub fn collect(run_dir: &Path) -> Result<()> {
    let rows = read_rows(run_dir)?;
    if rows.is_empty() {
        bail!("nothing measured in {} yet", run_dir.display());
    }
    let mut workloads: Vec<&str> = rows.iter().map(|r| r.workload.as_str()).collect();
    workloads.dedup();
    for workload in workloads {
        let these = rows.iter().filter(|r| r.workload == workload);
        table::write(&run_dir.join(format!("{workload}.csv")), these)?;
    }
    table::write(&run_dir.join("summary.csv"), &rows)?;
    for row in &rows {
        eprintln!(
            "  {:<8} {:<16} {:>9}  {}",
            row.workload,
            row.model,
            match row.mean_s {
                Some(mean) if row.status == Status::Ok => format!("{mean:.3} s"),
                _ => "failed".into(),
            },
            row.reason
        );
    }
    Ok(())
}

/// Every measured or failed cell, workloads in a fixed order, sync first within each.
pub fn read_rows(run_dir: &Path) -> Result<Vec<BenchRow>> {
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
        for row in read_failed(&failed)? {
            rows.retain(|r| !(r.workload == row.workload && r.model == row.model));
            rows.push(row);
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

/// failed.tsv, written by the driver: `workload<TAB>model<TAB>reason` per failed cell.
fn read_failed(path: &Path) -> Result<Vec<BenchRow>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut fields = line.splitn(3, '\t');
        let (Some(workload), Some(model), reason) = (fields.next(), fields.next(), fields.next())
        else {
            bail!(
                "{}:{}: expected workload<TAB>model<TAB>reason",
                path.display(),
                i + 1
            );
        };
        rows.push(BenchRow {
            model: model.into(),
            workload: workload.into(),
            status: Status::Failed,
            reason: reason.unwrap_or("").to_string(),
            ..BenchRow::default()
        });
    }
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
fn read_cell(run_dir: &Path, json: &Path) -> Result<BenchRow> {
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
    let summaries = read_summaries(&run_dir.join("summaries").join(format!("{stem}.jsonl")))?;
    let first = &summaries[0];
    // The largest of each figure over the runs: the cell's worst case.
    let max = |f: fn(&Summary) -> u64| summaries.iter().map(f).max().unwrap_or(0);
    let row = BenchRow {
        model: model.to_string(),
        workload: workload.to_string(),
        n: Some(first.n),
        status: Status::Ok,
        runs: Some(r.times.len() as u64),
        mean_s: Some(r.mean),
        stddev_s: Some(r.stddev.unwrap_or(0.0)),
        median_s: Some(r.median),
        min_s: Some(r.min),
        max_s: Some(r.max),
        user_s: Some(r.user),
        system_s: Some(r.system),
        peak_rss_bytes: Some(max(|s| s.peak_rss_bytes) as f64),
        // 0: a model (or an older build) that did not report it, left empty.
        peak_pss_bytes: Some(max(|s| s.peak_pss_bytes) as f64).filter(|x| *x > 0.0),
        workers: Some(max(|s| s.workers)).filter(|x| *x > 0),
        peak_threads: Some(max(|s| s.peak_threads)).filter(|x| *x > 0),
        checksum: first.checksum.clone(),
        ..BenchRow::default()
    };
    if summaries.iter().any(|s| s.checksum != first.checksum) {
        return Ok(row.failed("checksum differs between runs".into()));
    }
    Ok(row)
}

/// Every run's summary line of one cell (at least one).
fn read_summaries(path: &Path) -> Result<Vec<Summary>> {
    let lines =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut summaries = Vec::new();
    for (i, line) in lines
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let s = Summary::from_line(line)
            .with_context(|| format!("{}:{}: not a summary line", path.display(), i + 1))?;
        summaries.push(s);
    }
    if summaries.is_empty() {
        bail!("{}: no summary lines", path.display())
    }
    Ok(summaries)
}

/// Speedup against sync's median for the same workload and N (medians: one disturbed run
/// cannot move them); a checksum that differs from
/// sync's means a model computed or downloaded something else: that cell fails.
/// The Python models' sync is python-sync ([`crate::models::baseline`]).
fn compare_with_sync(rows: &mut [BenchRow]) {
    use crate::models::baseline as sync_of;
    let baseline: BTreeMap<(String, String, Option<u64>), (f64, String)> = rows
        .iter()
        .filter(|r| r.model == sync_of(&r.model) && r.status == Status::Ok)
        .filter_map(|r| {
            let key = (r.model.clone(), r.workload.clone(), r.n);
            Some((key, (r.median_s?, r.checksum.clone())))
        })
        .collect();
    for row in rows.iter_mut().filter(|r| r.status == Status::Ok) {
        let sync = sync_of(&row.model);
        let key = (sync.to_string(), row.workload.clone(), row.n);
        let Some((median, checksum)) = baseline.get(&key) else {
            continue;
        };
        if *checksum != row.checksum {
            let reason = format!("checksum {} differs from {sync}'s {checksum}", row.checksum);
            *row = std::mem::take(row).failed(reason);
        } else {
            row.speedup_vs_sync = row.median_s.map(|m| median / m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Table;

    /// One measured cell: hyperfine's JSON with the given mean and median, and one summary
    /// line per run with these peaks (RSS; PSS is a tenth of it).
    fn cell(
        dir: &Path,
        (workload, model): (&str, &str),
        (mean, median): (f64, f64),
        checksum: &str,
        peaks: &[u64],
    ) {
        std::fs::create_dir_all(dir.join("json")).unwrap();
        std::fs::create_dir_all(dir.join("summaries")).unwrap();
        let json = format!(
            r#"{{"results":[{{"command":"{model}","mean":{mean},"stddev":0.01,"median":{median},"user":0.1,"system":0.01,"min":{median},"max":{mean},"times":[{mean},{median}],"memory_usage_byte":[1,1]}}]}}"#
        );
        std::fs::write(dir.join(format!("json/{workload}-{model}.json")), json).unwrap();
        let lines: String = peaks
            .iter()
            .map(|p| {
                format!(
                    r#"{{"model":"{model}","workload":"{workload}","n":10,"wall_ms":1.0,"checksum":"{checksum}","bytes":1,"tasks":10,"processes":1,"peak_rss_bytes":{p},"peak_pss_bytes":{},"workers":2,"peak_threads":{}}}"#,
                    p / 10,
                    p / 10 + 1,
                ) + "\n"
            })
            .collect();
        std::fs::write(
            dir.join(format!("summaries/{workload}-{model}.jsonl")),
            lines,
        )
        .unwrap();
    }

    fn read(dir: &Path, file: &str) -> Vec<BenchRow> {
        let table = Table::<BenchRow>::read(&dir.join(file), &[]).unwrap();
        table.rows.into_iter().map(|l| l.row).collect()
    }

    /// Speedups use medians: sync's mean is 0.6 and its median 0.5, rayon's 0.4 and 0.2,
    /// so the medians give 2.5 where the means would give 1.5. Peak memory and threads
    /// are the largest of the runs; a checksum unlike sync's fails the cell.
    #[test]
    fn rows_have_speedup_peak_memory_and_failures() {
        let dir = crate::test_dir("rows");
        cell(
            &dir,
            ("cpu", "threads"),
            (0.3, 0.25),
            "0xab",
            &[100, 300, 200],
        );
        cell(&dir, ("cpu", "sync"), (0.6, 0.5), "0xab", &[50]);
        cell(&dir, ("cpu", "rayon"), (0.4, 0.2), "0xab", &[50]);
        cell(&dir, ("cpu", "procs"), (0.3, 0.3), "0xcd", &[500]);
        cell(&dir, ("io", "sync"), (4.0, 4.0), "0x1", &[50]);
        std::fs::write(
            dir.join("failed.tsv"),
            "io\tthreads\tthreads: error: GET http://x/: connection refused, \"really\"\n",
        )
        .unwrap();
        collect(&dir).unwrap();

        let cpu = read(&dir, "cpu.csv");
        let text = std::fs::read_to_string(dir.join("cpu.csv")).unwrap();
        assert!(text.starts_with("model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,peak_pss_bytes,workers,peak_threads,speedup_vs_sync,checksum,reason\nsync,cpu,10,ok,2,0.600000,"), "{text}");
        let model = |m: &str| cpu.iter().find(|r| r.model == m).unwrap();
        assert_eq!(cpu[0].model, "sync");
        let threads = model("threads");
        assert_eq!(threads.speedup_vs_sync, Some(2.0), "0.5 / 0.25, medians");
        assert_eq!(
            model("rayon").speedup_vs_sync,
            Some(2.5),
            "0.5 / 0.2, not 0.6 / 0.4"
        );
        assert_eq!(
            (threads.peak_rss_bytes, threads.peak_pss_bytes),
            (Some(300.0), Some(30.0))
        );
        assert_eq!((threads.workers, threads.peak_threads), (Some(2), Some(31)));
        let procs = model("procs");
        assert!(
            procs.status == Status::Failed && procs.reason.contains("differs from sync"),
            "{procs:?}"
        );
        assert_eq!((procs.mean_s, procs.peak_pss_bytes), (None, None));

        let summary = read(&dir, "summary.csv");
        assert_eq!(summary.len(), 6);
        let failed = summary
            .iter()
            .find(|r| r.model == "threads" && r.workload == "io");
        assert_eq!(
            failed.unwrap().reason,
            "threads: error: GET http://x/: connection refused, \"really\""
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A python run's cells: named <workload>-python-<model>, python-sync first, speedups
    /// and checksums against python-sync.
    #[test]
    fn python_rows_are_compared_with_python_sync() {
        let dir = crate::test_dir("python");
        cell(&dir, ("cpu", "python-threads"), (1.0, 1.0), "0xab", &[10]);
        cell(&dir, ("cpu", "python-sync"), (0.5, 0.5), "0xab", &[5]);
        cell(&dir, ("cpu", "python-procs"), (0.25, 0.25), "0xcd", &[50]);
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
        cell(&dir, ("cpu", "sync"), (0.5, 0.5), "0xab", &[5]);
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
}
