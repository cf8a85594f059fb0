//! The report from small fixed CSVs: what each section says, and what it refuses.

use super::runs::across_runs;
use super::*;

/// Medians differ from means in every measured row, so a speedup computed from means
/// would show: sync cpu 0.5 s median (0.52 mean), threads 0.25 (0.27): 2.00x by medians,
/// 1.93x by means. procs' cpu error spans two lines and holds a comma.
const SUMMARY: &str = "model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,peak_pss_bytes,workers,peak_threads,speedup_vs_sync,checksum,reason
sync,cpu,10,ok,5,0.52,0.01,0.5,0.49,0.6,0.5,0.01,5000000,4000000,1,1,1.000,0xab,
threads,cpu,10,ok,5,0.27,0.01,0.25,0.24,0.3,0.5,0.01,20000000,18000000,10,11,2.000,0xab,
procs,cpu,10,failed,,,,,,,,,,,,,,,\"procs: error: worker 3 failed,
badly\"
sync,io,10,ok,3,4.1,0.001,4.0,4.0,4.3,0.01,0.01,4000000,3500000,1,1,1.000,0x1,
threads,io,10,ok,3,0.45,0.001,0.41,0.41,0.5,0.01,0.01,4500000,4400000,10,11,9.756,0x1,
procs,io,10,ok,3,0.47,0.001,0.42,0.42,0.5,0.01,0.01,40000000,5000000,10,1,9.524,0x1,
tokio-async,io,10,ok,3,0.43,0.001,0.40,0.40,0.45,0.01,0.01,6000000,5800000,2,3,10.000,0x1,
";

/// As written before the models reported PSS and threads: no such columns.
const SUMMARY_OLD: &str = "model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,speedup_vs_sync,checksum,reason
sync,cpu,10,ok,5,0.52,0.01,0.5,0.49,0.6,0.5,0.01,5000000,1.000,0xab,
threads,cpu,10,ok,5,0.27,0.01,0.25,0.24,0.3,0.5,0.01,20000000,2.000,0xab,
";

const SCALE: &str = "model,workload,n,status,runs,mean_s,median_s,min_s,max_s,peak_rss_bytes,peak_pss_bytes,workers,peak_threads,listen_overflows,syn_retrans,time_wait_at_start,reason
procs,sleep,10,ok,3,1.0,1.0,1.0,1.0,30000000,4000000,10,1,0,0,0,
procs,sleep,100,ok,3,1.0,1.0,1.0,1.0,300000000,13000000,100,1,0,0,0,
threads,sleep,10,ok,3,1.0,1.0,1.0,1.0,3000000,2900000,10,11,0,0,0,
threads,sleep,100,ok,3,1.0,1.0,1.0,1.0,4000000,3900000,100,101,0,0,0,
threads,sleep,1000,skipped,,,,,,,,,,,,,\"1000 kernel tasks would exceed half of min(pid_max 1000, threads-max 9000)\"
tokio-async,sleep,10,ok,3,1.0,1.0,1.0,1.0,3000000,3000000,2,3,0,0,0,
tokio-async,sleep,100,ok,3,1.0,1.0,1.0,1.0,3050000,3050000,2,3,0,0,0,
tokio-async,sleep,1000,failed,,,,,,,,,,,,,tokio-async: error: out of memory
";

/// As written before PSS, the median and the TIME_WAIT count.
const SCALE_OLD: &str = "model,workload,n,status,runs,mean_s,min_s,max_s,peak_rss_bytes,listen_overflows,syn_retrans,reason
threads,sleep,10,ok,3,1.0,1.0,1.0,3000000,0,0,
threads,sleep,100,ok,3,1.0,1.0,1.0,4000000,0,0,
";

const FITS: &str = "model,workload,bytes_per_task,base_bytes,r2,points,fitted_on,rss_bytes_per_task
procs,sleep,100000,3000000,1.0,3,pss,3000000
threads,sleep,10240,2800000,1.0,3,pss,11000
tokio-async,sleep,500,3000000,1.0,3,pss,500
procs,io,554,23000000,0.05,4,pss,4000000
";

const SETTINGS: &str =
    "mode=full n=10 delay_ms=100 body_bytes=1024 urls=4 io_urls=fixture\ncpu=Test CPU cores=2\n";

/// A results folder with these files.
fn results(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let d = crate::test_dir(name);
    for (file, text) in files {
        std::fs::write(d.join(file), text).unwrap();
    }
    d
}

fn report_of(d: &Path) -> String {
    report(d, None).unwrap();
    std::fs::read_to_string(d.join("REPORT.md")).unwrap()
}

/// Small fixed CSVs, a failed model and a skipped cell among them: the report has the
/// tables (speedups from medians), the verdicts and valid SVG charts.
#[test]
fn report_from_fixed_csvs() {
    let d = results(
        "report-ok",
        &[
            ("summary.csv", SUMMARY),
            ("scale.csv", SCALE),
            ("scale-fit.csv", FITS),
            ("bench-settings.txt", SETTINGS),
        ],
    );
    let md = report_of(&d);
    let has = |text: &str| assert!(md.contains(text), "{text}\n---\n{md}");
    has("| threads | 0.270 ± 0.010 s | 0.250 s | 0.240 – 0.300 s | 2.00x | 100% | 17.2 MiB | 19.1 MiB |");
    has("| procs | failed: procs: error: worker 3 failed, badly | | | | | | |");
    has("Ideal time with perfect concurrency: 0.400 s.");
    has("The fastest, threads, takes 0.250 s (median), 2.00x sync's 0.500 s");
    has("| threads | threads | 0.88x | 2.00x | 3.97x | 9.76x |");
    has("- threads n=1,000: 1000 kernel tasks would exceed");
    has("### sleep: time and PSS by N");
    has("| tokio-async | 1.000 s, 2.9 MiB | 1.000 s, 2.9 MiB | failed |");
    has("| procs | 1.000 s, 3.8 MiB | 1.000 s, 12.4 MiB |");
    has("cpu=Test CPU cores=2");
    for chart in ["cpu", "io", "scale-sleep-time", "scale-sleep-memory"] {
        let svg = std::fs::read_to_string(d.join(format!("charts/{chart}.svg"))).unwrap();
        assert!(
            svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{chart}.svg"
        );
        assert_eq!(svg.matches("<svg").count(), svg.matches("</svg>").count());
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// Memory is PSS first, then peak RSS, and the report says from its own numbers why the
/// two differ for procs; the threads table and the scalability verdict come from the
/// CSVs (the verdict from the PSS fit).
#[test]
fn memory_is_pss_and_rss_with_procs_explained() {
    let d = results(
        "report-pss",
        &[
            ("summary.csv", SUMMARY),
            ("scale.csv", SCALE),
            ("scale-fit.csv", FITS),
            ("bench-settings.txt", SETTINGS),
        ],
    );
    let md = report_of(&d);
    let has = |text: &str| assert!(md.contains(text), "{text}\n---\n{md}");
    has("| procs | 0.470 ± 0.001 s | 0.420 s | 0.420 – 0.500 s | 9.52x | 95% | 4.8 MiB | 38.1 MiB |");
    has("on io (N=10: 10 worker processes and their parent), peak RSS summed 38.1 MiB against a PSS of 4.8 MiB (8.0x)");
    has("RSS counts them once per process");
    has("threads on io, peak RSS 4.3 MiB, PSS 4.2 MiB.");
    has("one more waiting procs task costs 97.7 KiB by PSS and 2.9 MiB by summed peak RSS");
    has("Peak PSS runs from 4.2 MiB (threads) to 5.5 MiB (tokio-async).");
    has("| threads | 10 | 11 | 10 | 11 |");
    has("| tokio-async | – | – | 2 | 3 |");
    has("Memory per waiting task (slope of PSS against N): procs 97.7 KiB, threads 10.0 KiB, tokio-async 500 B.");
    has("memory per waiting task (PSS slope): procs 97.7 KiB, threads 10.0 KiB, async and green 500 B | the order holds; not every bound is higher than the article's; by PSS, a waiting process costs more than a thread, and a thread more than any async task |");
    has("| procs | sleep | 97.7 KiB | 2.9 MiB | 1.000 | 3 | PSS | 2.9 MiB |");
    // A line that does not fit is no cost per task, and the report says so, naming it.
    has("| procs | io | 554 B | 21.9 MiB | 0.050 | 4 | PSS | 3.8 MiB |");
    has("Not a cost per task: procs io (r² 0.05).");
    assert!(!md.contains("Not a cost per task: procs sleep"), "{md}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// The committed results predate PSS and thread counts: they are still read, and every
/// memory figure says it is peak RSS.
#[test]
fn older_csvs_are_read_and_their_memory_is_called_peak_rss() {
    let fits_old = "model,workload,bytes_per_task,base_bytes,r2,points\nthreads,sleep,11111,2800000,1.0000,2\n";
    let d = results(
        "report-old",
        &[
            ("summary.csv", SUMMARY_OLD),
            ("scale.csv", SCALE_OLD),
            ("scale-fit.csv", fits_old),
            ("bench-settings.txt", SETTINGS),
        ],
    );
    let md = report_of(&d);
    let has = |text: &str| assert!(md.contains(text), "{text}\n---\n{md}");
    has("| threads | 0.270 ± 0.010 s | 0.250 s | 0.240 – 0.300 s | 2.00x | 100% | – | 19.1 MiB |");
    has("Peak RSS runs from 19.1 MiB (threads) to 19.1 MiB (threads).");
    has("These CSVs have no PSS for procs");
    has("These CSVs were written before the models reported their threads");
    has("### sleep: time and peak RSS by N");
    has("Memory per waiting task (slope of peak RSS against N): threads 10.9 KiB.");
    has("| threads | sleep | 10.9 KiB | 2.7 MiB | 1.000 | 2 | peak RSS | 10.9 KiB |");
    std::fs::remove_dir_all(&d).unwrap();
}

/// A baseline slowed by a busy machine makes models look faster than the ideal: the
/// report says so instead of printing the impossible speedup silently.
#[test]
fn a_disturbed_run_is_flagged() {
    let noisy = SUMMARY.replace(
        "sync,cpu,10,ok,5,0.52,0.01,0.5,",
        "sync,cpu,10,ok,5,0.6,0.08,0.6,",
    );
    let d = results("report-noisy", &[("summary.csv", &noisy)]);
    let md = report_of(&d);
    assert!(
        md.contains("standard deviation over 5% of the mean: sync (13%)"),
        "{md}"
    );
    assert!(
        md.contains("faster than the ideal, so the baseline was slowed: threads;"),
        "{md}"
    );
    std::fs::write(d.join("summary.csv"), SUMMARY).unwrap();
    assert!(!report_of(&d).contains("Some runs were disturbed"));
    std::fs::remove_dir_all(&d).unwrap();
}

/// The full runs kept under runs/ are compared: the middle speedup and the spread.
#[test]
fn runs_are_compared_from_run_to_run() {
    let d = crate::test_dir("report-runs");
    for (name, threads, speedup) in [
        ("a-full-1", "0.25", "2.000"),
        ("b-full-2", "0.2", "2.500"),
        ("c-quick-3", "0.1", "5.000"),
    ] {
        let run = d.join("runs").join(name);
        std::fs::create_dir_all(&run).unwrap();
        let csv = SUMMARY
            .replace(
                "threads,cpu,10,ok,5,0.27,0.01,0.25,",
                &format!("threads,cpu,10,ok,5,0.27,0.01,{threads},"),
            )
            .replace(",10,11,2.000,0xab,", &format!(",10,11,{speedup},0xab,"));
        std::fs::write(run.join("summary.csv"), csv).unwrap();
    }
    let md = across_runs(&d.join("runs")).unwrap();
    assert!(
        md.contains("across the 2 full runs"),
        "quick runs are left out: {md}"
    );
    assert!(
        md.contains("| threads | 2.50x (2.00x – 2.50x) | 9.76x (9.76x – 9.76x) |"),
        "{md}"
    );
    assert_eq!(across_runs(&d.join("nowhere")).unwrap(), "");
    std::fs::remove_dir_all(&d).unwrap();
}

/// summary.csv with the driver column: monoio-async fell back to epoll (io_uring was not
/// available), monoio-epoll ran on epoll as its name says. monoio-async's figures are the
/// best of every kind, so that any table, chart or claim that kept it would name it.
const SUMMARY_DRIVERS: &str = "model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,peak_pss_bytes,workers,peak_threads,driver,speedup_vs_sync,checksum,reason
sync,cpu,10,ok,5,0.52,0.01,0.5,0.49,0.6,0.5,0.01,5000000,4000000,1,1,,1.000,0xab,
threads,cpu,10,ok,5,0.27,0.01,0.25,0.24,0.3,0.5,0.01,20000000,18000000,10,11,,2.000,0xab,
monoio-async,cpu,10,ok,5,0.11,0.01,0.1,0.1,0.12,0.5,0.01,1000000,900000,2,3,epoll,5.000,0xab,
monoio-epoll,cpu,10,ok,5,0.27,0.01,0.26,0.25,0.3,0.5,0.01,2000000,1900000,2,3,epoll,1.923,0xab,
sync,io,10,ok,3,4.1,0.001,4.0,4.0,4.3,0.01,0.01,4000000,3500000,1,1,,1.000,0x1,
threads,io,10,ok,3,0.45,0.001,0.41,0.41,0.5,0.01,0.01,4500000,4400000,10,11,,9.756,0x1,
monoio-async,io,10,ok,3,0.2,0.001,0.2,0.2,0.21,0.01,0.01,1000000,900000,2,3,epoll,20.000,0x1,
monoio-epoll,io,10,ok,3,0.43,0.001,0.42,0.42,0.45,0.01,0.01,2000000,1900000,2,3,epoll,9.524,0x1,
";

/// scale.csv with the driver column, monoio-async on epoll at every N.
const SCALE_DRIVERS: &str = "model,workload,n,status,runs,mean_s,median_s,min_s,max_s,peak_rss_bytes,peak_pss_bytes,workers,peak_threads,driver,listen_overflows,syn_retrans,time_wait_at_start,reason
threads,sleep,10,ok,3,1.0,1.0,1.0,1.0,3000000,2900000,10,11,,0,0,0,
threads,sleep,100,ok,3,1.0,1.0,1.0,1.0,4000000,3900000,100,101,,0,0,0,
monoio-async,sleep,10,ok,3,1.0,1.0,1.0,1.0,1000000,1000000,2,3,epoll,0,0,0,
monoio-async,sleep,100,ok,3,1.0,1.0,1.0,1.0,1010000,1010000,2,3,epoll,0,0,0,
monoio-epoll,sleep,10,ok,3,1.0,1.0,1.0,1.0,3000000,3000000,2,3,epoll,0,0,0,
monoio-epoll,sleep,100,ok,3,1.0,1.0,1.0,1.0,3050000,3050000,2,3,epoll,0,0,0,
";

const FITS_DRIVERS: &str =
    "model,workload,bytes_per_task,base_bytes,r2,points,fitted_on,rss_bytes_per_task
threads,sleep,10240,2800000,1.0,2,pss,11000
monoio-async,sleep,111,1000000,1.0,2,pss,111
monoio-epoll,sleep,555,3000000,1.0,2,pss,555
";

/// A monoio-async row that ran on epoll (io_uring missing: monoio fell back) measured
/// monoio-epoll's driver under io_uring's name. It is left out of every table, chart and
/// claim (summary.csv's, the kept runs', scale.csv's and its fit), and each section it
/// would have been in says so once; monoio-epoll's rows on epoll stay.
#[test]
fn rows_measured_on_the_wrong_driver_are_left_out_and_named() {
    let d = results(
        "report-driver",
        &[
            ("summary.csv", SUMMARY_DRIVERS),
            ("scale.csv", SCALE_DRIVERS),
            ("scale-fit.csv", FITS_DRIVERS),
            ("bench-settings.txt", SETTINGS),
        ],
    );
    for run in ["a-full-1", "b-full-2"] {
        std::fs::create_dir_all(d.join("runs").join(run)).unwrap();
        std::fs::write(
            d.join("runs").join(run).join("summary.csv"),
            SUMMARY_DRIVERS,
        )
        .unwrap();
    }
    let md = report_of(&d);
    let note = |what: &str| super::inputs::wrong_driver_note(what, "monoio-async", "epoll");
    // Each section once: cpu, io, from run to run (two runs), the scale sweep.
    for (what, times) in [
        ("summary.csv: 1 cell of monoio-async", 2),
        ("runs/*/summary.csv: 4 cells of monoio-async", 1),
        ("scale.csv: 2 cells of monoio-async", 1),
    ] {
        assert_eq!(md.matches(&note(what)).count(), times, "{what}\n---\n{md}");
    }
    // No other line names it: no table row, no figure, no claim.
    let named: Vec<&str> = md
        .lines()
        .filter(|l| l.contains("monoio-async") && !l.contains("ran on epoll, not on io_uring"))
        .collect();
    assert!(named.is_empty(), "{named:#?}\n---\n{md}");
    assert!(md.contains("| monoio-epoll | 0.270 ± 0.010 s |"), "{md}");
    assert!(md.contains("| monoio-epoll | sleep | 555 B |"), "{md}");
    for chart in std::fs::read_dir(d.join("charts")).unwrap() {
        let path = chart.unwrap().path();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(!svg.contains("monoio-async"), "{}", path.display());
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_missing_or_malformed_csv_is_named_with_its_line() {
    let d = crate::test_dir("report-bad");
    let err = format!("{:#}", report(&d, None).unwrap_err());
    assert!(
        err.contains("summary.csv") && err.contains("cannot read"),
        "{err}"
    );
    // procs' reason spans lines 4 and 5, so sync's io row is on line 6.
    let bad = SUMMARY.replace("sync,io,10,ok,3,4.1,", "sync,io,10,ok,3,four,");
    std::fs::write(d.join("summary.csv"), bad).unwrap();
    let err = format!("{:#}", report(&d, None).unwrap_err());
    assert!(
        err.contains("summary.csv:6: column mean_s is \"four\", not a number"),
        "{err}"
    );
    std::fs::write(d.join("summary.csv"), SUMMARY).unwrap();
    std::fs::write(
        d.join("scale.csv"),
        "model,workload,n,status,mean_s,peak_rss_bytes,reason\nx,sleep,10,maybe,1,1,\n",
    )
    .unwrap();
    let err = format!("{:#}", report(&d, None).unwrap_err());
    assert!(
        err.ends_with("scale.csv:2: status \"maybe\" is not ok, skipped or failed"),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// No run takes 0 s, NaN or forever, and no memory is negative: such a number is refused
/// with its file and line instead of turning into "0.00x" or "inf%".
#[test]
fn impossible_numbers_are_refused_with_file_and_line() {
    let d = crate::test_dir("report-impossible");
    let sync_io = "sync,io,10,ok,3,4.1,0.001,4.0,4.0,4.3,0.01,0.01,4000000,3500000,";
    for (bad, message) in [
        (
            "sync,io,10,ok,3,4.1,0.001,0,4.0,4.3,0.01,0.01,4000000,3500000,",
            "summary.csv:6: median_s is 0: a measured time must be above 0",
        ),
        (
            "sync,io,10,ok,3,NaN,0.001,4.0,4.0,4.3,0.01,0.01,4000000,3500000,",
            "summary.csv:6: mean_s is NaN, not a finite number",
        ),
        (
            "sync,io,10,ok,3,4.1,0.001,4.0,-1,4.3,0.01,0.01,4000000,3500000,",
            "summary.csv:6: min_s is -1: a measured time must be above 0",
        ),
        (
            "sync,io,10,ok,3,4.1,0.001,4.0,4.0,inf,0.01,0.01,4000000,3500000,",
            "summary.csv:6: max_s is inf, not a finite number",
        ),
        (
            "sync,io,10,ok,3,4.1,0.001,4.0,4.0,4.3,0.01,0.01,-4000000,3500000,",
            "summary.csv:6: peak_rss_bytes is -4000000: it cannot be negative",
        ),
        (
            "sync,io,10,ok,3,4.1,0.001,4.0,4.0,4.3,0.01,0.01,4000000,-1,",
            "summary.csv:6: peak_pss_bytes is -1: it cannot be negative",
        ),
    ] {
        std::fs::write(d.join("summary.csv"), SUMMARY.replace(sync_io, bad)).unwrap();
        let err = format!("{:#}", report(&d, None).unwrap_err());
        assert!(err.ends_with(message), "{err}");
    }
    std::fs::write(d.join("summary.csv"), SUMMARY).unwrap();
    let scale = SCALE.replace("procs,sleep,10,ok,3,1.0,1.0,", "procs,sleep,10,ok,3,1.0,0,");
    std::fs::write(d.join("scale.csv"), scale).unwrap();
    let err = format!("{:#}", report(&d, None).unwrap_err());
    assert!(
        err.ends_with("scale.csv:2: median_s is 0: a measured time must be above 0"),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// python-summary.csv as `make bench-python` writes it: python-sync 1.32 s on cpu,
/// python-threads 1.25 s (1.06x: no faster, within the 10% noise), python-procs 0.77 s
/// (1.71x); on io python-gevent failed.
const PYTHON: &str = "model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,peak_pss_bytes,workers,peak_threads,speedup_vs_sync,checksum,reason
python-sync,cpu,10,ok,5,1.33,0.01,1.32,1.3,1.4,1.3,0.01,30000000,28000000,1,1,1.000,0xab,
python-threads,cpu,10,ok,5,1.26,0.01,1.25,1.2,1.3,1.3,0.01,31000000,29000000,10,11,1.056,0xab,
python-procs,cpu,10,ok,5,0.78,0.01,0.77,0.75,0.8,1.4,0.05,300000000,60000000,10,1,1.714,0xab,
python-sync,io,10,ok,3,4.5,0.01,4.4,4.4,4.6,0.3,0.05,25000000,23000000,1,1,1.000,0x1,
python-threads,io,10,ok,3,0.49,0.01,0.48,0.47,0.5,0.3,0.05,26000000,24000000,10,11,9.167,0x1,
python-gevent,io,10,failed,,,,,,,,,,,,,,,\"python-gevent: error: GET http://h/: connection refused\"
python-asyncio,io,10,ok,3,0.63,0.01,0.62,0.6,0.65,0.4,0.05,40000000,38000000,1,2,7.097,0x1,
python-uvloop,io,10,ok,3,0.6,0.01,0.55,0.55,0.62,0.35,0.05,42000000,40000000,1,5,8.000,0x1,
";

/// python-uvloop.csv: the claim's cell, asyncio 1.33 s against uvloop 1.09 s at N=1,000.
const UVLOOP: &str = "model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,peak_pss_bytes,workers,peak_threads,speedup_vs_sync,checksum,reason
python-asyncio,io,1000,ok,3,1.34,0.01,1.33,1.3,1.4,0.9,0.2,57000000,55000000,1,2,,0x9a,
python-uvloop,io,1000,ok,3,1.1,0.01,1.09,1.05,1.15,0.7,0.2,61000000,59000000,1,5,,0x9a,
";

const PYTHON_SETTINGS: &str = "mode=full n=10 delay_ms=100 body_bytes=1024 urls=4 io_urls=fixture\nuvloop_cell: one URL per task, 100 ms, 1024 bytes\n";

/// With python-summary.csv present, the seed section has the article's figure, Python
/// here and Rust here per model, as times and speedups over each one's own sync; the
/// pairings are the article's (green beside gevent, every async model beside asyncio,
/// rayon beside nothing, uvloop on its own row).
#[test]
fn python_rows_stand_beside_the_article_and_rust() {
    let d = results(
        "report-python",
        &[
            ("summary.csv", SUMMARY),
            ("bench-settings.txt", SETTINGS),
            ("python-summary.csv", PYTHON),
            ("python-bench-settings.txt", PYTHON_SETTINGS),
        ],
    );
    let md = report_of(&d);
    let has = |text: &str| assert!(md.contains(text), "{text}\n---\n{md}");
    has("| Rust model | article's program | Python here | cpu: article | cpu: Python here | cpu: Rust here | io: article | io: Python here | io: Rust here |");
    has("| sync | sync | python-sync | 2.18 s, 1.00x | 1.320 s, 1.00x | 0.500 s, 1.00x | 31.40 s, 1.00x | 4.400 s, 1.00x | 4.000 s, 1.00x |");
    // python-threads' runs (1.2 to 1.3 s) overlap python-sync's (1.3 to 1.4 s): a tie.
    has("| threads | threads | python-threads | 2.47 s, 0.88x | 1.250 s, 1.06x (tie) | 0.250 s, 2.00x | 7.90 s, 3.97x | 0.480 s, 9.17x | 0.410 s, 9.76x |");
    has("| procs | processes | python-procs | 1.12 s, 1.95x | 0.770 s, 1.71x | failed | 7.22 s, 4.35x | – | 0.420 s, 9.52x |");
    has("| tokio-async | asyncio | python-asyncio | 2.23 s, 0.98x | – | – | 4.37 s, 7.19x | 0.620 s, 7.10x | 0.400 s, 10.00x |");
    has("| – | asyncio on uvloop (recommended, not measured) | python-uvloop | – | – | – | – | 0.550 s, 8.00x | – |");
    // The Python claims: the GIL holds (1.06x, within 10%), processes 1.71x holds; the
    // uvloop claim was not measured in this folder.
    has("| Python threads are no faster than Python sync on cpu (the GIL) | the seed article (threads 2.47 s, sync 2.18 s) | python-threads 1.250 s (runs 1.200 to 1.300 s) against python-sync 1.320 s (runs 1.300 to 1.400 s): a tie within the noise of the runs | holds");
    has("| python-procs 1.71x python-sync's speed (0.770 s against 1.320 s) | holds |");
    has("| not measured (make bench-python writes python-uvloop.csv) | – |");
    // The charts hold both languages' bars, told apart by colour (orange for Python: one
    // bar per measured cell, gevent's failed io has none, and one legend swatch) and
    // named in the legend.
    for (chart, orange) in [("cpu", 3 + 1), ("io", 4 + 1)] {
        let svg = std::fs::read_to_string(d.join(format!("charts/{chart}.svg"))).unwrap();
        assert!(
            svg.contains("\npython-threads\n") && svg.contains("\nthreads\n"),
            "{chart}"
        );
        assert!(
            svg.contains("\nRust: our models\n")
                && svg.contains("\nPython: the article&apos;s programs (scripts/python)\n")
                && svg.contains("\nideal, Python: "),
            "{chart}"
        );
        assert_eq!(svg.matches("fill=\"#E67800\"").count(), orange, "{chart}");
    }
    has("The orange bars are the article's programs in Python");

    // Without Python rows the section is today's: speedups only, our model beside the article's.
    std::fs::remove_file(d.join("python-summary.csv")).unwrap();
    let md = report_of(&d);
    assert!(
        md.contains("| threads | threads | 0.88x | 2.00x | 3.97x | 9.76x |"),
        "{md}"
    );
    assert!(
        !md.contains("Python here") && !md.contains("The Python claims"),
        "{md}"
    );
    let svg = std::fs::read_to_string(d.join("charts/cpu.svg")).unwrap();
    assert!(!svg.contains("python-") && !svg.contains("Rust"));
    std::fs::remove_dir_all(&d).unwrap();
}

/// The verdicts follow the numbers: uvloop's claim holds at 2x or more and fails under;
/// threads more than 10% faster than sync break the GIL verdict; procs under 1.5x fail.
#[test]
fn python_claims_follow_the_numbers() {
    let d = results(
        "report-python-claims",
        &[
            ("summary.csv", SUMMARY),
            ("python-summary.csv", PYTHON),
            ("python-uvloop.csv", UVLOOP),
            ("python-bench-settings.txt", PYTHON_SETTINGS),
        ],
    );
    let md = report_of(&d);
    let has = |md: &str, text: &str| assert!(md.contains(text), "{text}\n---\n{md}");
    has(&md, "| python-threads 1.250 s (runs 1.200 to 1.300 s) against python-sync 1.320 s (runs 1.300 to 1.400 s): a tie within the noise of the runs | holds: no faster beyond the noise of the runs;");
    has(&md, "| io at N=1,000 (one URL per task, 100 ms, 1024 bytes): python-asyncio 1.330 s, python-uvloop 1.090 s: 1.22x | does not hold here: 1.22x, not 2x |");
    // Runs that overlap (uvloop's slowest, 1.35 s, above asyncio's fastest, 1.30 s): no ratio.
    let overlapping = UVLOOP.replace(",1.1,0.01,1.09,1.05,1.15,", ",1.1,0.01,1.09,1.05,1.35,");
    std::fs::write(d.join("python-uvloop.csv"), overlapping).unwrap();
    has(&report_of(&d), "python-uvloop 1.090 s (runs 1.050 to 1.350 s) against python-asyncio 1.330 s (runs 1.300 to 1.400 s): within the noise of the runs | does not hold here: no faster beyond the noise of the runs, not 2x |");
    let fast_uvloop = UVLOOP.replace(",1.1,0.01,1.09,", ",0.6,0.01,0.6,");
    std::fs::write(d.join("python-uvloop.csv"), fast_uvloop).unwrap();
    has(&report_of(&d), "python-uvloop 0.600 s: 2.22x | holds |");
    let failed = UVLOOP.replace(
        "python-uvloop,io,1000,ok,3,1.1,0.01,1.09,1.05,1.15,0.7,0.2,61000000,59000000,1,5,,0x9a,",
        "python-uvloop,io,1000,failed,,,,,,,,,,,,,,,python-uvloop: error: timed out",
    );
    std::fs::write(d.join("python-uvloop.csv"), failed).unwrap();
    has(&report_of(&d), "| failed: python-uvloop | – |");
    let changed = PYTHON
        .replace(
            "python-threads,cpu,10,ok,5,1.26,0.01,1.25,1.2,1.3,",
            "python-threads,cpu,10,ok,5,1.1,0.01,1.1,1.05,1.15,",
        )
        .replace(
            "python-procs,cpu,10,ok,5,0.78,0.01,0.77,",
            "python-procs,cpu,10,ok,5,0.9,0.01,0.9,",
        )
        // The speedups as collect would write them for these times.
        .replace(",10,11,1.056,0xab,", ",10,11,1.200,0xab,")
        .replace(",10,1,1.714,0xab,", ",10,1,1.467,0xab,");
    std::fs::write(d.join("python-summary.csv"), changed).unwrap();
    let md = report_of(&d);
    has(&md, "python-threads 1.20x python-sync's speed (python-threads 1.100 s (runs 1.050 to 1.150 s) against python-sync 1.320 s (runs 1.300 to 1.400 s)) | does not hold here: faster than sync beyond the noise of the runs |");
    has(&md, "python-procs 1.47x python-sync's speed (0.900 s against 1.320 s) | does not hold here: under 1.5x |");
    std::fs::remove_dir_all(&d).unwrap();
}

/// io's three waiting models overlap (tokio-async 0.40 s, runs 0.40 to 0.45; threads 0.41,
/// 0.41 to 0.50; procs 0.42, 0.42 to 0.50): none is called the fastest, and the answer
/// gives the figures. Moved clear of the others, tokio-async is the fastest.
#[test]
fn no_fastest_inside_the_noise_of_the_runs() {
    let d = results(
        "report-tie",
        &[("summary.csv", SUMMARY), ("bench-settings.txt", SETTINGS)],
    );
    let md = report_of(&d);
    assert!(
        md.contains("no model is faster than another beyond the noise of the runs: medians 0.400 to 0.420 s, runs 0.400 to 0.500 s."),
        "{md}"
    );
    assert!(!md.contains("the fastest is tokio-async"), "{md}");
    let clear = SUMMARY.replace(
        "tokio-async,io,10,ok,3,0.43,0.001,0.40,0.40,0.45,",
        "tokio-async,io,10,ok,3,0.31,0.001,0.30,0.30,0.31,",
    );
    std::fs::write(d.join("summary.csv"), &clear).unwrap();
    assert!(report_of(&d).contains("; the fastest is tokio-async."));
    // threads overlapping tokio-async, procs clear of both: the two share first place.
    let two = clear.replace(
        "threads,io,10,ok,3,0.45,0.001,0.41,0.41,0.5,",
        "threads,io,10,ok,3,0.31,0.001,0.305,0.302,0.32,",
    );
    std::fs::write(d.join("summary.csv"), two).unwrap();
    let md = report_of(&d);
    assert!(
        md.contains("; the fastest is a tie within the noise of the runs: tokio-async 0.300 s (runs 0.300 to 0.310 s) and threads 0.305 s (runs 0.302 to 0.320 s)."),
        "{md}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// The sweep's io cells at its largest N ran once each: they are listed in the sweep's
/// order and the sentence says they are not ranked; with three runs each they are sorted.
#[test]
fn single_run_cells_are_not_ranked() {
    let scale = |runs: u64| {
        format!(
            "model,workload,n,status,runs,mean_s,median_s,min_s,max_s,peak_rss_bytes,reason
threads,io,10000,ok,{runs},2.46,2.46,2.4,2.5,30000000,
tokio-async,io,10000,ok,{runs},0.79,0.79,0.78,0.8,3000000,
"
        )
    };
    let d = results(
        "report-one-run",
        &[("summary.csv", SUMMARY), ("scale.csv", &scale(1))],
    );
    let md = report_of(&d);
    assert!(
        md.contains("Downloads at N=10,000 (one URL each; one run each, so in the sweep's order, not ranked): threads 2.46 s, tokio-async 0.79 s;"),
        "{md}"
    );
    std::fs::write(d.join("scale.csv"), scale(3)).unwrap();
    let md = report_of(&d);
    assert!(
        md.contains("Downloads at N=10,000 (one URL each): tokio-async 0.79 s, threads 2.46 s;"),
        "{md}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// Unverified downloads are named in the io section with their count; a run that counted
/// none says every download was verified; an older CSV without the column says nothing.
#[test]
fn unverified_downloads_are_shown() {
    let csv = "model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,peak_pss_bytes,workers,peak_threads,unverified,speedup_vs_sync,checksum,reason
sync,io,10,ok,3,4.1,0.001,4.0,4.0,4.3,0.01,0.01,4000000,3500000,1,1,0,1.000,0x1,
threads,io,10,ok,3,0.41,0.001,0.4,0.4,0.42,0.01,0.01,4000000,3500000,10,11,40,10.0,0x1,
";
    let d = results("unverified", &[("summary.csv", csv)]);
    let md = report_of(&d);
    assert!(md.contains("**Unverified downloads** (no Content-Length or `x-checksum`, from a server other than the fixture server; the most in one run): threads 40."), "{md}");
    let d = results(
        "verified",
        &[("summary.csv", &csv.replace(",40,10.0,", ",0,10.0,"))],
    );
    assert!(report_of(&d)
        .contains("Every download was verified (status, length and checksum): 0 unverified."));
    let d = results("verified-old", &[("summary.csv", SUMMARY)]);
    assert!(!report_of(&d).contains("unverified"));
}
