//! The section from a fixed mixed.csv: its table, a sentence per variant, the claims' rows
//! and the chart.

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
    // offload against threads' p99: tokio's 17.3/30.5, whose tail (p90 13.7 to max 18.4)
    // lies under threads' (p90 20.7); green's tail (27.7 to 125.5) overlaps threads'
    // (20.7 to 55.0): within the noise, no ratio.
    assert!(
        line("offload").contains(
            "0.6x in 1 of 2 models, within the noise in the others, against threads' 30.5 ms"
        ),
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
        y.contains(
            "The jobs' total time: 1.00 s against inline's 1.02 s (one run each, so not ranked)"
        ),
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
        y.contains("holds in tokio-async (a yield lets waiting tasks run; the jobs' time beside inline's is one run each, not ranked), not in green"),
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

/// Where a yield did not help, each model is named with its own reason: may's sockets for
/// green, monoio's timers for monoio-async and monoio-epoll (their requests start on a
/// timer that fires only when a core's queue is empty), in the claim and in the sentence.
#[test]
fn a_yield_that_did_not_help_is_explained_per_model() {
    let monoio = "\
monoio-async,offload,bench,ok,200,600,4,100000,0,12.5,14.0,16.4,17.0,17.7,218,216,3008,2,
monoio-async,inline,bench,ok,200,600,4,100000,0,13.1,200.0,222.7,226.0,227.5,216,111,3010,2,
monoio-async,yield,bench,ok,200,600,4,100000,0,12.6,210.0,229.4,235.0,239.1,228,124,3010,2,
";
    let (s, _) = run("monoio-yield", &format!("{CSV}{monoio}"));
    let claim = &s.claims[1];
    assert!(
        claim.contains("not in green, whose scheduler reads sockets only when its queue is empty; nor in monoio-async, whose runtime fires a core's timers only when its queue is empty, and each request starts on a timer;"),
        "{claim}"
    );
    let y = s
        .markdown
        .lines()
        .find(|l| l.starts_with("- **yield**"))
        .unwrap_or_else(|| panic!("{}", s.markdown));
    assert!(
        y.contains("in green, monoio-async it did not help")
            && y.contains(
                "in monoio-async, whose runtime fires a core's timers only when its queue is empty"
            ),
        "{y}"
    );
}
