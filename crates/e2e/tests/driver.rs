//! The bench driver, end to end in quick mode: every model measured on both workloads,
//! the CSVs written, the fixture server stopped afterwards.

use std::path::Path;
use std::process::Command;

#[test]
fn quick_bench_measures_every_model_on_both_workloads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let results = std::env::temp_dir().join(format!("bench-quick-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&results);
    let out = Command::new("bash")
        .arg(root.join("scripts/bench.sh"))
        .arg("quick")
        .env("RESULTS_DIR", &results)
        .output()
        .expect("run scripts/bench.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench.sh quick failed:\n{stderr}");

    let runs: Vec<_> = std::fs::read_dir(results.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "one run folder: {runs:?}");
    let summary = std::fs::read_to_string(runs[0].join("summary.csv")).unwrap();
    for model in e2e::models() {
        for workload in ["cpu", "io"] {
            let row = summary
                .lines()
                .find(|l| l.starts_with(&format!("{model},{workload},")));
            let row = row.unwrap_or_else(|| {
                panic!("{model} {workload} missing from summary.csv:\n{summary}")
            });
            assert!(row.contains(",ok,"), "{row}");
        }
    }
    for file in ["cpu.csv", "io.csv"] {
        let csv = std::fs::read_to_string(runs[0].join(file)).unwrap();
        assert_eq!(
            csv.lines().count(),
            1 + e2e::models().len(),
            "{file}:\n{csv}"
        );
    }
    // The server the driver started is gone: its address no longer answers.
    let addr = std::fs::read_to_string(runs[0].join("server.addr")).unwrap();
    assert!(
        std::net::TcpStream::connect(addr.trim()).is_err(),
        "fixture server still running at {addr}"
    );
    std::fs::remove_dir_all(&results).unwrap();
}
