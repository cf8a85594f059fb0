//! Every CSV the report reads goes through the same checks: one file with one planted
//! fault at a time, each refused by `make report` with one line naming the file and the
//! line, never a section silently dropped or a NaN printed.

use crate::report::report;

const SUMMARY: &str = "model,workload,n,status,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,peak_rss_bytes,peak_pss_bytes,workers,peak_threads,speedup_vs_sync,checksum,reason
sync,io,10,ok,3,4.1,0.001,4.0,4.0,4.3,0.01,0.01,4000000,3500000,1,1,1.000,0x1,
threads,io,10,ok,3,0.45,0.001,0.41,0.41,0.5,0.01,0.01,4500000,4400000,10,11,9.756,0x1,
";

const COSTS_FIT: &str = "model,workload,cost_us,base_ms,r2,median_cost_us,median_r2,points,reason
sync,spawn,,,,,,0,\"unsupported: sync starts no tasks\"
threads,spawn,59.0,-0.4,0.996,61.1,0.999,6,
tokio-async,spawn,0.80,2.0,0.995,0.83,0.999,6,
";

const COSTS: &str = "model,workload,n,rounds,units,stage,status,runs,wall_ms,min_ms,max_ms,reason
threads,spawn,1000,,1000,fit,ok,5,45.0,40.0,50.0,
threads,spawn,2000,,2000,fit,ok,5,85.0,80.0,90.0,
";

const MIXED: &str = "model,variant,purpose,status,rate,probes,jobs,exp,block_ms,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,jobs_ms,job_ms,wall_ms,workers,reason
threads,none,bench,ok,200,600,4,100000,0,12.6,20.7,30.5,50.1,55.0,600,550,3012,604,
tokio-async,inline,bench,ok,200,600,4,100000,0,13.1,771.6,1027.6,1038.0,1040.9,1022,543,3015,2,
";

/// The error `make report` gives for a results folder with these files beside a sound
/// summary.csv, or "" when it succeeds.
fn refusal(name: &str, files: &[(&str, &str)]) -> String {
    let d = crate::test_dir(name);
    std::fs::write(d.join("summary.csv"), SUMMARY).unwrap();
    for (file, text) in files {
        std::fs::write(d.join(file), text).unwrap();
    }
    let err = report(&d, None).err().map(|e| format!("{e:#}"));
    std::fs::remove_dir_all(&d).unwrap();
    err.unwrap_or_default()
}

/// The planted file, then what the error must end with: one line, file and line first.
fn assert_refused(name: &str, file: &str, text: &str, message: &str) {
    let err = refusal(name, &[(file, text)]);
    assert!(
        err.ends_with(message),
        "{file}: {err:?}, expected {message:?}"
    );
    assert!(!err.contains('\n'), "not one line: {err:?}");
}

#[test]
fn the_sound_files_are_read() {
    let files = [
        ("costs-fit.csv", COSTS_FIT),
        ("costs.csv", COSTS),
        ("mixed.csv", MIXED),
    ];
    assert_eq!(refusal("inputs-sound", &files), "");
}

#[test]
fn a_fitted_cost_that_is_not_a_number_or_below_zero_is_refused() {
    let nan = COSTS_FIT.replace("threads,spawn,59.0,", "threads,spawn,NaN,");
    assert_refused(
        "inputs-cost-nan",
        "costs-fit.csv",
        &nan,
        "costs-fit.csv:3: cost_us is NaN, not a finite number",
    );
    let negative = COSTS_FIT.replace("tokio-async,spawn,0.80,", "tokio-async,spawn,-0.5,");
    assert_refused(
        "inputs-cost-negative",
        "costs-fit.csv",
        &negative,
        "costs-fit.csv:4: cost_us is -0.5: a measured time must be above 0",
    );
    let r2 = COSTS_FIT.replace("0.80,2.0,0.995,", "0.80,2.0,1.7,");
    assert_refused(
        "inputs-cost-r2",
        "costs-fit.csv",
        &r2,
        "costs-fit.csv:4: r2 is 1.7: r² lies between 0 and 1",
    );
    let twice = format!("{COSTS_FIT}threads,spawn,58.0,-0.4,0.996,61.1,0.999,6,\n");
    assert_refused(
        "inputs-cost-twice",
        "costs-fit.csv",
        &twice,
        "costs-fit.csv:5: a second row for threads spawn (the first is on line 3)",
    );
}

#[test]
fn a_measured_cost_cell_without_its_time_is_refused() {
    let empty = COSTS.replace("fit,ok,5,85.0,80.0,90.0,", "fit,ok,5,85.0,,90.0,");
    assert_refused(
        "inputs-cell-empty",
        "costs.csv",
        &empty,
        "costs.csv:3: min_ms is empty in a measured row",
    );
}

#[test]
fn impossible_latencies_in_mixed_are_refused() {
    let nan = MIXED.replace("12.6,20.7,30.5,", "12.6,20.7,NaN,");
    assert_refused(
        "inputs-mixed-nan",
        "mixed.csv",
        &nan,
        "mixed.csv:2: p99_ms is NaN, not a finite number",
    );
    let negative = MIXED.replace("0,13.1,771.6,", "0,-3,771.6,");
    assert_refused(
        "inputs-mixed-negative",
        "mixed.csv",
        &negative,
        "mixed.csv:3: p50_ms is -3: it cannot be negative",
    );
    let empty = MIXED.replace("1022,543,3015,2,", "1022,,3015,2,");
    assert_refused(
        "inputs-mixed-empty",
        "mixed.csv",
        &empty,
        "mixed.csv:3: job_ms is empty in a measured row",
    );
}

/// A mixed.csv of 0 bytes (a sweep killed before its first cell, a failed copy) is an
/// error naming the file, not a section left out without a word.
#[test]
fn an_empty_mixed_csv_is_an_error_not_a_missing_section() {
    let err = refusal("inputs-mixed-0", &[("mixed.csv", "")]);
    assert!(
        err.ends_with("mixed.csv: empty file, expected a header line"),
        "{err:?}"
    );
}

/// Two rows for one (model, workload) would make every lookup pick one silently.
#[test]
fn a_second_row_for_one_cell_of_summary_csv_is_refused() {
    let d = crate::test_dir("inputs-summary-twice");
    let twice = format!(
        "{SUMMARY}threads,io,10,ok,3,0.44,0.001,0.40,0.40,0.5,0.01,0.01,4500000,4400000,10,11,9.8,0x1,\n"
    );
    std::fs::write(d.join("summary.csv"), twice).unwrap();
    let err = format!("{:#}", report(&d, None).unwrap_err());
    assert!(
        err.ends_with("summary.csv:4: a second row for threads io (the first is on line 3)"),
        "{err}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

const SERVE: &str = include_str!("../../../../e2e/tests/golden/serve/serve.csv");
const KNEES: &str = include_str!("../../../../e2e/tests/golden/serve/serve-knees.csv");

/// A planted fault in serve.csv or serve-knees.csv (the other file sound): one line
/// naming the file and the line, and no REPORT.md written.
fn assert_serve_refused(name: &str, steps: &str, knees: &str, message: &str) {
    let d = crate::test_dir(name);
    std::fs::write(d.join("summary.csv"), SUMMARY).unwrap();
    std::fs::write(d.join("serve.csv"), steps).unwrap();
    std::fs::write(d.join("serve-knees.csv"), knees).unwrap();
    let err = report(&d, None).err().map(|e| format!("{e:#}"));
    let written = d.join("REPORT.md").exists();
    std::fs::remove_dir_all(&d).unwrap();
    let err = err.unwrap_or_default();
    assert!(err.ends_with(message), "{err:?}, expected {message:?}");
    assert!(!err.contains('\n'), "not one line: {err:?}");
    assert!(!written, "REPORT.md written despite {message:?}");
}

#[test]
fn the_sound_serve_files_are_read_and_absent_ones_leave_no_section() {
    let d = crate::test_dir("inputs-serve-sound");
    std::fs::write(d.join("summary.csv"), SUMMARY).unwrap();
    report(&d, None).unwrap();
    let without = std::fs::read_to_string(d.join("REPORT.md")).unwrap();
    assert!(!without.contains("Servers") && !without.contains("server claims"));
    std::fs::write(d.join("serve.csv"), SERVE).unwrap();
    std::fs::write(d.join("serve-knees.csv"), KNEES).unwrap();
    report(&d, None).unwrap();
    let with = std::fs::read_to_string(d.join("REPORT.md")).unwrap();
    std::fs::remove_dir_all(&d).unwrap();
    assert!(with.contains("## Servers: every model under open-loop load"));
    assert!(with.contains("### The server claims, measured here"));
}

#[test]
fn impossible_values_in_serve_csv_are_refused() {
    let nan = SERVE.replace(
        "sync,hello,,64,no,2,2000,2000,10,20000,20000,0,0.00000,,0.2,0.35,0.5,",
        "sync,hello,,64,no,2,2000,2000,10,20000,20000,0,0.00000,,0.2,0.35,NaN,",
    );
    assert_serve_refused(
        "inputs-serve-nan",
        &nan,
        KNEES,
        "serve.csv:3: p99_ms is NaN, not a finite number",
    );
    let negative = SERVE.replace("sync,hello,,64,no,1,1000,", "sync,hello,,64,no,1,-1000,");
    assert_serve_refused(
        "inputs-serve-negative",
        &negative,
        KNEES,
        "serve.csv:2: offered_rps is -1000: a rate must be above 0",
    );
    let second = SERVE.lines().nth(1).unwrap();
    let twice = format!("{SERVE}{second}\n");
    assert_serve_refused(
        "inputs-serve-twice",
        &twice,
        KNEES,
        "serve.csv:61: a second row for sync hello workers=– connections=64 step 1 (the first is on line 2)",
    );
    assert_serve_refused(
        "inputs-serve-empty",
        "",
        KNEES,
        "serve.csv: empty file, expected a header line",
    );
    let header_only = SERVE.lines().next().unwrap().to_string() + "\n";
    assert_serve_refused(
        "inputs-serve-rows",
        &header_only,
        KNEES,
        "serve.csv: no rows",
    );
    let order = SERVE.replace(",,0.16,0.28,0.4,0.52,0.64,", ",,0.16,0.28,0.4,0.3,0.64,");
    assert_serve_refused(
        "inputs-serve-order",
        &order,
        KNEES,
        "serve.csv:2: p999_ms is 0.3, below p99_ms 0.4",
    );
}

#[test]
fn impossible_knees_are_refused() {
    let nan = KNEES.replace("sync,hello,,64,4000,", "sync,hello,,64,NaN,");
    assert_serve_refused(
        "inputs-knees-nan",
        SERVE,
        &nan,
        "serve-knees.csv:2: knee_rps is NaN, not a finite number",
    );
    let above = KNEES.replace("sync,hello,,64,4000,8000,", "sync,hello,,64,9000,8000,");
    assert_serve_refused(
        "inputs-knees-above",
        SERVE,
        &above,
        "serve-knees.csv:2: knee_rps 9000 is not below broke_at_rps 8000",
    );
    let twice = format!("{KNEES}{}\n", KNEES.lines().nth(1).unwrap());
    assert_serve_refused(
        "inputs-knees-twice",
        SERVE,
        &twice,
        "serve-knees.csv:19: a second row for sync hello workers=– connections=64 (the first is on line 2)",
    );
    let unnamed = KNEES.replace(",12500.0,,cpu,12500.0,", ",12500.0,,,12500.0,");
    assert_serve_refused(
        "inputs-knees-bound",
        SERVE,
        &unnamed,
        "serve-knees.csv:2: bound is \"\", not little, cpu or generator",
    );
    assert_serve_refused(
        "inputs-knees-empty",
        SERVE,
        "",
        "serve-knees.csv: empty file, expected a header line",
    );
}

/// The sweep writes both files; one alone is an error naming the other.
#[test]
fn one_serve_file_without_the_other_is_refused() {
    let d = crate::test_dir("inputs-serve-alone");
    std::fs::write(d.join("summary.csv"), SUMMARY).unwrap();
    std::fs::write(d.join("serve.csv"), SERVE).unwrap();
    let err = format!("{:#}", report(&d, None).unwrap_err());
    assert!(err.contains("serve-knees.csv: missing beside"), "{err}");
    assert!(!d.join("REPORT.md").exists());
    std::fs::remove_dir_all(&d).unwrap();
}
