//! spawn and switch in every model binary, and the sweep that fits their costs: every
//! task started and joined, the token round the ring exactly R times through every place
//! in order, sync's refusal one line with exit 2, and CPU time counted for every process.

use e2e::{models, run};
use std::process::Command;
use workload::costs::{pass, TOKEN_START};

/// The token after `rounds` times round a ring of `n`, worked out here one hand-off at a
/// time from the mark's definition: place 0, 1, ... n-1, then place 0 again.
fn token_after(n: u64, rounds: u64) -> u64 {
    let mut token = TOKEN_START;
    for _ in 0..rounds {
        for place in 0..n {
            token = pass(token, place);
        }
    }
    token
}

/// Five tasks that do nothing: five reported, and for procs five worker processes.
#[test]
fn spawn_starts_and_joins_every_task() {
    for model in models() {
        let r = run(&model, &["spawn", "--n", "5"]);
        if model == "sync" {
            continue; // see sync_says_why_it_cannot_and_exits_2
        }
        let s = r.summary();
        assert_eq!(
            (
                s.model.as_str(),
                s.workload.as_str(),
                s.n,
                s.tasks,
                s.checksum.as_str()
            ),
            (model.as_str(), "spawn", 5, 5, "0x0")
        );
        if model == "procs" {
            assert_eq!(s.processes, 6, "procs starts one worker per task");
        }
    }
}

/// Rings of 3 places 4 times round, of 1 place (a task handing itself the token), and of
/// 5 places twice: N x R hand-offs, and the checksum of exactly that path. A round too
/// many or too few, or a place skipped, would give another checksum.
#[test]
fn the_token_goes_round_exactly_r_times() {
    for (n, rounds) in [(3u64, 4u64), (1, 3), (5, 2)] {
        let want = token_after(n, rounds);
        for (n2, r2) in [(n, rounds + 1), (n, rounds - 1), (n + 1, rounds)] {
            assert_ne!(
                token_after(n2, r2),
                want,
                "the checksum tells {n2}x{r2} apart"
            );
        }
        for model in models().into_iter().filter(|m| m != "sync") {
            let s = run(
                &model,
                &[
                    "switch",
                    "--n",
                    &n.to_string(),
                    "--rounds",
                    &rounds.to_string(),
                ],
            )
            .summary();
            assert_eq!(
                (s.workload.as_str(), s.n, s.tasks),
                ("switch", n, n * rounds),
                "{model} n={n} rounds={rounds}"
            );
            assert_eq!(
                s.checksum,
                format!("{want:#x}"),
                "{model} n={n} rounds={rounds}"
            );
            if model == "procs" {
                assert_eq!(s.processes, 1 + n, "procs: one worker per place");
            }
        }
    }
}

/// sync cannot run either: one line naming the workload and why, exit 2, no summary.
#[test]
fn sync_says_why_it_cannot_and_exits_2() {
    for args in [
        &["spawn", "--n", "3"][..],
        &["switch", "--n", "3", "--rounds", "2"],
    ] {
        let r = run("sync", args);
        let stderr = r.stderr();
        assert_eq!(r.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
        assert!(
            stderr.starts_with(&format!("sync: cannot run {}: ", args[0])),
            "{stderr:?}"
        );
        assert!(r.output.stdout.is_empty());
    }
}

/// Bad sizes never reach a model: exit 2 and one line.
#[test]
fn bad_spawn_and_switch_arguments_exit_2() {
    let cases: [&[&str]; 5] = [
        &["spawn", "--n", "0"],
        &["spawn", "--n", "1000001"],
        &["switch", "--n", "0"],
        &["switch", "--rounds", "0"],
        &["switch", "--n", "10000", "--rounds", "100000"],
    ];
    for model in models() {
        for args in cases {
            let r = run(&model, args);
            let stderr = r.stderr();
            assert_eq!(r.code(), Some(2), "{model} {args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{model} {args:?}: {stderr:?}");
        }
    }
}

/// Two powers cost tens of ms of CPU in every model, wherever they run: in the model's
/// process, or in procs' workers, which count once reaped.
#[test]
fn cpu_time_counts_every_process_of_the_model() {
    for model in models() {
        let s = run(&model, &["cpu", "--n", "2", "--exp", "200000"]).summary();
        let cpu_ms = s.user_ms + s.system_ms;
        // One power of 7777^200000 takes about 40 ms of CPU here; a tenth of two is a
        // floor no model can miss, and far above what start-up alone costs.
        assert!(cpu_ms >= 8.0, "{model}: {cpu_ms} ms of CPU for two powers");
        assert!(s.user_ms >= s.system_ms, "{model}: {s:?}");
    }
}

/// The costs sweep on a tiny plan: every model has rows for both workloads, sync's say
/// why not, and every other model has a fit.
#[test]
fn tiny_costs_sweep_fits_every_model_that_can_run() {
    let out = std::env::temp_dir().join(format!("costs-sweep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let status = Command::new(e2e::bin("benchkit"))
        .args(["costs", "--tiny", "--out"])
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let cells = std::fs::read_to_string(out.join("costs.csv")).unwrap();
    let fits = std::fs::read_to_string(out.join("costs-fit.csv")).unwrap();
    assert!(
        fits.starts_with(
            "model,workload,cost_us,base_ms,r2,median_cost_us,median_r2,points,reason\n"
        ),
        "{fits}"
    );
    for model in models() {
        for workload in ["spawn", "switch"] {
            let row = fits
                .lines()
                .find(|l| l.starts_with(&format!("{model},{workload},")))
                .unwrap_or_else(|| panic!("{model} {workload} missing:\n{fits}"));
            if model == "sync" {
                assert!(row.contains("unsupported: sync: cannot run"), "{row}");
            } else {
                let cost = row.split(',').nth(2).unwrap();
                assert!(cost.parse::<f64>().is_ok(), "{row}");
                assert!(
                    cells
                        .lines()
                        .filter(|l| l.starts_with(&format!("{model},{workload},")))
                        .any(|l| l.contains(",fit,ok,")),
                    "{model} {workload}:\n{cells}"
                );
            }
        }
    }
    std::fs::remove_dir_all(&out).unwrap();
}
