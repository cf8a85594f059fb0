//! The report's "Thread-per-core on io_uring" section: the ninth model, `monoio-async`
//! (a monoio runtime per core, I/O through io_uring), beside `monoio-epoll` (the same code
//! on monoio's epoll driver) and `tokio-async` (work stealing on epoll), on every measure
//! the other sections hold for them, each read from its own CSV. Every pair is compared by
//! the rule all rankings follow ([`crate::stats::compare`]: spreads that overlap are a
//! tie, a single run is not ranked, knees within one step tie, a knee at the generator's
//! limit is not ranked), and the section ends with the sentences of where the design wins
//! and where it loses, made from those verdicts alone.

use super::format::{and_list, bytes, thousands};
use super::inputs::{Cell, CostFit, Fit, KneeRow, MixedRow, ScaleCell, Serve, ServeRow};
use super::syscalls;
use crate::stats::compare::{compare, compare_knees, Knee, Order, Spread};
use crate::sweep::scale::Status;
use std::fmt::Write as _;

/// The model the section is about, the same code on epoll, and the work-stealing runtime
/// it is set against, in the table's column order.
const MODELS: [&str; 3] = ["monoio-async", "monoio-epoll", "tokio-async"];
const TPC: usize = 0;
const EPOLL: usize = 1;
const STEALING: usize = 2;

/// One model's figure on one measure.
#[derive(Debug, Clone, Copy)]
enum Figure {
    /// A figure with the spread of the runs (or rounds, or fits) behind it.
    Runs(Spread),
    /// A server's knee, over its rounds; `generator`: the load generator, not the
    /// server, set the limit; `disagree`: the rounds found different knees.
    Knee {
        knee: Knee,
        generator: bool,
        disagree: bool,
    },
}

/// Which way a measure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Lower,
    Higher,
}

/// One measure: its name, where it comes from, how a figure is written, and the three
/// models' figures (None: not measured).
struct Measure {
    name: String,
    /// The name in the closing sentences.
    short: String,
    source: &'static str,
    better: Better,
    show: fn(f64) -> String,
    figures: [Option<Figure>; 3],
}

/// Where one model stands against another on one measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Wins,
    Loses,
    /// Within the noise, or within one step.
    Tie,
    /// One run, or the generator's limit: no ranking.
    NotRanked(&'static str),
}

impl Measure {
    fn verdict(&self, a: usize, b: usize) -> Option<Verdict> {
        let (x, y) = (self.figures[a]?, self.figures[b]?);
        let order = match (x, y) {
            // Two figures the table prints alike are never ranked, however narrow their
            // spreads (a fitted slope's standard error can be a few bytes).
            (Figure::Runs(x), Figure::Runs(y)) if (self.show)(x.value) == (self.show)(y.value) => {
                Order::Tie
            }
            (Figure::Runs(x), Figure::Runs(y)) => compare(&x, &y),
            (
                Figure::Knee {
                    knee: x,
                    generator: gx,
                    disagree: dx,
                },
                Figure::Knee {
                    knee: y,
                    generator: gy,
                    disagree: dy,
                },
            ) => {
                if gx || gy {
                    return Some(Verdict::NotRanked("the generator's limit"));
                }
                if dx || dy {
                    return Some(Verdict::NotRanked("its rounds disagree"));
                }
                compare_knees(&x, &y)
            }
            _ => return None,
        };
        Some(match (order, self.better) {
            (Order::OneRun, _) => Verdict::NotRanked("one run"),
            (Order::Tie, _) => Verdict::Tie,
            (Order::Below, Better::Lower) | (Order::Above, Better::Higher) => Verdict::Wins,
            (Order::Below, Better::Higher) | (Order::Above, Better::Lower) => Verdict::Loses,
        })
    }

    fn cell(&self, i: usize) -> String {
        match self.figures[i] {
            None => "–".into(),
            Some(Figure::Runs(s)) if s.runs < 2 => format!("{} (one run)", (self.show)(s.value)),
            Some(Figure::Runs(s)) => format!(
                "{} ({} to {})",
                (self.show)(s.value),
                (self.show)(s.lo),
                (self.show)(s.hi)
            ),
            Some(Figure::Knee {
                knee,
                generator,
                disagree,
            }) => {
                let top = knee
                    .broke_at
                    .map_or("the top step reached".to_string(), |b| {
                        format!("broke at {}", (self.show)(b))
                    });
                let limit = if generator {
                    ", the generator's limit"
                } else {
                    ""
                };
                let rounds = if disagree { ", rounds disagree" } else { "" };
                format!("{} ({top}{limit}{rounds})", (self.show)(knee.knee))
            }
        }
    }
}

/// Everything the section reads, each optional: the section shows what there is.
pub struct Sources<'a> {
    pub cells: &'a [Cell],
    pub scale: Option<&'a [ScaleCell]>,
    pub fits: Option<&'a [Fit]>,
    pub cost_fits: &'a [CostFit],
    pub mixed: Option<&'a [MixedRow]>,
    pub serve: Option<&'a Serve>,
    pub syscalls: Option<&'a [syscalls::Row]>,
}

/// The section, or None when monoio-async was measured nowhere.
pub fn section(s: &Sources) -> Option<String> {
    let measures = measures(s);
    if !measures
        .iter()
        .any(|m| m.figures[TPC].is_some() && m.figures[STEALING].is_some())
    {
        return None;
    }
    let mut md =
        String::from("## Thread-per-core on io_uring: where it wins and where it loses\n\n");
    md += "`monoio-async` runs a monoio runtime per core, each with its own tasks that never move, and does its I/O through io_uring (the operations themselves are queued to the kernel, which completes them); `monoio-epoll` is the same code on monoio's epoll driver, and `tokio-async` a work-stealing runtime on epoll. Each row below is a figure another section of this report gives, from its CSV, with its spread (runs, rounds or fits; a knee with the rate at which it broke). \"io_uring against tokio\" and \"io_uring against epoll\" rank the two only where those spreads do not overlap (knees: where one sustained the rate at which the other broke), by the rule every ranking here follows; not ranked: two figures the table prints alike, a figure of one run, and a knee at the generator's limit or whose rounds disagree.\n\n";
    md += "| measure | monoio-async (io_uring) | monoio-epoll | tokio-async | io_uring against tokio | io_uring against epoll | from |\n| --- | --- | --- | --- | --- | --- | --- |\n";
    for m in &measures {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            m.name,
            m.cell(TPC),
            m.cell(EPOLL),
            m.cell(STEALING),
            word(m.verdict(TPC, STEALING)),
            word(m.verdict(TPC, EPOLL)),
            m.source
        );
    }
    md.push('\n');
    md += &sentences(&measures, STEALING, "tokio-async (work stealing on epoll)");
    md += &sentences(&measures, EPOLL, "its own epoll driver (monoio-epoll)");
    Some(md)
}

fn word(v: Option<Verdict>) -> String {
    match v {
        None => "–".into(),
        Some(Verdict::Wins) => "**wins**".into(),
        Some(Verdict::Loses) => "**loses**".into(),
        Some(Verdict::Tie) => "within the noise".into(),
        Some(Verdict::NotRanked(why)) => format!("not ranked ({why})"),
    }
}

/// "Against X, io_uring wins on a, b; loses on c; ties on d.", from the verdicts.
fn sentences(measures: &[Measure], other: usize, name: &str) -> String {
    let of = |want: fn(&Verdict) -> bool| -> Vec<String> {
        measures
            .iter()
            .filter(|m| m.verdict(TPC, other).is_some_and(|v| want(&v)))
            .map(|m| m.short.clone())
            .collect()
    };
    let wins = of(|v| *v == Verdict::Wins);
    let loses = of(|v| *v == Verdict::Loses);
    let ties = of(|v| *v == Verdict::Tie);
    let unranked: Vec<String> = measures
        .iter()
        .filter_map(|m| match m.verdict(TPC, other)? {
            Verdict::NotRanked(why) => Some(format!("{} ({why})", m.short)),
            _ => None,
        })
        .collect();
    if wins.is_empty() && loses.is_empty() && ties.is_empty() {
        return String::new();
    }
    let list = |items: &[String]| {
        if items.is_empty() {
            "nothing measured here".to_string()
        } else {
            and_list(items)
        }
    };
    let unranked = if unranked.is_empty() {
        String::new()
    } else {
        format!(" Not ranked: {}.", and_list(&unranked))
    };
    format!(
        "**Against {name}**, monoio on io_uring wins on {}; it loses on {}; alike within the noise on {}.{unranked}\n\n",
        list(&wins),
        list(&loses),
        list(&ties)
    )
}

fn secs(x: f64) -> String {
    format!("{x:.3} s")
}

fn ms(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2} ms")
    } else {
        format!("{x:.0} ms")
    }
}

fn us(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.2} µs")
    } else {
        format!("{} µs", thousands(x.round() as u64))
    }
}

fn calls(x: f64) -> String {
    format!("{x:.1}")
}

fn rps(x: f64) -> String {
    format!("{} req/s", thousands(x.round() as u64))
}

fn mem(x: f64) -> String {
    bytes(x)
}

/// Every measure the CSVs hold for the three models, in the order of the report.
fn measures(s: &Sources) -> Vec<Measure> {
    let mut out = Vec::new();
    let figures = |f: &dyn Fn(&str) -> Option<Figure>| MODELS.map(f);
    for workload in ["cpu", "io"] {
        let cell = |model: &str| {
            s.cells
                .iter()
                .find(|c| c.model == model && c.workload == workload && c.ok)
        };
        let n = MODELS.iter().find_map(|m| cell(m)).map(|c| c.n);
        out.push(Measure {
            name: format!(
                "{workload}, N={} (make bench): wall time",
                n.map_or("?".into(), thousands)
            ),
            short: format!("{workload} at N={}", n.map_or("?".into(), thousands)),
            source: "summary.csv",
            better: Better::Lower,
            show: secs,
            figures: figures(&|m| cell(m).map(|c| Figure::Runs(c.spread()))),
        });
    }
    if let Some(scale) = s.scale {
        let io = |model: &str, n: u64| {
            scale.iter().find(|c| {
                c.model == model && c.workload == "io" && c.n == n && c.status == Status::Ok
            })
        };
        // The largest N every model ran, and the largest with runs to spread over.
        let common = |ok: &dyn Fn(&ScaleCell) -> bool| {
            let mut ns: Vec<u64> = scale
                .iter()
                .filter(|c| c.workload == "io" && c.model == MODELS[TPC])
                .map(|c| c.n)
                .filter(|&n| MODELS.iter().all(|m| io(m, n).is_some_and(ok)))
                .collect();
            ns.sort_unstable();
            ns.last().copied()
        };
        if let Some(n) = common(&|c| c.runs >= 2) {
            out.push(Measure {
                name: format!("io, N={} (scale sweep): wall time", thousands(n)),
                short: format!("io at N={}", thousands(n)),
                source: "scale.csv",
                better: Better::Lower,
                show: secs,
                figures: figures(&|m| io(m, n).map(|c| Figure::Runs(c.spread()))),
            });
        }
        if let Some(n) = common(&|c| c.cpu_s.is_some()) {
            // One figure per cell (the mean of its runs' CPU): shown, never ranked.
            out.push(Measure {
                name: format!("io, N={} (scale sweep): CPU per download", thousands(n)),
                short: format!("CPU per download at N={}", thousands(n)),
                source: "scale.csv (user_s + system_s)",
                better: Better::Lower,
                show: us,
                figures: figures(&|m| {
                    let c = io(m, n)?;
                    let v = c.cpu_s? * 1e6 / c.n as f64;
                    Some(Figure::Runs(Spread::of_runs(v, v, v, 1)))
                }),
            });
        }
    }
    if let Some(fits) = s.fits {
        out.push(Measure {
            name: "memory per sleeping task".into(),
            short: "memory per sleeping task".into(),
            source: "scale-fit.csv",
            better: Better::Lower,
            show: mem,
            figures: figures(&|m| {
                let f = fits
                    .iter()
                    .find(|f| f.model == m && f.workload == "sleep")?;
                Some(Figure::Runs(Spread::of_fit(
                    f.per_task, f.r2, f.points, None,
                )))
            }),
        });
    }
    for (workload, what) in [
        ("spawn", "spawn, per task"),
        ("switch", "switch, per hand-off"),
    ] {
        out.push(Measure {
            name: what.into(),
            short: workload.into(),
            source: "costs-fit.csv",
            better: Better::Lower,
            show: us,
            figures: figures(&|m| {
                let f = s
                    .cost_fits
                    .iter()
                    .find(|f| f.model == m && f.workload == workload)?;
                super::costs::spread_of(f).map(Figure::Runs)
            }),
        });
    }
    if let Some(rows) = s.mixed {
        for variant in ["inline", "yield", "offload"] {
            out.push(Measure {
                name: format!("mixed `{variant}`: request p99 beside CPU jobs"),
                short: format!("requests beside CPU jobs run `{variant}`"),
                source: "mixed.csv",
                better: Better::Lower,
                show: ms,
                figures: figures(&|m| {
                    let r = rows.iter().find(|r| {
                        r.model == m
                            && r.variant == variant
                            && r.purpose == "bench"
                            && r.status == "ok"
                    })?;
                    super::pitfalls::tail(r).map(Figure::Runs)
                }),
            });
        }
    }
    if let Some(serve) = s.serve {
        for scenario in ["hello", "backend"] {
            let knee = |m: &str| -> Option<&KneeRow> {
                serve
                    .knees
                    .iter()
                    .find(|k| k.model == m && k.scenario == scenario && k.measured())
            };
            out.push(Measure {
                name: format!(
                    "serve `{scenario}`: the knee{}",
                    knee(MODELS[TPC])
                        .and_then(|k| k.connections)
                        .map_or(String::new(), |c| format!(", {} connections", thousands(c)))
                ),
                short: format!("the `{scenario}` knee"),
                source: "serve-knees.csv",
                better: Better::Higher,
                show: rps,
                figures: figures(&|m| {
                    let k = knee(m)?;
                    Some(Figure::Knee {
                        knee: Knee {
                            knee: k.knee_rps.unwrap_or(0.0),
                            broke_at: k.broke_at_rps,
                        },
                        generator: k.bound == "generator",
                        disagree: !k.rounds_agree(),
                    })
                }),
            });
        }
        let steps: Vec<&ServeRow> = serve
            .rows
            .iter()
            .filter(|r| r.scenario == "connections" && r.measured())
            .collect();
        let most = steps
            .iter()
            .filter(|r| r.model == MODELS[TPC])
            .filter_map(|r| r.connections)
            .max();
        if let Some(conns) = most {
            let rounds = |m: &str, f: fn(&ServeRow) -> Option<f64>| -> Option<Figure> {
                let values: Vec<f64> = super::serve::connections_at(&steps, m, conns)
                    .into_iter()
                    .filter_map(f)
                    .collect();
                let mut sorted = values.clone();
                sorted.sort_by(f64::total_cmp);
                let mid = *sorted.get(sorted.len().checked_sub(1)? / 2)?;
                Some(Figure::Runs(Spread::of_runs(
                    mid,
                    sorted[0],
                    sorted[sorted.len() - 1],
                    sorted.len() as u64,
                )))
            };
            out.push(Measure {
                name: format!(
                    "serve `connections`: p99 with {} idle connections open",
                    thousands(conns)
                ),
                short: format!("p99 with {} connections held", thousands(conns)),
                source: "serve.csv (rounds)",
                better: Better::Lower,
                show: ms,
                figures: figures(&|m| rounds(m, |r| r.p99_ms)),
            });
            out.push(Measure {
                name: format!(
                    "serve `connections`: memory per open connection, at {}",
                    thousands(conns)
                ),
                short: "memory per held connection".into(),
                source: "serve.csv (rounds)",
                better: Better::Lower,
                show: mem,
                figures: figures(&|m| rounds(m, |r| r.pss_per_conn_bytes)),
            });
        }
    }
    if let Some(rows) = s.syscalls {
        for (cell, what) in [
            (
                crate::sweep::syscalls::rows::DOWNLOAD,
                "system calls per download",
            ),
            (
                crate::sweep::syscalls::rows::REQUEST,
                "system calls per served request",
            ),
        ] {
            out.push(Measure {
                name: what.into(),
                short: what.into(),
                source: "syscalls.csv",
                better: Better::Lower,
                show: calls,
                figures: figures(&|m| syscalls::per_unit(rows, m, cell).map(Figure::Runs)),
            });
        }
    }
    out.retain(|m| m.figures.iter().any(Option::is_some));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(value: f64, lo: f64, hi: f64) -> Option<Figure> {
        Some(Figure::Runs(Spread::of_runs(value, lo, hi, 3)))
    }

    fn measure(better: Better, figures: [Option<Figure>; 3]) -> Measure {
        Measure {
            name: "m".into(),
            short: "m".into(),
            source: "x.csv",
            better,
            show: secs,
            figures,
        }
    }

    #[test]
    fn a_verdict_follows_the_spreads_and_which_way_is_better() {
        let apart = [
            runs(1.0, 0.9, 1.1),
            runs(1.0, 0.95, 1.05),
            runs(2.0, 1.9, 2.1),
        ];
        assert_eq!(
            measure(Better::Lower, apart).verdict(TPC, STEALING),
            Some(Verdict::Wins)
        );
        assert_eq!(
            measure(Better::Higher, apart).verdict(TPC, STEALING),
            Some(Verdict::Loses)
        );
        assert_eq!(
            measure(Better::Lower, apart).verdict(TPC, EPOLL),
            Some(Verdict::Tie)
        );
        let one = Some(Figure::Runs(Spread::of_runs(1.0, 1.0, 1.0, 1)));
        assert_eq!(
            measure(Better::Lower, [one, None, runs(9.0, 8.0, 10.0)]).verdict(TPC, STEALING),
            Some(Verdict::NotRanked("one run"))
        );
        assert_eq!(
            measure(Better::Lower, [one, None, None]).verdict(TPC, STEALING),
            None
        );
    }

    #[test]
    fn knees_rank_outside_one_step_and_never_at_the_generators_limit() {
        let knee = |k: f64, b: Option<f64>, generator| {
            Some(Figure::Knee {
                knee: Knee {
                    knee: k,
                    broke_at: b,
                },
                generator,
                disagree: false,
            })
        };
        let m = measure(
            Better::Higher,
            [
                knee(8000.0, Some(9500.0), false),
                knee(8000.0, Some(9500.0), true),
                knee(4000.0, Some(4700.0), false),
            ],
        );
        assert_eq!(m.verdict(TPC, STEALING), Some(Verdict::Wins));
        assert_eq!(
            m.verdict(TPC, EPOLL),
            Some(Verdict::NotRanked("the generator's limit"))
        );
        let close = measure(
            Better::Higher,
            [
                knee(8000.0, Some(9500.0), false),
                None,
                knee(9000.0, None, false),
            ],
        );
        assert_eq!(close.verdict(TPC, STEALING), Some(Verdict::Tie));
        let mut disturbed = measure(
            Better::Higher,
            [
                knee(595.0, Some(707.0), false),
                None,
                knee(4000.0, Some(4700.0), false),
            ],
        );
        if let Some(Figure::Knee { disagree, .. }) = &mut disturbed.figures[TPC] {
            *disagree = true;
        }
        assert_eq!(
            disturbed.verdict(TPC, STEALING),
            Some(Verdict::NotRanked("its rounds disagree"))
        );
    }

    #[test]
    fn figures_printed_alike_are_never_ranked() {
        // Memory per task fitted on many points: standard errors of a few bytes, so the
        // spreads of 1,347 B and 1,342 B do not overlap, yet both print 1.3 KiB.
        let fit = |v| Some(Figure::Runs(Spread::of_fit(v, 0.99999, 8, None)));
        let mut m = measure(Better::Lower, [fit(1347.0), fit(1342.0), fit(511.0)]);
        m.show = mem;
        assert_eq!(m.verdict(TPC, EPOLL), Some(Verdict::Tie));
        assert_eq!(m.verdict(TPC, STEALING), Some(Verdict::Loses));
    }

    #[test]
    fn the_sentences_name_each_measure_by_its_verdict() {
        let mut wins = measure(
            Better::Lower,
            [runs(1.0, 0.9, 1.1), None, runs(2.0, 1.9, 2.1)],
        );
        wins.short = "spawn".into();
        let mut loses = measure(
            Better::Lower,
            [runs(3.0, 2.9, 3.1), None, runs(2.0, 1.9, 2.1)],
        );
        loses.short = "memory".into();
        let mut tie = measure(
            Better::Lower,
            [runs(2.0, 1.9, 2.1), None, runs(2.0, 1.95, 2.05)],
        );
        tie.short = "io".into();
        let text = sentences(&[wins, loses, tie], STEALING, "tokio");
        assert_eq!(
            text,
            "**Against tokio**, monoio on io_uring wins on spawn; it loses on memory; alike within the noise on io.\n\n"
        );
        assert_eq!(sentences(&[], EPOLL, "epoll"), "");
    }
}
