//! Golden end to end: a run folder of fixed hyperfine JSON and summary lines
//! (tests/golden/run/, as scripts/bench.sh writes it: three models, two interleaved rounds
//! of one run each, a failed cell) goes through `benchkit collect`, and the CSVs hold the
//! figures worked out by hand here, by value.
//!
//! The rounds are chosen so that a burst in one round moves the answer: the speedup over
//! sync is the median of the per-round ratios, which differs from the ratio of the medians
//! in every cell below. Extend it by running more of benchkit (`report`) on [`collected`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A copy of tests/golden/run in a fresh temporary folder, after `benchkit collect`.
fn collected(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("golden-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/run");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(&fixture)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(copied.success());
    let out = Command::new(e2e::bin("benchkit"))
        .arg("collect")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "benchkit collect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// One CSV line's fields (quoted fields with commas and doubled quotes allowed).
fn fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// A CSV's rows as column -> value, keyed by "model workload".
fn rows(path: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = fields(lines.next().unwrap());
    lines
        .map(|line| {
            let row: BTreeMap<String, String> = header.iter().cloned().zip(fields(line)).collect();
            (format!("{} {}", row["model"], row["workload"]), row)
        })
        .collect()
}

/// Each (column, value) of `expected` is in the row, the numbers within 1e-6.
fn check(rows: &BTreeMap<String, BTreeMap<String, String>>, key: &str, expected: &[(&str, &str)]) {
    let row = rows
        .get(key)
        .unwrap_or_else(|| panic!("no row {key}: {rows:?}"));
    for (column, want) in expected {
        let got = row
            .get(*column)
            .unwrap_or_else(|| panic!("{key}: no column {column}"));
        let same = match (got.parse::<f64>(), want.parse::<f64>()) {
            (Ok(g), Ok(w)) => (g - w).abs() < 1e-6,
            _ => got == want,
        };
        assert!(same, "{key} {column}: {got}, expected {want}");
    }
}

#[test]
fn fixed_rounds_collect_into_the_expected_figures() {
    let dir = collected("collect");
    let cpu = rows(&dir.join("cpu.csv"));
    let io = rows(&dir.join("io.csv"));
    let summary = rows(&dir.join("summary.csv"));
    assert_eq!(
        summary.keys().collect::<Vec<_>>(),
        [
            "sync cpu",
            "sync io",
            "threads cpu",
            "threads io",
            "tokio-async cpu",
            "tokio-async io"
        ]
    );
    assert_eq!((cpu.len(), io.len()), (3, 3));
    let text = std::fs::read_to_string(dir.join("cpu.csv")).unwrap();
    assert!(
        text.lines().nth(1).unwrap().starts_with("sync,"),
        "sync first:\n{text}"
    );

    // cpu. sync: 1.00 s in round 1, 1.40 s in round 2.
    check(
        &cpu,
        "sync cpu",
        &[
            ("n", "10"),
            ("status", "ok"),
            ("runs", "2"),
            ("rounds", "2"),
            ("mean_s", "1.2"),
            ("stddev_s", "0.282843"), // sqrt(0.08 / 1): the sample standard deviation
            ("median_s", "1.2"),
            ("min_s", "1.0"),
            ("max_s", "1.4"),
            ("user_s", "1.0"),             // (0.95 + 1.05) / 2
            ("system_s", "0.02"),          // (0.01 + 0.03) / 2
            ("peak_rss_bytes", "5100000"), // the largest line, the warm-up's included
            ("peak_pss_bytes", "4100000"),
            ("workers", "1"),
            ("peak_threads", "2"),
            ("driver", ""), // sync names no I/O driver
            ("speedup_vs_sync", "1.000"),
            ("checksum", "0x7bab6ec681be57e"),
            ("reason", ""),
        ],
    );
    // threads: 0.50 s, then 1.00 s. Per round 1.00 / 0.50 = 2.0 and 1.40 / 1.00 = 1.4:
    // the median 1.7, where the ratio of the medians gives 1.20 / 0.75 = 1.6.
    check(
        &cpu,
        "threads cpu",
        &[
            ("mean_s", "0.75"),
            ("stddev_s", "0.353553"),
            ("median_s", "0.75"),
            ("min_s", "0.5"),
            ("max_s", "1.0"),
            ("user_s", "0.98"),
            ("system_s", "0.03"),
            ("peak_rss_bytes", "7900000"), // round 2's
            ("workers", "10"),
            ("peak_threads", "11"),
            ("speedup_vs_sync", "1.700"),
        ],
    );
    // tokio-async: 0.40 s, then 0.50 s: 2.5 and 2.8 give 2.65 (1.20 / 0.45 = 2.667).
    check(
        &cpu,
        "tokio-async cpu",
        &[
            ("mean_s", "0.45"),
            ("stddev_s", "0.070711"),
            ("median_s", "0.45"),
            ("min_s", "0.4"),
            ("max_s", "0.5"),
            ("speedup_vs_sync", "2.650"),
        ],
    );

    // io. sync: 0.410 s and 0.430 s; threads: 0.105 s, then 0.215 s in a burst. Per round
    // 3.905 and 2.000 give 2.952, the ratio of the medians 0.42 / 0.16 = 2.625.
    check(
        &io,
        "sync io",
        &[
            ("median_s", "0.42"),
            ("stddev_s", "0.014142"),
            ("speedup_vs_sync", "1.000"),
            ("checksum", "0x88cf97fbb636a474"),
        ],
    );
    check(
        &io,
        "threads io",
        &[
            ("runs", "2"),
            ("rounds", "2"),
            ("mean_s", "0.16"),
            ("stddev_s", "0.077782"),
            ("median_s", "0.16"),
            ("min_s", "0.105"),
            ("max_s", "0.215"),
            ("user_s", "0.006"),
            ("system_s", "0.004"),
            ("peak_rss_bytes", "4600000"),
            ("speedup_vs_sync", "2.952"),
        ],
    );
    // tokio-async failed on io: its row keeps failed.tsv's reason, and no figure.
    check(
        &io,
        "tokio-async io",
        &[
            ("status", "failed"),
            ("runs", ""),
            ("median_s", ""),
            ("speedup_vs_sync", ""),
            (
                "reason",
                "tokio-async: error: GET http://127.0.0.1:9/delay/100/bytes/51200: connection refused",
            ),
        ],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same run folder on through `benchkit report`: REPORT.md shows the speedups as the
/// CSV has them (medians of per-round ratios, not the ratio of the medians: 1.60x and
/// 2.67x on cpu, 2.62x on io), ranks nothing inside the noise, names the run behind each
/// section, and names the failed cell.
#[test]
fn fixed_rounds_report_the_expected_figures() {
    let dir = collected("report");
    let out = Command::new(e2e::bin("benchkit"))
        .arg("report")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "benchkit report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.join("REPORT.md")).unwrap();
    for expected in [
        // The cpu table: median, min – max, speedup (the median of 2.0 and 1.4; 2.5 and 2.8).
        "| threads | 0.750 ± 0.354 s | 0.750 s | 0.500 – 1.000 s | 1.70x |",
        "| tokio-async | 0.450 ± 0.071 s | 0.450 s | 0.400 – 0.500 s | 2.65x |",
        // io: the median of 3.905 and 2.000.
        "| threads | 0.160 ± 0.078 s | 0.160 s | 0.105 – 0.215 s | 2.95x |",
        // threads' runs (0.5 to 1.0 s) and tokio-async's (0.4 to 0.5 s) touch: no fastest.
        "no model is faster than another beyond the noise of the runs: medians 0.450 to 0.750 s, runs 0.400 to 1.000 s; 1.70x to 2.65x sync's 1.200 s",
        "_Measured by `make bench` on 2026-11-28T12:00:00Z, commit 0000000, on Golden CPU Model, 2 cores, 6.1.0-golden (bench-settings.txt)._",
        "Failed: tokio-async.",
        "_Chart: drawn from summary.csv, columns mean_s (bar), min_s and max_s (whiskers)._",
    ] {
        assert!(md.contains(expected), "REPORT.md lacks {expected:?}:\n{md}");
    }
    for ratio_of_medians in ["1.60x", "2.67x", "2.62x"] {
        assert!(
            !md.contains(ratio_of_medians),
            "{ratio_of_medians} in:\n{md}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The golden run with the golden serve files beside it (tests/golden/serve/, as `make
/// bench-serve` writes them): `benchkit report` adds the "Servers" section, a chart per
/// scenario and the server claims, every figure from the fixture's rows.
#[test]
fn the_serve_files_render_the_servers_section() {
    let dir = collected("serve");
    let serve = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/serve");
    for file in ["serve.csv", "serve-knees.csv", "serve-settings.txt"] {
        std::fs::copy(serve.join(file), dir.join(file)).unwrap();
    }
    let out = Command::new(e2e::bin("benchkit"))
        .arg("report")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "benchkit report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.join("REPORT.md")).unwrap();
    for expected in [
        "## Servers: every model under open-loop load\n\n_Measured by `make bench-serve` on 2026-11-28T13:00:00Z, commit 0000000, on Golden CPU Model, 2 cores, 6.1.0-golden (serve-settings.txt)._",
        "**The generator's ceiling: 20,000 req/s**",
        // procs at K=8: knee 128, broke at 160 = 8 / 50 ms, the Little's-law bound.
        "| procs | 8 | 128 req/s | 160 req/s | p99 over budget | 1 | Little's law: concurrency / service time (CPU: 6,667 req/s) | 160 req/s | 0.80x |",
        "| tokio-async | – | 16,000 req/s | 32,000 req/s | p99 over budget | 1 | the generator, saturated at the knee or busy at the break | 20,000 req/s | 0.80x |",
        "| threads | 0.70 ms | 1.5 ms | skipped | 16.6 KiB (at 1,000) |",
        "- threads at 10,000: 10000 threads would exceed half of threads-max 9000",
        "| aiohttp was 26x faster than Flask | the seed article | hello: python-asyncio 2,000 req/s against python-sync 400 req/s: 5.0x (2.5x to 10.0x by the steps); backend: python-asyncio 640 req/s against python-sync 16.0 req/s: 40.0x (32.0x to 50.0x by the steps) | holds in backend; under 26x in hello |",
        "`make bench-serve` (serve-settings.txt):",
    ] {
        assert!(md.contains(expected), "REPORT.md lacks {expected:?}:\n{md}");
    }
    assert!(!md.contains("Warning"), "one machine, a clean tree: {md}");
    for scenario in ["hello", "work", "backend", "connections"] {
        let svg =
            std::fs::read_to_string(dir.join(format!("charts/serve-{scenario}.svg"))).unwrap();
        assert!(svg.trim_end().ends_with("</svg>"), "serve-{scenario}.svg");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
