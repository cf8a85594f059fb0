//! One sentence per variant of `mixed`, saying what happened and why, computed from the
//! measured numbers: one function per variant.

use super::{ms, of, same, span, span_of, span_pct, upper_first, Row};
use crate::stats::compare::{compare, Order, Spread};
use std::fmt::Write as _;

/// A cell's p99 with the spread of its run's tail, from p90 to the largest latency: two
/// cells' p99 are ranked only where the slowest tenth of one run's requests all took
/// longer than every request of the other (one's p90 above the other's max). A cell is
/// one run of hundreds of requests, so its tail is its noise.
pub(crate) fn tail(r: &Row) -> Option<Spread> {
    Some(Spread {
        value: r.p99_ms?,
        lo: r.p90_ms?,
        hi: r.max_ms?,
        runs: r.probes,
    })
}

/// One sentence on what a variant did, from the numbers; `None` if it was not measured.
pub fn explain(variant: &str, bench: &[&Row]) -> Option<String> {
    let rows = of(bench, variant);
    if rows.is_empty() {
        return None;
    }
    let cells = Cells { rows, bench };
    Some(match variant {
        "none" => cells.none(),
        "offload" => cells.offload(),
        "inline" => cells.inline(),
        "yield" => cells.yields(),
        "block" => cells.block(),
        "current-thread" => cells.current_thread(),
        other => format!("p99 {} ({other}).", p99(&cells.rows)),
    })
}

/// The rows of one variant, and every row of the grid (for the same model's others).
struct Cells<'a> {
    rows: Vec<&'a Row>,
    bench: &'a [&'a Row],
}

/// "p99 12 ms to 30 ms" over these rows.
fn p99(rs: &[&Row]) -> String {
    span(rs.iter().filter_map(|r| r.p99_ms))
}

/// The models of these rows, "a, b, c".
fn names(rs: &[&Row]) -> String {
    rs.iter()
        .map(|r| r.model.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Cells<'_> {
    fn workers(&self) -> u64 {
        self.rows.iter().map(|r| r.workers).max().unwrap_or(0)
    }

    fn jobs(&self) -> u64 {
        self.rows[0].jobs
    }

    fn offload_p99(&self, r: &Row) -> Option<f64> {
        same(self.bench, &r.model, "offload").and_then(|o| o.p99_ms)
    }

    /// p99 against another row's (the same model's offload, or threads'), as "2.5x"
    /// where the two runs' tails separate, or "within the noise" where they do not
    /// ([`tail`]).
    fn against<'b>(&self, base: &dyn Fn(&Row) -> Option<&'b Row>) -> String {
        let pairs: Vec<(Spread, Spread)> = self
            .rows
            .iter()
            .filter_map(|r| Some((tail(r)?, tail(base(r)?)?)))
            .collect();
        let ranked: Vec<f64> = pairs
            .iter()
            .filter(|(a, b)| matches!(compare(a, b), Order::Below | Order::Above))
            .map(|(a, b)| a.value / b.value.max(f64::MIN_POSITIVE))
            .collect();
        match (ranked.len(), pairs.len()) {
            (_, 0) => "–".into(),
            (0, _) => "within the noise of".into(),
            (r, p) if r == p => span_of(ranked.into_iter(), |x| format!("{x:.1}x")),
            (r, p) => format!(
                "{} in {r} of {p} models, within the noise in the others, against",
                span_of(ranked.into_iter(), |x| format!("{x:.1}x"))
            ),
        }
    }

    fn none(&self) -> String {
        format!(
            "{}, with every request and every job on a thread of its own: p99 {}, max {}. The kernel preempts a computing thread for a woken one, so a request waits for a time slice, never for a job; this is the baseline.",
            names(&self.rows),
            p99(&self.rows),
            span(self.rows.iter().filter_map(|r| r.max_ms))
        )
    }

    fn offload(&self) -> String {
        let threads = same(self.bench, "threads", "none");
        format!(
            "p99 {} in {}{}: the jobs ran on threads the kernel preempts (the blocking pool; green: plain OS threads), so the workers stayed free for the requests.",
            p99(&self.rows),
            names(&self.rows),
            match threads {
                Some(t) => format!(", {} threads' {}", self.against(&|_| Some(t)), ms(t.p99_ms)),
                None => String::new(),
            }
        )
    }

    fn inline(&self) -> String {
        let p50_moved = self.rows.iter().any(|r| {
            let offload = same(self.bench, &r.model, "offload").and_then(|o| o.p50_ms);
            matches!((r.p50_ms, offload), (Some(a), Some(b)) if a > 2.0 * b)
        });
        format!(
            "p99 {} ({} offload's in the same model), max {}: each job held its worker until it was done, and {} jobs on {} workers held all of them for the jobs' total time ({}), during which no request's task ran. {}",
            p99(&self.rows),
            self.against(&|r| same(self.bench, &r.model, "offload")),
            span(self.rows.iter().filter_map(|r| r.max_ms)),
            self.jobs(),
            self.workers(),
            span(self.rows.iter().filter_map(|r| r.jobs_ms)),
            if p50_moved {
                "The stall covered so much of the stream that even p50 rose."
            } else {
                "p50 barely moved: most requests were due while no job ran; the stall is in the tail."
            }
        )
    }

    /// Per model: how much of inline's excess p99 over offload yield took back, and the
    /// jobs' total time against inline's.
    fn recovered(&self) -> Vec<(&Row, f64, f64)> {
        self.rows
            .iter()
            .filter_map(|r| {
                let inline = same(self.bench, &r.model, "inline")?;
                let (i, y, o) = (inline.p99_ms?, r.p99_ms?, self.offload_p99(r)?);
                let share = if i > o {
                    ((i - y) / (i - o)).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                Some((
                    *r,
                    share,
                    r.jobs_ms? / inline.jobs_ms?.max(f64::MIN_POSITIVE),
                ))
            })
            .collect()
    }

    fn yields(&self) -> String {
        let recovered = self.recovered();
        let (helped, not): (Vec<&(&Row, f64, f64)>, Vec<_>) =
            recovered.iter().partition(|(_, share, _)| *share >= 0.5);
        let mut s = String::new();
        if !helped.is_empty() {
            let rs: Vec<&Row> = helped.iter().map(|h| h.0).collect();
            let inline: Vec<f64> = rs
                .iter()
                .filter_map(|r| same(self.bench, &r.model, "inline")?.jobs_ms)
                .collect();
            let _ = write!(
                s,
                "in {} p99 fell to {} ({} of inline's excess over offload taken back): between two steps the scheduler ran the waiting requests and read their sockets, so a request waited for a step, not a job. The jobs' total time: {} against inline's {} (one run each, so not ranked).",
                names(&rs),
                p99(&rs),
                span_pct(helped.iter().map(|h| h.1)),
                span(rs.iter().filter_map(|r| r.jobs_ms)),
                span(inline.into_iter()),
            );
        }
        if !not.is_empty() {
            let rs: Vec<&Row> = not.iter().map(|h| h.0).collect();
            let _ = write!(
                s,
                "{}in {} it did not help (p99 {}, {} of inline's excess taken back): in {}, a request waits for the job anyway (see the model's pitfalls.rs).",
                if s.is_empty() { "" } else { " But " },
                names(&rs),
                p99(&rs),
                span_pct(not.iter().map(|h| h.1)),
                rs.iter()
                    .map(|r| super::why_yield_waits(&r.model))
                    .collect::<Vec<_>>()
                    .join("; in "),
            );
        }
        if s.is_empty() {
            format!(
                "p99 {} (no inline or offload run to compare with).",
                p99(&self.rows)
            )
        } else {
            upper_first(&s)
        }
    }

    fn block(&self) -> String {
        let (jobs, workers) = (self.jobs(), self.workers());
        let block = self.rows[0].block_ms as f64;
        let rounds = if workers > 0 {
            jobs.div_ceil(workers)
        } else {
            jobs
        };
        format!(
            "p99 {}, max {}: {jobs} tasks each called std::thread::sleep({} ms), which parks the worker thread, not the task. The sleeps' total time was {} (with {workers} workers: {rounds} round{} of {}), and while every worker slept nothing else ran.",
            p99(&self.rows),
            span(self.rows.iter().filter_map(|r| r.max_ms)),
            block,
            span(self.rows.iter().filter_map(|r| r.jobs_ms)),
            if rounds == 1 { "" } else { "s" },
            ms(Some(block))
        )
    }

    fn current_thread(&self) -> String {
        let r = self.rows[0];
        let ratio = match (r.max_ms, r.jobs_ms) {
            (Some(m), Some(j)) if j > 0.0 => format!("{:.2}x", m / j),
            _ => "–".into(),
        };
        format!(
            "{}: max {} beside {} jobs of {} each, {} in all (max / jobs' total time: {ratio}). One thread ran the schedule, the reactor and the jobs: a request due when the jobs began waited for all of them.",
            r.model,
            ms(r.max_ms),
            self.jobs(),
            ms(r.job_ms),
            ms(r.jobs_ms)
        )
    }
}
