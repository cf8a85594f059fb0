//! The syscall step (`scripts/bench-syscalls.sh tiny`) end to end: sync and tokio-async
//! counted by the kernel in both cells, against the real fixture server, and the counts
//! checked against what each model is known to do. Counting needs what perf needs
//! (tracefs, perf_event_open allowed: root here); where the machine does not allow it the
//! tests say SKIPPED, and under E2E_REQUIRE_ROOT (which `.ci/run` sets, running as root)
//! they fail instead.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("syscalls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `bench-syscalls.sh tiny` writing into `dir/results`.
fn command(dir: &Path) -> Command {
    let mut command =
        e2e::script_command(&e2e::repo_root().join("scripts/bench-syscalls.sh"), "tiny");
    command
        .env("RESULTS_DIR", dir.join("results"))
        .env_remove("MODELS")
        .env_remove("TRACEFS");
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

/// syscalls.csv's rows as column -> value (no field of the tiny run holds a comma).
fn rows(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

fn skipped(why: &str) {
    assert!(
        std::env::var_os("E2E_REQUIRE_ROOT").is_none(),
        "{why} (E2E_REQUIRE_ROOT is set, so this fails instead of skipping)"
    );
    eprintln!("SKIPPED: {why}");
}

/// The tiny step: every cell counted, in two rounds; sync's downloads go over one
/// keep-alive connection (ureq's pool: one connect in all, one request written per
/// download, the answer read in recvfrom calls, no `read`: the memory sampler's reads of
/// /proc are not counted); sync closes every served connection (an
/// accept and a close per request) where tokio-async keeps them (no accept per request,
/// one epoll_wait); every larger run made more calls than its smaller one; results/ is
/// left alone.
#[test]
fn the_tiny_step_counts_what_each_model_is_known_to_do() {
    let _turn = e2e::driver_lock();
    let dir = scratch("tiny");
    let run = e2e::run_until(&mut command(&dir), SCRIPT_TIMEOUT);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let folder = run_folder(&dir.join("results"));
    if let Ok(why) = std::fs::read_to_string(folder.join("syscalls-skipped.txt")) {
        skipped(why.trim());
        return;
    }
    assert!(
        !dir.join("results/syscalls.csv").exists(),
        "a tiny run wrote results/"
    );
    let rows = rows(&folder.join("syscalls.csv"));
    assert_eq!(rows.len(), 8, "2 models x 2 cells x 2 rounds: {rows:?}");
    let num = |r: &HashMap<String, String>, c: &str| -> f64 {
        r[c].parse()
            .unwrap_or_else(|_| panic!("{} {}: {c} = {:?}", r["model"], r["cell"], r[c]))
    };
    for r in &rows {
        let what = format!("{} {} round {}", r["model"], r["cell"], r["round"]);
        assert_eq!(r["status"], "ok", "{what}: {}", r["reason"]);
        assert!(num(r, "units") > num(r, "units_base"), "{what}");
        for call in ["total", "recvfrom"] {
            assert!(
                num(r, call) > num(r, &format!("base_{call}")),
                "{what}: the larger run made no more {call} calls than the smaller"
            );
        }
    }
    let of = |model: &str, cell: &str| -> Vec<&HashMap<String, String>> {
        rows.iter()
            .filter(|r| r["model"] == model && r["cell"] == cell)
            .collect()
    };
    // One per unit, give or take a stray call in one of the two runs (the smaller run of
    // a round now and then makes one more close, at 100 units: 0.99).
    let one = |x: f64| (0.95..=1.05).contains(&x);
    for r in of("sync", "download") {
        assert!(num(r, "connect") >= 1.0, "sync made no connection: {r:?}");
        assert!(
            num(r, "connect_per_unit") < 0.1,
            "sync connected per download: {r:?}"
        );
        assert!(one(num(r, "sendto_per_unit")), "{r:?}");
        assert!(num(r, "recvfrom_per_unit") >= 0.95, "{r:?}");
        // ureq reads with recvfrom: a `read` per download would be the memory sampler's
        // /proc reads, which the step turns off (WORKLOAD_SAMPLER=off).
        assert!(
            num(r, "read_per_unit") < 0.5,
            "the sampler was counted: {r:?}"
        );
    }
    for r in of("sync", "request") {
        assert!(one(num(r, "accept4_per_unit")), "{r:?}");
        assert!(num(r, "close_per_unit") >= 0.95, "{r:?}");
    }
    for r in of("tokio-async", "request") {
        assert!(
            num(r, "accept4_per_unit") < 0.1,
            "tokio-async reconnected: {r:?}"
        );
        assert!(num(r, "epoll_wait_per_unit") > 0.5, "{r:?}");
        let sync = of("sync", "request")[0];
        assert!(
            num(r, "total_per_unit") < num(sync, "total_per_unit"),
            "a kept connection costs less than one opened per request: {r:?} {sync:?}"
        );
    }
    // The golden copy stands for syscalls.csv in results_doc.rs's check that every column
    // is described: it must keep the header a run writes.
    let golden = e2e::repo_root().join("crates/e2e/tests/golden/syscalls/syscalls.csv");
    let header = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .next()
            .map(String::from)
    };
    assert_eq!(
        header(&folder.join("syscalls.csv")),
        header(&golden),
        "the header changed: copy a tiny run's syscalls.csv to {} and describe its columns in results/README.md",
        golden.display()
    );
    let settings = std::fs::read_to_string(folder.join("syscalls-settings.txt")).unwrap();
    assert!(settings.contains("plan: mode=tiny"), "{settings}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Where counting is not possible (here: tracefs looked for where it is not mounted), the
/// step says why in one line, records it in the run folder and exits 0, writing no CSV; a
/// model it does not know is refused in one line, exit 2, before anything runs.
#[test]
fn without_tracefs_the_step_is_skipped_in_one_line() {
    let _turn = e2e::driver_lock();
    let dir = scratch("no-tracefs");
    let run = e2e::run_until(
        command(&dir).env("TRACEFS", dir.join("no-tracefs-here")),
        SCRIPT_TIMEOUT,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let said: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("not counted"))
        .collect();
    assert_eq!(said.len(), 1, "{}", run.stderr);
    assert!(
        said[0].starts_with("== syscalls not counted: tracefs is not mounted (no events/ under ")
            && said[0].ends_with("mount -t tracefs nodev /sys/kernel/tracing`)"),
        "{}",
        said[0]
    );
    let folder = run_folder(&dir.join("results"));
    let recorded = std::fs::read_to_string(folder.join("syscalls-skipped.txt")).unwrap();
    assert!(recorded.starts_with("tracefs is not mounted"), "{recorded}");
    assert!(!folder.join("syscalls.csv").exists());
    assert!(
        run.stderr.contains("== skipped (recorded in "),
        "{}",
        run.stderr
    );
    let unknown = e2e::run_until(
        command(&dir).env("MODELS", "sync nosuchmodel"),
        SCRIPT_TIMEOUT,
    );
    assert_eq!(unknown.code, Some(2), "{}", unknown.stderr);
    assert!(
        unknown
            .stderr
            .starts_with("bench-syscalls.sh: error: MODELS: no model 'nosuchmodel' (the models: "),
        "{}",
        unknown.stderr
    );
    assert_eq!(unknown.stderr.lines().count(), 1, "{}", unknown.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}
