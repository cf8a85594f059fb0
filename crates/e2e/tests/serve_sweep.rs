//! The serve sweep (`scripts/bench-serve.sh quick`) end to end, against the real models
//! quick mode runs (sync, procs at K = 1 and 2, tokio-async) with the load from the oha
//! stand-in (target/release/oha-stand-in, a test double, through `OHA`): the real oha
//! takes minutes to compile, too long for `make test`, so these tests never install it.
//! If target/tools already holds the pinned oha 1.16.0, one more quick sweep runs with it.
//! A server that misbehaves is played by serve-stand-in, linked under a model's name and
//! given through MODELS.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// A fresh scratch folder for `results/` (and the stand-in's links).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("serve-sweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The oha stand-in.
fn stand_in_oha() -> PathBuf {
    e2e::bin("oha-stand-in")
}

/// `bench-serve.sh MODE` writing into `dir/results`, its load from `oha` (None: the
/// pinned oha of target/tools, which the script installs if it is missing).
fn command(dir: &Path, mode: &str, oha: Option<&Path>) -> Command {
    let mut command = e2e::script_command(&e2e::repo_root().join("scripts/bench-serve.sh"), mode);
    command.env("RESULTS_DIR", dir.join("results"));
    command
        .env_remove("OHA")
        .env_remove("MODELS")
        .env_remove("SCENARIOS");
    if let Some(oha) = oha {
        command.env("OHA", oha);
    }
    command
}

/// Links to serve-stand-in under model names, for MODELS.
fn stand_in_servers(dir: &Path, models: &[&str]) -> String {
    std::fs::create_dir_all(dir.join("models")).unwrap();
    let stand_in = e2e::bin("serve-stand-in");
    let links: Vec<String> = models
        .iter()
        .map(|m| {
            let link = dir.join("models").join(m);
            std::os::unix::fs::symlink(&stand_in, &link).unwrap();
            link.display().to_string()
        })
        .collect();
    links.join(" ")
}

fn run_folder(results: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(results.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "one run folder: {runs:?}");
    runs[0].clone()
}

/// Steps that broke and were followed by another step of the same ladder: the sweep
/// restarts the server after each.
fn restarts(serve_csv: &Path) -> usize {
    let steps = rows(serve_csv);
    steps
        .windows(2)
        .filter(|w| {
            let same = ["model", "scenario", "workers", "connections", "round"]
                .iter()
                .all(|c| w[0][*c] == w[1][*c]);
            same && w[0]["within_budget"] == "no"
        })
        .count()
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

/// The rows of round 1.
fn round_1(
    rows: &[std::collections::HashMap<String, String>],
) -> Vec<std::collections::HashMap<String, String>> {
    rows.iter().filter(|r| r["round"] == "1").cloned().collect()
}

/// A model or scenario the sweep does not know is refused in one line naming those it
/// knows, exit 2, before anything is built or a run folder made.
#[test]
fn unknown_models_and_scenarios_are_refused_before_the_build() {
    let dir = scratch("unknown");
    for (name, value, says) in [
        ("MODELS", "sync nosuchmodel", "bench-serve.sh: error: MODELS: no model 'nosuchmodel' (the models: async-std-async green monoio-async monoio-epoll procs rayon smol-async sync threads tokio-async python-"),
        ("SCENARIOS", "hello nope", "bench-serve.sh: error: SCENARIOS: no scenario 'nope': the scenarios are hello, work, backend, connections"),
    ] {
        let run = e2e::run_until(
            command(&dir, "quick", None).env(name, value),
            Duration::from_secs(30),
        );
        assert_eq!(run.code, Some(2), "{name}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{name}: {}", run.stderr);
        assert!(run.stderr.starts_with(says), "{name}: {}", run.stderr);
        assert!(!dir.join("results").exists(), "{name}: a results folder was made");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A quick sweep with the load from the oha stand-in writes serve.csv and serve-knees.csv
/// with the contract's columns and figures that make sense for the real servers; its
/// settings name the stand-in as the generator, and results/ is left alone.
#[test]
fn quick_sweep_writes_well_formed_csvs() {
    let _turn = e2e::driver_lock();
    let dir = scratch("quick");
    let oha = stand_in_oha();
    let run = e2e::run_until(&mut command(&dir, "quick", Some(&oha)), SCRIPT_TIMEOUT);
    check_quick_sweep(&dir, &run, &oha, "oha-stand-in_");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same quick sweep with the pinned oha, when target/tools already holds it (a
/// `make bench-serve` installed it); never installed here, as its build takes minutes.
#[test]
fn quick_sweep_with_the_pinned_oha_when_installed() {
    let oha = e2e::target_dir().join("tools/bin/oha");
    let version = Command::new(&oha).arg("--version").output();
    if !version.is_ok_and(|v| v.stdout == b"oha 1.16.0\n") {
        eprintln!(
            "skipped: no oha 1.16.0 at {} (make bench-serve installs it)",
            oha.display()
        );
        return;
    }
    let _turn = e2e::driver_lock();
    let dir = scratch("quick-oha");
    let run = e2e::run_until(&mut command(&dir, "quick", None), SCRIPT_TIMEOUT);
    check_quick_sweep(&dir, &run, &oha, "oha_1.16.0 ");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What a quick sweep must have written: every scenario's ladders for sync, procs (its
/// backend ladder once per K) and tokio-async, every step's figures filled in (the
/// lowest rates within budget), every knee beside its bound and the generator's ceiling.
/// The backend scenario shows the load is open loop, latency counted from when each
/// request was due: sync and procs serve one request per worker at a time, so past K
/// workers / 20 ms the requests queue and p99 breaks, while tokio-async serves the
/// whole ladder within budget.
fn check_quick_sweep(dir: &Path, run: &e2e::ScriptRun, oha: &Path, version: &str) {
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
        run.stderr.contains("[round 1   1/16]"),
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
generator_cpu_share,generator_saturated,within_budget,rerun,round,driver\n"
    ));
    let all_steps = rows(&folder.join("serve.csv"));
    // No model of the quick sweep picks an I/O driver: the column is empty (monoio's
    // `io_uring` or `epoll` comes from its summary line, e2e `models.rs` checks it).
    assert!(all_steps.iter().all(|r| r["driver"].is_empty()));
    // Round 1 climbs every ladder; round 2 checks its knees (below).
    let steps = round_1(&all_steps);
    assert!(all_steps
        .iter()
        .all(|r| ["1", "2"].contains(&r["round"].as_str())));
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
    // sync and procs close every connection after its answer: their connections cells
    // are skipped (serve-skips.csv), not measured.
    assert_eq!(
        ladders("sync"),
        [
            l("hello", "", "8"),
            l("work", "", "8"),
            l("backend", "", "20")
        ]
    );
    assert_eq!(
        ladders("procs"),
        [
            l("hello", "", "8"),
            l("work", "", "8"),
            l("backend", "1", "20"),
            l("backend", "2", "20"),
        ]
    );
    for r in &all_steps {
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
        // Memory per held connection is reported where they stayed open: tokio-async
        // keeps them alive; sync and procs close each after its answer.
        assert_eq!(
            r["pss_per_conn_bytes"].is_empty(),
            r["scenario"] != "connections" || r["model"] != "tokio-async",
            "{r:?}"
        );
    }
    assert!(
        steps
            .iter()
            .all(|r| r["step"] != "1" || r["within_budget"] == "yes"),
        "{serve}"
    );
    // The load is sent at the offered rate: where the server kept up, the answers came at
    // that rate (less the few cut off by the end of a half-second step).
    for r in all_steps.iter().filter(|r| r["within_budget"] == "yes") {
        let offered: f64 = r["offered_rps"].parse().unwrap();
        let achieved: f64 = r["achieved_rps"].parse().unwrap();
        assert!((0.8 * offered..=1.1 * offered).contains(&achieved), "{r:?}");
    }

    let all_knees = rows(&folder.join("serve-knees.csv"));
    let knees = round_1(&all_knees);
    assert_eq!(knees.len(), 12, "one knee per ladder run");
    // Round 2 checks every knee of round 1 (the skipped cells aside) but those at the
    // generator's limit or the top of a climbing ladder, which it could only find lower.
    let at_the_limit = |k: &&std::collections::HashMap<String, String>| {
        k["bound"] == "generator" || k["broke_at_rps"].is_empty()
    };
    // The connections scenario, at one fixed rate, is checked at its fewest and most
    // connections (10 and 100 here) whatever its knee.
    let checked: Vec<_> = knees
        .iter()
        .filter(|k| !at_the_limit(k) || k["scenario"] == "connections")
        .collect();
    assert_eq!(
        all_knees.len(),
        12 + checked.len(),
        "round 2 checks the knees of round 1 not at the limit"
    );
    let key = |k: &std::collections::HashMap<String, String>| {
        (
            k["model"].clone(),
            k["scenario"].clone(),
            k["workers"].clone(),
            k["connections"].clone(),
        )
    };
    let mut round_2: Vec<_> = all_knees
        .iter()
        .filter(|k| k["round"] == "2")
        .map(key)
        .collect();
    let mut expected: Vec<_> = checked.iter().map(|k| key(k)).collect();
    round_2.sort();
    expected.sort();
    assert_eq!(round_2, expected);
    if !checked.is_empty() {
        let line = format!("[round 2   1/{}]", checked.len());
        assert!(run.stderr.contains(&line), "{line}:\n{}", run.stderr);
    }
    for k in &all_knees {
        assert!(!k["knee_rps"].is_empty(), "{k:?}");
        assert!(
            ["p99", "errors", "none"].contains(&k["broke_by"].as_str()),
            "{k:?}"
        );
        // A knee has a bound, but for one: a server whose CPU time at the knee was under
        // the kernel's tick (/proc counts 10 ms ticks; a short step at a low rate of
        // /hello can take less) has no CPU bound, and outside the backend scenario no
        // other.
        let unmeasured = k["cpu_us_per_req"].is_empty();
        assert!(
            ["little", "cpu", "generator"].contains(&k["bound"].as_str())
                || (k["bound"].is_empty() && unmeasured && k["little_bound_rps"].is_empty()),
            "{k:?}"
        );
        assert_eq!(
            k["predicted_rps"].is_empty(),
            k["bound"].is_empty(),
            "{k:?}"
        );
        assert!(!k["generator_ceiling_rps"].is_empty(), "{k:?}");
        assert_eq!(
            k["little_bound_rps"].is_empty(),
            k["scenario"] != "backend",
            "{k:?}"
        );
    }
    // Little's law at /backend/20: one request per worker for sync and procs (K / 20 ms),
    // one per connection for tokio-async (20 / 20 ms). The first two break past it; the
    // ladder's top (160/s) is well under tokio-async's.
    let backend: Vec<(&str, &str, &str, f64, &str)> = all_knees
        .iter()
        .filter(|k| k["scenario"] == "backend" && k["round"] == "1")
        .map(|k| {
            (
                k["model"].as_str(),
                k["workers"].as_str(),
                k["little_bound_rps"].as_str(),
                k["knee_rps"].parse().unwrap(),
                k["broke_by"].as_str(),
            )
        })
        .collect();
    let bounds: Vec<(&str, &str, &str)> = backend.iter().map(|b| (b.0, b.1, b.2)).collect();
    assert_eq!(
        bounds,
        [
            ("sync", "", "50"),
            ("procs", "1", "50"),
            ("procs", "2", "100"),
            ("tokio-async", "", "1000")
        ]
    );
    let both_rounds: Vec<(&str, &str, f64, &str)> = all_knees
        .iter()
        .filter(|k| k["scenario"] == "backend")
        .map(|k| {
            (
                k["model"].as_str(),
                k["little_bound_rps"].as_str(),
                k["knee_rps"].parse().unwrap(),
                k["broke_by"].as_str(),
            )
        })
        .collect();
    // tokio-async reaches the top of the backend ladder: round 2 does not check it.
    assert_eq!(both_rounds.len(), 7, "{both_rounds:?}");
    for (model, little, knee, broke_by) in &both_rounds {
        if *model == "tokio-async" {
            assert_eq!((*knee, *broke_by), (160.0, "none"), "{backend:?}");
        } else {
            assert!(*knee <= little.parse().unwrap(), "{backend:?}");
            assert_ne!(*broke_by, "none", "{backend:?}");
        }
    }
    let skips = rows(&folder.join("serve-skips.csv"));
    let skipped: Vec<(&str, &str)> = skips
        .iter()
        .map(|r| (r["model"].as_str(), r["connections"].as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("sync", "10"),
            ("sync", "100"),
            ("procs", "10"),
            ("procs", "100")
        ]
    );
    assert!(skips
        .iter()
        .all(|r| r["status"] == "skipped" && r["reason"].contains("holds no idle connection")));
    let settings = std::fs::read_to_string(folder.join("serve-settings.txt")).unwrap();
    assert!(settings.contains("mode=quick reference=no "), "{settings}");
    assert!(
        settings.contains(&format!(
            "generator={} generator_version={version}",
            oha.display()
        )),
        "{settings}"
    );
    assert!(
        settings.contains(" server_cpu=0 generator_cpu=1"),
        "{settings}"
    );
    assert!(settings.contains("git_commit="), "{settings}");
    // Each server stopped with its summary line: the ceiling's and every ladder's of each
    // round (12 in round 1, the knees round 2 checked), and one more for every step that
    // broke and was followed by another (a fresh server).
    let summaries = std::fs::read_to_string(folder.join("serve-summaries.jsonl")).unwrap();
    let restarts = restarts(&folder.join("serve.csv"));
    let ladders = rows(&folder.join("serve-knees.csv")).len();
    assert_eq!(
        summaries.lines().count(),
        1 + ladders + restarts,
        "{summaries}"
    );
}

/// Only a full sweep of every model with the pinned oha is the reference, copied to
/// results/ (and so refused from an uncommitted tree, checked before anything runs):
/// with OHA set, or MODELS, a full sweep writes its run folder only. Seen where the
/// script stops early: ALLOW_DIRTY=bogus is refused by the reference's check, and a run
/// past it stops at the bench lock, held here.
#[test]
fn only_the_pinned_oha_makes_the_reference() {
    let _turn = e2e::driver_lock();
    let dir = scratch("reference");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(e2e::target_dir().join("bench.lock"))
        .unwrap();
    // SAFETY: flock(2) on a descriptor this test owns; released when `lock` is dropped.
    assert_eq!(
        unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&lock),
                libc::LOCK_EX | libc::LOCK_NB,
            )
        },
        0,
        "another bench holds the lock"
    );
    let oha = stand_in_oha();
    let cases: [(Option<&Path>, &str, i32, &str); 4] = [
        (None, "", 2, "ALLOW_DIRTY must be 1 or 0"),
        (Some(&oha), "", 1, "another bench is running"),
        (None, "sync", 1, "another bench is running"),
        (
            Some(Path::new("/nonexistent/oha")),
            "",
            2,
            "OHA: /nonexistent/oha is not an executable file",
        ),
    ];
    for (oha, models, code, says) in cases {
        let mut command = command(&dir, "full", oha);
        command.env("ALLOW_DIRTY", "bogus").env("MODELS", models);
        let run = e2e::run_until(&mut command, Duration::from_secs(60));
        assert_eq!(
            run.code,
            Some(code),
            "OHA={oha:?} MODELS={models}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(says), "OHA={oha:?}: {}", run.stderr);
        assert!(!dir.join("results").exists());
    }
    drop(lock);
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
        let dir = scratch(&format!("fail-{fail}"));
        let models = stand_in_servers(&dir, &["tokio-async"]);
        let run = e2e::run_until(
            command(&dir, "quick", Some(&stand_in_oha()))
                .env("MODELS", models)
                .env("STAND_IN_FAIL", fail),
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
/// sweep: exit 130, the steps measured so far kept in serve.csv, and no server, generator
/// or fixture server left running.
#[test]
fn ctrl_c_keeps_the_steps_and_leaves_no_process() {
    let _turn = e2e::driver_lock();
    let dir = scratch("ctrl-c");
    let mut command = command(&dir, "quick", Some(&stand_in_oha()));
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    e2e::sigint_as_from_a_terminal(&mut command);
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
    // The run folder is on benchkit's and the fixture server's command lines, the fixture
    // server's address on every model server's (`--backend ADDR`).
    let backend = std::fs::read_to_string(run_folder(&results).join("server.addr")).unwrap();
    let marks = [
        dir.display().to_string(),
        format!("--backend {}", backend.trim()),
    ];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = left_of(pgid, &marks);
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

/// Processes in group `pgid`, or whose command line names one of `marks`.
fn left_of(pgid: i32, marks: &[String]) -> Vec<String> {
    let marks: Vec<&str> = marks.iter().map(String::as_str).collect();
    e2e::processes_of(pgid, &marks, false)
}
