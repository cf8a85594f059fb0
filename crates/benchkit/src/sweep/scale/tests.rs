//! The scale sweep's decisions from fixed cells: the order cells run in, the prediction
//! from earlier cells, and the guard that skips a cell.

use super::*;

/// An io cell of 10,000 connections waits for a clear port table while other
/// sequences' cells run; with a clear table it runs in its turn; each sequence keeps
/// its own order.
#[test]
fn cells_of_many_connections_wait_while_other_cells_run() {
    let model = Model {
        name: "m".into(),
        kernel_task_per_task: false,
        command: None,
    };
    let (io, sleep): (&[u64], &[u64]) = (&[10, 10_000, 20_000], &[1, 2]);
    let run = |clear: bool| {
        let mut order = Order::new([("io", &model, io), ("sleep", &model, sleep)].into_iter());
        std::iter::from_fn(|| order.next(|| clear))
            .map(|(w, _, n)| format!("{w}{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(run(true), "io10 io10000 io20000 sleep1 sleep2");
    assert_eq!(run(false), "io10 sleep1 sleep2 io10000 io20000");
}

/// A measured cell whose runs all took `s` seconds, at `bytes` of peak RSS (no PSS).
fn ok(n: u64, s: f64, bytes: u64) -> Cell {
    Cell {
        n,
        peak_rss_bytes: bytes,
        ..timed(&[s, s, s])
    }
}

/// A measured cell with these run times, as the sweep summarises them.
fn timed(times: &[f64]) -> Cell {
    run::measured(times, &[])
}

fn limits() -> Limits {
    Limits {
        nofile: (1, 1),
        pid_max: 32768,
        threads_max: 192_000,
        somaxconn: 4096,
        mem_available: 1 << 30,
    }
}

fn model(name: &str, kernel_task_per_task: bool) -> Model {
    Model {
        name: name.into(),
        kernel_task_per_task,
        command: None,
    }
}

#[test]
fn prediction_follows_the_line_through_the_last_two_cells() {
    let (a, b) = (ok(10, 1.0, 1000), ok(100, 10.0, 10_000));
    let (s, bytes) = predict(&[&a, &b], 1000, 0.0).unwrap();
    assert!((s - 100.0).abs() < 1e-9 && (bytes - 100_000.0).abs() < 1e-6);
    // Flat time (async sleep) stays flat instead of growing with N.
    let (c, d) = (ok(10, 1.0, 1000), ok(100, 1.0, 2000));
    assert!((predict(&[&c, &d], 1_000_000, 0.0).unwrap().0 - 1.0).abs() < 1e-9);
    // One point: proportional to N, but for what every run takes whatever N.
    assert!((predict(&[&a], 40, 0.0).unwrap().0 - 4.0).abs() < 1e-9);
    let sleep = ok(10, 3.01, 1000);
    assert!((predict(&[&sleep], 100, 3.0).unwrap().0 - 3.1).abs() < 1e-9);
    assert!(predict(&[], 40, 0.0).is_none());
}

/// The tiny sweep's case: sleep of 200 ms tasks at n=2 and n=4 (three runs each), then
/// n=8 against a 500 ms budget. One run of n=4 stalled for 400 ms on a busy machine
/// used to push the line through the slowest runs over the budget; the median run
/// does not move, so the decision is the same with and without the stall.
#[test]
fn one_stalled_run_does_not_change_the_decision() {
    let plan = Plan::tiny();
    let tokio = model("tokio", false);
    let a = Cell {
        n: 2,
        ..timed(&[0.205, 0.206, 0.205])
    };
    let calm = Cell {
        n: 4,
        ..timed(&[0.206, 0.207, 0.206])
    };
    let stalled = Cell {
        n: 4,
        ..timed(&[0.206, 0.606, 0.206])
    };
    assert_eq!(guard(&plan, &limits(), &tokio, 8, &[&a, &calm]), None);
    assert_eq!(guard(&plan, &limits(), &tokio, 8, &[&a, &stalled]), None);
    // The slowest run would have skipped it: 0.606 + (0.606 - 0.206) / 2 x 4 s > 0.5 s.
    assert!(stalled.max_s + (stalled.max_s - a.max_s) * 2.0 > plan.budget.as_secs_f64());
    // A cell whose every run is slow is still skipped.
    let slow = Cell {
        n: 4,
        ..timed(&[0.350, 0.360, 0.355])
    };
    assert!(guard(&plan, &limits(), &tokio, 8, &[&a, &slow])
        .unwrap()
        .contains("budget"));
}

/// Memory is predicted from PSS, what the machine pays: procs' RSS, which counts the
/// shared code once per process, would stop it long before memory runs out.
#[test]
fn memory_is_predicted_from_pss_else_rss() {
    let plan = Plan::full();
    let procs = model("procs", true);
    let cell = |n, rss: u64, pss: u64| Cell {
        n,
        peak_rss_bytes: rss,
        peak_pss_bytes: pss,
        ..timed(&[0.1])
    };
    let pss = [cell(10, 30 << 20, 3 << 20), cell(100, 300 << 20, 30 << 20)];
    let pss: Vec<&Cell> = pss.iter().collect();
    assert_eq!(guard(&plan, &limits(), &procs, 1000, &pss), None);
    let rss_only = [cell(10, 30 << 20, 0), cell(100, 300 << 20, 0)];
    let rss_only: Vec<&Cell> = rss_only.iter().collect();
    assert!(guard(&plan, &limits(), &procs, 1000, &rss_only)
        .unwrap()
        .contains("available"));
}

#[test]
fn guard_skips_over_budget_over_memory_over_pid_max_and_after_a_failure() {
    let plan = Plan::full();
    let (threads, tokio) = (model("threads", true), model("tokio", false));
    let slow = [ok(10, 1.0, 1000), ok(100, 10.0, 2000)];
    let slow: Vec<&Cell> = slow.iter().collect();
    assert!(guard(&plan, &limits(), &tokio, 1000, &slow)
        .unwrap()
        .contains("budget"));
    let fat = [ok(10, 0.1, 10 << 20), ok(100, 0.1, 100 << 20)];
    let fat: Vec<&Cell> = fat.iter().collect();
    assert!(guard(&plan, &limits(), &tokio, 1000, &fat)
        .unwrap()
        .contains("available"));
    assert!(guard(&plan, &limits(), &threads, 100_000, &[])
        .unwrap()
        .contains("pid_max"));
    assert!(guard(&plan, &limits(), &tokio, 100_000, &[]).is_none());
    let failed = Cell {
        n: 10,
        status: Status::Failed,
        ..Cell::default()
    };
    assert!(guard(&plan, &limits(), &tokio, 100, &[&failed])
        .unwrap()
        .contains("failed at n=10"));
}

#[test]
fn every_workload_gets_its_command_line() {
    let plan = Plan::tiny();
    assert_eq!(
        arguments(&plan, "io", 4, "http://a/b").join(" "),
        "io --n 4 --url http://a/b"
    );
    assert_eq!(
        arguments(&plan, "sleep", 2, "").join(" "),
        "sleep --n 2 --ms 200"
    );
    assert_eq!(
        arguments(&plan, "cpu", 1, "").join(" "),
        "cpu --n 1 --exp 20000"
    );
}
