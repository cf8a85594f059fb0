//! The report's "What one task costs" section, and its three rows of the claims table.
//!
//! [`costs_report`] returns the section and the rows; the report places the two parts.
//!
//! Inputs (read and checked by [`super::inputs`]), each optional (a missing one leaves
//! its cells as "–"):
//! - `costs-fit.csv`, `costs.csv` (`benchkit costs`, in `make bench-scale`): spawn and
//!   switch, the slope and its r², and the fitted points for the charts.
//! - `scale-fit.csv`: memory per waiting task (`bytes_per_task` of the sleep workload).
//! - `summary.csv` with `bench-settings.txt` (`make bench`): hyperfine's user and system
//!   time of each io cell, divided by its downloads (N x URLs) for the CPU one download
//!   costs.
//! - `scale.csv`: the same for the sweep's io cells (one URL per task), from its `user_s`
//!   and `system_s` columns when it has them.

use super::inputs::{Cell, CostCell, CostFit, Fit, ScaleCell};
use crate::charts::{self, Line};
use crate::report::format::{bytes, thousands};
use crate::sweep::scale::Status;
use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;

/// jimblandy/context-switch's figures (its README, on its authors' machine): the outside
/// reference the report names beside ours.
const OUTSIDE: &str = "jimblandy/context-switch, on another machine and kernel: about 1.7 µs per switch between threads against 0.2 µs between async tasks, 17 µs to create a thread against 0.3 µs for a tokio task. Machines differ: compare ratios, not absolute figures";

/// The two parts: the section (with its charts written into the charts folder), and three
/// rows for the claims table "| claim | article: processes / threads / async | measured
/// here | verdict in Rust |", without its header.
pub struct CostsReport {
    pub section: String,
    pub claims_rows: String,
}

/// User plus system time (`cpu_s`) over the downloads it paid for, in µs: the CPU one
/// download costs (for the io table and the scale table too). None where there were no
/// downloads.
pub fn cpu_us_per_download(cpu_s: f64, downloads: u64) -> Option<f64> {
    (downloads > 0).then(|| cpu_s * 1e6 / downloads as f64)
}

/// URLs per io task in `make bench`, from bench-settings.txt's first line: the count of
/// `io_urls=` when real URLs were given, else `urls=` (the fixture server's).
pub fn bench_urls(settings: &str) -> Option<u64> {
    let line = settings.lines().next()?;
    if let Some(real) = line.split_once("io_urls=").map(|(_, rest)| rest.trim()) {
        if !real.is_empty() && real != "fixture" {
            return Some(real.split_whitespace().count() as u64);
        }
    }
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("urls="))
        .and_then(|v| v.parse().ok())
}

/// Everything the section is made of, from the report's inputs.
pub struct Sources<'a> {
    fits: &'a [CostFit],
    cells: &'a [CostCell],
    memory: &'a [Fit],
    /// make bench's io cells that were measured.
    bench_io: Vec<&'a Cell>,
    bench_urls: Option<u64>,
    /// The sweep's io cells that were measured.
    scale_io: Vec<&'a ScaleCell>,
}

impl<'a> Sources<'a> {
    pub fn of(inputs: &'a super::Inputs) -> Sources<'a> {
        Sources {
            fits: &inputs.cost_fits,
            cells: &inputs.cost_cells,
            memory: inputs.fits.as_deref().unwrap_or_default(),
            bench_io: inputs
                .cells
                .iter()
                .filter(|c| c.workload == "io" && c.ok)
                .collect(),
            bench_urls: bench_urls(&inputs.settings.text),
            scale_io: inputs
                .scale
                .iter()
                .flatten()
                .filter(|c| c.workload == "io" && c.status == Status::Ok)
                .collect(),
        }
    }

    /// Every model named anywhere, sync (the baseline) first, the rest in order seen.
    fn models(&self) -> Vec<String> {
        let mut models: Vec<String> = Vec::new();
        let names = self.fits.iter().map(|f| &f.model);
        let names = names.chain(self.bench_io.iter().map(|c| &c.model));
        for name in names.chain(self.memory.iter().map(|m| &m.model)) {
            if !models.contains(name) {
                models.push(name.clone());
            }
        }
        models.sort_by_key(|m| m != "sync");
        models
    }

    fn fit(&self, model: &str, workload: &str) -> Option<&CostFit> {
        self.fits
            .iter()
            .find(|f| f.model == model && f.workload == workload)
    }

    /// The fitted cost in µs, when there is one.
    fn cost(&self, model: &str, workload: &str) -> Option<f64> {
        self.fit(model, workload)?.cost_us
    }

    fn bench_cpu(&self, model: &str) -> Option<f64> {
        let cell = self.bench_io.iter().find(|c| c.model == model)?;
        cpu_us_per_download(cell.cpu_s?, cell.n * self.bench_urls?)
    }

    /// CPU per download at the largest io cell of the sweep that has CPU columns, and its N.
    fn scale_cpu(&self, model: &str) -> Option<(f64, u64)> {
        self.scale_io
            .iter()
            .filter(|c| c.model == model)
            .filter_map(|c| Some((cpu_us_per_download(c.cpu_s?, c.n)?, c.n)))
            .max_by_key(|&(_, n)| n)
    }

    fn memory(&self, model: &str) -> Option<f64> {
        self.memory
            .iter()
            .find(|m| m.model == model && m.workload == "sleep")
            .map(|m| m.per_task)
    }
}

/// The "What one task costs" section and three claims-table rows, from the CSVs the
/// report read; the charts go into `charts_dir` (results/charts).
pub fn costs_report(sources: &Sources, charts_dir: &Path) -> Result<CostsReport> {
    Ok(CostsReport {
        section: section(sources, charts_dir)?,
        claims_rows: claims_rows(sources),
    })
}

fn section(inputs: &Sources, charts_dir: &Path) -> Result<String> {
    let mut md = String::from("## What one task costs\n\n");
    if inputs.fits.is_empty() {
        md +=
            "spawn and switch: not measured yet (`make bench-scale` writes results/costs.csv).\n\n";
    } else {
        md += "spawn: the slope of time against N for N tasks that do nothing, started and joined the model's own way. switch: N tasks in a ring hand a token on through the model's own channel, R times round; the slope of time against the hand-offs (N x R). Both fitted through the fastest of each size's runs (`benchkit costs`; costs.csv has every cell, costs-fit.csv the fits and the fit of the medians). CPU per download: user + system time of an io run over its downloads, start-up included, so it is largest where there are fewest downloads. Memory per waiting task: the slope of peak memory against N (scale sweep, sleep).\n\n";
    }
    let scale_n = inputs
        .models()
        .iter()
        .filter_map(|m| inputs.scale_cpu(m).map(|(_, n)| n))
        .max();
    let _ = writeln!(
        md,
        "| model | spawn, µs per task | switch, µs per hand-off | CPU µs per download, make bench ({}) | CPU µs per download, scale sweep{} | memory per waiting task |\n| --- | --- | --- | --- | --- | --- |",
        match inputs.bench_urls {
            Some(urls) => format!("N x {urls} URLs"),
            None => "N x URLs".into(),
        },
        scale_n.map_or(String::new(), |n| format!(" (largest N, up to {})", thousands(n)))
    );
    let mut not_run = Vec::new();
    for model in inputs.models() {
        let mut fitted = |workload: &str| match inputs.fit(&model, workload) {
            Some(CostFit {
                cost_us: Some(us),
                r2: Some(r2),
                ..
            }) => format!(
                "{} (r² {r2:.2}{})",
                us_text(*us),
                if *r2 < 0.9 { ", under 0.9" } else { "" }
            ),
            Some(f) if !f.reason.is_empty() => {
                not_run.push(format!("{model} {workload}: {}", f.reason));
                "–".into()
            }
            _ => "–".into(),
        };
        let (spawn, switch) = (fitted("spawn"), fitted("switch"));
        let scale = inputs.scale_cpu(&model).map_or("–".into(), |(us, n)| {
            format!("{} (N={})", us_text(us), thousands(n))
        });
        let _ = writeln!(
            md,
            "| {model} | {spawn} | {switch} | {} | {scale} | {} |",
            inputs.bench_cpu(&model).map_or("–".into(), us_text),
            inputs.memory(&model).map_or("–".into(), bytes)
        );
    }
    md.push('\n');
    if !not_run.is_empty() {
        md += "Not fitted:\n\n";
        for line in &not_run {
            let _ = writeln!(md, "- {}", line.replace('|', "/"));
        }
        md.push('\n');
    }
    let _ = writeln!(md, "Outside reference: {OUTSIDE}.\n");
    for (workload, title) in [
        ("spawn", "spawn: time against N tasks"),
        ("switch", "switch: time against hand-offs (N x R)"),
    ] {
        let lines = chart_lines(inputs, workload);
        if lines.is_empty() {
            continue;
        }
        let file = format!("costs-{workload}.svg");
        charts::lines(
            &charts_dir.join(&file),
            title,
            "milliseconds, fastest run",
            &lines,
            true,
            None,
        )?;
        let _ = writeln!(md, "![{title}](charts/{file})\n");
    }
    Ok(md)
}

/// The fitted sizes of every model, one line each (log-log: the costs span 10,000x).
fn chart_lines(inputs: &Sources, workload: &str) -> Vec<Line> {
    inputs
        .models()
        .into_iter()
        .filter_map(|model| {
            let cells = inputs
                .cells
                .iter()
                .filter(|c| c.model == model && c.workload == workload && c.stage == "fit");
            let (mut points, mut missing) = (Vec::new(), Vec::new());
            for c in cells {
                match (c.status.as_str(), c.min_ms) {
                    ("ok", Some(ms)) if ms > 0.0 => points.push((c.units as f64, ms)),
                    ("ok", _) => {}
                    _ => missing.push((c.units as f64, true)),
                }
            }
            (!points.is_empty()).then_some(Line {
                model,
                points,
                missing,
            })
        })
        .collect()
}

/// The three seed claims about costs, each with our figure and a verdict.
fn claims_rows(inputs: &Sources) -> String {
    let mut md = String::new();
    let cost = |model: &str, workload: &str| inputs.cost(model, workload);
    let asyncs: Vec<String> = inputs
        .models()
        .into_iter()
        .filter(|m| m.ends_with("-async"))
        .collect();
    let async_range = |workload: &str| -> Option<(f64, f64)> {
        let xs: Vec<f64> = asyncs.iter().filter_map(|m| cost(m, workload)).collect();
        let lo = xs.iter().cloned().reduce(f64::min)?;
        Some((lo, xs.iter().cloned().fold(lo, f64::max)))
    };
    let range_text = |r: Option<(f64, f64)>| match r {
        Some((lo, hi)) if hi / lo < 1.1 => us_text(lo),
        Some((lo, hi)) => format!("{} to {}", us_text(lo), us_text(hi)),
        None => "–".into(),
    };

    // 1. Processes are costly to spawn.
    let (procs, threads) = (cost("procs", "spawn"), cost("threads", "spawn"));
    let async_spawn = async_range("spawn");
    let measured = format!(
        "spawn, µs per task: procs {}, threads {}, async tasks {}, green {}, rayon jobs {}",
        opt_us(procs),
        opt_us(threads),
        range_text(async_spawn),
        opt_us(cost("green", "spawn")),
        opt_us(cost("rayon", "spawn"))
    );
    let verdict = match (procs, threads, async_spawn) {
        (Some(p), Some(t), asyncs) if p > 5.0 * t => format!(
            "holds: a process costs {} a thread{}; still, at {} per process it matters only for tasks of a few ms or less",
            times(p / t),
            asyncs.map_or(String::new(), |(_, hi)| format!(" and {} or more an async task", times(p / hi))),
            ms_text(p)
        ),
        (Some(p), Some(t), _) => format!("does not hold here: a process costs {} a thread", times(p / t)),
        _ => "not measured yet (make bench-scale)".into(),
    };
    let _ = writeln!(
        md,
        "| Processes are costly to spawn | costly to spawn / – / – | {measured}; outside reference: 17 µs per thread, 0.3 µs per tokio task (context-switch, another machine) | {verdict} |"
    );

    // 2. About 50 µs per threaded context switch; 1,000 threads cost 50 ms of switching.
    let thread_switch = cost("threads", "switch");
    let async_switch = async_range("switch");
    let measured = format!(
        "switch, µs per hand-off: threads {}, procs {}, green {}, async tasks {}",
        opt_us(thread_switch),
        opt_us(cost("procs", "switch")),
        opt_us(cost("green", "switch")),
        range_text(async_switch)
    );
    let verdict = match thread_switch {
        Some(t) => {
            let size = if t < 25.0 {
                format!(
                    "does not hold here: {} per switch, {} less than 50 µs, so 1,000 threads switching once each cost {}, not 50 ms",
                    us_text(t),
                    times(50.0 / t),
                    ms_text(t * 1000.0)
                )
            } else if t <= 100.0 {
                format!("holds: {} per switch", us_text(t))
            } else {
                format!("worse than claimed: {} per switch", us_text(t))
            };
            match async_switch {
                Some((lo, hi)) if t > hi => format!(
                    "{size}; the order holds: a thread switch costs {} to {} an async task's",
                    times(t / hi),
                    times(t / lo)
                ),
                Some(_) => format!("{size}; and some async task switches cost as much"),
                None => size,
            }
        }
        None => "not measured yet (make bench-scale)".into(),
    };
    let _ = writeln!(
        md,
        "| About 50 µs per threaded context switch: 1,000 threads cost 50 ms of switching | – / 50 µs / – | {measured}; outside reference: 1.7 µs between threads, 0.2 µs between async tasks (context-switch, another machine) | {verdict} |"
    );

    // 3. Threading solutions are slightly faster than comparable asyncio ones.
    let _ = writeln!(
        md,
        "| Most benchmarks show threading slightly faster than asyncio | – / slightly faster / slightly slower | {} | {} |",
        threads_vs_async_measured(inputs, &asyncs),
        threads_vs_async_verdict(inputs, &asyncs)
    );
    md
}

/// Wall time of io (make bench, and the sweep's largest N both ran) and CPU per download,
/// threads against the async models.
fn threads_vs_async_measured(inputs: &Sources, asyncs: &[String]) -> String {
    let mut parts = Vec::new();
    let bench = |m: &str| {
        inputs
            .bench_io
            .iter()
            .find(|c| c.model == m)
            .map(|c| c.median)
    };
    let async_times: Vec<f64> = asyncs.iter().filter_map(|m| bench(m)).collect();
    if let (Some(t), Some(lo), Some(hi)) = (
        bench("threads"),
        async_times.iter().cloned().reduce(f64::min),
        async_times.iter().cloned().reduce(f64::max),
    ) {
        parts.push(format!(
            "io (make bench, median): threads {t:.3} s, async {lo:.3} to {hi:.3} s"
        ));
    }
    if let Some((n, t, lo, hi)) = scale_io_at_largest_common_n(inputs, asyncs) {
        parts.push(format!(
            "io at N={} (scale sweep): threads {t:.2} s, async {lo:.2} to {hi:.2} s",
            thousands(n)
        ));
    }
    // CPU per download at the same N for every model: the sweep's largest common N when
    // its cells carry CPU time, else make bench's io.
    let common = scale_io_at_largest_common_n(inputs, asyncs).map(|(n, ..)| n);
    let cpu = |m: &str| {
        match common {
            Some(n) => inputs
                .scale_io
                .iter()
                .find(|c| c.model == m && c.n == n)
                .and_then(|c| cpu_us_per_download(c.cpu_s?, c.n)),
            None => None,
        }
        .or_else(|| inputs.bench_cpu(m))
    };
    let async_cpu: Vec<f64> = asyncs.iter().filter_map(|m| cpu(m)).collect();
    if let (Some(t), Some(lo), Some(hi)) = (
        cpu("threads"),
        async_cpu.iter().cloned().reduce(f64::min),
        async_cpu.iter().cloned().reduce(f64::max),
    ) {
        parts.push(format!(
            "CPU per download: threads {}, async {} to {}",
            us_text(t),
            us_text(lo),
            us_text(hi)
        ));
    }
    if parts.is_empty() {
        "not measured yet (make bench, make bench-scale)".into()
    } else {
        parts.join("; ")
    }
}

fn threads_vs_async_verdict(inputs: &Sources, asyncs: &[String]) -> String {
    if let Some((n, t, lo, hi)) = scale_io_at_largest_common_n(inputs, asyncs) {
        let n = thousands(n);
        return if t > hi {
            format!(
                "does not hold at scale: at N={n} threads take {} the slowest async model's time",
                times(t / hi)
            )
        } else if t < lo {
            format!(
                "holds: at N={n} threads are the faster, by {}",
                times(lo / t)
            )
        } else {
            format!("mixed: at N={n} threads fall between the async models")
        };
    }
    let bench = |m: &str| {
        inputs
            .bench_io
            .iter()
            .find(|c| c.model == m)
            .map(|c| c.median)
    };
    let async_best = asyncs.iter().filter_map(|m| bench(m)).reduce(f64::min);
    match (bench("threads"), async_best) {
        (Some(t), Some(a)) if (t / a - 1.0).abs() <= 0.02 => {
            "a tie at this N: both wait on the server (within 2%)".into()
        }
        (Some(t), Some(a)) if t < a => format!(
            "holds at this N: threads {:.1}% faster",
            (a / t - 1.0) * 100.0
        ),
        (Some(t), Some(a)) => format!(
            "does not hold: threads {:.1}% slower",
            (t / a - 1.0) * 100.0
        ),
        _ => "not measured yet (make bench)".into(),
    }
}

/// The largest io N of the sweep that threads and at least one async model completed:
/// (N, threads' time, the async models' fastest and slowest), in seconds: medians, as
/// everywhere else (the mean in sweeps that kept none).
fn scale_io_at_largest_common_n(
    inputs: &Sources,
    asyncs: &[String],
) -> Option<(u64, f64, f64, f64)> {
    let time = |m: &str, n: u64| {
        inputs
            .scale_io
            .iter()
            .find(|c| c.model == m && c.n == n)
            .map(|c| c.median)
    };
    let mut ns: Vec<u64> = inputs
        .scale_io
        .iter()
        .filter(|c| c.model == "threads")
        .map(|c| c.n)
        .collect();
    ns.sort_unstable();
    ns.into_iter().rev().find_map(|n| {
        let t = time("threads", n)?;
        let xs: Vec<f64> = asyncs.iter().filter_map(|m| time(m, n)).collect();
        let lo = xs.iter().cloned().reduce(f64::min)?;
        Some((n, t, lo, xs.iter().cloned().fold(lo, f64::max)))
    })
}

/// 0.153 -> "0.15 µs", 4.06 -> "4.1 µs", 2593 -> "2,593 µs".
fn us_text(us: f64) -> String {
    if us >= 100.0 {
        format!("{} µs", thousands(us.round() as u64))
    } else if us >= 10.0 {
        format!("{us:.0} µs")
    } else if us >= 1.0 {
        format!("{us:.1} µs")
    } else {
        format!("{us:.2} µs")
    }
}

/// A ratio: 1.73 -> "1.7x", 48.6 -> "49x", 1841.3 -> "1,841x".
fn times(x: f64) -> String {
    if x >= 10.0 {
        format!("{}x", thousands(x.round() as u64))
    } else {
        format!("{x:.1}x")
    }
}

fn opt_us(us: Option<f64>) -> String {
    us.map_or("–".into(), us_text)
}

/// Microseconds as milliseconds: 2593 -> "2.6 ms", 4060 -> "4.1 ms".
fn ms_text(us: f64) -> String {
    let ms = us / 1e3;
    if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COSTS_FIT: &str = "\
model,workload,cost_us,base_ms,r2,points,median_cost_us,median_r2,reason
sync,spawn,,,,0,,,\"unsupported: sync: cannot run spawn: sync starts no tasks\"
procs,spawn,1915.0,11.0,0.976,6,2593.4,0.985,
threads,spawn,39.4,29.9,0.972,6,43.2,0.95,
tokio-async,spawn,1.04,-5.7,0.961,6,1.16,0.998,
smol-async,spawn,0.74,-11.7,0.998,6,0.81,0.997,
sync,switch,,,,0,,,\"unsupported: sync: cannot run switch: one thread, no other task\"
procs,switch,4.53,261.8,0.986,6,5.5,0.975,
threads,switch,3.10,-24.9,0.998,6,4.06,0.983,
tokio-async,switch,0.147,38.4,0.994,6,0.153,0.876,
smol-async,switch,0.433,-4.7,0.8,6,0.457,0.998,
";

    const COSTS: &str = "\
model,workload,n,rounds,units,stage,status,runs,wall_ms,min_ms,max_ms,reason
threads,spawn,16,,16,probe,ok,1,1.0,1.0,1.0,
threads,spawn,1000,,1000,fit,ok,5,45.0,40.0,50.0,
threads,spawn,2000,,2000,fit,ok,5,85.0,80.0,90.0,
threads,switch,100,10,1000,fit,ok,5,4.0,3.5,5.0,
threads,switch,100,20,2000,fit,ok,5,7.0,6.5,8.0,
";

    const SCALE_FIT: &str = "\
model,workload,bytes_per_task,base_bytes,r2,points
threads,sleep,9830,1000000,0.99,4
tokio-async,sleep,504,3700000,1.0,6
threads,io,50000,1000000,0.99,4
";

    const IO: &str = "\
model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,speedup_vs_sync,checksum,reason
sync,io,10,ok,3,4.07,0.004,4.07,4.06,4.08,0.012,0.004,4075520,1.000,0x5,
threads,io,10,ok,3,0.42,0.001,0.420,0.41,0.43,0.016,0.008,5496832,9.7,0x5,
tokio-async,io,10,ok,3,0.41,0.001,0.412,0.41,0.42,0.020,0.012,5496832,9.9,0x5,
smol-async,io,10,ok,3,0.41,0.001,0.413,0.41,0.42,0.008,0.004,5496832,9.9,0x5,
";

    /// scale.csv as the lead's version will write it, with CPU columns.
    const SCALE: &str = "\
model,workload,n,status,runs,mean_s,min_s,max_s,peak_rss_bytes,listen_overflows,syn_retrans,time_wait_at_start,user_s,system_s,reason
threads,io,1000,ok,3,0.30,0.29,0.31,1,0,0,0,0.10,0.16,
threads,io,10000,ok,1,2.34,2.34,2.34,1,0,0,0,0.6,2.0,
tokio-async,io,10000,ok,1,1.04,1.04,1.04,1,0,0,0,0.4,0.6,
smol-async,io,10000,ok,1,1.36,1.36,1.36,1,0,0,0,0.3,0.4,
smol-async,sleep,10000,ok,1,1.0,1.0,1.0,1,0,0,0,0.1,0.1,
";

    fn results(files: &[(&str, &str)]) -> std::path::PathBuf {
        let dir = crate::test_dir(&format!("report-costs-{}", files.len()));
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        std::fs::create_dir_all(dir.join("charts")).unwrap();
        dir
    }

    /// The section and rows of a results folder, read as `make report` reads it.
    fn read_report(dir: &std::path::Path) -> Result<CostsReport> {
        let inputs = super::super::Inputs::read(dir)?;
        costs_report(&Sources::of(&inputs), &dir.join("charts"))
    }

    /// A summary.csv without io cells.
    const CPU_ONLY: &str = "\
model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,speedup_vs_sync,checksum,reason
sync,cpu,10,ok,3,1.0,0.01,1.0,0.99,1.01,1.0,0.0,4075520,1.000,0x5,
";

    /// Every figure of the table and of the three claims comes from the fixed CSVs, with
    /// the verdicts they imply; the charts are written.
    #[test]
    fn section_and_claims_from_fixed_csvs() {
        let dir = results(&[
            ("costs-fit.csv", COSTS_FIT),
            ("costs.csv", COSTS),
            ("scale-fit.csv", SCALE_FIT),
            ("summary.csv", IO),
            ("scale.csv", SCALE),
            (
                "bench-settings.txt",
                "mode=full n=10 cpu_runs=5 io_runs=3 warmup=1 delay_ms=100 body_bytes=51200 urls=4 io_urls=fixture\nhyperfine=1.20\n",
            ),
        ]);
        let report = read_report(&dir).unwrap();
        let md = &report.section;
        assert!(md.starts_with("## What one task costs\n"), "{md}");
        assert!(
            md.contains("| CPU µs per download, make bench (N x 4 URLs) |"),
            "{md}"
        );
        // threads: 39.4 µs spawn, 3.1 µs switch; (0.016 + 0.008) s over 40 downloads is
        // 600 µs; at N=10,000 of the sweep, 2.6 s over 10,000 is 260 µs; 9.6 KiB waiting.
        assert!(
            md.contains("| threads | 39 µs (r² 0.97) | 3.1 µs (r² 1.00) | 600 µs | 260 µs (N=10,000) | 9.6 KiB |"),
            "{md}"
        );
        assert!(
            md.contains("| smol-async | 0.74 µs (r² 1.00) | 0.43 µs (r² 0.80, under 0.9) |"),
            "{md}"
        );
        assert!(md.contains("| tokio-async | 1.0 µs (r² 0.96) | 0.15 µs (r² 0.99) | 800 µs | 100 µs (N=10,000) | 504 B |"), "{md}");
        // sync first, with its reasons listed; scale.csv's sleep cell is not an io cell.
        assert!(md.find("| sync |").unwrap() < md.find("| procs |").unwrap());
        assert!(
            md.contains("- sync spawn: unsupported: sync: cannot run spawn: sync starts no tasks"),
            "{md}"
        );
        assert!(md.contains("jimblandy/context-switch") && md.contains("Machines differ"));
        assert!(md.contains("![spawn: time against N tasks](charts/costs-spawn.svg)"));
        for chart in ["costs-spawn.svg", "costs-switch.svg"] {
            let svg = std::fs::read_to_string(dir.join("charts").join(chart)).unwrap();
            assert!(svg.contains("<svg") && svg.contains("threads"), "{chart}");
        }

        let rows: Vec<&str> = report.claims_rows.lines().collect();
        assert_eq!(rows.len(), 3, "{}", report.claims_rows);
        assert!(
            rows.iter()
                .all(|r| r.starts_with("| ") && r.matches(" | ").count() == 3),
            "{rows:?}"
        );
        // 1,915 / 39.4 = 49x a thread; / 1.04 (slowest async) = 1,841x.
        assert!(
            rows[0].contains("procs 1,915 µs, threads 39 µs, async tasks 0.74 µs to 1.0 µs"),
            "{}",
            rows[0]
        );
        assert!(
            rows[0].contains("holds: a process costs 49x a thread and 1,841x or more an async task; still, at 1.9 ms per process"),
            "{}",
            rows[0]
        );
        // 3.1 µs: 16x less than 50 µs; 1,000 switches 3.1 ms; 21x to 7x an async switch.
        assert!(rows[1].contains("does not hold here: 3.1 µs per switch, 16x less than 50 µs, so 1,000 threads switching once each cost 3.1 ms, not 50 ms"), "{}", rows[1]);
        assert!(
            rows[1].contains("the order holds: a thread switch costs 7.2x to 21x an async task's"),
            "{}",
            rows[1]
        );
        assert!(rows[1].contains("1.7 µs between threads"), "{}", rows[1]);
        // io at N=10,000: threads 2.34 s against 1.04-1.36 s; CPU 260 against 100-70 µs.
        assert!(
            rows[2].contains("io (make bench, median): threads 0.420 s, async 0.412 to 0.413 s"),
            "{}",
            rows[2]
        );
        assert!(
            rows[2].contains("io at N=10,000 (scale sweep): threads 2.34 s, async 1.04 to 1.36 s"),
            "{}",
            rows[2]
        );
        assert!(
            rows[2].contains("CPU per download: threads 260 µs, async 70 µs to 100 µs"),
            "{}",
            rows[2]
        );
        assert!(rows[2].contains("does not hold at scale: at N=10,000 threads take 1.7x the slowest async model's time"), "{}", rows[2]);
    }

    /// Nothing measured yet: the section says so and the claims say what to run; with
    /// make bench only, the third claim is judged at its N.
    #[test]
    fn missing_inputs_say_what_to_run() {
        let dir = results(&[("summary.csv", CPU_ONLY)]);
        let report = read_report(&dir).unwrap();
        assert!(report
            .section
            .contains("not measured yet (`make bench-scale`"));
        assert_eq!(
            report.claims_rows.matches("not measured yet").count(),
            4,
            "{}",
            report.claims_rows
        );
        assert!(!dir.join("charts/costs-spawn.svg").exists());

        let dir = results(&[("summary.csv", IO), ("bench-settings.txt", "urls=4\n")]);
        let report = read_report(&dir).unwrap();
        assert!(
            report
                .claims_rows
                .contains("a tie at this N: both wait on the server (within 2%)"),
            "{}",
            report.claims_rows
        );
        assert!(
            report
                .section
                .contains("| threads | – | – | 600 µs | – | – |"),
            "{}",
            report.section
        );
    }

    #[test]
    fn a_malformed_csv_is_named_with_its_line() {
        let dir = results(&[
            ("summary.csv", CPU_ONLY),
            (
                "costs-fit.csv",
                "model,workload,cost_us,r2,points,reason\nthreads,spawn,fast,0.9,6,\n",
            ),
        ]);
        let err = format!("{:#}", read_report(&dir).err().unwrap());
        assert!(
            err.ends_with("costs-fit.csv:2: column cost_us is \"fast\", not a number"),
            "{err}"
        );
    }

    #[test]
    fn urls_come_from_the_settings_line() {
        assert_eq!(
            bench_urls("mode=full n=10 urls=4 io_urls=fixture\n"),
            Some(4)
        );
        assert_eq!(
            bench_urls("mode=full urls=4 io_urls=https://a/ https://b/\n"),
            Some(2)
        );
        assert_eq!(bench_urls(""), None);
        assert_eq!(cpu_us_per_download(0.03, 40), Some(750.0));
        assert_eq!(cpu_us_per_download(0.03, 0), None);
    }
}
