//! The three seed claims about costs, as rows of the report's claims table: processes
//! are costly to spawn; about 50 µs per threaded context switch; threading slightly
//! faster than asyncio.

use super::{cpu_us_per_download, ms_text, opt_us, times, us_text, Sources};
use crate::report::format::{thousands, with_spread};
use crate::stats::compare::{compare, Order};
use std::fmt::Write as _;

/// The async models' costs of one workload, fastest and slowest.
fn async_range(inputs: &Sources, asyncs: &[String], workload: &str) -> Option<(f64, f64)> {
    let xs: Vec<f64> = asyncs
        .iter()
        .filter_map(|m| inputs.cost(m, workload))
        .collect();
    let lo = xs.iter().cloned().reduce(f64::min)?;
    Some((lo, xs.iter().cloned().fold(lo, f64::max)))
}

/// "0.18 µs to 0.70 µs", or one figure when the range is within 10%.
fn range_text(r: Option<(f64, f64)>) -> String {
    match r {
        Some((lo, hi)) if hi / lo < 1.1 => us_text(lo),
        Some((lo, hi)) => format!("{} to {}", us_text(lo), us_text(hi)),
        None => "–".into(),
    }
}

/// The three seed claims about costs, each with our figure and a verdict.
pub fn claims_rows(inputs: &Sources) -> String {
    let asyncs: Vec<String> = inputs
        .models()
        .into_iter()
        .filter(|m| crate::report::claims::is_async_runtime(m))
        .collect();
    let mut md = String::new();
    md += &spawn_row(inputs, &asyncs);
    md += &switch_row(inputs, &asyncs);
    md += &threads_vs_async_row(inputs, &asyncs);
    md
}

/// 1. Processes are costly to spawn.
fn spawn_row(inputs: &Sources, asyncs: &[String]) -> String {
    let mut md = String::new();
    let cost = |model: &str, workload: &str| inputs.cost(model, workload);
    let async_range = |workload: &str| async_range(inputs, asyncs, workload);
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
    // A ratio is given only where the fits' spreads are apart ([`compare`]).
    let above = |a: &str, b: &str| inputs.order(a, b, "spawn") == Some(Order::Above);
    let above_asyncs = asyncs.iter().all(|m| above("procs", m));
    let verdict = match (procs, threads, async_spawn) {
        (Some(p), Some(t), asyncs) if p > 5.0 * t && above("procs", "threads") => format!(
            "holds: a process costs {} a thread{}; still, at {} per process it matters only for tasks of a few ms or less",
            times(p / t),
            asyncs.filter(|_| above_asyncs).map_or(String::new(), |(_, hi)| format!(" and {} or more an async task", times(p / hi))),
            ms_text(p)
        ),
        (Some(p), Some(t), _) if above("procs", "threads") => format!("does not hold here: a process costs {} a thread", times(p / t)),
        (Some(p), Some(t), _) => format!("does not hold here: a process and a thread cost the same within the fits' spread ({} against {})", us_text(p), us_text(t)),
        _ => "not measured yet (make bench-scale)".into(),
    };
    let _ = writeln!(
        md,
        "| Processes are costly to spawn | costly to spawn / – / – | {measured}; outside reference: 17 µs per thread, 0.3 µs per tokio task (context-switch, another machine) | {verdict} |"
    );

    md
}

/// 2. About 50 µs per threaded context switch: 1,000 threads cost 50 ms of switching.
fn switch_row(inputs: &Sources, asyncs: &[String]) -> String {
    let mut md = String::new();
    let cost = |model: &str, workload: &str| inputs.cost(model, workload);
    let async_range = |workload: &str| async_range(inputs, asyncs, workload);
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
            let above_asyncs = asyncs
                .iter()
                .filter(|m| inputs.cost(m, "switch").is_some())
                .all(|m| inputs.order("threads", m, "switch") == Some(Order::Above));
            match async_switch {
                Some((lo, hi)) if t > hi && above_asyncs => format!(
                    "{size}; the order holds: a thread switch costs {} to {} an async task's",
                    times(t / hi),
                    times(t / lo)
                ),
                Some(_) => format!(
                    "{size}; and some async task switches cost as much, within the fits' spread"
                ),
                None => size,
            }
        }
        None => "not measured yet (make bench-scale)".into(),
    };
    let _ = writeln!(
        md,
        "| About 50 µs per threaded context switch: 1,000 threads cost 50 ms of switching | – / 50 µs / – | {measured}; outside reference: 1.7 µs between threads, 0.2 µs between async tasks (context-switch, another machine) | {verdict} |"
    );

    md
}

/// 3. Threading solutions are slightly faster than comparable asyncio ones.
fn threads_vs_async_row(inputs: &Sources, asyncs: &[String]) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "| Most benchmarks show threading slightly faster than asyncio | – / slightly faster / slightly slower | {} | {} |",
        threads_vs_async_measured(inputs, asyncs),
        threads_vs_async_verdict(inputs, asyncs)
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
    if let Some((top, ..)) = scale_io_at_largest_common_n(inputs, asyncs) {
        // Cells of one run are not ranked: the verdict comes from the largest N whose
        // cells all ran more than once, and says so when that is not the largest.
        let ranked = ranked_ns(inputs, asyncs).into_iter().next();
        let one_run = format!("at N={} one run each, not ranked", thousands(top));
        return match ranked {
            Some(n) if n == top => scale_verdict(inputs, asyncs, n),
            Some(n) => format!("{one_run}; {}", scale_verdict(inputs, asyncs, n)),
            None => one_run,
        };
    }
    let bench = |m: &str| inputs.bench_io.iter().find(|c| c.model == m).copied();
    let best = asyncs
        .iter()
        .filter_map(|m| bench(m))
        .min_by(|a, b| a.median.total_cmp(&b.median));
    let (Some(t), Some(a)) = (bench("threads"), best) else {
        return "not measured yet (make bench)".into();
    };
    match compare(&t.spread(), &a.spread()) {
        Order::Below => format!(
            "holds at this N: threads {:.1}% faster",
            (a.median / t.median - 1.0) * 100.0
        ),
        Order::Above => format!(
            "does not hold: threads {:.1}% slower",
            (t.median / a.median - 1.0) * 100.0
        ),
        Order::Tie => format!(
            "a tie at this N within the noise of the runs, {} against {}: both wait on the server",
            with_spread("threads", &t.spread()),
            with_spread(&a.model, &a.spread())
        ),
        Order::OneRun => "not ranked: one run each".into(),
    }
}

/// The io N of the sweep, largest first, at which threads and every async model there
/// ran more than once.
fn ranked_ns(inputs: &Sources, asyncs: &[String]) -> Vec<u64> {
    let mut ns: Vec<u64> = inputs
        .scale_io
        .iter()
        .filter(|c| c.model == "threads" && c.runs > 1)
        .map(|c| c.n)
        .collect();
    ns.sort_unstable();
    ns.reverse();
    ns.retain(|&n| {
        let at_n: Vec<_> = inputs
            .scale_io
            .iter()
            .filter(|c| c.n == n && asyncs.contains(&c.model))
            .collect();
        !at_n.is_empty() && at_n.iter().all(|c| c.runs > 1)
    });
    ns
}

/// threads against the async models at N, by the spread of their runs.
fn scale_verdict(inputs: &Sources, asyncs: &[String], n: u64) -> String {
    let at = |m: &str| inputs.scale_io.iter().find(|c| c.model == m && c.n == n);
    let Some(threads) = at("threads") else {
        return "–".into();
    };
    let others: Vec<_> = asyncs.iter().filter_map(|m| at(m)).collect();
    let orders: Vec<Order> = others
        .iter()
        .map(|c| compare(&threads.spread(), &c.spread()))
        .collect();
    let (t, n) = (threads.median, thousands(n));
    let lo = others.iter().map(|c| c.median).fold(f64::MAX, f64::min);
    let hi = others.iter().map(|c| c.median).fold(f64::MIN, f64::max);
    if orders.iter().all(|o| *o == Order::Above) {
        format!(
            "does not hold at scale: at N={n} threads take {} the slowest async model's time",
            times(t / hi)
        )
    } else if orders.iter().all(|o| *o == Order::Below) {
        format!(
            "holds: at N={n} threads are the faster, by {}",
            times(lo / t)
        )
    } else {
        format!("mixed: at N={n} threads fall between the async models or within their noise")
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
