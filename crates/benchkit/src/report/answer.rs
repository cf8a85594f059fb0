//! The answer: the opening findings of REPORT.md, also written into the README. Which
//! model wins each workload here, by how much, at what memory, and how far each goes.

use super::format::{and_list, bytes, mib, thousands, with_spread};
use super::inputs::{Cell, Fit, Measure, ScaleCell, Settings};
use super::scale::reach;
use super::workloads::{ideal, measure, memory, noise_warning, sync_of};
use crate::stats::compare::{first_place, Spread};
use crate::sweep::scale::Status;
use std::fmt::Write as _;

/// Everything the answer is drawn from.
pub struct Sources<'a> {
    pub cells: &'a [Cell],
    pub settings: &'a Settings,
    pub cores: f64,
    pub scale: Option<&'a [ScaleCell]>,
    pub fits: Option<&'a [Fit]>,
    /// The sweep's plan line ("plan: io_delay_ms=100 ..."), read like the bench's settings.
    pub plan: &'a Settings,
}

/// One paragraph per workload measured, then one for the scale sweep.
pub fn answer(s: &Sources) -> String {
    let mut out = Vec::new();
    for workload in ["cpu", "io"] {
        let these: Vec<&Cell> = s.cells.iter().filter(|c| c.workload == workload).collect();
        if let Some(text) = workload_answer(workload, &these, s) {
            out.push(text);
        }
    }
    if let Some(scale) = s.scale {
        out.push(scale_answer(scale, s.fits, s.plan));
    }
    out.join("\n\n")
}

fn workload_answer(workload: &str, these: &[&Cell], s: &Sources) -> Option<String> {
    let sync = sync_of(these)?;
    let ok: Vec<&Cell> = these
        .iter()
        .copied()
        .filter(|c| c.ok && c.model != "sync")
        .collect();
    let ideal = ideal(workload, these, s.settings, s.cores);
    let text = match workload {
        "cpu" => cpu_answer(sync, &ok, ideal, s.cores)?,
        _ => io_answer(sync, &ok, ideal)?,
    };
    let text = format!("{text} {}", memory_range(&ok)?);
    let text = match noise_warning(these, ideal) {
        Some(warning) => format!("{text} {warning}"),
        None => text,
    };
    let failed: Vec<&str> = these
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.model.as_str())
        .collect();
    Some(if failed.is_empty() {
        text
    } else {
        format!("{text} Failed: {}.", failed.join(", "))
    })
}

/// The models that share first place (the fastest, or with `slowest` the slowest): one
/// when its runs are clear of every other's, else every model within its noise.
fn first<'a>(ok: &[&'a Cell], slowest: bool) -> Vec<&'a Cell> {
    let spreads: Vec<Spread> = ok.iter().map(|c| c.spread()).collect();
    first_place(&spreads, slowest)
        .into_iter()
        .map(|i| ok[i])
        .collect()
}

/// "a tie within the noise of the runs: rayon 0.271 s (runs 0.262 to 0.290 s) and ...".
fn tie(cells: &[&Cell]) -> String {
    let each: Vec<String> = cells
        .iter()
        .map(|c| with_spread(&c.model, &c.spread()))
        .collect();
    format!("a tie within the noise of the runs: {}", and_list(&each))
}

/// "no model is faster than another beyond the noise of the runs: medians 0.271 to
/// 0.295 s, runs 0.264 to 0.311 s", when no model is clear of the others.
fn all_tied(ok: &[&Cell]) -> String {
    let low = |f: fn(&Cell) -> f64| ok.iter().map(|c| f(c)).fold(f64::MAX, f64::min);
    let high = |f: fn(&Cell) -> f64| ok.iter().map(|c| f(c)).fold(f64::MIN, f64::max);
    format!(
        "no model is faster than another beyond the noise of the runs: medians {:.3} to {:.3} s, runs {:.3} to {:.3} s",
        low(|c| c.median),
        high(|c| c.median),
        low(|c| c.min),
        high(|c| c.max)
    )
}

fn cpu_answer(sync: &Cell, ok: &[&Cell], ideal: Option<f64>, cores: f64) -> Option<String> {
    let (fastest, slowest) = (first(ok, false), first(ok, true));
    let best = fastest.first()?;
    let ideal = ideal
        .map(|i| format!(" (ideal {i:.3} s)"))
        .unwrap_or_default();
    if ok.len() > 1 && fastest.len() == ok.len() {
        return Some(format!(
            "**cpu** ({} powers on {cores} cores): every model but sync runs them in parallel, and {}; {:.2}x to {:.2}x sync's {:.3} s{ideal}. Rust has no GIL: threads use every core.",
            sync.n,
            all_tied(ok),
            slowest[0].speedup_over(sync),
            best.speedup_over(sync),
            sync.median
        ));
    }
    let fastest = match fastest.as_slice() {
        [one] => format!(
            "The fastest, {}, takes {:.3} s (median), {:.2}x sync's {:.3} s{ideal}",
            one.model,
            one.median,
            one.speedup_over(sync),
            sync.median
        ),
        tied => format!(
            "The fastest is {}; at best {:.2}x sync's {:.3} s{ideal}",
            tie(tied),
            best.speedup_over(sync),
            sync.median
        ),
    };
    let slowest = match slowest.as_slice() {
        [one] => format!(
            "the slowest of the others, {}, {:.2}x",
            one.model,
            one.speedup_over(sync)
        ),
        tied => format!("the slowest of the others is {}", tie(tied)),
    };
    Some(format!(
        "**cpu** ({} powers on {cores} cores): every model but sync runs them in parallel. {fastest}; {slowest}. Rust has no GIL: threads use every core.",
        sync.n,
    ))
}

fn io_answer(sync: &Cell, ok: &[&Cell], ideal: Option<f64>) -> Option<String> {
    let fastest = first(ok, false);
    let waiting: Vec<&&Cell> = ok.iter().filter(|c| c.model != "rayon").collect();
    let lo = waiting.iter().map(|c| c.median).fold(f64::MAX, f64::min);
    let hi = waiting.iter().map(|c| c.median).fold(0.0, f64::max);
    let speedups = waiting.iter().map(|c| c.speedup_over(sync));
    let (least, most) = speedups.fold((f64::MAX, 0.0f64), |(l, m), x| (l.min(x), m.max(x)));
    let rayon = ok.iter().find(|c| c.model == "rayon");
    let fastest = match fastest.as_slice() {
        [] => return None,
        all if ok.len() > 1 && all.len() == ok.len() => all_tied(ok),
        [one] => format!("the fastest is {}", one.model),
        tied => format!("the fastest is {}", tie(tied)),
    };
    Some(format!(
        "**io** ({} tasks, medians): sync waits for one download at a time, {:.3} s. Every model that waits concurrently takes {:.3} to {:.3} s{}, {:.1}x to {:.1}x faster; {fastest}.{}",
        sync.n,
        sync.median,
        lo,
        hi,
        ideal.map(|i| format!(" (ideal {i:.3} s)")).unwrap_or_default(),
        least,
        most,
        rayon
            .map(|r| format!(" rayon takes {:.3} s: its pool has one worker per core, and a blocking download holds its worker.", r.median))
            .unwrap_or_default(),
    ))
}

/// "Peak PSS runs from 4.0 MiB (rayon) to 12.0 MiB (procs)."
fn memory_range(ok: &[&Cell]) -> Option<String> {
    let by = measure(ok);
    let key = |c: &&&Cell| memory(c, by);
    let lean = ok.iter().min_by(|a, b| key(a).total_cmp(&key(b)))?;
    let fat = ok.iter().max_by(|a, b| key(a).total_cmp(&key(b)))?;
    Some(format!(
        "{} runs from {} ({}) to {} ({}).",
        capitalised(by),
        mib(memory(lean, by)),
        lean.model,
        mib(memory(fat, by)),
        fat.model
    ))
}

fn capitalised(by: Measure) -> &'static str {
    match by {
        Measure::Pss => "Peak PSS",
        Measure::Rss => "Peak RSS",
    }
}

/// How far each model went with tasks that only wait, memory per task, and downloads at
/// the largest N any model reached.
fn scale_answer(scale: &[ScaleCell], fits: Option<&[Fit]>, plan: &Settings) -> String {
    let list: Vec<String> = reach(scale, "sleep")
        .iter()
        .map(|(m, n, _)| format!("{m} {}", thousands(*n)))
        .collect();
    let mut text = format!(
        "**Scale** (tasks that only wait, largest N completed): {}.",
        list.join(", ")
    );
    if let Some(fits) = fits {
        text += &per_task_sentence(fits);
    }
    let io: Vec<&ScaleCell> = scale
        .iter()
        .filter(|c| c.workload == "io" && c.status == Status::Ok)
        .collect();
    if let Some(top) = io.iter().map(|c| c.n).max() {
        let mut at_top: Vec<&&ScaleCell> = io.iter().filter(|c| c.n == top).collect();
        // Cells of one run are not ranked ([`crate::stats::compare`]): they keep the
        // sweep's order, and the sentence says why.
        let one_run = at_top.iter().any(|c| c.runs < 2);
        if !one_run {
            at_top.sort_by(|a, b| a.median.total_cmp(&b.median));
        }
        let list: Vec<String> = at_top
            .iter()
            .map(|c| format!("{} {:.2} s", c.model, c.median))
            .collect();
        let overflows: f64 = scale
            .iter()
            .filter(|c| c.workload == "io")
            .map(|c| c.overflows)
            .sum();
        let _ = write!(
            text,
            " Downloads at N={} (one URL each{}{}): {}; {overflows:.0} listen-queue overflows.",
            thousands(top),
            plan.num("io_delay_ms")
                .map(|ms| format!(", {ms} ms delay: ideal {:.1} s", ms / 1000.0))
                .unwrap_or_default(),
            if one_run {
                "; one run each, so in the sweep's order, not ranked"
            } else {
                ""
            },
            list.join(", ")
        );
    }
    text
}

/// " Memory per waiting task (slope of PSS against N): ...", from the sleep fits.
fn per_task_sentence(fits: &[Fit]) -> String {
    let sleep: Vec<&Fit> = fits.iter().filter(|f| f.workload == "sleep").collect();
    let Some(first) = sleep.first() else {
        return String::new();
    };
    let on = if sleep.iter().all(|f| f.on == first.on) {
        first.on.label()
    } else {
        "PSS, else peak RSS"
    };
    let per: Vec<String> = sleep
        .iter()
        .map(|f| format!("{} {}", f.model, bytes(f.per_task)))
        .collect();
    format!(
        " Memory per waiting task (slope of {on} against N): {}.",
        per.join(", ")
    )
}
