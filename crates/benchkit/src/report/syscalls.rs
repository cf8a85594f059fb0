//! The report's "System calls" section, from syscalls.csv (`make bench-syscalls`, written
//! by [`crate::sweep::syscalls`]): per cell (a download, a served request), a table of the
//! calls each model makes per unit, median over the rounds with their range, the calls
//! gathered into families that tell the I/O designs apart, and one sentence generated from
//! the numbers: which model makes the fewest, and by what factor against tokio-async
//! (ranked only where the rounds do not overlap, the rule of [`crate::stats::compare`]);
//! where a model ran on io_uring and another on epoll, how the two compare.

use super::format::{and_list, thousands};
use crate::stats::compare::{compare, first_place, Order, Spread};
use crate::sweep::syscalls::counter::{index, CALLS};
use crate::sweep::syscalls::rows::{DOWNLOAD, REQUEST};
use crate::table::Table;
use anyhow::Result;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One row of syscalls.csv: one round of one model in one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub model: String,
    pub driver: String,
    pub cell: String,
    pub round: u64,
    /// The units (downloads, requests) of the round's smaller and larger run.
    pub units: Option<(u64, u64)>,
    /// None for a failed cell (then `reason` says why).
    pub per_unit: Option<PerUnit>,
    pub reason: String,
}

/// The calls per unit of a measured row.
#[derive(Debug, Clone, PartialEq)]
pub struct PerUnit {
    pub total: f64,
    /// In [`CALLS`]' order; 0 for a call an older file has no column for.
    pub calls: Vec<f64>,
    pub other: f64,
}

/// Read syscalls.csv: every measured row's figures finite, a failed row's reason given,
/// one row per (model, cell, round).
pub fn read(path: &Path) -> Result<Vec<Row>> {
    let required = [
        "model",
        "driver",
        "cell",
        "round",
        "status",
        "total_per_unit",
        "reason",
    ];
    let table = Table::<BTreeMap<String, String>>::read(path, &required)?;
    table.refuse_duplicates(|r| format!("{} {} round {}", r["model"], r["cell"], r["round"]))?;
    let mut rows = Vec::new();
    for line in &table.rows {
        let r = &line.row;
        let error = |m: String| line.error(&table.path, m);
        let number = |column: &str| -> Result<Option<f64>> {
            match r.get(column).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => match v.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(Some(x)),
                    _ => Err(error(format!("column {column} is {v:?}, not a number"))),
                },
            }
        };
        let round = r["round"]
            .parse::<u64>()
            .map_err(|_| error(format!("column round is {:?}, not a number", r["round"])))?;
        let per_unit = match r["status"].as_str() {
            "ok" => {
                let total = number("total_per_unit")?
                    .ok_or_else(|| error("total_per_unit is empty in a measured row".into()))?;
                let calls = CALLS
                    .iter()
                    .map(|c| number(&format!("{c}_per_unit")).map(|x| x.unwrap_or(0.0)))
                    .collect::<Result<Vec<f64>>>()?;
                let other = number("other_per_unit")?.unwrap_or(0.0);
                Some(PerUnit {
                    total,
                    calls,
                    other,
                })
            }
            "failed" => None,
            other => return Err(error(format!("status is {other:?}, not ok or failed"))),
        };
        let units = match (number("units_base")?, number("units")?) {
            (Some(a), Some(b)) => Some((a as u64, b as u64)),
            _ => None,
        };
        rows.push(Row {
            model: r["model"].clone(),
            driver: r["driver"].clone(),
            cell: r["cell"].clone(),
            round,
            units,
            per_unit,
            reason: r["reason"].clone(),
        });
    }
    Ok(rows)
}

/// The calls, gathered into what tells the designs apart: the columns of the tables.
const FAMILIES: [(&str, &[&str]); 6] = [
    (
        "I/O",
        &[
            "read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg",
        ],
    ),
    (
        "readiness",
        &["epoll_wait", "epoll_pwait", "epoll_ctl", "poll"],
    ),
    ("io_uring_enter", &["io_uring_enter"]),
    (
        "sockets",
        &[
            "socket",
            "connect",
            "accept4",
            "close",
            "setsockopt",
            "fcntl",
            "ioctl",
        ],
    ),
    ("waits", &["futex", "sched_yield"]),
    ("threads, memory", &["clone3", "mmap", "munmap", "mprotect"]),
];

/// A cell's unit, as the text says it.
fn unit(cell: &str) -> &str {
    match cell {
        DOWNLOAD => "download",
        REQUEST => "served request",
        other => other,
    }
}

/// The median of `xs` (not empty).
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// The calls per unit of `model` in `cell` over its rounds (median, range, rounds); None
/// where no round was counted.
pub fn per_unit(rows: &[Row], model: &str, cell: &str) -> Option<Spread> {
    let mine: Vec<&Row> = rows
        .iter()
        .filter(|r| r.model == model && r.cell == cell)
        .collect();
    let total = fold(model, &mine).total;
    (total.runs > 0).then_some(total)
}

/// One model in one cell, its rounds folded.
struct Model<'a> {
    name: &'a str,
    driver: &'a str,
    /// The calls per unit over the rounds: median, lowest, highest, rounds.
    total: Spread,
    families: Vec<f64>,
    other: f64,
    /// Its three largest calls, by median: (name, per unit).
    largest: Vec<(&'static str, f64)>,
    /// Failed rounds' reasons.
    failed: Vec<&'a str>,
}

fn fold<'a>(name: &'a str, rows: &[&'a Row]) -> Model<'a> {
    let measured: Vec<&PerUnit> = rows.iter().filter_map(|r| r.per_unit.as_ref()).collect();
    let failed = rows
        .iter()
        .filter(|r| r.per_unit.is_none())
        .map(|r| r.reason.as_str())
        .collect();
    let driver = rows
        .iter()
        .map(|r| r.driver.as_str())
        .find(|d| !d.is_empty())
        .unwrap_or("");
    let med = |f: &dyn Fn(&PerUnit) -> f64| {
        if measured.is_empty() {
            f64::NAN
        } else {
            median(measured.iter().map(|p| f(p)).collect())
        }
    };
    let totals: Vec<f64> = measured.iter().map(|p| p.total).collect();
    let total = Spread::of_runs(
        med(&|p| p.total),
        totals.iter().copied().fold(f64::INFINITY, f64::min),
        totals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        measured.len() as u64,
    );
    let families = FAMILIES
        .iter()
        .map(|(_, calls)| {
            med(&|p| {
                calls
                    .iter()
                    .filter_map(|c| index(c))
                    .map(|i| p.calls[i])
                    .sum()
            })
        })
        .collect();
    let mut largest: Vec<(&'static str, f64)> = CALLS
        .iter()
        .enumerate()
        .map(|(i, c)| (*c, med(&|p| p.calls[i])))
        .filter(|(_, x)| *x >= 0.05)
        .collect();
    largest.sort_by(|a, b| b.1.total_cmp(&a.1));
    largest.truncate(3);
    Model {
        name,
        driver,
        total,
        families,
        other: med(&|p| p.other),
        largest,
        failed,
    }
}

/// The section. `order`: the report's order of models (summary.csv's); the others follow
/// in syscalls.csv's order.
pub fn section(rows: &[Row], order: &[String]) -> String {
    let mut md = String::from("## System calls per download and per served request\n\n");
    md += "How much the kernel is asked, per unit of work: every system call of the model's process, its threads and its child processes, counted by the kernel (perf counters on the `raw_syscalls:sys_enter` tracepoint and on one `syscalls:sys_enter_<name>` tracepoint per call listed in results/README.md, attached before the model's exec and inherited by everything it starts), in runs of their own with the models' memory sampler off (syscalls.csv, written by `make bench-syscalls`). Per unit is the slope between two runs of different sizes, so what a run spends whatever its size (start-up, the runtime's threads, the summary line) cancels. `download`: `<model> io` against the fixture server (one URL per task, 1 KiB after a short wait), as `make bench` runs io; `served request`: `<model> serve` alone on one CPU, as the serve sweep pins it, sent `GET /hello` at a modest fixed rate over a few keep-alive connections, the server alone counted (the models that close every connection pay its accept and close per request). Each figure is the median of the rounds, the range theirs; two models are ranked only where their rounds do not overlap. The families: I/O (read, write, readv, writev, recvfrom, sendto, recvmsg, sendmsg), readiness (epoll_wait, epoll_pwait, epoll_ctl, poll), sockets (socket, connect, accept4, close, setsockopt, fcntl, ioctl), waits (futex, threads waking one another; sched_yield, threads spinning before they sleep), threads and memory (clone3, mmap, munmap, mprotect); other is every call outside the list.\n\n";
    for cell in [DOWNLOAD, REQUEST] {
        let these: Vec<&Row> = rows.iter().filter(|r| r.cell == cell).collect();
        if these.is_empty() {
            continue;
        }
        let mut names: Vec<&str> = order
            .iter()
            .map(String::as_str)
            .filter(|m| these.iter().any(|r| r.model == *m))
            .collect();
        for r in &these {
            if !names.contains(&r.model.as_str()) {
                names.push(&r.model);
            }
        }
        let models: Vec<Model> = names
            .iter()
            .map(|name| {
                let mine: Vec<&Row> = these.iter().copied().filter(|r| r.model == *name).collect();
                fold(name, &mine)
            })
            .collect();
        let mut sizes: Vec<(u64, u64)> = these.iter().filter_map(|r| r.units).collect();
        sizes.sort_unstable();
        sizes.dedup();
        md += &table(cell, &models, &sizes);
    }
    md
}

fn table(cell: &str, models: &[Model], sizes: &[(u64, u64)]) -> String {
    let unit = unit(cell);
    let mut md = format!("### Per {unit}\n\n");
    let sizes: Vec<String> = sizes
        .iter()
        .map(|(a, b)| format!("{} and {}", thousands(*a), thousands(*b)))
        .collect();
    if !sizes.is_empty() {
        let _ = writeln!(
            md,
            "Each round counts two runs, of {} {}s.\n",
            sizes.join(", or "),
            if cell == DOWNLOAD {
                "download"
            } else {
                "request"
            }
        );
    }
    let _ = write!(md, "| model | driver | calls per {unit} (rounds) |");
    for (family, _) in FAMILIES {
        let _ = write!(md, " {family} |");
    }
    md += " other | largest calls |\n| --- | --- | --- |";
    md += &" ---: |".repeat(FAMILIES.len() + 1);
    md += " --- |\n";
    for m in models {
        if m.total.runs == 0 {
            let _ = writeln!(
                md,
                "| {} | {} | failed: {} |{}",
                m.name,
                m.driver,
                m.failed.first().unwrap_or(&"no round counted"),
                " |".repeat(FAMILIES.len() + 2)
            );
            continue;
        }
        let _ = write!(
            md,
            "| {} | {} | {:.1} ({:.1} to {:.1}, {} rounds{}) |",
            m.name,
            if m.driver.is_empty() { "–" } else { m.driver },
            m.total.value,
            m.total.lo,
            m.total.hi,
            m.total.runs,
            if m.failed.is_empty() {
                String::new()
            } else {
                format!("; {} failed", m.failed.len())
            }
        );
        for x in &m.families {
            let _ = write!(md, " {} |", figure(*x));
        }
        let largest: Vec<String> = m
            .largest
            .iter()
            .map(|(c, x)| format!("{c} {x:.1}"))
            .collect();
        let _ = writeln!(md, " {} | {} |", figure(m.other), largest.join(", "));
    }
    md.push('\n');
    md += &verdict(unit, models);
    md += &drivers(unit, models);
    md
}

/// A per-unit figure in a table: one decimal, a dash for nothing.
fn figure(x: f64) -> String {
    if x.abs() < 0.05 {
        "–".into()
    } else {
        format!("{x:.1}")
    }
}

/// "fewest: X; Nx fewer than tokio-async" from the numbers, ranked outside the noise only.
fn verdict(unit: &str, models: &[Model]) -> String {
    let counted: Vec<&Model> = models.iter().filter(|m| m.total.runs > 0).collect();
    if counted.len() < 2 {
        return String::new();
    }
    if counted.iter().any(|m| m.total.runs < 2) {
        return format!(
            "A model here was counted in one round only: no model is ranked per {unit}.\n\n"
        );
    }
    let spreads: Vec<Spread> = counted.iter().map(|m| m.total).collect();
    let first: Vec<&Model> = first_place(&spreads, false)
        .into_iter()
        .map(|i| counted[i])
        .collect();
    let shown = |m: &Model| format!("{} ({:.1})", m.name, m.total.value);
    let best = first[0];
    let mut text = if first.len() == 1 {
        format!(
            "Fewest calls per {unit}: {}, {:.1} (rounds {:.1} to {:.1}), below every other model's rounds",
            best.name, best.total.value, best.total.lo, best.total.hi
        )
    } else {
        let tied: Vec<String> = first.iter().map(|m| shown(m)).collect();
        format!(
            "Fewest calls per {unit}, within the noise of one another: {}",
            and_list(&tied)
        )
    };
    if let Some(tokio) = counted.iter().find(|m| m.name == "tokio-async") {
        let among = first.iter().any(|m| m.name == "tokio-async");
        if among && first.len() > 1 {
            text += "; tokio-async is among them";
        } else if !among {
            // Not in first place: its rounds lie above the lowest's (first_place's rule).
            if compare(&best.total, &tokio.total) == Order::Below {
                let _ = write!(
                    text,
                    "; {:.1}x fewer than tokio-async ({:.1})",
                    tokio.total.value / best.total.value,
                    tokio.total.value
                );
            }
        }
    }
    text + ".\n\n"
}

/// Where one model ran on io_uring and another on epoll (a model and its forced-epoll
/// twin): how their calls per unit compare, outside the noise only.
fn drivers(unit: &str, models: &[Model]) -> String {
    let on = |driver: &str| -> Vec<&Model> {
        models
            .iter()
            .filter(|m| m.driver == driver && m.total.runs > 0)
            .collect()
    };
    let mut md = String::new();
    for uring in on("io_uring") {
        for epoll in on("epoll") {
            let pair = format!(
                "{} on io_uring {:.1} per {unit} against {} on epoll {:.1}",
                uring.name, uring.total.value, epoll.name, epoll.total.value
            );
            let said = match compare(&uring.total, &epoll.total) {
                Order::Below => format!(
                    "{pair}: io_uring makes {:.1}x fewer calls.",
                    epoll.total.value / uring.total.value
                ),
                Order::Above => format!(
                    "{pair}: io_uring makes {:.1}x more calls.",
                    uring.total.value / epoll.total.value
                ),
                Order::Tie => format!("{pair}: within the noise of the rounds, no saving."),
                Order::OneRun => format!("{pair}: one round each, not ranked."),
            };
            let _ = writeln!(md, "{said}\n");
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_START: &str = "model,driver,cell,round,status,units_base,units,total_per_unit";

    /// (model, driver, cell, round, total per unit, futex per unit); a failed row where
    /// the total is None.
    type Given<'a> = (&'a str, &'a str, &'a str, u64, Option<f64>, f64);

    /// A syscalls.csv of `rows`.
    fn csv(rows: &[Given]) -> String {
        let header = crate::sweep::syscalls::rows::header();
        let mut text = header.join(",") + "\n";
        for (model, driver, cell, round, total, futex) in rows {
            let mut fields: Vec<String> = header.iter().map(|_| String::new()).collect();
            let mut set = |column: &str, value: String| {
                let i = header.iter().position(|h| h == column).unwrap();
                fields[i] = value;
            };
            set("model", model.to_string());
            set("driver", driver.to_string());
            set("cell", cell.to_string());
            set("round", round.to_string());
            match total {
                Some(t) => {
                    set("status", "ok".into());
                    set("total_per_unit", t.to_string());
                    set("futex_per_unit", futex.to_string());
                    set("other_per_unit", (t - futex).to_string());
                }
                None => {
                    set("status", "failed".into());
                    set("reason", "exit status: 1: boom".into());
                }
            }
            text += &(fields.join(",") + "\n");
        }
        text
    }

    fn rows(text: &str) -> Result<Vec<Row>> {
        // A folder per call: the tests run in parallel.
        static CALLS_MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = CALLS_MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d = crate::test_dir(&format!("report-syscalls-{n}"));
        let path = d.join("syscalls.csv");
        std::fs::write(&path, text).unwrap();
        let rows = read(&path);
        std::fs::remove_dir_all(&d).unwrap();
        rows
    }

    fn order() -> Vec<String> {
        ["sync", "threads", "tokio-async"]
            .map(String::from)
            .to_vec()
    }

    /// Three rounds each: sync's rounds (8.0 to 8.2) below tokio-async's (24 to 27): sync
    /// is named, with the factor over tokio-async's median; threads, whose rounds reach
    /// into sync's, shares first place in the request cell; the table is in the report's
    /// order whatever the CSV's.
    #[test]
    fn the_fewest_are_named_with_their_factor_only_outside_the_noise() {
        let mut input = Vec::new();
        for round in 1..=3 {
            let r = round as f64;
            input.push(("tokio-async", "", REQUEST, round, Some(24.0 + r), 2.0));
            input.push(("sync", "", REQUEST, round, Some(7.9 + r / 10.0), 0.0));
            input.push(("threads", "", REQUEST, round, Some(8.1 + r / 10.0), 1.0));
            input.push(("sync", "", DOWNLOAD, round, Some(8.0 + r / 10.0), 0.0));
            input.push(("tokio-async", "", DOWNLOAD, round, Some(24.0 + r), 2.0));
        }
        let md = section(&rows(&csv(&input)).unwrap(), &order());
        let download = md.split("### Per download").nth(1).unwrap();
        let download = download.split("###").next().unwrap();
        assert!(
            download.contains("Fewest calls per download: sync, 8.2 (rounds 8.1 to 8.3), below every other model's rounds; 3.2x fewer than tokio-async (26.0)."),
            "{download}"
        );
        let request = md.split("### Per served request").nth(1).unwrap();
        assert!(
            request.contains("Fewest calls per served request, within the noise of one another: sync (8.1) and threads (8.3); 3.2x fewer than tokio-async (26.0)."),
            "{request}"
        );
        let sync = request.find("| sync |").unwrap();
        let threads = request.find("| threads |").unwrap();
        let tokio = request.find("| tokio-async |").unwrap();
        assert!(sync < threads && threads < tokio, "{request}");
        assert!(
            request.contains("| tokio-async | – | 26.0 (25.0 to 27.0, 3 rounds) | – | – | – | – | 2.0 | – | 24.0 | futex 2.0 |"),
            "{request}"
        );
    }

    /// One round each is never ranked; a failed round is shown with its reason.
    #[test]
    fn one_round_is_not_ranked_and_failures_show_their_reason() {
        let input = [
            ("sync", "", DOWNLOAD, 1, Some(8.0), 0.0),
            ("tokio-async", "", DOWNLOAD, 1, Some(30.0), 0.0),
            ("threads", "", DOWNLOAD, 1, None, 0.0),
        ];
        let md = section(&rows(&csv(&input)).unwrap(), &order());
        assert!(
            md.contains("counted in one round only: no model is ranked per download"),
            "{md}"
        );
        assert!(
            md.contains("| threads |  | failed: exit status: 1: boom |"),
            "{md}"
        );
        assert!(!md.contains("Fewest"), "{md}");
    }

    /// A model on io_uring and its twin on epoll are set side by side: fewer calls only
    /// where the rounds do not overlap.
    #[test]
    fn io_uring_is_set_against_epoll_from_the_numbers() {
        let mut input = Vec::new();
        for round in 1..=3 {
            let r = round as f64;
            input.push((
                "m-uring",
                "io_uring",
                REQUEST,
                round,
                Some(2.0 + r / 10.0),
                0.0,
            ));
            input.push((
                "m-epoll",
                "epoll",
                REQUEST,
                round,
                Some(4.0 + r / 10.0),
                0.0,
            ));
            input.push(("m-uring", "io_uring", DOWNLOAD, round, Some(10.0 + r), 0.0));
            input.push(("m-epoll", "epoll", DOWNLOAD, round, Some(10.5 + r), 0.0));
        }
        let md = section(&rows(&csv(&input)).unwrap(), &order());
        assert!(
            md.contains("m-uring on io_uring 2.2 per served request against m-epoll on epoll 4.2: io_uring makes 1.9x fewer calls."),
            "{md}"
        );
        assert!(
            md.contains("m-uring on io_uring 12.0 per download against m-epoll on epoll 12.5: within the noise of the rounds, no saving."),
            "{md}"
        );
        assert!(md.contains("| m-uring | io_uring |"), "{md}");
    }

    #[test]
    fn impossible_rows_are_refused_with_file_and_line() {
        let good = csv(&[("sync", "", DOWNLOAD, 1, Some(8.0), 0.0)]);
        assert!(good.starts_with(HEADER_START));
        let bad = |text: String| format!("{:#}", rows(&text).unwrap_err());
        let e = bad(good.replace(",8,", ",NaN,"));
        assert!(
            e.ends_with("syscalls.csv:2: column total_per_unit is \"NaN\", not a number"),
            "{e}"
        );
        let e = bad(good.replace(",ok,", ",maybe,"));
        assert!(
            e.ends_with("syscalls.csv:2: status is \"maybe\", not ok or failed"),
            "{e}"
        );
        let e = bad(good.clone() + good.lines().nth(1).unwrap() + "\n");
        assert!(e.contains("a second row for sync download round 1"), "{e}");
        let e = bad(good.replace(",8,", ",,"));
        assert!(
            e.ends_with("total_per_unit is empty in a measured row"),
            "{e}"
        );
    }
}
