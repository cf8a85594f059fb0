//! The report's "What blocks a scheduler" section, from mixed.csv (see [`crate::sweep::mixed`]),
//! read and checked by [`super::inputs::read_mixed`].
//!
//! [`section`] returns the section's markdown (a table per cell, one sentence per variant
//! saying what happened and why, computed from the measured numbers, and the chart) and
//! the two rows it adds to the claims table: the seed's one-second stall and its
//! `sleep(0)` advice. It writes the chart, the latency percentiles of every variant per
//! model on a log scale, to CHARTS/mixed.svg.

use super::inputs::MixedRow as Row;
use crate::report::format::thousands;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

/// What the report gets from mixed.csv.
pub struct Section {
    /// "## What blocks a scheduler", ending with the chart.
    pub markdown: String,
    /// Rows for the claims table (`| claim | article | measured here | verdict |`).
    pub claims: Vec<String>,
}

/// The variants in the order the report shows them, the baseline first.
const ORDER: [&str; 6] = [
    "none",
    "offload",
    "inline",
    "yield",
    "block",
    "current-thread",
];

/// The section for the rows of mixed.csv, its chart written to CHARTS/mixed.svg.
pub fn section(rows: &[Row], charts_dir: &Path) -> Result<Section> {
    let mut bench: Vec<&Row> = rows
        .iter()
        .filter(|r| r.purpose == "bench" && r.status == "ok")
        .collect();
    bench.sort_by_key(|r| (r.model != "threads", r.model.clone(), rank(&r.variant)));
    let mut md = String::from("## What blocks a scheduler\n\n");
    if let Some(r) = bench.first() {
        let seconds = r.probes as f64 / r.rate.max(1) as f64;
        let _ = writeln!(
            md,
            "`mixed`: {} requests a second for {seconds:.0} s, each on a task of its own, while {} CPU jobs (7777 ** {} computed in steps) submitted together a quarter of the way in run the way the variant says. A request's latency counts from when it was due, not from when the model got round to it, so a stalled scheduler shows as latency. One run per cell (results/mixed.csv); `block`'s jobs sleep on their thread instead of computing.\n",
            r.rate,
            r.jobs,
            thousands(r.exp as u64)
        );
    }
    md += "| model | variant | p50 | p99 | max | CPU jobs' total time |\n| --- | --- | ---: | ---: | ---: | ---: |\n";
    for r in &bench {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            r.model,
            r.variant,
            ms(r.p50_ms),
            ms(r.p99_ms),
            ms(r.max_ms),
            ms(r.jobs_ms)
        );
    }
    for r in rows.iter().filter(|r| r.status == "failed") {
        let _ = writeln!(
            md,
            "| {} | {} | failed | | | {} |",
            r.model,
            r.variant,
            r.reason.replace('|', "/")
        );
    }
    let not_offered: Vec<String> = rows
        .iter()
        .filter(|r| r.status == "not-offered")
        .map(|r| format!("{} ({})", r.model, short_reason(&r.reason)))
        .collect();
    if !not_offered.is_empty() {
        let _ = writeln!(md, "\nNot offered: {}.", not_offered.join("; "));
    }
    md += "\nWhat happened, variant by variant:\n\n";
    for variant in ORDER {
        if let Some(sentence) = explain(variant, &bench) {
            let _ = writeln!(md, "- **{variant}**: {sentence}");
        }
    }
    md.push('\n');
    if !bench.is_empty() {
        chart(&charts_dir.join("mixed.svg"), &bench)?;
        md += "![latency percentiles per variant](charts/mixed.svg)\n\n";
    }
    let claims = claims(rows, &bench);
    Ok(Section {
        markdown: md,
        claims,
    })
}

fn rank(variant: &str) -> usize {
    ORDER
        .iter()
        .position(|v| *v == variant)
        .unwrap_or(ORDER.len())
}

/// The rows of one variant, and the same model's row of another.
fn of<'a>(bench: &[&'a Row], variant: &str) -> Vec<&'a Row> {
    bench
        .iter()
        .copied()
        .filter(|r| r.variant == variant)
        .collect()
}

fn same<'a>(bench: &[&'a Row], model: &str, variant: &str) -> Option<&'a Row> {
    bench
        .iter()
        .copied()
        .find(|r| r.model == model && r.variant == variant)
}

/// One sentence on what a variant did, from the numbers; `None` if it was not measured.
fn explain(variant: &str, bench: &[&Row]) -> Option<String> {
    let rows = of(bench, variant);
    if rows.is_empty() {
        return None;
    }
    let threads = same(bench, "threads", "none");
    let p99 = |rs: &[&Row]| span(rs.iter().filter_map(|r| r.p99_ms));
    let names = |rs: &[&Row]| {
        rs.iter()
            .map(|r| r.model.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // p99 against another row's (the same model's offload, or threads'), as "2.5x".
    let against = |rs: &[&Row], base: &dyn Fn(&Row) -> Option<f64>| {
        span_of(
            rs.iter()
                .filter_map(|r| Some(r.p99_ms? / base(r)?.max(f64::MIN_POSITIVE))),
            |x| format!("{x:.1}x"),
        )
    };
    let offload_p99 = |r: &Row| same(bench, &r.model, "offload").and_then(|o| o.p99_ms);
    let workers = rows.iter().map(|r| r.workers).max().unwrap_or(0);
    let jobs = rows[0].jobs;
    Some(match variant {
        "none" => format!(
            "{}, with every request and every job on a thread of its own: p99 {}, max {}. The kernel preempts a computing thread for a woken one, so a request waits for a time slice, never for a job; this is the baseline.",
            names(&rows),
            p99(&rows),
            span(rows.iter().filter_map(|r| r.max_ms))
        ),
        "offload" => format!(
            "p99 {} in {}{}: the jobs ran on threads the kernel preempts (the blocking pool; green: plain OS threads), so the workers stayed free for the requests.",
            p99(&rows),
            names(&rows),
            match threads {
                Some(t) => format!(
                    ", {} threads' {}",
                    against(&rows, &|_| t.p99_ms),
                    ms(t.p99_ms)
                ),
                None => String::new(),
            }
        ),
        "inline" => {
            let p50_moved = rows.iter().any(|r| {
                matches!((r.p50_ms, same(bench, &r.model, "offload").and_then(|o| o.p50_ms)), (Some(a), Some(b)) if a > 2.0 * b)
            });
            format!(
                "p99 {} ({} offload's in the same model), max {}: each job held its worker until it was done, and {jobs} jobs on {workers} workers held all of them for the jobs' total time ({}), during which no request's task ran. {}",
                p99(&rows),
                against(&rows, &offload_p99),
                span(rows.iter().filter_map(|r| r.max_ms)),
                span(rows.iter().filter_map(|r| r.jobs_ms)),
                if p50_moved {
                    "The stall covered so much of the stream that even p50 rose."
                } else {
                    "p50 barely moved: most requests were due while no job ran; the stall is in the tail."
                }
            )
        }
        "yield" => {
            // How much of inline's excess p99 over offload yield took back, per model.
            let recovered: Vec<(&Row, f64, f64)> = rows
                .iter()
                .filter_map(|r| {
                    let inline = same(bench, &r.model, "inline")?;
                    let (i, y, o) = (inline.p99_ms?, r.p99_ms?, offload_p99(r)?);
                    let share = if i > o { ((i - y) / (i - o)).clamp(0.0, 1.0) } else { 0.0 };
                    Some((*r, share, r.jobs_ms? / inline.jobs_ms?.max(f64::MIN_POSITIVE)))
                })
                .collect();
            let (helped, not): (Vec<&(&Row, f64, f64)>, Vec<_>) =
                recovered.iter().partition(|(_, share, _)| *share >= 0.5);
            let mut s = String::new();
            if !helped.is_empty() {
                let rs: Vec<&Row> = helped.iter().map(|h| h.0).collect();
                let cost = helped.iter().map(|h| h.2).fold(0.0, f64::max);
                let _ = write!(
                    s,
                    "in {} p99 fell to {} ({} of inline's excess over offload taken back): between two steps the scheduler ran the waiting requests and read their sockets, so a request waited for a step, not a job. {}: their total time was {} inline's.",
                    names(&rs),
                    p99(&rs),
                    span_pct(helped.iter().map(|h| h.1)),
                    if cost > 1.1 {
                        "The jobs paid for it"
                    } else {
                        "It cost the jobs little"
                    },
                    span_x(helped.iter().map(|h| h.2))
                );
            }
            if !not.is_empty() {
                let rs: Vec<&Row> = not.iter().map(|h| h.0).collect();
                let _ = write!(
                    s,
                    "{}in {} it did not help (p99 {}, {} of inline's excess taken back): that scheduler does not look at sockets between yields, so a request's reply waits for the job anyway (see the model's pitfalls.rs).",
                    if s.is_empty() { "" } else { " But " },
                    names(&rs),
                    p99(&rs),
                    span_pct(not.iter().map(|h| h.1)),
                );
            }
            if s.is_empty() {
                format!("p99 {} (no inline or offload run to compare with).", p99(&rows))
            } else {
                upper_first(&s)
            }
        }
        "block" => {
            let block = rows[0].block_ms as f64;
            let rounds = if workers > 0 { jobs.div_ceil(workers) } else { jobs };
            format!(
                "p99 {}, max {}: {jobs} tasks each called std::thread::sleep({} ms), which parks the worker thread, not the task. The sleeps' total time was {} (with {workers} workers: {rounds} round{} of {}), and while every worker slept nothing else ran.",
                p99(&rows),
                span(rows.iter().filter_map(|r| r.max_ms)),
                block,
                span(rows.iter().filter_map(|r| r.jobs_ms)),
                if rounds == 1 { "" } else { "s" },
                ms(Some(block))
            )
        }
        "current-thread" => {
            let r = rows[0];
            let ratio = match (r.max_ms, r.jobs_ms) {
                (Some(m), Some(j)) if j > 0.0 => format!("{:.2}x", m / j),
                _ => "–".into(),
            };
            format!(
                "{}: max {} beside {jobs} jobs of {} each, {} in all (max / jobs' total time: {ratio}). One thread ran the schedule, the reactor and the jobs: a request due when the jobs began waited for all of them.",
                r.model,
                ms(r.max_ms),
                ms(r.job_ms),
                ms(r.jobs_ms)
            )
        }
        other => format!("p99 {} ({other}).", p99(&rows)),
    })
}

/// The seed's two claims, as rows of the claims table.
fn claims(rows: &[Row], bench: &[&Row]) -> Vec<String> {
    let mut out = Vec::new();
    let stalls: Vec<&Row> = rows
        .iter()
        .filter(|r| r.purpose == "claim-1s" && r.status == "ok")
        .collect();
    if !stalls.is_empty() {
        let measured: Vec<String> = stalls
            .iter()
            .map(|r| {
                format!(
                    "{}: one job of {} inline on a current-thread runtime; largest request latency {} ({})",
                    r.model,
                    secs(r.job_ms),
                    secs(r.max_ms),
                    ratio_of(r.max_ms, r.job_ms)
                )
            })
            .collect();
        let holds = stalls
            .iter()
            .all(|r| matches!((r.max_ms, r.job_ms), (Some(m), Some(j)) if m >= 0.8 * j));
        let verdict = if holds {
            "holds on one thread: every task waits out the whole computation; on a multi-thread runtime it takes as many such jobs as workers, and offloading the job (spawn_blocking) removes it"
        } else {
            "not reproduced here: the stall was shorter than the job (see the table)"
        };
        out.push(format!(
            "| A 1-second CPU computation delays every async task by 1 second | – / – / yes | {} | {verdict} |",
            measured.join("; ")
        ));
    }
    let yields = of(bench, "yield");
    if !yields.is_empty() {
        let (mut helped, mut not, mut cost) = (Vec::new(), Vec::new(), 0.0f64);
        let measured: Vec<String> = yields
            .iter()
            .filter_map(|y| {
                let inline = same(bench, &y.model, "inline")?;
                let offload = same(bench, &y.model, "offload")?;
                let (i, o, v) = (inline.p99_ms?, offload.p99_ms?, y.p99_ms?);
                if i > o && (i - v) / (i - o) >= 0.5 {
                    helped.push(y.model.as_str());
                    cost = cost.max(y.jobs_ms? / inline.jobs_ms?.max(f64::MIN_POSITIVE));
                } else {
                    not.push(y.model.as_str());
                }
                Some(format!(
                    "{}: p99 {} (inline {}, offload {}), jobs' total time {} (inline {})",
                    y.model,
                    ms(y.p99_ms),
                    ms(inline.p99_ms),
                    ms(offload.p99_ms),
                    ms(y.jobs_ms),
                    ms(inline.jobs_ms)
                ))
            })
            .collect();
        let paid = if cost > 1.1 {
            format!("the jobs' time up to {cost:.1}x inline's")
        } else {
            "little of the jobs' time".to_string()
        };
        let verdict = match (helped.is_empty(), not.is_empty()) {
            (false, true) => format!("holds: a yield between steps lets waiting tasks run, for {paid}; offloading the job lets them run too, with no change to the job"),
            (false, false) => format!(
                "holds in {} (a yield lets waiting tasks run, for {paid}), not in {}, whose scheduler reads sockets only when its queue is empty; offloading the job works in all",
                helped.join(", "),
                not.join(", ")
            ),
            (true, _) => "not reproduced here: yield did not bring p99 near offload's".to_string(),
        };
        out.push(format!(
            "| `await asyncio.sleep(0)` inside long loops lets other tasks run | – / – / yes | {} | {verdict} |",
            measured.join("; ")
        ));
    }
    out
}

/// Latency percentiles (p50, p90, p99, p99.9, max) of every variant, one panel per model,
/// on a log scale: each line is one variant.
fn chart(path: &Path, bench: &[&Row]) -> Result<()> {
    let mut models: Vec<&str> = bench.iter().map(|r| r.model.as_str()).collect();
    models.dedup();
    let (lo, hi) = bench
        .iter()
        .flat_map(|r| points(r).into_iter().map(|p| p.1))
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return Err(anyhow!("mixed chart: nothing measured to plot"));
    }
    // Headroom above the highest line for the legend.
    let (lo, hi) = (lo / 1.5, hi * 8.0);
    let root = SVGBackend::new(path, (1200, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            "Request latency beside CPU jobs: percentiles per variant (log scale)",
            ("sans-serif", 20),
        )
        .map_err(err)?;
    let columns = models.len().clamp(1, 3);
    let panels = root.split_evenly((models.len().div_ceil(columns), columns));
    let labels = ["p50", "p90", "p99", "p99.9", "max"];
    for (panel, model) in panels.iter().zip(&models) {
        let mut chart = ChartBuilder::on(panel)
            .caption(*model, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(52)
            .build_cartesian_2d(-0.3f64..4.3, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(5)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 0.01 && (0.0..5.0).contains(&i) {
                    labels[i as usize].to_string()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| {
                if *v >= 1000.0 {
                    format!("{} s", crate::charts::short(v / 1e3))
                } else {
                    format!("{} ms", crate::charts::short(*v))
                }
            })
            .draw()
            .map_err(err)?;
        for r in bench.iter().filter(|r| r.model == *model) {
            let color = color(&r.variant);
            chart
                .draw_series(LineSeries::new(points(r), color.stroke_width(2)))
                .map_err(err)?
                .label(r.variant.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points(r)
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color.filled())),
                )
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.9))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}

/// One colour per variant in every panel: the right way green, the traps warm.
fn color(variant: &str) -> RGBColor {
    match variant {
        "none" => BLACK,
        "offload" => RGBColor(0, 150, 60),
        "inline" => RGBColor(215, 40, 40),
        "yield" => RGBColor(30, 100, 220),
        "block" => RGBColor(240, 140, 0),
        "current-thread" => RGBColor(140, 40, 170),
        _ => RGBColor(120, 120, 120),
    }
}

fn points(r: &Row) -> Vec<(f64, f64)> {
    [r.p50_ms, r.p90_ms, r.p99_ms, r.p999_ms, r.max_ms]
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| Some((i as f64, v.filter(|v| *v > 0.0)?)))
        .collect()
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("mixed chart: {e}")
}

/// 12.3 ms, 512 ms, 1.25 s; – when missing.
fn ms(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v >= 1000.0 => format!("{:.2} s", v / 1e3),
        Some(v) if v >= 100.0 => format!("{v:.0} ms"),
        Some(v) => format!("{v:.1} ms"),
    }
}

fn secs(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.2} s", v / 1e3))
}

fn ratio_of(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x the job", a / b),
        _ => "–".into(),
    }
}

/// "12 ms" or "12 ms to 30 ms" over some values; "–" for none.
fn span(values: impl Iterator<Item = f64>) -> String {
    let v: Vec<f64> = values.collect();
    if v.is_empty() {
        return "–".into();
    }
    let (lo, hi) = (
        v.iter().cloned().fold(f64::MAX, f64::min),
        v.iter().cloned().fold(f64::MIN, f64::max),
    );
    if ms(Some(lo)) == ms(Some(hi)) {
        ms(Some(lo))
    } else {
        format!("{} to {}", ms(Some(lo)), ms(Some(hi)))
    }
}

fn span_of(values: impl Iterator<Item = f64>, f: impl Fn(f64) -> String) -> String {
    let v: Vec<f64> = values.collect();
    let (lo, hi) = (
        v.iter().cloned().fold(f64::MAX, f64::min),
        v.iter().cloned().fold(f64::MIN, f64::max),
    );
    match v.len() {
        0 => "–".into(),
        _ if f(lo) == f(hi) => f(lo),
        _ => format!("{} to {}", f(lo), f(hi)),
    }
}

fn span_pct(values: impl Iterator<Item = f64>) -> String {
    span_of(values, |x| format!("{:.0}%", x * 100.0))
}

fn span_x(values: impl Iterator<Item = f64>) -> String {
    span_of(values, |x| format!("{x:.1}x"))
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The model's reason without its "model: mixed is not offered here: " prefix.
fn short_reason(reason: &str) -> String {
    reason
        .split_once("not offered here: ")
        .map_or(reason, |(_, why)| why)
        .replace('|', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run as `benchkit mixed` writes it: the grid, the claim's cell, a model that does
    /// not offer mixed and one that failed.
    const CSV: &str = "\
model,variant,purpose,status,rate,probes,jobs,exp,block_ms,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,jobs_ms,job_ms,wall_ms,workers,reason
sync,,bench,not-offered,0,0,0,0,0,,,,,,,,,0,\"sync: mixed is not offered here: sync has no scheduler\"
threads,none,bench,ok,200,600,4,100000,0,12.6,20.7,30.5,50.1,55.0,600,550,3012,604,
tokio-async,offload,bench,ok,200,600,4,100000,0,12.4,13.7,17.3,18.0,18.4,604,602,3008,2,
tokio-async,inline,bench,ok,200,600,4,100000,0,13.1,771.6,1027.6,1038.0,1040.9,1022,543,3015,2,
tokio-async,yield,bench,ok,200,600,4,100000,0,12.7,13.5,22.4,30.0,33.4,1004,1003,3009,2,
tokio-async,block,bench,ok,200,600,4,100000,300,13.0,331.3,596.0,610.0,613.0,602,300,3010,2,
tokio-async,current-thread,bench,ok,200,600,4,100000,0,776.2,1964.0,2201.6,2215.0,2215.8,2166,618,3040,1,
tokio-async,current-thread,claim-1s,ok,200,600,1,200000,0,12.0,900.0,1010.0,1015.0,1016.0,1001,1000,3010,1,
green,offload,bench,ok,200,600,4,100000,0,13.9,27.7,94.4,120.0,125.5,1130,1129,3011,2,
green,inline,bench,ok,200,600,4,100000,0,799.7,1977.3,2267.1,2300.0,2326.9,2291,1244,3089,2,
green,yield,bench,ok,200,600,4,100000,0,515.3,1707.0,1977.3,1990.0,1996.4,1945,1941,3006,2,
smol-async,block,bench,failed,200,0,4,100000,300,,,,,,,,,0,\"exit status: 1: smol-async: error: 1 of 600 tasks failed\"
";

    fn run(name: &str, csv: &str) -> (Section, std::path::PathBuf) {
        let dir = crate::test_dir(&format!("pitfalls-{name}"));
        std::fs::write(dir.join("mixed.csv"), csv).unwrap();
        let charts = dir.join("charts");
        std::fs::create_dir_all(&charts).unwrap();
        let rows = super::super::inputs::read_mixed(&dir.join("mixed.csv")).unwrap();
        (section(&rows, &charts).unwrap(), charts)
    }

    #[test]
    fn the_table_has_every_cell_in_order_and_names_the_rest() {
        let (s, _) = run("table", CSV);
        let md = &s.markdown;
        assert!(md.starts_with("## What blocks a scheduler\n"), "{md}");
        assert!(md.contains("200 requests a second for 3 s"), "{md}");
        assert!(md.contains("4 CPU jobs (7777 ** 100,000"), "{md}");
        let rows: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| model") && !l.starts_with("| ---"))
            .collect();
        assert_eq!(
            rows[0],
            "| threads | none | 12.6 ms | 30.5 ms | 55.0 ms | 600 ms |"
        );
        assert_eq!(
            rows[1],
            "| green | offload | 13.9 ms | 94.4 ms | 126 ms | 1.13 s |"
        );
        assert_eq!(
            rows[4],
            "| tokio-async | offload | 12.4 ms | 17.3 ms | 18.4 ms | 604 ms |"
        );
        assert_eq!(
            rows[8],
            "| tokio-async | current-thread | 776 ms | 2.20 s | 2.22 s | 2.17 s |"
        );
        assert!(
            rows[9].starts_with("| smol-async | block | failed |"),
            "{}",
            rows[9]
        );
        assert_eq!(rows.len(), 10, "the claim's cell is not a table row");
        assert!(
            md.contains("Not offered: sync (sync has no scheduler)."),
            "{md}"
        );
    }

    /// Each sentence says what the numbers say, including where a variant did not work.
    #[test]
    fn every_variant_gets_a_sentence_from_its_numbers() {
        let (s, _) = run("sentences", CSV);
        let line = |v: &str| {
            s.markdown
                .lines()
                .find(|l| l.starts_with(&format!("- **{v}**: ")))
                .unwrap_or_else(|| panic!("no sentence for {v}: {}", s.markdown))
                .to_string()
        };
        assert!(line("none").contains("p99 30.5 ms"), "{}", line("none"));
        // offload against threads' p99: 17.3/30.5 and 94.4/30.5.
        assert!(
            line("offload").contains("0.6x to 3.1x threads' 30.5 ms"),
            "{}",
            line("offload")
        );
        // inline against offload: 2267/94 (green) and 1028/17 (tokio).
        let inline = line("inline");
        assert!(inline.contains("24.0x to 59.4x offload's"), "{inline}");
        assert!(inline.contains("4 jobs on 2 workers"), "{inline}");
        assert!(
            inline.contains("even p50 rose"),
            "green's p50 moved: {inline}"
        );
        let y = line("yield");
        assert!(y.contains("In tokio-async p99 fell to 22.4 ms"), "{y}");
        assert!(y.contains("(99% of inline's excess over offload"), "{y}");
        assert!(
            y.contains("It cost the jobs little: their total time was 1.0x inline's"),
            "{y}"
        );
        assert!(
            y.contains("in green it did not help (p99 1.98 s, 13% of inline's excess"),
            "{y}"
        );
        let b = line("block");
        assert!(
            b.contains("std::thread::sleep(300 ms)") && b.contains("2 rounds of 300 ms"),
            "{b}"
        );
        let c = line("current-thread");
        assert!(c.contains("max 2.22 s beside 4 jobs of 618 ms each, 2.17 s in all (max / jobs' total time: 1.02x)"), "{c}");
    }

    #[test]
    fn the_claims_rows_carry_the_stall_and_what_yield_cost() {
        let (s, _) = run("claims", CSV);
        assert_eq!(s.claims.len(), 2);
        let stall = &s.claims[0];
        assert!(stall.contains("one job of 1.00 s inline on a current-thread runtime; largest request latency 1.02 s (1.02x the job)"), "{stall}");
        assert!(stall.contains("| holds on one thread"), "{stall}");
        let y = &s.claims[1];
        assert!(y.contains("tokio-async: p99 22.4 ms (inline 1.03 s, offload 17.3 ms), jobs' total time 1.00 s (inline 1.02 s)"), "{y}");
        assert!(
            y.contains("holds in tokio-async (a yield lets waiting tasks run, for little of the jobs' time), not in green"),
            "{y}"
        );
        assert!(s
            .claims
            .iter()
            .all(|r| r.starts_with("| ") && r.ends_with(" |") && r.matches(" | ").count() == 3));
    }

    /// A stall shorter than the job is reported as such, not as the claim holding.
    #[test]
    fn a_short_stall_does_not_confirm_the_claim() {
        let csv = CSV.replace(
            "claim-1s,ok,200,600,1,200000,0,12.0,900.0,1010.0,1015.0,1016.0",
            "claim-1s,ok,200,600,1,200000,0,12.0,90.0,101.0,101.5,101.6",
        );
        let (s, _) = run("short", &csv);
        assert!(
            s.claims[0].contains("not reproduced here"),
            "{}",
            s.claims[0]
        );
    }

    #[test]
    fn the_chart_is_written() {
        let (_, charts) = run("chart", CSV);
        let svg = std::fs::read_to_string(charts.join("mixed.svg")).unwrap();
        assert!(svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        for label in ["tokio-async", "green", "threads", "current-thread", "p99.9"] {
            assert!(svg.contains(label), "{label} missing from the chart");
        }
    }
}
