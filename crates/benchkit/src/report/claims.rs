//! The article's "Processes vs Threads vs Async" table, row by row, against our numbers.
//! The scalability verdict is computed from the sweep: how far each model went, and what
//! a waiting task costs by the memory fit (PSS where the sweep measured it).

use super::format::{bytes, ratio, thousands, with_spread};
use super::inputs::{Cell, Fit, Python, ScaleCell};
use super::runs::speedup;
use super::scale::reach;
use crate::stats::compare::{compare, Order};
use std::fmt::Write as _;

/// The async-runtime models and green: the article's "async" column.
pub(crate) fn is_async(model: &str) -> bool {
    is_async_runtime(model) || model == "green"
}

/// The models on an async runtime: the `*-async` binaries, and monoio-epoll (monoio-async
/// on monoio's epoll driver, a second binary of its crate).
pub(crate) fn is_async_runtime(model: &str) -> bool {
    model.ends_with("-async") || model == "monoio-epoll"
}

pub fn claims(
    cells: &[Cell],
    scale: Option<&[ScaleCell]>,
    fits: Option<&[Fit]>,
    cores: f64,
) -> String {
    let speedup = |model: &str, workload: &str| speedup(cells, model, workload);
    let asyncs = |workload: &str| {
        let xs: Vec<f64> = cells
            .iter()
            .filter(|c| c.workload == workload && is_async(&c.model))
            .filter_map(|c| speedup(&c.model, workload))
            .collect();
        range(&xs, 0.05, |x| format!("{x:.2}x"))
    };
    let mut md = String::from("## The article's table, re-checked\n\n");
    md += "| claim | article: processes / threads / async | measured here | verdict in Rust |\n| --- | --- | --- | --- |\n";
    let _ = writeln!(
        md,
        "| Optimises waiting | yes / yes / yes | io speedup over sync: procs {}, threads {}, async and green {} | holds (rayon, a CPU pool, does not: {}) |",
        ratio(speedup("procs", "io")),
        ratio(speedup("threads", "io")),
        asyncs("io"),
        ratio(speedup("rayon", "io")),
    );
    let _ = writeln!(
        md,
        "| Uses all cores | yes / no / no | cpu speedup on {cores} cores: procs {}, threads {}, async and green {} | holds for processes; not for threads (no GIL); async uses all cores once CPU work goes to its blocking pool (spawn_blocking, unblock) or, for green, to may's per-core workers |",
        ratio(speedup("procs", "cpu")),
        ratio(speedup("threads", "cpu")),
        asyncs("cpu"),
    );
    let (measured, verdict) = match scale {
        Some(scale) => scalability(scale, fits),
        None => ("not measured yet (make bench-scale)".into(), "–".into()),
    };
    let _ = writeln!(
        md,
        "| Scalability | ones-tens / hundreds / thousands+ | {measured} | {verdict} |"
    );
    md += "| Can call blocking std functions | yes / yes / no | by construction, see the code: the async models hand the power to a blocking pool; green's may coroutines may call them but each such call pins a worker | holds |\n\n";
    md
}

/// "1.79x" for one value or a spread under `tight`, "1.79x to 1.81x" otherwise.
fn range(xs: &[f64], tight: f64, show: impl Fn(f64) -> String) -> String {
    if xs.is_empty() {
        return "–".to_string();
    }
    let lo = xs.iter().cloned().fold(f64::MAX, f64::min);
    let hi = xs.iter().cloned().fold(f64::MIN, f64::max);
    if hi - lo < tight {
        show(lo)
    } else {
        format!("{} to {}", show(lo), show(hi))
    }
}

/// The scalability row's measured cell and verdict: how far each kind went with tasks
/// that only wait, and what one waiting task costs.
fn scalability(scale: &[ScaleCell], fits: Option<&[Fit]>) -> (String, String) {
    let reach = reach(scale, "sleep");
    let describe = |m: &str| {
        let (_, n, stop) = reach.iter().find(|r| r.0 == m)?;
        let why = stop
            .map(|s| format!(" (n={}: {})", thousands(s.n), s.reason.replace('|', "/")))
            .unwrap_or_default();
        Some(format!("{m} {}{why}", thousands(*n)))
    };
    let asyncs: Vec<(&str, u64)> = reach
        .iter()
        .filter(|r| is_async(r.0))
        .map(|(m, n, _)| (*m, *n))
        .collect();
    let async_list: Vec<String> = asyncs
        .iter()
        .map(|(m, n)| format!("{m} {}", thousands(*n)))
        .collect();
    let mut measured = format!(
        "largest N of waiting tasks completed: {}; {}; {}",
        describe("procs").unwrap_or_default(),
        describe("threads").unwrap_or_default(),
        async_list.join(", ")
    );
    let n_of = |m: &str| reach.iter().find(|r| r.0 == m).map(|r| r.1).unwrap_or(0);
    let (procs, threads) = (n_of("procs"), n_of("threads"));
    let async_min = asyncs.iter().map(|a| a.1).min().unwrap_or(0);
    let order = if procs <= threads && threads <= async_min {
        "the order holds"
    } else {
        "the order does not hold here"
    };
    let bounds = if procs >= 100 && threads >= 1_000 && async_min >= 10_000 {
        "each bound is far higher in Rust than the article says"
    } else {
        "not every bound is higher than the article's"
    };
    let mut verdict = format!("{order}; {bounds}");
    if let Some((cost, cost_verdict)) = fits.and_then(memory_cost) {
        let _ = write!(measured, "; {cost}");
        let _ = write!(verdict, "; {cost_verdict}");
    }
    (measured, verdict)
}

/// What one waiting task costs, from the sleep fits: procs, threads, and the async
/// models, and whether that cost falls in the article's order.
fn memory_cost(fits: &[Fit]) -> Option<(String, String)> {
    let sleep = |m: &str| fits.iter().find(|f| f.workload == "sleep" && f.model == m);
    let (procs, threads) = (sleep("procs")?, sleep("threads")?);
    let asyncs: Vec<f64> = fits
        .iter()
        .filter(|f| f.workload == "sleep" && is_async(&f.model))
        .map(|f| f.per_task)
        .collect();
    let async_max = asyncs.iter().cloned().fold(f64::MIN, f64::max);
    if asyncs.is_empty() {
        return None;
    }
    let label = procs.on.label();
    let cost = format!(
        "memory per waiting task ({label} slope): procs {}, threads {}, async and green {}",
        bytes(procs.per_task),
        bytes(threads.per_task),
        range(&asyncs, 1.0, bytes)
    );
    let verdict = if procs.per_task > threads.per_task && threads.per_task > async_max {
        format!("by {label}, a waiting process costs more than a thread, and a thread more than any async task")
    } else {
        format!("by {label}, memory per waiting task does not fall in the article's order")
    };
    Some((cost, verdict))
}

/// The Python claims `make bench-python` measures: the GIL (threads no faster than sync
/// on cpu), processes at least 1.5x faster than sync on cpu, and uvloop's "at least 2x
/// better performance" than plain asyncio on io at N=1,000.
pub fn python_claims(python: &Python) -> String {
    let cells = &python.cells;
    let median = |model: &str| {
        cells
            .iter()
            .find(|c| c.model == model && c.workload == "cpu" && c.ok)
            .map(|c| format!("{:.3} s", c.median))
    };
    let versus_sync = |model: &str| {
        let x = speedup(cells, model, "cpu")?;
        Some((
            x,
            format!(
                "{model} {:.2}x python-sync's speed ({} against {})",
                x,
                median(model)?,
                median("python-sync")?
            ),
        ))
    };
    let not_measured = || {
        (
            "not measured (make bench-python)".to_string(),
            "–".to_string(),
        )
    };
    let mut md = String::from("### The Python claims, measured here\n\n");
    md += "From `make bench-python` (the article's programs in scripts/python, on this machine, against the fixture server). Times are hyperfine's medians of the whole process, the interpreter's start and imports included.\n\n";
    md += "| claim | made by | measured here | verdict |\n| --- | --- | --- | --- |\n";
    let (measured, verdict) = match gil(cells) {
        Some(row) => row,
        None => not_measured(),
    };
    let _ = writeln!(
        md,
        "| Python threads are no faster than Python sync on cpu (the GIL) | the seed article (threads 2.47 s, sync 2.18 s) | {measured} | {verdict} |"
    );
    let (measured, verdict) = match versus_sync("python-procs") {
        Some((x, text)) if x >= 1.5 => (text, "holds".to_string()),
        Some((_, text)) => (text, "does not hold here: under 1.5x".to_string()),
        None => not_measured(),
    };
    let _ = writeln!(
        md,
        "| Python processes are at least 1.5x faster than Python sync on cpu | the seed article (processes 1.12 s: 1.95x) | {measured} | {verdict} |"
    );
    let (measured, verdict) = uvloop(python);
    let _ = writeln!(
        md,
        "| uvloop gives asyncio \"at least 2x better performance\" | another published source (the seed article recommends uvloop) | {measured} | {verdict} |"
    );
    md.push('\n');
    md
}

/// The GIL row's measured cell and verdict: python-threads against python-sync on cpu,
/// ranked only beyond the noise of their runs ([`crate::stats::compare`]).
fn gil(cells: &[Cell]) -> Option<(String, String)> {
    let cpu = |m: &str| {
        cells
            .iter()
            .find(|c| c.model == m && c.workload == "cpu" && c.ok)
    };
    let (threads, sync) = (cpu("python-threads")?, cpu("python-sync")?);
    let (t, s) = (threads.spread(), sync.spread());
    let both = format!(
        "{} against {}",
        with_spread("python-threads", &t),
        with_spread("python-sync", &s)
    );
    let x = threads.speedup_over(sync);
    Some(match compare(&t, &s) {
        Order::Tie => (
            format!("{both}: a tie within the noise of the runs"),
            "holds: no faster beyond the noise of the runs; the GIL lets one power compute at a time".into(),
        ),
        Order::Above => (
            format!("python-threads {x:.2}x python-sync's speed ({both})"),
            "holds: slower than sync; the GIL lets one power compute at a time".into(),
        ),
        Order::Below => (
            format!("python-threads {x:.2}x python-sync's speed ({both})"),
            "does not hold here: faster than sync beyond the noise of the runs".into(),
        ),
        Order::OneRun => (both, "not ranked: one run each".into()),
    })
}

/// The uvloop row's measured cell and verdict, from python-uvloop.csv.
fn uvloop(python: &Python) -> (String, String) {
    let find = |model: &str| {
        python
            .uvloop
            .as_ref()?
            .iter()
            .find(|c| c.model == model && c.workload == "io")
    };
    let (Some(asyncio), Some(uvloop)) = (find("python-asyncio"), find("python-uvloop")) else {
        let text = "not measured (make bench-python writes python-uvloop.csv)";
        return (text.to_string(), "–".to_string());
    };
    if !(asyncio.ok && uvloop.ok) {
        let failed: Vec<&str> = [asyncio, uvloop]
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.model.as_str())
            .collect();
        let text = format!("failed: {}", failed.join(", "));
        return (text, "–".to_string());
    }
    let cell = python
        .settings
        .text
        .lines()
        .find_map(|l| l.strip_prefix("uvloop_cell: "))
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let x = asyncio.median / uvloop.median;
    let n = thousands(uvloop.n);
    // A ratio only where the two cells' runs do not overlap ([`compare`]).
    let (measured, verdict) = match compare(&uvloop.spread(), &asyncio.spread()) {
        Order::Tie | Order::OneRun => (
            format!(
                "io at N={n}{cell}: {} against {}: within the noise of the runs",
                with_spread("python-uvloop", &uvloop.spread()),
                with_spread("python-asyncio", &asyncio.spread())
            ),
            "does not hold here: no faster beyond the noise of the runs, not 2x".to_string(),
        ),
        Order::Below | Order::Above => (
            format!(
                "io at N={n}{cell}: python-asyncio {:.3} s, python-uvloop {:.3} s: {x:.2}x",
                asyncio.median, uvloop.median
            ),
            if x >= 2.0 {
                "holds".to_string()
            } else {
                format!("does not hold here: {x:.2}x, not 2x")
            },
        ),
    };
    (measured, verdict)
}
