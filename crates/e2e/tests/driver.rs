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

/// Ctrl-C in the middle of a run (SIGINT to the whole process group, as a terminal sends
/// it): exit 130, the cells measured so far are in the CSV, and the server is gone.
#[test]
fn ctrl_c_keeps_what_was_measured_and_stops_the_server() {
    use std::os::unix::process::CommandExt;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let results = std::env::temp_dir().join(format!("bench-ctrl-c-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&results);
    let mut child = std::process::Command::new("bash")
        .arg(root.join("scripts/bench.sh"))
        .arg("quick")
        .env("RESULTS_DIR", &results)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    // Wait until two cpu cells are measured, then interrupt the third.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let run = loop {
        let run = std::fs::read_dir(results.join("runs"))
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path());
        let measured = run.as_ref().map_or(0, |r| {
            std::fs::read_dir(r.join("json"))
                .map(|d| {
                    d.filter(|e| e.as_ref().unwrap().metadata().unwrap().len() > 0)
                        .count()
                })
                .unwrap_or(0)
        });
        if measured >= 2 {
            break run.unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no cells measured in 300 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
    let cpu =
        std::fs::read_to_string(run.join("cpu.csv")).expect("cpu.csv of the cells measured so far");
    assert!(
        cpu.lines().filter(|l| l.contains(",ok,")).count() >= 2,
        "{cpu}"
    );
    let addr = std::fs::read_to_string(run.join("server.addr")).unwrap();
    assert!(
        std::net::TcpStream::connect(addr.trim()).is_err(),
        "fixture server still running at {addr}"
    );
    std::fs::remove_dir_all(&results).unwrap();
}
