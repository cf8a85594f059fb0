//! At a limit of the machine, every model ends in one line and a non-zero exit: refused
//! before it starts (exit 2) when the limit can be read, or failed (exit 1) when a thread
//! or process could not start anyway. Never a panic trace, an abort or a hang.
//!
//! A process limit binds only a user other than root, and only root can run a model as
//! another user: the tests that need a model to *meet* the limit are skipped when not run
//! as root, saying so on the terminal; with E2E_REQUIRE_ROOT set (`.ci/run`, which runs as
//! root), such a skip fails instead, so that CI never passes them without running them.

use e2e::{bin, die_with_parent, models};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    // SAFETY: geteuid only reads.
    unsafe { libc::geteuid() == 0 }
}

/// Say on the terminal (past the test harness's capture) that a test could not run here
/// and why; under E2E_REQUIRE_ROOT, fail instead.
fn skipped(why: &str) {
    assert!(
        std::env::var_os("E2E_REQUIRE_ROOT").is_none(),
        "{why} (E2E_REQUIRE_ROOT is set, so this fails instead of skipping)"
    );
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// Run `model args` under `prlimit --nproc=NPROC` (`ulimit -u`), as the unprivileged
/// user `nobody` when run as root (root is exempt from the limit), else as this user:
/// returns (exit code, stderr, elapsed), or None (after [`skipped`]) where setpriv or
/// prlimit cannot run.
fn limited(model: &str, nproc: u32, args: &[&str]) -> Option<(Option<i32>, String, Duration)> {
    let mut command = Command::new("timeout");
    command.arg("20");
    if is_root() {
        command.args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]);
    }
    command
        .arg("prlimit")
        .arg(format!("--nproc={nproc}"))
        .arg(bin(model))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let out = match die_with_parent(&mut command).output() {
        Ok(out) => out,
        Err(e) => {
            skipped(&format!("cannot run timeout/setpriv/prlimit: {e}"));
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if stderr.contains("setpriv:") || stderr.contains("prlimit:") {
        skipped(&format!("setpriv or prlimit refused: {stderr}"));
        return None;
    }
    Some((out.status.code(), stderr, started.elapsed()))
}

/// [`limited`] as `nobody`, who runs nothing else, so that NPROC is the room the model
/// has; None (after [`skipped`]) when not run as root.
fn under_nproc(model: &str, nproc: u32, args: &[&str]) -> Option<(Option<i32>, String, Duration)> {
    if !is_root() {
        skipped("not root, cannot run a model as another user under a process limit");
        return None;
    }
    limited(model, nproc, args)
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

/// For every tight process limit from none to plenty, the async runtimes (tokio, smol,
/// async-std, monoio on both drivers), green and rayon either finish or stop in one line:
/// no limit value hits a runtime's panic, abort, or blocking pool that retries forever
/// (both seen before, at 3 and 4).
#[test]
fn async_runtimes_never_hang_or_abort_at_any_tight_limit() {
    for model in [
        "tokio-async",
        "smol-async",
        "async-std-async",
        "monoio-async",
        "monoio-epoll",
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

/// The input caps follow the machine: a run that needs more kernel tasks than the
/// tightest limit allows is refused before it starts, naming the limit, by the model's own
/// check (`workload::limits::check_tasks`), not by the argument parser.
///
/// The limit is lowered for the test: `ulimit -u` of 64 (as `nobody` when root, who is
/// exempt), and 65 sleeping tasks asked for, far under the parser's cap of 1,000,000. (The
/// test used to ask for pid_max + 1 tasks, which on a host with systemd's pid_max of
/// 4,194,304 the parser refused first, in words that name no limit.) The line names
/// `ulimit -u`, or a tighter limit if the machine has one (a cgroup's pids.max, pid_max,
/// threads-max). A model that started its 65 threads or processes anyway would fail to
/// start the 63rd or so and exit 1: the exit code 2 is the check's.
#[test]
fn runs_beyond_a_task_limit_are_refused_by_the_models_check_naming_it() {
    for model in ["threads", "procs"] {
        let args = ["sleep", "--n", "65", "--ms", "1"];
        let Some((code, stderr, _)) = limited(model, 64, &args) else {
            return;
        };
        assert_eq!(code, Some(2), "{model} {args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("{model}: "))
                && stderr.contains("need 65 more kernel tasks"),
            "{model} {args:?}: not the model's check: {stderr}"
        );
        assert!(
            ["ulimit -u", "pids.max", "pid_max", "threads-max"]
                .iter()
                .any(|limit| stderr.contains(limit)),
            "{model} {args:?}: names no limit: {stderr}"
        );
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
