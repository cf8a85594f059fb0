//! The serve sweep (`scripts/bench-serve.sh quick`), end to end against a stand-in server
//! (target/release/serve-stand-in, the serve contract written with std alone) run under
//! model names through MODELS: `tokio-async` (the generator's ceiling is measured against
//! it) and `procs` (its backend ladder runs once per `--workers K`). Once the models serve,
//! the same run goes over them: MODELS unset.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// A fresh scratch folder holding `results/` and links to the stand-in under model names.
fn scratch(name: &str, models: &[&str]) -> (PathBuf, Vec<PathBuf>) {
    let dir = std::env::temp_dir().join(format!("serve-sweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("models")).unwrap();
    let stand_in = e2e::bin("serve-stand-in");
    let links = models
        .iter()
        .map(|m| {
            let link = dir.join("models").join(m);
            std::os::unix::fs::symlink(&stand_in, &link).unwrap();
            link
        })
        .collect();
    (dir, links)
}

fn command(dir: &Path, links: &[PathBuf]) -> Command {
    let mut command =
        e2e::script_command(&e2e::repo_root().join("scripts/bench-serve.sh"), "quick");
    let models: Vec<String> = links.iter().map(|l| l.display().to_string()).collect();
    command
        .env("RESULTS_DIR", dir.join("results"))
        .env("MODELS", models.join(" "));
    command
}

fn run_folder(results: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(results.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "one run folder: {runs:?}");
    runs[0].clone()
}

/// The CSV's rows as maps from column to value, each row with as many fields as the header.
fn rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|line| {
            // No field of these rows holds a comma (error kinds are `kind:n;kind:n`).
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{}: {line}", path.display());
            header
                .iter()
                .zip(fields)
                .map(|(h, f)| (h.to_string(), f.to_string()))
                .collect()
        })
        .collect()
}

/// A quick sweep writes serve.csv and serve-knees.csv with the contract's columns: every
/// scenario for both models, procs' backend once per K, every step's figures filled in
/// (the stand-in answers everything, so the lowest steps are within budget), every knee
/// beside its bound and the generator's ceiling; quick mode leaves results/ alone.
#[test]
fn quick_sweep_writes_well_formed_csvs() {
    let _turn = e2e::driver_lock();
    let (dir, links) = scratch("quick", &["tokio-async", "procs"]);
    let run = e2e::run_until(&mut command(&dir, &links), SCRIPT_TIMEOUT);
    assert_eq!(
        run.code,
        Some(0),
        "bench-serve.sh quick failed:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("== generator ceiling: "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("[  1/11]"),
        "progress lines:\n{}",
        run.stderr
    );
    let results = dir.join("results");
    let folder = run_folder(&results);
    assert!(
        !results.join("serve.csv").exists(),
        "quick mode writes its run folder only"
    );

    let serve = std::fs::read_to_string(folder.join("serve.csv")).unwrap();
    assert!(serve.starts_with(
        "model,scenario,workers,connections,keepalive,step,offered_rps,achieved_rps,duration_s,\
requests,ok,errors,error_rate,error_kinds,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,\
server_cpu_ms,server_cpu_us_per_req,server_pss_bytes,server_threads,pss_per_conn_bytes,\
generator_cpu_share,generator_saturated,within_budget\n"
    ));
    let steps = rows(&folder.join("serve.csv"));
    let ladders = |model: &str| {
        let mut seen: Vec<(String, String, String)> = steps
            .iter()
            .filter(|r| r["model"] == model)
            .map(|r| {
                (
                    r["scenario"].clone(),
                    r["workers"].clone(),
                    r["connections"].clone(),
                )
            })
            .collect();
        seen.dedup();
        seen
    };
    let l = |s: &str, w: &str, c: &str| (s.to_string(), w.to_string(), c.to_string());
    assert_eq!(
        ladders("tokio-async"),
        [
            l("hello", "", "8"),
            l("work", "", "8"),
            l("backend", "", "20"),
            l("connections", "", "10"),
            l("connections", "", "100")
        ]
    );
    assert_eq!(
        ladders("procs"),
        [
            l("hello", "", "8"),
            l("work", "", "8"),
            l("backend", "1", "20"),
            l("backend", "2", "20"),
            l("connections", "", "10"),
            l("connections", "", "100")
        ]
    );
    for r in &steps {
        for yes_no in ["keepalive", "generator_saturated", "within_budget"] {
            assert!(
                ["yes", "no"].contains(&r[yes_no].as_str()),
                "{yes_no}: {r:?}"
            );
        }
        for number in [
            "offered_rps",
            "achieved_rps",
            "duration_s",
            "p50_ms",
            "p99_ms",
            "max_ms",
            "server_cpu_ms",
            "server_pss_bytes",
            "server_threads",
            "generator_cpu_share",
        ] {
            let v: f64 = r[number]
                .parse()
                .unwrap_or_else(|_| panic!("{number} of {r:?}"));
            assert!(v >= 0.0, "{number} of {r:?}");
        }
        let (requests, ok, errors): (u64, u64, u64) = (
            r["requests"].parse().unwrap(),
            r["ok"].parse().unwrap(),
            r["errors"].parse().unwrap(),
        );
        assert_eq!(ok + errors, requests, "{r:?}");
        assert!(requests > 0, "{r:?}");
        // The held connections stay open on the stand-in (keep-alive): memory per
        // connection is reported, and only there.
        assert_eq!(
            r["pss_per_conn_bytes"].is_empty(),
            r["scenario"] != "connections",
            "{r:?}"
        );
    }
    assert!(
        steps
            .iter()
            .all(|r| r["step"] != "1" || r["within_budget"] == "yes"),
        "{serve}"
    );

    let knees = rows(&folder.join("serve-knees.csv"));
    assert_eq!(knees.len(), 11, "one knee per ladder");
    for k in &knees {
        assert!(!k["knee_rps"].is_empty(), "{k:?}");
        assert!(
            ["p99", "errors", "none"].contains(&k["broke_by"].as_str()),
            "{k:?}"
        );
        assert!(
            ["little", "cpu", "generator"].contains(&k["bound"].as_str()),
            "{k:?}"
        );
        assert!(
            !k["predicted_rps"].is_empty() && !k["generator_ceiling_rps"].is_empty(),
            "{k:?}"
        );
        assert_eq!(
            k["little_bound_rps"].is_empty(),
            k["scenario"] != "backend",
            "{k:?}"
        );
    }
    // Little's law for procs at /backend/20: K workers / 20 ms.
    let little: Vec<&str> = knees
        .iter()
        .filter(|k| k["model"] == "procs" && k["scenario"] == "backend")
        .map(|k| k["little_bound_rps"].as_str())
        .collect();
    assert_eq!(little, ["50", "100"]);
    let skips = std::fs::read_to_string(folder.join("serve-skips.csv")).unwrap();
    assert_eq!(skips, "model,scenario,workers,connections,status,reason\n");
    let settings = std::fs::read_to_string(folder.join("serve-settings.txt")).unwrap();
    assert!(
        settings.contains("generator_version=oha_1.16.0 server_cpu=0 generator_cpu=1"),
        "{settings}"
    );
    assert!(settings.contains("git_commit="), "{settings}");
    // Each server stopped with its summary line: the ceiling's and the 11 ladders'.
    let summaries = std::fs::read_to_string(folder.join("serve-summaries.jsonl")).unwrap();
    assert_eq!(summaries.lines().count(), 12, "{summaries}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A server that fails its /hello check, or does not exit 0 on SIGTERM, fails its ladder
/// with the reason in serve-skips.csv; the sweep goes on to the next, then exits 1.
#[test]
fn a_failing_server_fails_its_ladders_with_the_reason() {
    let _turn = e2e::driver_lock();
    for (fail, reason) in [
        ("hello", "GET /hello: status 500"),
        (
            "exit",
            "the server exited with exit status: 3 after SIGTERM",
        ),
    ] {
        let (dir, links) = scratch(&format!("fail-{fail}"), &["tokio-async"]);
        let run = e2e::run_until(
            command(&dir, &links).env("STAND_IN_FAIL", fail),
            SCRIPT_TIMEOUT,
        );
        assert_eq!(run.code, Some(1), "{}", run.stderr);
        assert!(
            run.stderr
                .contains("ladder(s) failed; their reasons are in "),
            "{}",
            run.stderr
        );
        let skips =
            std::fs::read_to_string(run_folder(&dir.join("results")).join("serve-skips.csv"))
                .unwrap();
        // The ceiling and the five ladders, each failed with the reason (the reasons hold
        // commas: the lines are checked whole).
        let lines: Vec<&str> = skips.lines().skip(1).collect();
        assert_eq!(lines.len(), 6, "{skips}");
        for line in lines {
            assert!(line.starts_with("tokio-async,"), "{line}");
            assert!(line.contains(",failed,") && line.contains(reason), "{line}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Ctrl-C (SIGINT to the whole process group, as a terminal sends it) in the middle of the
/// sweep: exit 130, the steps measured so far kept in serve.csv, and no server, oha or
/// fixture server left running.
#[test]
fn ctrl_c_keeps_the_steps_and_leaves_no_process() {
    let _turn = e2e::driver_lock();
    let (dir, links) = scratch("ctrl-c", &["tokio-async", "procs"]);
    let mut command = command(&dir, &links);
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().unwrap();
    let pgid = child.id() as i32;
    let results = dir.join("results");
    let deadline = Instant::now() + Duration::from_secs(300);
    let measured = |results: &Path| -> usize {
        let Ok(runs) = std::fs::read_dir(results.join("runs")) else {
            return 0;
        };
        runs.flatten()
            .filter_map(|r| std::fs::read_to_string(r.path().join("serve.csv")).ok())
            .map(|t| t.lines().count().saturating_sub(1))
            .sum()
    };
    while measured(&results) < 3 {
        assert!(Instant::now() < deadline, "no step measured within 300 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) of the process group this test started.
    unsafe { libc::kill(-pgid, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(measured(&results) >= 3);
    let mark = dir.to_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = left_of(pgid, &mark);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes left:\n{}",
            left.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Processes in group `pgid`, or whose command line names `mark` (the stand-in's links,
/// the run folder on benchkit's and the fixture server's command lines).
fn left_of(pgid: i32, mark: &str) -> Vec<String> {
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let pgrp: i32 = fields.get(2).and_then(|f| f.parse().ok()).unwrap_or(0);
        let cmdline = String::from_utf8_lossy(
            &std::fs::read(entry.path().join("cmdline")).unwrap_or_default(),
        )
        .replace('\0', " ");
        if pid != std::process::id() && fields[0] != "Z" && (pgrp == pgid || cmdline.contains(mark))
        {
            left.push(format!("{pid} ({}): {cmdline}", fields[0]));
        }
    }
    left
}
