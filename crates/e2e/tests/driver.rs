//! The bench driver, end to end in quick mode: every model measured on both workloads,
//! the CSVs written, the fixture server stopped afterwards.

#[test]
fn quick_bench_measures_every_model_on_both_workloads() {
    let (run, _) = e2e::run_script("bench.sh", "quick");
    let summary = std::fs::read_to_string(run.join("summary.csv")).unwrap();
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
        let csv = std::fs::read_to_string(run.join(file)).unwrap();
        assert_eq!(
            csv.lines().count(),
            1 + e2e::models().len(),
            "{file}:\n{csv}"
        );
    }
    // The server the driver started is gone: its address no longer answers.
    let addr = std::fs::read_to_string(run.join("server.addr")).unwrap();
    assert!(
        std::net::TcpStream::connect(addr.trim()).is_err(),
        "fixture server still running at {addr}"
    );
    std::fs::remove_dir_all(run.parent().unwrap().parent().unwrap()).unwrap();
}
