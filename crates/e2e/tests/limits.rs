//! At a limit of the machine, every model ends in one line and a non-zero exit: refused
//! before it starts (exit 2) when the limit can be read, or failed (exit 1) when a thread
//! or process could not start anyway. Never a panic trace, an abort or a hang.

use e2e::{bin, die_with_parent, models};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run `model args` as the unprivileged user `nobody` (root is exempt from the process
/// limit) under `prlimit --nproc=NPROC`: returns (exit code, stderr, elapsed), or None
/// where this machine cannot drop privileges (not root, or no setpriv/prlimit).
fn under_nproc(model: &str, nproc: u32, args: &[&str]) -> Option<(Option<i32>, String, Duration)> {
    // SAFETY: geteuid only reads.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: not root, cannot run a model as another user under a process limit");
        return None;
    }
    let exe = bin(model);
    let mut command = Command::new("timeout");
    command
        .args([
            "20",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ])
        .arg("prlimit")
        .arg(format!("--nproc={nproc}"))
        .arg(&exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let out = match die_with_parent(&mut command).output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("SKIPPED: cannot run timeout/setpriv/prlimit: {e}");
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if stderr.contains("setpriv:") || stderr.contains("prlimit:") {
        eprintln!("SKIPPED: setpriv or prlimit refused: {stderr}");
        return None;
    }
    Some((out.status.code(), stderr, started.elapsed()))
}

/// With no room for a single thread beyond the process itself and its memory sampler,
/// every model but sync stops at once with one line (exit 1 or 2) on every workload.
/// Before this was handled, rayon and tokio-async panicked (exit 101), smol-async and
/// async-std-async aborted (exit 134), and their cpu workloads could hang for minutes.
#[test]
fn no_thread_to_spare_is_one_line_and_an_exit_for_every_model() {
    for model in models().iter().filter(|m| *m != "sync") {
        for args in [
            &["cpu", "--n", "4", "--exp", "2000"][..],
            &["sleep", "--n", "4", "--ms", "10"],
        ] {
            // Two tasks: the model's main thread and its memory sampler.
            let Some((code, stderr, elapsed)) = under_nproc(model, 2, args) else {
                return;
            };
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            assert!(
                matches!(code, Some(1 | 2)),
                "{model} {args:?}: exit {code:?}, stderr {stderr:?}"
            );
            assert_eq!(lines.len(), 1, "{model} {args:?}: one line, got {stderr:?}");
            assert!(
                lines[0].starts_with(&format!("{model}: ")) && !lines[0].contains("internal error"),
                "{model} {args:?}: {stderr:?}"
            );
            assert!(
                lines[0].contains("ulimit -u") || lines[0].contains("kernel tasks"),
                "{model} {args:?}: the line names no limit: {stderr:?}"
            );
            assert!(
                elapsed < Duration::from_secs(15),
                "{model} {args:?}: {elapsed:?}"
            );
        }
    }
}

/// For every tight process limit from none to plenty, tokio-async, smol-async and
/// async-std-async either finish or stop in one line: no limit value hits a runtime's
/// panic, abort, or blocking pool that retries forever (both seen before, at 3 and 4).
#[test]
fn async_runtimes_never_hang_or_abort_at_any_tight_limit() {
    for model in [
        "tokio-async",
        "smol-async",
        "async-std-async",
        "green",
        "rayon",
    ] {
        for nproc in 2..=8 {
            let args = ["cpu", "--n", "6", "--exp", "2000"];
            let Some((code, stderr, elapsed)) = under_nproc(model, nproc, &args) else {
                return;
            };
            let lines = stderr.lines().filter(|l| !l.trim().is_empty()).count();
            assert!(
                matches!(code, Some(0..=2)) && lines == usize::from(code != Some(0)),
                "{model} at nproc {nproc}: exit {code:?}, stderr {stderr:?}"
            );
            assert!(
                elapsed < Duration::from_secs(15),
                "{model} at nproc {nproc}: {elapsed:?}"
            );
        }
    }
}

/// The input caps follow the machine: a run that needs more kernel tasks than pid_max
/// (or threads-max) allows is refused before it starts, naming the limit.
#[test]
fn runs_beyond_the_machines_task_limits_are_refused_naming_the_limit() {
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let n = (pid_max + 1).to_string();
    for (model, args) in [
        ("threads", ["sleep", "--n", &n, "--ms", "1"]),
        ("procs", ["sleep", "--n", &n, "--ms", "1"]),
    ] {
        let run = e2e::run(model, &args);
        let stderr = run.stderr();
        assert_eq!(run.code(), Some(2), "{model} {args:?}: {stderr}");
        assert!(
            stderr.contains("pid_max") || stderr.contains("threads-max"),
            "{model} {args:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

/// green's coroutine stacks are two memory maps each: a run past vm.max_map_count is
/// refused before it starts, naming it (it used to fail at coroutine 32,739 of 40,000).
#[test]
fn green_past_max_map_count_is_refused_naming_it() {
    let max: u64 = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let n = max / 2 + 1;
    if n > workload::cli::MAX_SLEEP_N {
        eprintln!("SKIPPED: vm.max_map_count {max} allows more coroutines than sleep's cap");
        return;
    }
    let run = e2e::run("green", &["sleep", "--n", &n.to_string(), "--ms", "1"]);
    assert_eq!(run.code(), Some(2), "{}", run.stderr());
    assert!(
        run.stderr().contains("vm.max_map_count"),
        "{}",
        run.stderr()
    );
}
