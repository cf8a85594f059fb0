//! The costs sweep's decisions (when a probe stops, how many runs a size gets, which
//! sizes are fitted) and its fits, from fixed cells.

use super::*;

fn ok(model: &str, workload: &str, units: u64, ms: f64) -> Cell {
    Cell {
        model: model.into(),
        workload: workload.into(),
        n: units,
        units,
        stage: "fit".into(),
        status: "ok".into(),
        runs: Some(3),
        wall_ms: Some(ms),
        min_ms: Some(ms),
        max_ms: Some(ms),
        ..Cell::default()
    }
}

/// A straight line through three fitted sizes gives back its slope in µs and its base
/// in ms (probes are not fitted); a model that exited 2 keeps its reason; too few
/// sizes say so.
#[test]
fn fits_recover_the_line_or_say_why_not() {
    let mut unsupported = ok("sync", "switch", 400, 0.0);
    unsupported.status = "unsupported".into();
    unsupported.reason = "sync: cannot run switch: no other task".into();
    unsupported.wall_ms = None;
    let mut probe = ok("threads", "spawn", 16, 1000.0);
    probe.stage = "probe".into();
    let cells = vec![
        probe,
        ok("threads", "spawn", 1000, 25.0),
        ok("threads", "spawn", 2000, 45.0),
        ok("threads", "spawn", 4000, 85.0),
        unsupported,
        ok("rayon", "spawn", 16, 1.0),
    ];
    let fits = fits(&cells);
    assert_eq!(fits.len(), 3);
    let threads = &fits[0];
    assert!(
        (threads.cost_us.unwrap() - 20.0).abs() < 1e-9,
        "{threads:?}"
    );
    assert!((threads.base_ms.unwrap() - 5.0).abs() < 1e-9, "{threads:?}");
    assert!((threads.r2.unwrap() - 1.0).abs() < 1e-12);
    assert_eq!((threads.points, threads.reason.as_str()), (3, ""));
    assert_eq!(fits[1].cost_us, None);
    assert_eq!(
        fits[1].reason,
        "unsupported: sync: cannot run switch: no other task"
    );
    assert_eq!(fits[2].reason, "1 sizes fitted, 3 needed");
}

/// The probe stops once the time has grown by the plan's growth and by twice the
/// first cell, at a failure, or at a limit; not before.
#[test]
fn the_probe_stops_at_growth_failure_or_limit() {
    let plan = Plan::full();
    let limits = KernelLimits {
        pid_max: 32768,
        threads_max: 192_000,
    };
    let (tokio, threads) = (
        Model {
            name: "tokio-async".into(),
            kernel_task_per_task: false,
            command: None,
        },
        Model {
            name: "threads".into(),
            kernel_task_per_task: true,
            command: None,
        },
    );
    let probe = |model: &str, ms: &[f64]| -> Vec<Cell> {
        ms.iter()
            .enumerate()
            .map(|(i, &ms)| ok(model, "spawn", 16 << i, ms))
            .collect()
    };
    let grown = probe("tokio-async", &[1.0, 5.0, 100.0, 300.0]);
    let refs: Vec<&Cell> = grown.iter().collect();
    assert!(probe_done(&plan, &limits, &tokio, &refs, 256)
        .unwrap()
        .contains("grew 299 ms over 4 cells"));
    assert_eq!(probe_done(&plan, &limits, &tokio, &refs[..3], 128), None);
    // 300 ms of growth over a first cell of 200 ms is not yet twice that cell.
    let slow_start = probe("procs", &[200.0, 300.0, 500.0]);
    let refs: Vec<&Cell> = slow_start.iter().collect();
    assert_eq!(probe_done(&plan, &limits, &threads, &refs, 128), None);
    // Not grown enough: go on, unless the next cell is over a limit.
    let flat = probe("threads", &[1.0; 6]);
    let flat: Vec<&Cell> = flat.iter().collect();
    assert_eq!(probe_done(&plan, &limits, &threads, &flat, 8192), None);
    assert!(probe_done(&plan, &limits, &threads, &flat, 16384)
        .unwrap()
        .contains("limit of 8192"));
    assert!(probe_done(&plan, &limits, &tokio, &flat, 2_000_000).is_some());
    let mut switch = ok("tokio-async", "switch", 100, 1.0);
    switch.workload = "switch".into();
    assert!(probe_done(&plan, &limits, &tokio, &[&switch], 200_000_000).is_some());
    assert_eq!(
        probe_done(&plan, &limits, &tokio, &[&switch], 1_000_000),
        None
    );
    let mut failed = ok("green", "spawn", 32768, 0.0);
    failed.status = "failed".into();
    assert_eq!(
        probe_done(&plan, &limits, &tokio, &[&grown[0], &failed], 65536).as_deref(),
        Some("failed")
    );
}

#[test]
fn a_probe_cut_short_by_a_limit_gets_more_runs_per_size() {
    let plan = Plan::full();
    // Grown 250 ms or more: the plan's runs.
    assert_eq!(fit_runs(&plan, 6.0, 300.0), 5);
    // Green's spawn, stopped by vm.max_map_count after 36 ms: 4 times as many.
    assert_eq!(fit_runs(&plan, 7.5, 36.0), 20);
    // Half the growth: twice as many; a first cell of 200 ms needs 400 ms of growth.
    assert_eq!(fit_runs(&plan, 6.0, 125.0), 10);
    assert_eq!(fit_runs(&plan, 200.0, 250.0), 10);
    // No growth at all: the most.
    assert_eq!(fit_runs(&plan, 7.0, -1.0), 20);
}

#[test]
fn fitted_sizes_are_evenly_spaced_up_to_the_scale() {
    let spawn = fit_sizes(
        Size {
            n: 600,
            rounds: None,
        },
        6,
    );
    let ns: Vec<u64> = spawn.iter().map(|s| s.n).collect();
    assert_eq!(ns, [100, 200, 300, 400, 500, 600]);
    let switch = fit_sizes(
        Size {
            n: 100,
            rounds: Some(4),
        },
        6,
    );
    let rounds: Vec<u64> = switch.iter().filter_map(|s| s.rounds).collect();
    assert_eq!(rounds, [1, 2, 3, 4], "no size twice");
    assert!(switch.iter().all(|s| s.n == 100));
}

#[test]
fn csv_round_trips_with_empty_optional_fields() {
    let dir = crate::test_dir("costs-csv");
    let mut cell = ok("threads", "switch", 400, 2.5);
    cell.rounds = Some(4);
    cell.n = 100;
    let unsupported = Cell {
        model: "sync".into(),
        workload: "switch".into(),
        stage: "probe".into(),
        status: "unsupported".into(),
        reason: "sync: cannot run switch: a, \"quoted\" reason".into(),
        ..Cell::default()
    };
    let rows = vec![cell, unsupported];
    table::write(&dir.join("costs.csv"), &rows).unwrap();
    let text = std::fs::read_to_string(dir.join("costs.csv")).unwrap();
    assert!(text.starts_with(
        "model,workload,n,rounds,units,stage,status,runs,wall_ms,min_ms,max_ms,reason\n"
    ));
    let back: Vec<Cell> = csv::Reader::from_path(dir.join("costs.csv"))
        .unwrap()
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back, rows);
}

#[test]
fn median_of_odd_and_even_counts() {
    assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
    assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
}
