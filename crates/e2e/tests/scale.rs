//! The scale sweep, end to end on a tiny plan: every model and workload has rows, a cell
//! over the time budget is skipped with its reason, and memory per task is fitted (on PSS).
//! The Python models are swept too where their environment is ready (CI creates it); where
//! it is not, the sweep says it left them out, and this test says so on the terminal (under
//! E2E_REQUIRE_PYTHON, it fails instead).

use std::io::Write;

const PYTHON_MODELS: [&str; 6] = [
    "python-sync",
    "python-asyncio",
    "python-gevent",
    "python-procs",
    "python-threads",
    "python-uvloop",
];

#[test]
fn tiny_sweep_writes_rows_skips_with_reasons_and_fits_memory() {
    let (run, stderr) = e2e::run_script("bench-scale.sh", "tiny");
    assert!(
        stderr.contains("[  1/"),
        "progress lines on stderr:\n{stderr}"
    );

    let scale = std::fs::read_to_string(run.join("scale.csv")).unwrap();
    let mut models = e2e::models();
    if e2e::python_venv().is_some() {
        models.extend(PYTHON_MODELS.map(String::from));
        // A Python model runs and is measured like a binary: python-threads' smallest
        // sleep cell (2 tasks of 200 ms) is within any budget.
        assert!(scale.contains("\npython-threads,sleep,2,ok,"), "{scale}");
    } else {
        assert!(
            stderr.contains("== Python models left out: "),
            "the sweep says why:\n{stderr}"
        );
        assert!(
            std::env::var_os("E2E_REQUIRE_PYTHON").is_none(),
            "no Python environment (scripts/python-env.sh), and E2E_REQUIRE_PYTHON is set"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED the Python models' part of the tiny sweep: no environment (scripts/python-env.sh)"
        );
        assert!(!scale.contains("\npython-"), "{scale}");
    }
    // The tiny plan: sleep at 3 sizes, io at 2, cpu at 2, for every model.
    assert_eq!(scale.lines().count(), 1 + models.len() * 7, "{scale}");
    for model in &models {
        for workload in ["sleep", "io", "cpu"] {
            assert!(
                scale
                    .lines()
                    .any(|l| l.starts_with(&format!("{model},{workload},"))),
                "{model} {workload}"
            );
        }
    }
    // sync's sleep takes N x 200 ms: 4 x 200 ms is predicted over the 500 ms budget.
    let skipped = scale
        .lines()
        .find(|l| l.starts_with("sync,sleep,4,"))
        .expect("sync sleep n=4 row");
    assert!(
        skipped.contains(",skipped,") && skipped.contains("over the 0.50 s budget"),
        "{skipped}"
    );
    // Concurrent models run all three sleep sizes.
    let ok = scale
        .lines()
        .filter(|l| l.starts_with("threads,sleep,") && l.contains(",ok,"))
        .count();
    assert_eq!(ok, 3, "{scale}");

    // Each measured row says which I/O driver it ran on, as in summary.csv.
    let epoll = e2e::drivers_of(&scale, "monoio-epoll");
    assert!(
        !epoll.is_empty() && epoll.iter().all(|d| d == "epoll"),
        "{scale}"
    );
    let uring = e2e::drivers_of(&scale, "monoio-async");
    assert!(
        !uring.is_empty() && uring.iter().all(|d| d == "io_uring" || d == "epoll"),
        "{scale}"
    );
    assert!(e2e::drivers_of(&scale, "threads")
        .iter()
        .all(|d| d.is_empty()));

    let fit = std::fs::read_to_string(run.join("scale-fit.csv")).unwrap();
    assert!(
        fit.starts_with(
            "model,workload,bytes_per_task,base_bytes,r2,points,fitted_on,rss_bytes_per_task\n"
        ),
        "{fit}"
    );
    // Every model reports its PSS, so memory per task is fitted on it.
    let procs = fit.lines().find(|l| l.starts_with("procs,sleep,"));
    assert!(
        procs.is_some_and(|l| l.contains(",pss,")),
        "procs' sleep fit on PSS:\n{fit}"
    );
    let limits = std::fs::read_to_string(run.join("scale-limits.txt")).unwrap();
    assert!(
        limits.contains("pid_max") && limits.contains("open files"),
        "{limits}"
    );
    std::fs::remove_dir_all(run.parent().unwrap().parent().unwrap()).unwrap();
}
