//! The scale sweep, end to end on a tiny plan: every model and workload has rows, a cell
//! over the time budget is skipped with its reason, and memory per task is fitted (on PSS).

#[test]
fn tiny_sweep_writes_rows_skips_with_reasons_and_fits_memory() {
    let (run, stderr) = e2e::run_script("bench-scale.sh", "tiny");
    assert!(
        stderr.contains("[  1/"),
        "progress lines on stderr:\n{stderr}"
    );

    let scale = std::fs::read_to_string(run.join("scale.csv")).unwrap();
    let models = e2e::models();
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
    // sync's sleep takes N x 40 ms: 8 x 40 ms is predicted over the 250 ms budget.
    let skipped = scale
        .lines()
        .find(|l| l.starts_with("sync,sleep,8,"))
        .expect("sync sleep n=8 row");
    assert!(
        skipped.contains(",skipped,") && skipped.contains("over the 0.25 s budget"),
        "{skipped}"
    );
    // Concurrent models run all three sleep sizes.
    let ok = scale
        .lines()
        .filter(|l| l.starts_with("threads,sleep,") && l.contains(",ok,"))
        .count();
    assert_eq!(ok, 3, "{scale}");

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
