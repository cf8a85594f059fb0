//! The section and the claims' rows from small fixed CSVs, read as `make report` reads
//! them.

use super::*;

const COSTS_FIT: &str = "\
model,workload,cost_us,base_ms,r2,points,median_cost_us,median_r2,reason
sync,spawn,,,,0,,,\"unsupported: sync: cannot run spawn: sync starts no tasks\"
procs,spawn,1915.0,11.0,0.976,6,2593.4,0.985,
threads,spawn,39.4,29.9,0.972,6,43.2,0.95,
tokio-async,spawn,1.04,-5.7,0.961,6,1.16,0.998,
smol-async,spawn,0.74,-11.7,0.998,6,0.81,0.997,
sync,switch,,,,0,,,\"unsupported: sync: cannot run switch: one thread, no other task\"
procs,switch,4.53,261.8,0.986,6,5.5,0.975,
threads,switch,3.10,-24.9,0.998,6,4.06,0.983,
tokio-async,switch,0.147,38.4,0.994,6,0.153,0.876,
smol-async,switch,0.433,-4.7,0.8,6,0.457,0.998,
";

const COSTS: &str = "\
model,workload,n,rounds,units,stage,status,runs,wall_ms,min_ms,max_ms,reason
threads,spawn,16,,16,probe,ok,1,1.0,1.0,1.0,
threads,spawn,1000,,1000,fit,ok,5,45.0,40.0,50.0,
threads,spawn,2000,,2000,fit,ok,5,85.0,80.0,90.0,
threads,switch,100,10,1000,fit,ok,5,4.0,3.5,5.0,
threads,switch,100,20,2000,fit,ok,5,7.0,6.5,8.0,
";

const SCALE_FIT: &str = "\
model,workload,bytes_per_task,base_bytes,r2,points
threads,sleep,9830,1000000,0.99,4
tokio-async,sleep,504,3700000,1.0,6
threads,io,50000,1000000,0.99,4
";

const IO: &str = "\
model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,speedup_vs_sync,checksum,reason
sync,io,10,ok,3,4.07,0.004,4.07,4.06,4.08,0.012,0.004,4075520,1.000,0x5,
threads,io,10,ok,3,0.42,0.001,0.420,0.41,0.43,0.016,0.008,5496832,9.7,0x5,
tokio-async,io,10,ok,3,0.41,0.001,0.412,0.41,0.42,0.020,0.012,5496832,9.9,0x5,
smol-async,io,10,ok,3,0.41,0.001,0.413,0.41,0.42,0.008,0.004,5496832,9.9,0x5,
";

/// scale.csv as the lead's version will write it, with CPU columns.
const SCALE: &str = "\
model,workload,n,status,runs,mean_s,min_s,max_s,peak_rss_bytes,listen_overflows,syn_retrans,time_wait_at_start,user_s,system_s,reason
threads,io,1000,ok,3,0.30,0.29,0.31,1,0,0,0,0.10,0.16,
threads,io,10000,ok,3,2.34,2.34,2.34,1,0,0,0,0.6,2.0,
tokio-async,io,10000,ok,3,1.04,1.04,1.04,1,0,0,0,0.4,0.6,
smol-async,io,10000,ok,3,1.36,1.36,1.36,1,0,0,0,0.3,0.4,
smol-async,sleep,10000,ok,1,1.0,1.0,1.0,1,0,0,0,0.1,0.1,
";

fn results(files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = crate::test_dir(&format!("report-costs-{}", files.len()));
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::create_dir_all(dir.join("charts")).unwrap();
    dir
}

/// The section and rows of a results folder, read as `make report` reads it.
fn read_report(dir: &std::path::Path) -> Result<CostsReport> {
    let inputs = super::super::Inputs::read(dir)?;
    costs_report(&Sources::of(&inputs), &dir.join("charts"))
}

/// A summary.csv without io cells.
const CPU_ONLY: &str = "\
model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,speedup_vs_sync,checksum,reason
sync,cpu,10,ok,3,1.0,0.01,1.0,0.99,1.01,1.0,0.0,4075520,1.000,0x5,
";

/// Every figure of the table and of the three claims comes from the fixed CSVs, with
/// the verdicts they imply; the charts are written.
#[test]
fn section_and_claims_from_fixed_csvs() {
    let dir = results(&[
        ("costs-fit.csv", COSTS_FIT),
        ("costs.csv", COSTS),
        ("scale-fit.csv", SCALE_FIT),
        ("summary.csv", IO),
        ("scale.csv", SCALE),
        (
            "bench-settings.txt",
            "mode=full n=10 cpu_runs=5 io_runs=3 warmup=1 delay_ms=100 body_bytes=51200 urls=4 io_urls=fixture\nhyperfine=1.20\n",
        ),
    ]);
    let report = read_report(&dir).unwrap();
    let md = &report.section;
    assert!(md.starts_with("## What one task costs\n"), "{md}");
    assert!(
        md.contains("| CPU µs per download, make bench (N x 4 URLs) |"),
        "{md}"
    );
    // threads: 39.4 µs spawn, 3.1 µs switch; (0.016 + 0.008) s over 40 downloads is
    // 600 µs; at N=10,000 of the sweep, 2.6 s over 10,000 is 260 µs; 9.6 KiB waiting.
    assert!(
        md.contains("| threads | 39 µs (r² 0.97) | 3.1 µs (r² 1.00) | 600 µs | 260 µs (N=10,000) | 9.6 KiB |"),
        "{md}"
    );
    assert!(
        md.contains("| smol-async | 0.74 µs (r² 1.00) | 0.43 µs (r² 0.80, under 0.9) |"),
        "{md}"
    );
    assert!(md.contains("| tokio-async | 1.0 µs (r² 0.96) | 0.15 µs (r² 0.99) | 800 µs | 100 µs (N=10,000) | 504 B |"), "{md}");
    // sync first, with its reasons listed; scale.csv's sleep cell is not an io cell.
    assert!(md.find("| sync |").unwrap() < md.find("| procs |").unwrap());
    assert!(
        md.contains("- sync spawn: unsupported: sync: cannot run spawn: sync starts no tasks"),
        "{md}"
    );
    assert!(md.contains("jimblandy/context-switch") && md.contains("Machines differ"));
    assert!(md.contains("![spawn: time against N tasks](charts/costs-spawn.svg)"));
    for chart in ["costs-spawn.svg", "costs-switch.svg"] {
        let svg = std::fs::read_to_string(dir.join("charts").join(chart)).unwrap();
        assert!(svg.contains("<svg") && svg.contains("threads"), "{chart}");
    }

    let rows: Vec<&str> = report.claims_rows.lines().collect();
    assert_eq!(rows.len(), 3, "{}", report.claims_rows);
    assert!(
        rows.iter()
            .all(|r| r.starts_with("| ") && r.matches(" | ").count() == 3),
        "{rows:?}"
    );
    // 1,915 / 39.4 = 49x a thread; / 1.04 (slowest async) = 1,841x.
    assert!(
        rows[0].contains("procs 1,915 µs, threads 39 µs, async tasks 0.74 µs to 1.0 µs"),
        "{}",
        rows[0]
    );
    assert!(
        rows[0].contains("holds: a process costs 49x a thread and 1,841x or more an async task; still, at 1.9 ms per process"),
        "{}",
        rows[0]
    );
    // 3.1 µs: 16x less than 50 µs; 1,000 switches 3.1 ms; 21x to 7x an async switch.
    assert!(rows[1].contains("does not hold here: 3.1 µs per switch, 16x less than 50 µs, so 1,000 threads switching once each cost 3.1 ms, not 50 ms"), "{}", rows[1]);
    assert!(
        rows[1].contains("the order holds: a thread switch costs 7.2x to 21x an async task's"),
        "{}",
        rows[1]
    );
    assert!(rows[1].contains("1.7 µs between threads"), "{}", rows[1]);
    // io at N=10,000: threads 2.34 s against 1.04-1.36 s; CPU 260 against 100-70 µs.
    assert!(
        rows[2].contains("io (make bench, median): threads 0.420 s, async 0.412 to 0.413 s"),
        "{}",
        rows[2]
    );
    assert!(
        rows[2].contains("io at N=10,000 (scale sweep): threads 2.34 s, async 1.04 to 1.36 s"),
        "{}",
        rows[2]
    );
    assert!(
        rows[2].contains("CPU per download: threads 260 µs, async 70 µs to 100 µs"),
        "{}",
        rows[2]
    );
    assert!(
        rows[2].contains(
            "does not hold at scale: at N=10,000 threads take 1.7x the slowest async model's time"
        ),
        "{}",
        rows[2]
    );
    // One run each at N=10,000: not ranked there; no smaller N has async cells to rank by.
    std::fs::write(
        dir.join("scale.csv"),
        SCALE.replace("10000,ok,3,", "10000,ok,1,"),
    )
    .unwrap();
    let rows = read_report(&dir).unwrap().claims_rows;
    assert!(
        rows.lines()
            .nth(2)
            .unwrap()
            .ends_with("| at N=10,000 one run each, not ranked |"),
        "{rows}"
    );
}

/// Nothing measured yet: the section says so and the claims say what to run; with
/// make bench only, the third claim is judged at its N.
#[test]
fn missing_inputs_say_what_to_run() {
    let dir = results(&[("summary.csv", CPU_ONLY)]);
    let report = read_report(&dir).unwrap();
    assert!(report
        .section
        .contains("not measured yet (`make bench-scale`"));
    assert_eq!(
        report.claims_rows.matches("not measured yet").count(),
        4,
        "{}",
        report.claims_rows
    );
    assert!(!dir.join("charts/costs-spawn.svg").exists());

    let dir = results(&[("summary.csv", IO), ("bench-settings.txt", "urls=4\n")]);
    let report = read_report(&dir).unwrap();
    assert!(
        report
            .claims_rows
            .contains("a tie at this N within the noise of the runs, threads 0.420 s (runs 0.410 to 0.430 s) against tokio-async 0.412 s (runs 0.410 to 0.420 s): both wait on the server"),
        "{}",
        report.claims_rows
    );
    assert!(
        report
            .section
            .contains("| threads | – | – | 600 µs | – | – |"),
        "{}",
        report.section
    );
}

#[test]
fn a_malformed_csv_is_named_with_its_line() {
    let dir = results(&[
        ("summary.csv", CPU_ONLY),
        (
            "costs-fit.csv",
            "model,workload,cost_us,r2,points,reason\nthreads,spawn,fast,0.9,6,\n",
        ),
    ]);
    let err = format!("{:#}", read_report(&dir).err().unwrap());
    assert!(
        err.ends_with("costs-fit.csv:2: column cost_us is \"fast\", not a number"),
        "{err}"
    );
}

#[test]
fn urls_come_from_the_settings_line() {
    assert_eq!(
        bench_urls("mode=full n=10 urls=4 io_urls=fixture\n"),
        Some(4)
    );
    assert_eq!(
        bench_urls("mode=full urls=4 io_urls=https://a/ https://b/\n"),
        Some(2)
    );
    assert_eq!(bench_urls(""), None);
    assert_eq!(cpu_us_per_download(0.03, 40), Some(750.0));
    assert_eq!(cpu_us_per_download(0.03, 0), None);
}
