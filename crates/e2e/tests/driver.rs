//! The bench driver, end to end in quick mode: every model measured on both workloads,
//! the CSVs written, the fixture server stopped afterwards; and what it must refuse or
//! report: bad settings, a second bench at once, binaries other than cargo's, a full disk,
//! a model killed by a signal.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Long enough for a quick run even if the script has to rebuild; only a guard against a
/// script that would never end.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// A fresh, empty temporary folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("driver-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Kills a process group when dropped, also when the test panics.
struct KillGroupOnDrop(i32);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill(2) on a process group this test started; harmless if it is gone.
        unsafe { libc::kill(-self.0, libc::SIGKILL) };
    }
}

/// An executable shell script at `dir/name`: a fake model (or stale binary).
fn fake_binary(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn script(name: &str) -> PathBuf {
    e2e::repo_root().join("scripts").join(name)
}

/// The one run folder a bench made under `results`.
fn run_folder(results: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(results.join("runs"))
        .unwrap_or_else(|e| panic!("{}/runs: {e}", results.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "one run folder: {runs:?}");
    runs[0].clone()
}

/// Poll `done` every 20 ms for at most 60 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "waited 60 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether some process holds the flock on `path` (tried without waiting, and let go).
fn lock_is_held(path: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).unwrap();
    // SAFETY: flock(2) on a descriptor that `file` keeps open for the call.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    // Closing `file` releases the lock if this call took it.
    !locked
}

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
    let _turn = e2e::driver_lock();
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

/// Each bad setting is refused in one line naming it, with exit status 2, before anything
/// is built or any folder made. (RUNS=0 made hyperfine run forever; N=0 and WARMUP=x ran
/// every cell and recorded 16 failures.) The limits' other side: the largest values pass
/// the checks, and the smallest run.
#[test]
fn bad_settings_are_refused_in_one_line_before_anything_is_built() {
    let _turn = e2e::driver_lock(); // a setting not refused would start a bench
    let dir = scratch("settings");
    let results = dir.join("results");
    let over_n = (workload::cli::MAX_CPU_N + 1).to_string();
    let too_many_urls = vec!["http://127.0.0.1:9/"; workload::cli::MAX_URLS + 1].join(" ");
    let cases = [
        ("RUNS", "0"),
        ("RUNS", "-1"),
        ("RUNS", "2x"),
        ("WARMUP", "x"),
        ("WARMUP", "-1"),
        ("N", "0"),
        ("N", over_n.as_str()),
        ("N", "ten"),
        ("IO_URLS", "ftp://example.com/"),
        ("IO_URLS", "example.com"),
        ("IO_URLS", "http://"),
        ("IO_URLS", "   "),
        ("IO_URLS", too_many_urls.as_str()),
        ("MODELS", "../not-there"),
        ("MODELS", "sync;reboot"),
    ];
    for (name, value) in cases {
        let run = e2e::run_until(
            e2e::script_command(&script("bench.sh"), "quick")
                .env("RESULTS_DIR", &results)
                .env(name, value),
            Duration::from_secs(60),
        );
        let case = format!("{name}={value:?}");
        assert_eq!(run.code, Some(2), "{case}:\n{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{case}:\n{}", run.stderr);
        assert!(
            run.stderr.starts_with(&format!("bench.sh: error: {name}")),
            "{case}: {}",
            run.stderr
        );
        assert!(!results.exists(), "{case}: a results folder was made");
    }

    // The largest values pass their checks: the run stops at the next setting, a bad MODELS.
    let run = e2e::run_until(
        e2e::script_command(&script("bench.sh"), "quick")
            .env("RESULTS_DIR", &results)
            .env("N", workload::cli::MAX_CPU_N.to_string())
            .env("RUNS", "1000")
            .env("WARMUP", "100")
            .env("MODELS", "./not-there"),
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.starts_with("bench.sh: error: MODELS"),
        "{}",
        run.stderr
    );

    // The smallest run: one run, no warm-up, N=1.
    let run = e2e::run_until(
        e2e::script_command(&script("bench.sh"), "quick")
            .env("RESULTS_DIR", &results)
            .env("N", "1")
            .env("RUNS", "1")
            .env("WARMUP", "0")
            .env("MODELS", "sync"),
        SCRIPT_TIMEOUT,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let settings = std::fs::read_to_string(run_folder(&results).join("settings.txt")).unwrap();
    assert!(
        settings.starts_with("mode=quick n=1 cpu_runs=1 io_runs=1 warmup=0 "),
        "{settings}"
    );

    // A model name that is no binary is found out after the build: one line, exit 1.
    let run = e2e::run_until(
        e2e::script_command(&script("bench.sh"), "quick")
            .env("RESULTS_DIR", dir.join("results-unknown"))
            .env("MODELS", "sync nosuchmodel"),
        SCRIPT_TIMEOUT,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let last = run.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("bench.sh: error: MODELS: no model nosuchmodel in "),
        "{}",
        run.stderr
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two benches at once would disturb each other's numbers, and the second's build could
/// replace binaries under the first: a second bench, or a scale sweep, exits 1 at once
/// with one line naming the bench that runs. The lock dies with its holders: a bench
/// killed by SIGKILL (no trap runs, its fixture server lives on as an orphan) holds it
/// only while the commands it started still run, then the next bench goes ahead.
#[test]
fn one_bench_at_a_time_and_a_killed_one_does_not_block() {
    use std::os::unix::process::CommandExt;
    let _turn = e2e::driver_lock();
    let dir = scratch("lock");
    let (started, go) = (dir.join("started"), dir.join("go"));
    // A model that waits for the test's go-ahead (at most 60 s), so the first bench holds
    // the lock for as long as the test needs.
    let waiter = fake_binary(
        &dir,
        "waiter",
        &format!(
            "touch '{}'\ni=0\nwhile [ ! -e '{}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done",
            started.display(),
            go.display()
        ),
    );
    let results_a = dir.join("a");
    let mut first = Command::new("bash")
        .arg(script("bench.sh"))
        .arg("quick")
        .env("RESULTS_DIR", &results_a)
        .env("MODELS", &waiter)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = first.id() as i32;
    // If an assertion below fails, the first bench and its waiting model must not go on
    // holding the lock for minutes, failing every test after this one.
    let _cleanup = KillGroupOnDrop(pid);
    wait_for("the first bench's model to start", || {
        assert!(first.try_wait().unwrap().is_none(), "the first bench ended");
        started.exists()
    });

    let lock = e2e::target_dir().join("bench.lock");
    let holder = std::fs::read_to_string(&lock).unwrap();
    let who = format!("pid {pid}, bench.sh quick, started ");
    assert!(holder.starts_with(&who), "{holder}");
    for (name, mode) in [("bench.sh", "quick"), ("bench-scale.sh", "tiny")] {
        let results = dir.join(format!("second-{name}"));
        let second = e2e::run_until(
            e2e::script_command(&script(name), mode).env("RESULTS_DIR", &results),
            Duration::from_secs(60),
        );
        assert_eq!(second.code, Some(1), "{name}:\n{}", second.stderr);
        assert_eq!(
            second.stderr.lines().count(),
            1,
            "{name}:\n{}",
            second.stderr
        );
        assert!(
            second
                .stderr
                .starts_with(&format!("{name}: error: another bench is running ({who}")),
            "{}",
            second.stderr
        );
        assert!(!results.exists(), "{name} made {}", results.display());
    }

    // SIGKILL to the first bench's shell alone: hyperfine and the waiting model go on,
    // and hold the lock until they end; its fixture server is orphaned, without it.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    first.wait().unwrap();
    assert!(
        lock_is_held(&lock),
        "released while the killed bench's model still runs"
    );
    std::fs::write(&go, "").unwrap();
    wait_for("the killed bench's lock to be released", || {
        !lock_is_held(&lock)
    });
    let addr = std::fs::read_to_string(run_folder(&results_a).join("server.addr")).unwrap();
    let orphan_alive = std::net::TcpStream::connect(addr.trim()).is_ok();
    // The orphaned server is in the first bench's process group.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    assert!(
        orphan_alive,
        "the orphaned server was gone: the lock test shows nothing"
    );

    let next = e2e::run_until(
        e2e::script_command(&script("bench.sh"), "quick")
            .env("RESULTS_DIR", dir.join("next"))
            .env("MODELS", "sync"),
        SCRIPT_TIMEOUT,
    );
    assert_eq!(next.code, Some(0), "{}", next.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With CARGO_TARGET_DIR, or a `target-dir` in a cargo config, cargo builds outside
/// target/: the driver built there and ran target/release, measuring stale binaries
/// without a word, or in a fresh clone failing with "fixture server did not start". Here a
/// copy of the sources, whose target/release holds stale binaries that fail, is benched
/// with its target folder moved each way to the one these tests were built in (the copy
/// keeps the files' times, so cargo finds everything there fresh and builds nothing).
#[test]
fn the_driver_runs_the_binaries_cargo_built() {
    let _turn = e2e::driver_lock();
    let dir = scratch("target-dir");
    let clone = dir.join("clone");
    std::fs::create_dir(&clone).unwrap();
    let root = e2e::repo_root();
    let copied = Command::new("cp")
        .arg("-a")
        .args(["Cargo.toml", "Cargo.lock", "crates", "scripts"].map(|f| root.join(f)))
        .arg(&clone)
        .status()
        .unwrap();
    assert!(copied.success());
    let stale = clone.join("target/release");
    std::fs::create_dir_all(&stale).unwrap();
    for name in ["sync", "benchkit", "fixture-server"] {
        fake_binary(&stale, name, "echo 'stale binary' >&2; exit 1");
    }

    let target = e2e::target_dir();
    for (i, how) in ["CARGO_TARGET_DIR", "target-dir in .cargo/config.toml"]
        .into_iter()
        .enumerate()
    {
        let results = dir.join(format!("results-{i}"));
        let mut command = e2e::script_command(&clone.join("scripts/bench.sh"), "quick");
        command
            .env("RESULTS_DIR", &results)
            .env("MODELS", "sync")
            .env_remove("CARGO_TARGET_DIR");
        if how == "CARGO_TARGET_DIR" {
            command.env("CARGO_TARGET_DIR", &target);
        } else {
            std::fs::create_dir_all(clone.join(".cargo")).unwrap();
            std::fs::write(
                clone.join(".cargo/config.toml"),
                format!("[build]\ntarget-dir = {:?}\n", target.to_str().unwrap()),
            )
            .unwrap();
        }
        let run = e2e::run_until(&mut command, SCRIPT_TIMEOUT);
        assert_eq!(run.code, Some(0), "{how}:\n{}", run.stderr);
        let folder = run_folder(&results);
        let settings = std::fs::read_to_string(folder.join("settings.txt")).unwrap();
        let binaries = settings
            .lines()
            .find_map(|l| l.strip_prefix("binaries="))
            .unwrap_or_else(|| panic!("{how}: no binaries= in settings.txt:\n{settings}"));
        assert_eq!(
            Path::new(binaries).canonicalize().unwrap(),
            e2e::bin_dir().canonicalize().unwrap(),
            "{how}"
        );
        let summary = std::fs::read_to_string(folder.join("summary.csv")).unwrap();
        for workload in ["cpu", "io"] {
            assert!(
                summary
                    .lines()
                    .any(|l| l.starts_with(&format!("sync,{workload},2,ok,"))),
                "{how}:\n{summary}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A results folder on a full disk: the script exited 1 without a word (an empty grep under
/// `set -e` and `pipefail`), no failed-cell row, no CSVs. Now its last line names the
/// command that failed. The disk is a 32 KiB tmpfs mounted in a mount namespace of the
/// script's own (`unshare`; a user namespace where the test is not root), so it vanishes
/// with the script.
#[test]
fn a_full_disk_stops_the_bench_with_a_line_saying_what_failed() {
    let _turn = e2e::driver_lock();
    let dir = scratch("full-disk");
    let results = dir.join("results");
    std::fs::create_dir(&results).unwrap();
    let run = e2e::run_until(
        Command::new("unshare")
            .args(["--mount", "--map-root-user", "--", "bash", "-c"])
            .arg(r#"mount -t tmpfs -o size=32k tmpfs "$1" && exec bash "$2" quick"#)
            .arg("bash")
            .arg(&results)
            .arg(script("bench.sh"))
            .env("RESULTS_DIR", &results)
            .env("MODELS", "sync threads rayon procs"),
        SCRIPT_TIMEOUT,
    );
    assert!(
        !run.stderr.contains("unshare: ") && !run.stderr.starts_with("mount: "),
        "this test needs unshare and mount (a user namespace) for a small disk:\n{}",
        run.stderr
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("No space left on device"),
        "{}",
        run.stderr
    );
    let last = run.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("bench.sh: error: line ") && last.contains("failed (exit status"),
        "{}",
        run.stderr
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A model killed by a signal: hyperfine says only "The process has been terminated by a
/// signal". The driver names the signal, after the model's last line if it printed one,
/// in failed.tsv and in the CSV's reason.
#[test]
fn a_model_killed_by_a_signal_is_recorded_with_the_signal() {
    let _turn = e2e::driver_lock();
    let dir = scratch("signal");
    // ulimit -c 0: no core file from the crash.
    let segv = fake_binary(
        &dir,
        "segv",
        "echo 'segv: about to crash' >&2\nulimit -c 0\nkill -SEGV $$",
    );
    let killed = fake_binary(&dir, "killed", "kill -KILL $$");
    let results = dir.join("results");
    let run = e2e::run_until(
        e2e::script_command(&script("bench.sh"), "quick")
            .env("RESULTS_DIR", &results)
            .env(
                "MODELS",
                format!("sync {} {}", segv.display(), killed.display()),
            ),
        SCRIPT_TIMEOUT,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let folder = run_folder(&results);
    let failed = std::fs::read_to_string(folder.join("failed.tsv")).unwrap();
    let summary = std::fs::read_to_string(folder.join("summary.csv")).unwrap();
    for workload in ["cpu", "io"] {
        for (model, reason) in [
            ("segv", "segv: about to crash; killed by SIGSEGV"),
            ("killed", "killed by SIGKILL"),
        ] {
            assert!(
                failed
                    .lines()
                    .any(|l| l == format!("{workload}\t{model}\t{reason}")),
                "{model} {workload}:\n{failed}"
            );
            assert!(
                summary
                    .lines()
                    .any(|l| l.starts_with(&format!("{model},{workload},,failed,"))
                        && l.ends_with(&format!(",{reason}"))),
                "{model} {workload}:\n{summary}"
            );
        }
        assert!(
            summary
                .lines()
                .any(|l| l.starts_with(&format!("sync,{workload},2,ok,"))),
            "{summary}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
