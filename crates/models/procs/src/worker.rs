//! Starting, running and reaping worker processes: the plumbing of the procs model.

use anyhow::{anyhow, bail, Context, Result};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use workload::blocking::Client;
use workload::summary::Summary;
use workload::{cpu, Command, Tally};

/// Set in a worker's environment: "you are a worker, run one task".
const WORKER_ENV: &str = "PROCS_WORKER";

pub fn is_worker() -> bool {
    std::env::var_os(WORKER_ENV).is_some()
}

/// In a worker: run the one task the parent asked for, exactly as `sync` would.
pub fn run_task(command: &Command) -> Result<Tally> {
    match command {
        Command::Cpu(args) => cpu::task(args.base, args.exp),
        Command::Io(args) => Ok(Client::new(args.timeout()).download_all(&args.urls)?),
        Command::Sleep(args) => {
            std::thread::sleep(args.duration());
            Ok(Tally::task(0, 0))
        }
        Command::Mixed(args) => crate::pitfalls::run_mixed(args),
    }
}

/// The running workers, in start order. Dropping it kills and reaps any still running.
#[derive(Default)]
pub struct Workers {
    running: Vec<(usize, Child)>,
    started: usize,
}

impl Workers {
    /// Start one worker: this executable, with the worker flag and one task's arguments.
    pub fn start(&mut self, argv: &[String]) -> Result<()> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let mut command = std::process::Command::new(exe);
        command
            .args(argv)
            .env(WORKER_ENV, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe, which is all pre_exec requires. It asks the
        // kernel to kill the worker if the parent dies first (even by SIGKILL), so no
        // worker outlives a killed parent.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        self.started += 1;
        let child = command.spawn()?;
        // Count the worker's memory and threads as the model's, until it is reaped.
        workload::mem::track(child.id());
        self.running.push((self.started, child));
        Ok(())
    }

    /// Wait for every worker in start order; each yields its tally or its error.
    pub fn wait_all(mut self) -> Vec<Result<Tally>> {
        let running = std::mem::take(&mut self.running);
        running
            .into_iter()
            .map(|(i, child)| reap(i, child))
            .collect()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for (_, child) in &mut self.running {
            let _ = child.kill();
            let _ = child.wait();
            workload::mem::untrack(child.id());
        }
    }
}

/// Wait for one worker and read its summary line (or its one-line error).
fn reap(i: usize, child: Child) -> Result<Tally> {
    let pid = child.id();
    let output = child.wait_with_output();
    workload::mem::untrack(pid);
    let output = output.with_context(|| format!("cannot wait for worker {i}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        bail!(
            "worker {i} failed ({}): {}",
            output.status,
            why.trim_start_matches("procs: error: ")
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Summary::from_line(line)
        .ok()
        .and_then(|s| s.as_child_tally())
        .ok_or_else(|| anyhow!("worker {i} printed no summary line (got {line:?})"))
}
