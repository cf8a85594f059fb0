//! The seed's two claims about blocking a scheduler, as rows of the report's claims table:
//! the one-second stall, and `await asyncio.sleep(0)` inside long loops.

use super::{ms, of, ratio_of, same, secs, why_yield_waits, Row};

/// The seed's two claims, as rows of the claims table.
pub fn claims(rows: &[Row], bench: &[&Row]) -> Vec<String> {
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
        let (mut helped, mut not) = (Vec::new(), Vec::new());
        let measured: Vec<String> = yields
            .iter()
            .filter_map(|y| {
                let inline = same(bench, &y.model, "inline")?;
                let offload = same(bench, &y.model, "offload")?;
                let (i, o, v) = (inline.p99_ms?, offload.p99_ms?, y.p99_ms?);
                if i > o && (i - v) / (i - o) >= 0.5 {
                    helped.push(y.model.as_str());
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
        let verdict = match (helped.is_empty(), not.is_empty()) {
            (false, true) => "holds: a yield between steps lets waiting tasks run (the jobs' time beside inline's is one run each, not ranked); offloading the job lets them run too, with no change to the job".to_string(),
            (false, false) => format!(
                "holds in {} (a yield lets waiting tasks run; the jobs' time beside inline's is one run each, not ranked), not in {}; offloading the job works in all",
                helped.join(", "),
                not.iter()
                    .map(|m| why_yield_waits(m))
                    .collect::<Vec<_>>()
                    .join("; nor in ")
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
