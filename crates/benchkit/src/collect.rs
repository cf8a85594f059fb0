//! hyperfine's JSON and the models' summary lines, turned into the CSVs in results/.
//!
//! scripts/bench.sh measures each workload in interleaved rounds: every model runs once
//! per round, the rounds repeated, so that a burst of load from the machine's neighbours
//! lands on every model rather than on one. A run directory holds, per round and
//! measured cell (workload, model):
//! - `json/round-<k>/<workload>-<model>.json`: hyperfine's `--export-json` of that round
//!   (`times`, per run; `user` and `system`, the means of the round's runs;
//!   `exit_codes`, per run);
//! - `summaries/round-<k>/<workload>-<model>.jsonl`: every run's summary line
//!   (`--summary-file`, the warm-up's too), the source of peak memory (RSS and PSS) and of
//!   worker and OS thread counts: the model's own count over all its processes, per run,
//!   which hyperfine 1.20's cumulative, largest-child-only `memory_usage_byte` is not;
//! - `failed.tsv`: `workload<TAB>model<TAB>reason` for each cell that failed.
//!
//! Run folders written before the rounds (`json/<workload>-<model>.json` and
//! `summaries/<workload>-<model>.jsonl`, all runs of a cell in one hyperfine call) are read
//! as cells of one round.
//!
//! A cell's statistics are over all its runs, every round merged ([`Merged`]); its
//! `speedup_vs_sync` is the median over the rounds of sync's time in that round divided by
//! the model's ([`speedup`]): a burst that slows one round moves one ratio, not the
//! cell's figure.

use crate::table::{self, fixed};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use workload::Summary;

#[derive(Deserialize)]
struct Export {
    results: Vec<HyperfineResult>,
}

/// What collect reads of one hyperfine result: the runs' own times, not hyperfine's
/// statistics of them, which are recomputed over every round of the cell.
#[derive(Deserialize)]
struct HyperfineResult {
    /// Mean user and system CPU time of the runs (hyperfine 1.20 keeps no per-run figure).
    user: f64,
    system: f64,
    times: Vec<f64>,
    /// Per run: the exit status, 128 + S for a run killed by signal S (absent in exports
    /// of hyperfine before 1.12).
    #[serde(default)]
    exit_codes: Vec<Option<i32>>,
}

/// One row of cpu.csv, io.csv and summary.csv: one (workload, model) cell. A failed
/// cell keeps its model, workload, n and checksum, and leaves every number (and the
/// driver) empty.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    pub model: String,
    pub workload: String,
    pub n: Option<u64>,
    pub status: Status,
    /// Runs over all rounds (warm-ups not counted).
    pub runs: Option<u64>,
    /// Interleaved rounds the cell was measured in (one run each from scripts/bench.sh;
    /// 1 for a run folder from before the rounds). Not in CSVs written before it existed.
    #[serde(default)]
    pub rounds: Option<u64>,
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
    /// The I/O driver every run of the cell ran on, as the model's summary line says
    /// (monoio: `io_uring` or `epoll`); empty for the models that name none, and in CSVs
    /// written before the column. The report leaves out a row whose driver is not the one
    /// its model's name stands for (`monoio-async` that fell back to epoll).
    #[serde(default)]
    pub driver: String,
    /// Downloads of a run that could not be verified (no Content-Length or x-checksum,
    /// from a server other than the fixture server), the most of any run; 0 against the
    /// fixture server, where such a download fails the run. Not in older CSVs.
    #[serde(default)]
    pub unverified: Option<u64>,
    /// The median over the rounds of sync's time over this model's, in the same round
    /// (a run folder from before the rounds: the ratio of the medians).
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
    let mut cells: Vec<Measured> = Vec::new();
    for (stem, rounds) in read_rounds(&run_dir.join("json"))? {
        cells.push(read_cell(run_dir, &stem, &rounds)?);
    }
    let failed = run_dir.join("failed.tsv");
    if failed.exists() {
        for row in read_failed(&failed)? {
            cells.retain(|c| !(c.row.workload == row.workload && c.row.model == row.model));
            cells.push(Measured {
                row,
                rounds: BTreeMap::new(),
            });
        }
    }
    cells.sort_by_key(|c| {
        let r = &c.row;
        (
            workload_rank(&r.workload),
            r.model != crate::models::baseline(&r.model),
            r.model.clone(),
        )
    });
    compare_with_sync(&mut cells);
    Ok(cells.into_iter().map(|c| c.row).collect())
}

/// A cell as read: its row, and each round's median time (by round name) for the
/// per-round ratios.
struct Measured {
    row: BenchRow,
    rounds: BTreeMap<String, f64>,
}

/// One round of one cell: its JSON file, and the round's name (`round-<k>`, or empty for
/// a run folder from before the rounds).
struct RoundFile {
    round: String,
    path: PathBuf,
}

/// Every cell's JSON files under `json_dir`, by cell (`<workload>-<model>`), in round
/// order: `round-<k>/<cell>.json`, and `<cell>.json` of run folders from before the rounds.
fn read_rounds(json_dir: &Path) -> Result<BTreeMap<String, Vec<RoundFile>>> {
    let mut cells: BTreeMap<String, Vec<RoundFile>> = BTreeMap::new();
    if !json_dir.is_dir() {
        return Ok(cells);
    }
    let mut add = |round: &str, path: PathBuf| {
        if let Some(stem) = path
            .extension()
            .filter(|e| *e == "json")
            .and(path.file_stem())
        {
            let stem = stem.to_string_lossy().into_owned();
            let round = round.to_string();
            cells
                .entry(stem)
                .or_default()
                .push(RoundFile { round, path });
        }
    };
    for entry in list(json_dir)? {
        let name = entry.file_name().map(|n| n.to_string_lossy().into_owned());
        match name.as_deref().and_then(|n| n.strip_prefix("round-")) {
            Some(k) if entry.is_dir() && k.parse::<u32>().is_ok() => {
                let round = format!("round-{k}");
                for file in list(&entry)? {
                    add(&round, file);
                }
            }
            _ if entry.is_file() => add("", entry),
            _ => {}
        }
    }
    for rounds in cells.values_mut() {
        rounds.sort_by_key(|r| round_number(&r.round));
    }
    Ok(cells)
}

/// The paths in a folder.
fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    entries
        .map(|e| Ok(e?.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot read {}", dir.display()))
}

/// k of `round-<k>`; 0 for the one round of an older run folder.
fn round_number(round: &str) -> u32 {
    round
        .strip_prefix("round-")
        .and_then(|k| k.parse().ok())
        .unwrap_or(0)
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

/// The statistics of a cell over all its runs, every round merged, as hyperfine computes
/// them for one call: the mean, the sample standard deviation (n - 1; 0 for one run), the
/// median (the mean of the middle two for an even count), the extremes; user and system
/// CPU time are the mean over every run (each round's mean weighted by its runs).
#[derive(Debug, PartialEq)]
pub struct Merged {
    pub runs: usize,
    pub mean: f64,
    pub stddev: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub user: f64,
    pub system: f64,
}

/// One round's figures: its runs' times and its mean user and system time.
pub struct RoundTimes<'a> {
    pub times: &'a [f64],
    pub user: f64,
    pub system: f64,
}

/// The rounds of one cell merged; None when they hold no run.
pub fn merge(rounds: &[RoundTimes]) -> Option<Merged> {
    let times: Vec<f64> = rounds
        .iter()
        .flat_map(|r| r.times.iter().copied())
        .collect();
    let runs = times.len();
    if runs == 0 {
        return None;
    }
    let n = runs as f64;
    let mean = times.iter().sum::<f64>() / n;
    let stddev = if runs > 1 {
        (times.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    let weighted = |f: fn(&RoundTimes) -> f64| {
        rounds
            .iter()
            .map(|r| f(r) * r.times.len() as f64)
            .sum::<f64>()
            / n
    };
    Some(Merged {
        runs,
        mean,
        stddev,
        median: median(times.clone())?,
        min: times.iter().copied().fold(f64::INFINITY, f64::min),
        max: times.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        user: weighted(|r| r.user),
        system: weighted(|r| r.system),
    })
}

/// The median: the middle value, or the mean of the middle two; None for no value.
pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    match xs.len() {
        0 => None,
        len if len % 2 == 1 => Some(xs[mid]),
        _ => Some((xs[mid - 1] + xs[mid]) / 2.0),
    }
}

/// The speedup of a model over its sync: the median, over the rounds both were measured
/// in, of sync's time in the round over the model's (each round's median time, one run in
/// a round of scripts/bench.sh). None without a common round.
pub fn speedup(sync: &BTreeMap<String, f64>, model: &BTreeMap<String, f64>) -> Option<f64> {
    let ratios = model
        .iter()
        .filter_map(|(round, t)| Some(sync.get(round)? / t))
        .collect();
    median(ratios)
}

/// One cell from its rounds' hyperfine JSON and its summary lines.
fn read_cell(run_dir: &Path, stem: &str, files: &[RoundFile]) -> Result<Measured> {
    let (workload, model) = stem
        .split_once('-')
        .with_context(|| format!("{stem}.json: name is not <workload>-<model>.json"))?;
    let mut results = Vec::new();
    for file in files {
        let path = &file.path;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let export: Export = serde_json::from_str(&text)
            .with_context(|| format!("{}: not hyperfine JSON", path.display()))?;
        let Some(r) = export.results.into_iter().next() else {
            bail!("{}: no results", path.display())
        };
        results.push((file, r));
    }
    let round_times: Vec<RoundTimes> = results
        .iter()
        .map(|(_, r)| RoundTimes {
            times: &r.times,
            user: r.user,
            system: r.system,
        })
        .collect();
    let Some(m) = merge(&round_times) else {
        bail!("{}: no runs in {stem}'s JSON", run_dir.display())
    };
    let mut rounds = BTreeMap::new();
    for (file, r) in &results {
        if let Some(t) = median(r.times.clone()) {
            rounds.insert(file.round.clone(), t);
        }
    }
    let mut summaries = Vec::new();
    for file in files {
        let folder = run_dir.join("summaries").join(&file.round);
        summaries.extend(read_summaries(&folder.join(format!("{stem}.jsonl")))?);
    }
    let first = &summaries[0];
    // The largest of each figure over the runs: the cell's worst case.
    let max = |f: fn(&Summary) -> u64| summaries.iter().map(f).max().unwrap_or(0);
    let row = BenchRow {
        model: model.to_string(),
        workload: workload.to_string(),
        n: Some(first.n),
        status: Status::Ok,
        runs: Some(m.runs as u64),
        rounds: Some(files.len() as u64),
        mean_s: Some(m.mean),
        stddev_s: Some(m.stddev),
        median_s: Some(m.median),
        min_s: Some(m.min),
        max_s: Some(m.max),
        user_s: Some(m.user),
        system_s: Some(m.system),
        peak_rss_bytes: Some(max(|s| s.peak_rss_bytes) as f64),
        // 0: a model (or an older build) that did not report it, left empty.
        peak_pss_bytes: Some(max(|s| s.peak_pss_bytes) as f64).filter(|x| *x > 0.0),
        workers: Some(max(|s| s.workers)).filter(|x| *x > 0),
        peak_threads: Some(max(|s| s.peak_threads)).filter(|x| *x > 0),
        unverified: Some(max(|s| s.unverified)),
        driver: first.driver.clone().unwrap_or_default(),
        checksum: first.checksum.clone(),
        ..BenchRow::default()
    };
    // A run that failed (the driver records it in failed.tsv, which takes precedence;
    // this is for a JSON written without it).
    let failed_run = results.iter().find_map(|(file, r)| {
        let code = r.exit_codes.iter().flatten().find(|c| **c != 0)?;
        Some((file.round.as_str(), *code))
    });
    let row = if let Some((round, code)) = failed_run {
        let round = if round.is_empty() { "a run" } else { round };
        row.failed(format!("exit status {code} in {round} (hyperfine's JSON)"))
    } else if summaries.iter().any(|s| s.checksum != first.checksum) {
        row.failed("checksum differs between runs".into())
    } else if let Some(other) = summaries.iter().find(|s| s.driver != first.driver) {
        // Not one driver's figures: the cell measured a mix (monoio that fell back to
        // epoll in some runs only).
        let name = |s: &Summary| s.driver.clone().unwrap_or_else(|| "none".into());
        row.failed(format!(
            "driver differs between runs: {} and {}",
            name(first),
            name(other)
        ))
    } else {
        row
    };
    Ok(Measured { row, rounds })
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

/// Speedup against sync for the same workload and N, as the median of the per-round
/// ratios ([`speedup`]); a checksum that differs from sync's means a model computed or
/// downloaded something else: that cell fails. The Python models' sync is python-sync
/// ([`crate::models::baseline`]).
fn compare_with_sync(cells: &mut [Measured]) {
    use crate::models::baseline as sync_of;
    type Key = (String, String, Option<u64>);
    let baseline: BTreeMap<Key, (BTreeMap<String, f64>, String)> = cells
        .iter()
        .filter(|c| c.row.model == sync_of(&c.row.model) && c.row.status == Status::Ok)
        .map(|c| {
            let r = &c.row;
            let key = (r.model.clone(), r.workload.clone(), r.n);
            (key, (c.rounds.clone(), r.checksum.clone()))
        })
        .collect();
    for cell in cells.iter_mut().filter(|c| c.row.status == Status::Ok) {
        let row = &mut cell.row;
        let sync = sync_of(&row.model);
        let key = (sync.to_string(), row.workload.clone(), row.n);
        let Some((rounds, checksum)) = baseline.get(&key) else {
            continue;
        };
        if *checksum != row.checksum {
            let reason = format!("checksum {} differs from {sync}'s {checksum}", row.checksum);
            *row = std::mem::take(row).failed(reason);
        } else {
            row.speedup_vs_sync = speedup(rounds, &cell.rounds);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Table;

    /// hyperfine 1.20's export of one call, as scripts/bench.sh makes it (`-N -i`).
    fn hyperfine_json(model: &str, times: &[f64], (user, system): (f64, f64), code: i32) -> String {
        let list = |xs: Vec<String>| xs.join(", ");
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        format!(
            r#"{{"results": [{{"command": "{model}", "mean": {mean}, "stddev": null, "median": {mean}, "user": {user}, "system": {system}, "min": {mean}, "max": {mean}, "times": [{}], "memory_usage_byte": [{}], "exit_codes": [{}]}}]}}"#,
            list(times.iter().map(|t| t.to_string()).collect()),
            list(times.iter().map(|_| "1".to_string()).collect()),
            list(times.iter().map(|_| code.to_string()).collect()),
        )
    }

    /// A summary line per peak (RSS; PSS is a tenth of it).
    fn summary_lines(model: &str, workload: &str, checksum: &str, peaks: &[u64]) -> String {
        peaks
            .iter()
            .map(|p| {
                format!(
                    r#"{{"model":"{model}","workload":"{workload}","n":10,"wall_ms":1.0,"checksum":"{checksum}","bytes":1,"tasks":10,"processes":1,"peak_rss_bytes":{p},"peak_pss_bytes":{},"workers":2,"peak_threads":{}}}"#,
                    p / 10,
                    p / 10 + 1,
                ) + "\n"
            })
            .collect()
    }

    /// One cell measured in rounds, as scripts/bench.sh writes it: round k's JSON with the
    /// times of `rounds[k - 1]` (user 0.1 s, system 0.01 s), and a summary line per peak in
    /// the first round's summaries (one line in later rounds).
    fn cell(
        dir: &Path,
        (workload, model): (&str, &str),
        rounds: &[&[f64]],
        checksum: &str,
        peaks: &[u64],
    ) {
        for (k, times) in rounds.iter().enumerate() {
            let round = format!("round-{}", k + 1);
            std::fs::create_dir_all(dir.join("json").join(&round)).unwrap();
            std::fs::create_dir_all(dir.join("summaries").join(&round)).unwrap();
            let json = hyperfine_json(model, times, (0.1, 0.01), 0);
            std::fs::write(
                dir.join(format!("json/{round}/{workload}-{model}.json")),
                json,
            )
            .unwrap();
            let peaks = if k == 0 { peaks } else { &peaks[..1] };
            std::fs::write(
                dir.join(format!("summaries/{round}/{workload}-{model}.jsonl")),
                summary_lines(model, workload, checksum, peaks),
            )
            .unwrap();
        }
    }

    fn read(dir: &Path, file: &str) -> Vec<BenchRow> {
        let table = Table::<BenchRow>::read(&dir.join(file), &[]).unwrap();
        table.rows.into_iter().map(|l| l.row).collect()
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    /// The rounds of a cell merged as one call of hyperfine would have them: 0.5, 0.7
    /// (two runs in round 1), 0.6, 0.8 give the mean 0.65, the sample standard deviation
    /// sqrt(0.05 / 3), the median 0.65 (between 0.6 and 0.7), 0.5 and 0.8; user and system
    /// the mean over the runs, round 1's mean counting twice.
    #[test]
    fn rounds_merge_into_the_statistics_of_all_runs() {
        let m = merge(&[
            RoundTimes {
                times: &[0.5, 0.7],
                user: 0.4,
                system: 0.04,
            },
            RoundTimes {
                times: &[0.6],
                user: 0.1,
                system: 0.01,
            },
            RoundTimes {
                times: &[0.8],
                user: 0.3,
                system: 0.07,
            },
        ])
        .unwrap();
        assert_eq!(m.runs, 4);
        let figures = [m.mean, m.stddev, m.median, m.min, m.max, m.user, m.system];
        let expected = [0.65, (0.05f64 / 3.0).sqrt(), 0.65, 0.5, 0.8, 0.3, 0.04];
        for (got, want) in figures.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{m:?}");
        }
        let one = merge(&[RoundTimes {
            times: &[0.3],
            user: 0.2,
            system: 0.1,
        }])
        .unwrap();
        assert_eq!(
            (one.mean, one.stddev, one.median, one.min, one.max),
            (0.3, 0.0, 0.3, 0.3, 0.3)
        );
        assert_eq!(merge(&[]), None);
    }

    /// The speedup is the median of the per-round ratios: sync takes 1.0, 1.2, 1.4 s in
    /// rounds 1 to 3 and the model 0.5, 0.8, 0.7: the ratios 2.0, 1.5, 2.0 give 2.0,
    /// where the ratio of the medians would give 1.2 / 0.7 = 1.71. Rounds the model was
    /// not measured in (a failed sync round) do not count.
    #[test]
    fn the_speedup_is_the_median_of_the_per_round_ratios() {
        let rounds = |ts: &[f64]| -> BTreeMap<String, f64> {
            ts.iter()
                .enumerate()
                .map(|(k, t)| (format!("round-{}", k + 1), *t))
                .collect()
        };
        let sync = rounds(&[1.0, 1.2, 1.4]);
        assert_eq!(speedup(&sync, &rounds(&[0.5, 0.8, 0.7])), Some(2.0));
        assert_eq!(
            speedup(&rounds(&[1.0]), &rounds(&[0.5, 0.8, 0.7])),
            Some(2.0)
        );
        assert_eq!(speedup(&BTreeMap::new(), &rounds(&[0.5])), None);

        // The same through collect, into the CSV.
        let dir = crate::test_dir("per-round");
        cell(
            &dir,
            ("cpu", "sync"),
            &[&[1.0], &[1.2], &[1.4]],
            "0xab",
            &[5],
        );
        cell(
            &dir,
            ("cpu", "threads"),
            &[&[0.5], &[0.8], &[0.7]],
            "0xab",
            &[5],
        );
        collect(&dir).unwrap();
        let cpu = read(&dir, "cpu.csv");
        let threads = cpu.iter().find(|r| r.model == "threads").unwrap();
        assert_eq!(threads.speedup_vs_sync, Some(2.0), "{threads:?}");
        assert!(close(threads.median_s, 0.7), "{threads:?}");
        assert_eq!((threads.runs, threads.rounds), (Some(3), Some(3)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Peak memory and threads are the largest over every round's runs; a checksum unlike
    /// sync's fails the cell, and failed.tsv's reason is the row's.
    #[test]
    fn rows_have_speedup_peak_memory_and_failures() {
        let dir = crate::test_dir("rows");
        cell(
            &dir,
            ("cpu", "threads"),
            &[&[0.25], &[0.3]],
            "0xab",
            &[100, 300, 200],
        );
        cell(&dir, ("cpu", "sync"), &[&[0.5], &[0.6]], "0xab", &[50]);
        cell(&dir, ("cpu", "procs"), &[&[0.3], &[0.3]], "0xcd", &[500]);
        cell(&dir, ("io", "sync"), &[&[4.0]], "0x1", &[50]);
        cell(&dir, ("io", "threads"), &[&[1.0]], "0x1", &[50]);
        std::fs::write(
            dir.join("failed.tsv"),
            "io\tthreads\tthreads: error: GET http://x/: connection refused, \"really\"\n",
        )
        .unwrap();
        collect(&dir).unwrap();

        let cpu = read(&dir, "cpu.csv");
        let text = std::fs::read_to_string(dir.join("cpu.csv")).unwrap();
        assert!(text.starts_with("model,workload,n,status,runs,rounds,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,peak_pss_bytes,workers,peak_threads,driver,unverified,speedup_vs_sync,checksum,reason\nsync,cpu,10,ok,2,2,0.550000,"), "{text}");
        let model = |m: &str| cpu.iter().find(|r| r.model == m).unwrap();
        assert_eq!(cpu[0].model, "sync");
        let threads = model("threads");
        assert_eq!(
            threads.speedup_vs_sync,
            Some(2.0),
            "0.5 / 0.25 and 0.6 / 0.3"
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
        assert_eq!(summary.len(), 5);
        let failed = summary
            .iter()
            .find(|r| r.model == "threads" && r.workload == "io")
            .unwrap();
        assert_eq!(
            (failed.status, failed.mean_s, failed.reason.as_str()),
            (
                Status::Failed,
                None,
                "threads: error: GET http://x/: connection refused, \"really\""
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A run folder from before the rounds (json/<cell>.json with every run) is one round:
    /// the speedup is then the ratio of the medians, 0.5 / 0.2 (the mean 0.6 / 0.4 would
    /// give 1.5).
    #[test]
    fn a_run_folder_from_before_the_rounds_is_one_round() {
        let dir = crate::test_dir("legacy");
        for (model, times) in [("sync", [0.5, 0.4, 0.9]), ("rayon", [0.2, 0.1, 0.9])] {
            std::fs::create_dir_all(dir.join("json")).unwrap();
            std::fs::create_dir_all(dir.join("summaries")).unwrap();
            let json = hyperfine_json(model, &times, (0.1, 0.0), 0);
            std::fs::write(dir.join(format!("json/cpu-{model}.json")), json).unwrap();
            let lines = summary_lines(model, "cpu", "0xab", &[1, 2, 3]);
            std::fs::write(dir.join(format!("summaries/cpu-{model}.jsonl")), lines).unwrap();
        }
        collect(&dir).unwrap();
        let rayon = read(&dir, "cpu.csv")
            .into_iter()
            .find(|r| r.model == "rayon")
            .unwrap();
        assert_eq!((rayon.runs, rayon.rounds), (Some(3), Some(1)));
        assert!(close(rayon.speedup_vs_sync, 2.5), "{rayon:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A run whose JSON records a non-zero exit status (no failed.tsv row for it) fails
    /// its cell, naming the status and the round.
    #[test]
    fn a_failed_run_in_the_json_fails_the_cell() {
        let dir = crate::test_dir("exit");
        cell(&dir, ("cpu", "sync"), &[&[0.5], &[0.5]], "0xab", &[5]);
        let json = hyperfine_json("sync", &[0.1], (0.0, 0.0), 139);
        std::fs::write(dir.join("json/round-2/cpu-sync.json"), json).unwrap();
        collect(&dir).unwrap();
        let sync = &read(&dir, "cpu.csv")[0];
        assert_eq!(
            (sync.status, sync.reason.as_str()),
            (
                Status::Failed,
                "exit status 139 in round-2 (hyperfine's JSON)"
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A python run's cells: named <workload>-python-<model>, python-sync first, speedups
    /// and checksums against python-sync.
    #[test]
    fn python_rows_are_compared_with_python_sync() {
        let dir = crate::test_dir("python");
        cell(&dir, ("cpu", "python-threads"), &[&[1.0]], "0xab", &[10]);
        cell(&dir, ("cpu", "python-sync"), &[&[0.5]], "0xab", &[5]);
        cell(&dir, ("cpu", "python-procs"), &[&[0.25]], "0xcd", &[50]);
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

    /// `driver` added to every summary line of one round of a cell, as monoio writes it.
    fn set_driver(dir: &Path, round: u32, stem: &str, driver: &str) {
        let path = dir.join(format!("summaries/round-{round}/{stem}.jsonl"));
        let lines = std::fs::read_to_string(&path).unwrap();
        let field = format!(r#","driver":"{driver}"}}"#);
        std::fs::write(&path, lines.replace('}', &field)).unwrap();
    }

    /// A cell keeps the driver its runs name (empty for the models that name none); a
    /// cell whose rounds ran on two drivers measured neither: it fails, naming both.
    #[test]
    fn the_driver_is_the_runs_and_two_drivers_fail_the_cell() {
        let dir = crate::test_dir("driver");
        for model in ["sync", "monoio-async", "monoio-epoll"] {
            cell(&dir, ("io", model), &[&[1.0], &[1.0]], "0x1", &[5, 6]);
        }
        for round in [1, 2] {
            set_driver(&dir, round, "io-monoio-epoll", "epoll");
        }
        set_driver(&dir, 1, "io-monoio-async", "io_uring");
        set_driver(&dir, 2, "io-monoio-async", "epoll");
        collect(&dir).unwrap();
        let summary = read(&dir, "summary.csv");
        let row = |m: &str| summary.iter().find(|r| r.model == m).unwrap();
        assert_eq!(
            (row("sync").status, row("sync").driver.as_str()),
            (Status::Ok, "")
        );
        let epoll = row("monoio-epoll");
        assert_eq!((epoll.status, epoll.driver.as_str()), (Status::Ok, "epoll"));
        let mixed = row("monoio-async");
        assert_eq!(
            (mixed.status, mixed.reason.as_str(), mixed.driver.as_str()),
            (
                Status::Failed,
                "driver differs between runs: io_uring and epoll",
                ""
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_malformed_summary_line_is_named_with_file_and_line() {
        let dir = crate::test_dir("bad");
        cell(&dir, ("cpu", "sync"), &[&[0.5]], "0xab", &[5]);
        std::fs::write(
            dir.join("summaries/round-1/cpu-sync.jsonl"),
            "{\"model\":\"sync\"}\n",
        )
        .unwrap();
        let err = format!("{:#}", collect(&dir).unwrap_err());
        assert!(
            err.contains("round-1/cpu-sync.jsonl:1: not a summary line"),
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
