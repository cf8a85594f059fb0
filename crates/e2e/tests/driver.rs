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

/// A fake model that works: after `body` (shell), whatever its workload, it prints a
/// summary line (checksum 0x1), to its `--summary-file` too.
fn working_model(dir: &Path, name: &str, body: &str) -> PathBuf {
    let summary = format!(
        r#"{{"model":"{name}","workload":"'"$w"'","n":'"$n"',"wall_ms":1.0,"checksum":"0x1","bytes":0,"tasks":'"$n"',"processes":1,"peak_rss_bytes":1000,"peak_pss_bytes":900,"workers":1,"peak_threads":1}}"#
    );
    fake_binary(
        dir,
        name,
        &format!(
            "{body}\nw=$1 n=1 f=\nwhile [ $# -gt 0 ]; do case $1 in --n) n=$2; shift ;; --summary-file) f=$2; shift ;; esac; shift; done\nline='{summary}'\necho \"$line\"\n[ -z \"$f\" ] || echo \"$line\" >>\"$f\""
        ),
    )
}

/// The processes left of a run: those in process group `pgid` (the script's, which every
/// command it starts inherits) or whose command line mentions `mark` (the run's scratch
/// folder, which every model's `--summary-file` names), as "pid (state): command line".
fn leftovers(pgid: i32, mark: &str) -> Vec<String> {
    e2e::processes_of(pgid, &[mark], true)
}

/// Nothing of the run is left after at most 5 s (the kernel reaps an orphan at once; the
/// wait is for a process that was still exiting).
fn assert_nothing_left(pgid: i32, mark: &Path) {
    let mark = mark.to_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = leftovers(pgid, mark);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes left of the run:\n{}",
            left.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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
    // Each row says which I/O driver it ran on: monoio-epoll epoll, monoio-async io_uring
    // (or epoll, where this machine has no io_uring); a model that names none, nothing.
    assert_eq!(
        e2e::drivers_of(&summary, "monoio-epoll"),
        ["epoll", "epoll"]
    );
    let uring = e2e::drivers_of(&summary, "monoio-async");
    assert!(
        uring.len() == 2 && uring.iter().all(|d| d == "io_uring" || d == "epoll"),
        "{summary}"
    );
    assert_eq!(e2e::drivers_of(&summary, "tokio-async"), ["", ""]);
    // The server the driver started is gone: its address no longer answers.
    let addr = std::fs::read_to_string(run.join("server.addr")).unwrap();
    assert!(
        std::net::TcpStream::connect(addr.trim()).is_err(),
        "fixture server still running at {addr}"
    );
    std::fs::remove_dir_all(run.parent().unwrap().parent().unwrap()).unwrap();
}

/// Ctrl-C in the middle of a run (SIGINT to the whole process group, as a terminal sends
/// it): exit 130; the cpu rounds measured whole are in the CSV, and nothing of the round
/// under way (a round measured in part would weigh its models unevenly); no process of
/// the run is left (model, hyperfine, fixture server: found in /proc by process group or
/// by the scratch folder on their command line), and the server's port is closed.
#[test]
fn ctrl_c_keeps_the_whole_rounds_and_leaves_no_process() {
    use std::os::unix::process::CommandExt;
    let _turn = e2e::driver_lock();
    let results = scratch("ctrl-c");
    let mut command = Command::new("bash");
    command
        .arg(script("bench.sh"))
        .arg("quick")
        .env("RESULTS_DIR", &results)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0);
    // As a terminal starts it, even when these tests run under a shell that started them
    // in the background (see a_driver_started_in_the_background_ignores_sigint_with_its_server).
    e2e::sigint_as_from_a_terminal(&mut command);
    let mut child = command.spawn().unwrap();
    let pgid = child.id() as i32;
    let _cleanup = KillGroupOnDrop(pgid);
    // Wait until round 1 of cpu is measured and round 2 has begun, then interrupt it.
    let measured = |dir: &Path| {
        std::fs::read_dir(dir).map_or(0, |d| {
            d.filter(|e| e.as_ref().unwrap().metadata().unwrap().len() > 0)
                .count()
        })
    };
    let mut run = PathBuf::new();
    wait_for("a model measured in cpu round 2", || {
        assert!(child.try_wait().unwrap().is_none(), "the bench ended");
        let Some(found) = std::fs::read_dir(results.join("runs"))
            .ok()
            .and_then(|mut d| d.next())
        else {
            return false;
        };
        run = found.unwrap().path();
        measured(&run.join("json/round-2")) >= 1
    });
    unsafe { libc::kill(-pgid, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
    assert_nothing_left(pgid, &results);

    let models = e2e::models();
    let cpu = std::fs::read_to_string(run.join("cpu.csv"))
        .expect("cpu.csv of the rounds measured so far");
    let rows: Vec<&str> = cpu.lines().skip(1).collect();
    assert_eq!(rows.len(), models.len(), "{cpu}");
    // Whole rounds: every model measured in as many rounds (1, or 2 if the interruption
    // came after round 2 ended), and each round folder holds every model's cpu cell or
    // none.
    let rounds: Vec<&str> = rows
        .iter()
        .map(|r| r.split(',').nth(5).unwrap_or_default())
        .collect();
    assert!(
        rows.iter().all(|r| r.contains(",ok,")) && rounds.iter().all(|r| *r == rounds[0]),
        "{cpu}"
    );
    for round in ["round-1", "round-2"] {
        let cells = std::fs::read_dir(run.join("json").join(round)).map_or(0, |d| {
            d.filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("cpu-")
            })
            .count()
        });
        assert!(
            cells == 0 || cells == models.len(),
            "{round}: {cells} cpu cells"
        );
    }
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
        ("PROMOTE", "yes"),
        ("PROMOTE", "1"), // a quick run never becomes the reference
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
    let settings =
        std::fs::read_to_string(run_folder(&results).join("bench-settings.txt")).unwrap();
    assert!(
        settings.starts_with("mode=quick n=1 cpu_runs=1 io_runs=1 warmup=0 "),
        "{settings}"
    );

    // A model name that is no model crate is refused before the build, in one line
    // naming the models, and leaves no run folder (issue 19, item 6).
    let run = e2e::run_until(
        e2e::script_command(&script("bench.sh"), "quick")
            .env("RESULTS_DIR", dir.join("results-unknown"))
            .env("MODELS", "sync nosuchmodel"),
        SCRIPT_TIMEOUT,
    );
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(
            "bench.sh: error: MODELS: no model 'nosuchmodel' (the models: async-std-async green monoio-async monoio-epoll procs rayon "
        ),
        "{}",
        run.stderr
    );
    assert!(
        !dir.join("results-unknown").exists(),
        "a run folder was made"
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
    // and hold the lock until they end; its fixture server, started without the lock and
    // with --exit-with-parent, ends with the shell.
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
    // No server serves on for a driver killed by SIGKILL (issue 19, item 8).
    let addr = std::fs::read_to_string(run_folder(&results_a).join("server.addr")).unwrap();
    wait_for("the killed bench's fixture server to end", || {
        std::net::TcpStream::connect(addr.trim()).is_err()
    });
    // Anything else left in the first bench's process group.
    unsafe { libc::kill(-pid, libc::SIGKILL) };

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
        let settings = std::fs::read_to_string(folder.join("bench-settings.txt")).unwrap();
        let binaries = settings
            .lines()
            .find_map(|l| l.strip_prefix("binaries="))
            .unwrap_or_else(|| panic!("{how}: no binaries= in bench-settings.txt:\n{settings}"));
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

/// A copy of the project as a fresh clone would have it, in `dir/clone`: the sources,
/// README.md and results/ without its run folders, with the files' times kept, so that
/// cargo, pointed at the target folder these tests were built in, finds everything fresh
/// and builds nothing. Made a git repository with one commit, so that its state (clean,
/// dirty) is the test's own, whatever the checkout the tests run in.
fn clone_project(dir: &Path) -> PathBuf {
    let clone = dir.join("clone");
    std::fs::create_dir_all(clone.join("results")).unwrap();
    let root = e2e::repo_root();
    let copy = |from: Vec<PathBuf>, to: &Path| {
        let status = Command::new("cp")
            .arg("-a")
            .args(from)
            .arg(to)
            .status()
            .unwrap();
        assert!(status.success());
    };
    copy(
        ["Cargo.toml", "Cargo.lock", "README.md", "crates", "scripts"]
            .map(|f| root.join(f))
            .to_vec(),
        &clone,
    );
    let results: Vec<PathBuf> = std::fs::read_dir(root.join("results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("runs"))
        .collect();
    copy(results, &clone.join("results"));
    git(&clone, &["init", "-q"]);
    git(&clone, &["add", "-A"]);
    git(&clone, &["commit", "-q", "-m", "clone"]);
    clone
}

/// `git ARGS` in `repo`, with a committer of its own.
fn git(repo: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=driver test",
            "-c",
            "user.email=driver@test",
        ])
        .args(args)
        .current_dir(repo)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// Every file under `dir` (run folders excepted) with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("runs") {
                    folders.push(path);
                }
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// A full run with MODELS, N, RUNS or WARMUP changed is partial: it writes its run folder
/// (tagged `partial`) and a report there, says so in one line, and leaves results/ (the
/// CSVs, REPORT.md, the charts) and the README byte for byte as they were; PROMOTE=1
/// makes it the reference. A reference run from a checkout with uncommitted changes is
/// refused in one line before anything runs (bench and scale sweep), unless ALLOW_DIRTY=1,
/// which its settings record as git_dirty=yes.
#[test]
fn a_partial_run_leaves_the_reference_alone_and_a_dirty_one_is_refused() {
    let _turn = e2e::driver_lock();
    let dir = scratch("partial");
    let clone = clone_project(&dir);
    let fake = working_model(&dir, "fake", "");
    let bench = |env: &[(&str, &str)], mode: &str, name: &str| {
        let mut command = e2e::script_command(&clone.join("scripts").join(name), mode);
        command
            .env_remove("CARGO_TARGET_DIR")
            .env("CARGO_TARGET_DIR", e2e::target_dir())
            .env_remove("RESULTS_DIR")
            .env_remove("ALLOW_DIRTY")
            .env_remove("PROMOTE")
            .env("MODELS", &fake)
            .env("N", "2")
            .env("RUNS", "1")
            .env("WARMUP", "0")
            .envs(env.iter().copied());
        e2e::run_until(&mut command, SCRIPT_TIMEOUT)
    };
    let before = (
        snapshot(&clone.join("results")),
        std::fs::read(clone.join("README.md")).unwrap(),
    );
    assert!(
        before.0.iter().any(|(p, _)| p.ends_with("cpu.csv")),
        "{:?}",
        before.0
    );

    let run = bench(&[], "full", "bench.sh");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let after = (
        snapshot(&clone.join("results")),
        std::fs::read(clone.join("README.md")).unwrap(),
    );
    assert!(
        after == before,
        "results/ or README.md changed by a partial run"
    );
    let said: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("partial run"))
        .collect();
    assert_eq!(
        said,
        [format!(
            "== partial run (MODELS,N,RUNS,WARMUP changed): results/*.csv, REPORT.md and the README left as they were (PROMOTE=1 writes them); this run's report: {}/REPORT.md",
            run_folder(&clone.join("results")).strip_prefix(&clone).unwrap().display()
        )],
        "{}",
        run.stderr
    );
    let folder = run_folder(&clone.join("results"));
    assert!(
        folder.to_str().unwrap().contains("-partial-"),
        "{}",
        folder.display()
    );
    for file in ["REPORT.md", "summary.csv", "bench-settings.txt"] {
        assert!(
            folder.join(file).exists(),
            "{file} missing in {}",
            folder.display()
        );
    }
    std::fs::remove_dir_all(clone.join("results/runs")).unwrap();

    // A dirty checkout: a reference run, or a full sweep, is refused before anything runs.
    std::fs::write(clone.join("scripts/untracked.sh"), "").unwrap();
    let unset = [("MODELS", ""), ("N", ""), ("RUNS", ""), ("WARMUP", "")];
    for (name, mode, promote) in [
        ("bench.sh", "full", ""),
        ("bench.sh", "full", "1"),
        ("bench-scale.sh", "full", ""),
    ] {
        let mut env = if promote.is_empty() {
            unset.to_vec()
        } else {
            Vec::new()
        };
        env.push(("PROMOTE", promote));
        let run = bench(&env, mode, name);
        assert_eq!(
            run.code,
            Some(2),
            "{name} PROMOTE={promote}:\n{}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(
            run.stderr.starts_with(&format!("{name}: error: the checkout has uncommitted changes (git status), and this run would write results/")),
            "{}",
            run.stderr
        );
        assert!(
            !clone.join("results/runs").exists(),
            "{name} made a run folder"
        );
    }

    // PROMOTE=1 with ALLOW_DIRTY=1: the run becomes the reference, marked dirty.
    let run = bench(
        &[("PROMOTE", "1"), ("ALLOW_DIRTY", "1")],
        "full",
        "bench.sh",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let folder = run_folder(&clone.join("results"));
    for csv in ["cpu.csv", "io.csv", "summary.csv", "bench-settings.txt"] {
        assert_eq!(
            std::fs::read(clone.join("results").join(csv)).unwrap(),
            std::fs::read(folder.join(csv)).unwrap(),
            "{csv}"
        );
    }
    let settings = std::fs::read_to_string(clone.join("results/bench-settings.txt")).unwrap();
    for token in [
        "reference=yes",
        "changed=MODELS,N,RUNS,WARMUP",
        "git_dirty=yes",
    ] {
        assert!(
            settings.split_whitespace().any(|t| t == token),
            "{token}:\n{settings}"
        );
    }
    assert!(settings.contains("\ngit_commit="), "{settings}");
    assert!(!run.stderr.contains("partial run"), "{}", run.stderr);

    // A reference run with a failed cell never replaces the reference (issue 19, item 1):
    // results/ stays as the last good run left it, and failed.tsv names the cell.
    let good = snapshot(&clone.join("results"));
    let failing = fake_binary(
        &dir,
        "failing",
        "echo 'failing: error: planted' >&2; exit 1",
    );
    let models = format!("{} {}", fake.display(), failing.display());
    let run = bench(
        &[
            ("PROMOTE", "1"),
            ("ALLOW_DIRTY", "1"),
            ("MODELS", models.as_str()),
        ],
        "full",
        "bench.sh",
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    // (snapshot leaves out the run folders, which every run adds to.)
    assert!(
        snapshot(&clone.join("results")) == good,
        "a failed run replaced results/:\n{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("cell(s) or step(s) failed: results/ and the README left as they were"),
        "{}",
        run.stderr
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A failing model costs one run per cell: its error line is kept from that run (no
/// second run just to read it), and it is not run in the later rounds. The model beside
/// it is measured in every round.
#[test]
fn a_failing_model_runs_once_per_cell_and_keeps_its_line() {
    let _turn = e2e::driver_lock();
    let dir = scratch("fails-once");
    let count = dir.join("count");
    let failing = fake_binary(
        &dir,
        "failing",
        &format!(
            "echo run >>'{}'\necho 'failing: error: GET http://x/: timed out after 30000 ms' >&2\nexit 1",
            count.display()
        ),
    );
    let fine = working_model(&dir, "fine", "");
    let results = dir.join("results");
    let run = e2e::run_until(
        e2e::script_command(&script("bench.sh"), "quick")
            .env("RESULTS_DIR", &results)
            .env("RUNS", "3")
            .env("WARMUP", "0")
            .env(
                "MODELS",
                format!("{} {}", fine.display(), failing.display()),
            ),
        SCRIPT_TIMEOUT,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&count).unwrap().lines().count(),
        2,
        "one run per workload, cpu and io"
    );
    let folder = run_folder(&results);
    let failed = std::fs::read_to_string(folder.join("failed.tsv")).unwrap();
    let reason = "failing: error: GET http://x/: timed out after 30000 ms";
    assert_eq!(
        failed,
        format!("cpu\tfailing\t{reason}\nio\tfailing\t{reason}\n")
    );
    let summary = std::fs::read_to_string(folder.join("summary.csv")).unwrap();
    for workload in ["cpu", "io"] {
        assert!(
            summary
                .lines()
                .any(|l| l.starts_with(&format!("fine,{workload},2,ok,3,3,"))),
            "{summary}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `make compare`: two models (fakes here) timed by hyperfine on io against the fixture
/// server it starts; it prints hyperfine's table and comparison, and leaves no process
/// (server, hyperfine, model) behind. Bad settings are one line and exit status 2.
#[test]
fn compare_prints_hyperfines_comparison_and_leaves_nothing() {
    use std::os::unix::process::CommandExt;
    let _turn = e2e::driver_lock();
    let dir = scratch("compare");
    let slow = working_model(&dir, "slow", "sleep 0.05");
    let quick = working_model(&dir, "quick", "");
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new("make")
        .arg("-s")
        .arg("compare")
        .arg(format!("A={}", slow.display()))
        .arg(format!("B={}", quick.display()))
        .arg("WORKLOAD=io")
        .env("RUNS", "2")
        .current_dir(e2e::repo_root())
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let _cleanup = KillGroupOnDrop(pgid);
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "make compare ran {SCRIPT_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&err).unwrap(),
    );
    assert!(status.success(), "{status}:\n{stdout}\n{stderr}");
    assert_nothing_left(pgid, &dir);
    for line in [
        "Benchmark 1: slow",
        "Benchmark 2: quick",
        "Summary",
        "  quick ran",
        " times faster than slow",
    ] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
    let addr = stderr
        .split("fixture server at ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no server address in:\n{stderr}"));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "fixture server still running at {addr}"
    );

    for (a, b, workload, what) in [
        ("threads", "nosuch", "io", "B: 'nosuch' is not a model"),
        ("", "threads", "io", "A and B name the two models"),
        (
            "sync",
            "threads",
            "disk",
            "WORKLOAD must be cpu, io or sleep, not 'disk'",
        ),
    ] {
        let run = e2e::run_until(
            Command::new("bash")
                .arg(script("compare.sh"))
                .args([a, b, workload])
                .env_remove("A"),
            Duration::from_secs(60),
        );
        assert_eq!(run.code, Some(2), "{a} {b} {workload}:\n{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(
            run.stderr
                .starts_with(&format!("compare.sh: error: {what}")),
            "{}",
            run.stderr
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Started in the background by a script (`scripts/bench.sh quick &` in `bash -c`: a
/// shell without job control starts it with SIGINT ignored, so it cannot trap SIGINT), a
/// SIGINT to its process group changes nothing: the whole run keeps it ignored, fixture
/// server included, and the run ends as if none had come (exit 0, every cell measured,
/// no failed.tsv), saying at its start that SIGTERM stops it. The server once handled the
/// SIGINT and stopped, alone: the run went on against a dead port.
#[test]
fn a_driver_started_in_the_background_ignores_sigint_with_its_server() {
    use std::os::unix::process::CommandExt;
    let _turn = e2e::driver_lock();
    let dir = scratch("background-sigint");
    // Slow enough that the SIGINT comes while the run is under way.
    let slow = working_model(&dir, "slow", "sleep 0.3");
    let results = dir.join("results");
    let err = std::fs::File::create(dir.join("stderr")).unwrap();
    let mut child = Command::new("bash")
        .arg("-c")
        // The outer shell ignores SIGINT only after starting the bench (which the `&`
        // alone made ignore it), so as to live on and pass its exit status.
        .arg(r#""$0" quick & trap '' INT; wait $!"#)
        .arg(script("bench.sh"))
        .env("RESULTS_DIR", &results)
        .env("RUNS", "3")
        .env("MODELS", slow.display().to_string())
        .stdout(std::process::Stdio::null())
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let _cleanup = KillGroupOnDrop(pgid);
    wait_for("the cpu round 1 measured", || {
        assert!(child.try_wait().unwrap().is_none(), "the bench ended");
        std::fs::read_dir(results.join("runs"))
            .ok()
            .and_then(|mut d| d.next())
            .is_some_and(|run| {
                let run = run.unwrap().path();
                run.join("json/round-1/cpu-slow.json").exists()
            })
    });
    // SAFETY: kill(2) on the process group this test started.
    unsafe { libc::kill(-pgid, libc::SIGINT) };
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the bench did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("== SIGINT is ignored (started in the background by a script)"),
        "{stderr}"
    );
    let run = run_folder(&results);
    assert!(!run.join("failed.tsv").exists(), "{stderr}");
    let summary = std::fs::read_to_string(run.join("summary.csv")).unwrap();
    for workload in ["cpu", "io"] {
        assert!(
            summary
                .lines()
                .any(|l| l.starts_with(&format!("slow,{workload},2,ok,3,3,"))),
            "{summary}"
        );
    }
    assert_nothing_left(pgid, &dir);
    std::fs::remove_dir_all(&dir).unwrap();
}
