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
