//! The procs model's promise: no worker outlives its parent, even one killed by SIGKILL.

use e2e::{bin, die_with_parent};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Processes whose environment holds `marker`.
fn with_marker(marker: &str) -> Vec<u32> {
    e2e::processes_with_env(marker)
}

/// Start 3 workers that would sleep 30 s, kill the parent with SIGKILL (no cleanup code
/// runs), and check that the kernel takes the workers down with it.
#[test]
fn killed_parent_leaves_no_worker_behind() {
    let marker = format!("E2E_PROCS_MARKER={}", std::process::id());
    let (key, value) = marker.split_once('=').unwrap();
    let mut command = Command::new(bin("procs"));
    command
        .args(["sleep", "--n", "3", "--ms", "30000"])
        .env(key, value)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut parent = die_with_parent(&mut command).spawn().unwrap();

    let deadline = Instant::now() + Duration::from_secs(5);
    while with_marker(&marker).len() < 4 {
        assert!(
            Instant::now() < deadline,
            "workers did not start: {:?}",
            with_marker(&marker)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    parent.kill().unwrap(); // SIGKILL
    parent.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(3);
    while !with_marker(&marker).is_empty() {
        assert!(
            Instant::now() < deadline,
            "workers outlived their parent: {:?}",
            with_marker(&marker)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
