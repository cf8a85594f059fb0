//! Starting, running and reaping worker processes: the plumbing of the procs model.

use anyhow::{anyhow, bail, Context, Result};
use std::io::{PipeReader, PipeWriter, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use workload::blocking::Client;
use workload::costs::Place;
use workload::summary::Summary;
use workload::{cpu, Command, Tally};

/// Set in a worker's environment to its parent's pid: "you are a worker of that process,
/// run one task". The pid, checked against our parent's, keeps a `PROCS_WORKER` that a
/// user happens to have set from turning a normal run into a worker.
const WORKER_ENV: &str = "PROCS_WORKER";
/// Set for a worker that holds a place in `switch`'s ring: "INDEX INBOX_FD OUTBOX_FD".
const RING_ENV: &str = "PROCS_RING";

pub fn is_worker() -> bool {
    // SAFETY: getppid cannot fail and reads nothing of ours.
    let parent = unsafe { libc::getppid() };
    std::env::var(WORKER_ENV).is_ok_and(|v| v == parent.to_string())
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
        // The task of `spawn` does nothing: the process's start is what is measured.
        Command::Spawn(_) => Ok(Tally::task(0, 0)),
        Command::Switch(args) => crate::costs::hand_on(args),
        // Not reached: `mixed` is refused before any worker starts.
        Command::Mixed(_) => bail!("mixed is not offered here: {}", crate::NO_MIXED),
        Command::Serve(_) => bail!("TODO(serve): not yet written"),
    }
}

/// In a worker of `switch`: its place in the ring, on the pipe ends its parent left open.
pub fn inherited_place() -> Result<Place<PipeWriter, PipeReader>> {
    let value = std::env::var(RING_ENV).with_context(|| format!("{RING_ENV} is not set"))?;
    let bad = || anyhow!("{RING_ENV}={value:?} is not \"INDEX INBOX_FD OUTBOX_FD\"");
    let mut words = value.split_whitespace();
    let index: u64 = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let mut fd = || -> Result<RawFd> {
        let fd: RawFd = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
        // SAFETY: fcntl only asks whether the descriptor is open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            bail!("{RING_ENV}: file descriptor {fd} is not open");
        }
        Ok(fd)
    };
    let (inbox, outbox) = (fd()?, fd()?);
    // SAFETY: both descriptors are open (checked above), were left open for us by the
    // parent for this purpose, and nothing else in this process owns them.
    let (inbox, outbox) = unsafe { (OwnedFd::from_raw_fd(inbox), OwnedFd::from_raw_fd(outbox)) };
    Ok(Place {
        index,
        inbox: PipeReader::from(inbox),
        outbox: PipeWriter::from(outbox),
    })
}

/// Descriptors this process keeps per running worker: the read end of its output pipe.
pub const FILES_PER_WORKER: u64 = 1;
/// Descriptors open for a moment while a worker starts, beyond those kept: the output
/// pipe's write end and its clone (one for stdout, one for stderr), std's own pipe that
/// reports a failed exec, and a margin for the memory sampler's /proc reads.
pub const FILES_TO_START: u64 = 3 + 2 + 8;

/// The running workers, in start order, each with the read end of the one pipe its
/// stdout and stderr both go to. Dropping it kills and reaps any still running.
#[derive(Default)]
pub struct Workers {
    running: Vec<(usize, Child, PipeReader)>,
    started: usize,
}

impl Workers {
    /// Start one worker: this executable, with the worker flag and one task's arguments.
    pub fn start(&mut self, argv: &[String]) -> Result<()> {
        self.start_keeping(argv, None)
    }

    /// Start one worker that holds place `index` of `switch`'s ring: it inherits the two
    /// pipe ends (every other descriptor is closed at exec, as std opens them all
    /// close-on-exec) and finds their numbers in its environment.
    pub fn start_in_ring(
        &mut self,
        argv: &[String],
        index: u64,
        inbox: &PipeReader,
        outbox: &PipeWriter,
    ) -> Result<()> {
        let fds = [inbox.as_raw_fd(), outbox.as_raw_fd()];
        self.start_keeping(argv, Some((index, fds)))
    }

    fn start_keeping(&mut self, argv: &[String], ring: Option<(u64, [RawFd; 2])>) -> Result<()> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let mut command = std::process::Command::new(exe);
        command
            .args(argv)
            .env(WORKER_ENV, std::process::id().to_string())
            .stdin(Stdio::null());
        // One pipe for stdout and stderr: the summary line, or the one-line error, is the
        // last line either way. One descriptor per worker in this process, not two, so
        // that 10,000 workers fit under an open-file limit of 20,000.
        let (output, writer) = std::io::pipe().context("cannot make a pipe")?;
        command
            .stdout(writer.try_clone().context("cannot make a pipe")?)
            .stderr(writer);
        let keep = match ring {
            Some((index, [inbox, outbox])) => {
                command.env(RING_ENV, format!("{index} {inbox} {outbox}"));
                vec![inbox, outbox]
            }
            None => Vec::new(),
        };
        // SAFETY: prctl and fcntl are async-signal-safe, which is all pre_exec requires.
        // prctl asks the kernel to kill the worker if the parent dies first (even by
        // SIGKILL), so no worker outlives a killed parent. fcntl clears close-on-exec on
        // the ring's two pipe ends, in the child only, so that they survive the exec.
        unsafe {
            command.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                for &fd in &keep {
                    if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        self.started += 1;
        let child = command.spawn()?;
        // Our copies of the pipe's write end go with `command`: the worker's exit then
        // ends the pipe.
        drop(command);
        // Count the worker's memory and threads as the model's, until it is reaped.
        workload::mem::track(child.id());
        self.running.push((self.started, child, output));
        Ok(())
    }

    /// Wait for every worker in start order; each yields its tally or its error.
    pub fn wait_all(mut self) -> Vec<Result<Tally>> {
        let running = std::mem::take(&mut self.running);
        running
            .into_iter()
            .map(|(i, child, output)| reap(i, child, output))
            .collect()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for (_, child, _) in &mut self.running {
            let _ = child.kill();
            let _ = child.wait();
            workload::mem::untrack(child.id());
        }
    }
}

/// Wait for one worker and read its summary line (or its one-line error).
fn reap(i: usize, mut child: Child, mut output: PipeReader) -> Result<Tally> {
    // Read to the end first: the end comes when the worker exits (its output is a line or
    // two, far below a pipe's buffer, so it never waits for us).
    let mut text = String::new();
    let read = output.read_to_string(&mut text);
    let status = child.wait();
    workload::mem::untrack(child.id());
    read.with_context(|| format!("cannot read worker {i}'s output"))?;
    let status = status.with_context(|| format!("cannot wait for worker {i}"))?;
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    if !status.success() {
        let why = if line.is_empty() { "no message" } else { line };
        bail!(
            "worker {i} failed ({status}): {}",
            why.trim_start_matches("procs: error: ")
        );
    }
    Summary::from_line(line)
        .ok()
        .and_then(|s| s.as_child_tally())
        .ok_or_else(|| anyhow!("worker {i} printed no summary line (got {line:?})"))
}
