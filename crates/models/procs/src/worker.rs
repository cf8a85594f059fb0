//! Starting, running and reaping worker processes: the plumbing of the procs model.

use anyhow::{anyhow, bail, Context, Result};
use std::io::{PipeReader, PipeWriter, Read};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};
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
/// Set for a worker of `serve`: "INDEX LISTENER_FD", the listening socket it shares.
const SERVE_ENV: &str = "PROCS_SERVE";

pub fn is_worker() -> bool {
    // SAFETY: getppid cannot fail and reads nothing of ours.
    let parent = unsafe { libc::getppid() };
    std::env::var(WORKER_ENV).is_ok_and(|v| v == parent.to_string())
}

/// The name a worker's lines go under: `procs`, or `procs: worker I` for a worker of
/// `serve`, which writes to its parent's stderr while it serves (so each of the K says
/// which it is).
pub fn model_name() -> &'static str {
    let index = std::env::var(SERVE_ENV)
        .ok()
        .and_then(|v| v.split_whitespace().next().map(str::to_string));
    match index {
        // Leaked once, at start: the name lives as long as the process.
        Some(index) => Box::leak(format!("procs: worker {index}").into_boxed_str()),
        None => "procs",
    }
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
        // Not one task: this worker serves until SIGTERM, as sync does, on the parent's
        // listening socket.
        Command::Serve(args) => crate::serve::run_worker(args),
    }
}

/// In a worker of `switch`: its place in the ring, on the pipe ends its parent left open.
pub fn inherited_place() -> Result<Place<PipeWriter, PipeReader>> {
    let (index, fds) = inherited(RING_ENV, "INDEX INBOX_FD OUTBOX_FD", 2)?;
    let (inbox, outbox) = (fds[0], fds[1]);
    // SAFETY: both descriptors are open (checked by `inherited`), were left open for us by the
    // parent for this purpose, and nothing else in this process owns them.
    let (inbox, outbox) = unsafe { (OwnedFd::from_raw_fd(inbox), OwnedFd::from_raw_fd(outbox)) };
    Ok(Place {
        index,
        inbox: PipeReader::from(inbox),
        outbox: PipeWriter::from(outbox),
    })
}

/// In a worker of `serve`: the listening socket its parent bound and left open for it.
pub fn inherited_listener() -> Result<TcpListener> {
    let (_, fds) = inherited(SERVE_ENV, "INDEX LISTENER_FD", 1)?;
    // SAFETY: the descriptor is open (checked by `inherited`), was left open for us by
    // the parent for this purpose, and nothing else in this process owns it.
    let socket = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    Ok(TcpListener::from(socket))
}

/// The index and the `count` open descriptors named by the variable `var`, whose value
/// is `shape` ("INDEX FD ...").
fn inherited(var: &str, shape: &str, count: usize) -> Result<(u64, Vec<RawFd>)> {
    let value = std::env::var(var).with_context(|| format!("{var} is not set"))?;
    let bad = || anyhow!("{var}={value:?} is not \"{shape}\"");
    let mut words = value.split_whitespace();
    let index: u64 = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let fds = (0..count)
        .map(|_| {
            let fd: RawFd = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
            // SAFETY: fcntl only asks whether the descriptor is open.
            if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
                bail!("{var}: file descriptor {fd} is not open");
            }
            Ok(fd)
        })
        .collect::<Result<Vec<RawFd>>>()?;
    Ok((index, fds))
}

/// Descriptors this process keeps per running worker: the read end of its output pipe.
pub const FILES_PER_WORKER: u64 = 1;
/// Descriptors open for a moment while a worker starts, beyond those kept: the output
/// pipe's write end and its clone (one for stdout, one for stderr), std's own pipe that
/// reports a failed exec, and a margin for the memory sampler's /proc reads.
pub const FILES_TO_START: u64 = 3 + 2 + 8;

/// The running workers, in start order, each with the read end of its output pipe (its
/// stdout, and its stderr too unless it serves). Dropping it kills and reaps any still
/// running.
#[derive(Default)]
pub struct Workers {
    running: Vec<(usize, Child, PipeReader)>,
    started: usize,
}

/// What a worker inherits beyond its arguments.
enum Inherits {
    /// Nothing: one task's arguments say it all.
    Nothing,
    /// Its place in `switch`'s ring: the index and two pipe ends.
    Ring(u64, [RawFd; 2]),
    /// `serve`'s listening socket, shared with every other worker, and this process's
    /// stderr: a worker serves for as long as the server runs, and its log lines (a
    /// backend down, its SIGTERM) are for the user now, not at its end.
    Listener(u64, RawFd),
}

/// A worker that has exited and been reaped: its number (from 1, in start order), how it
/// ended, and the last line it printed on its output (its summary line, or one error).
pub struct Ended {
    pub number: usize,
    pub status: ExitStatus,
    pub last_line: String,
    /// Killed with SIGKILL by [`Workers::wait_until`]: it did not stop in time.
    pub killed: bool,
}

impl Workers {
    /// Start one worker: this executable, with the worker flag and one task's arguments.
    pub fn start(&mut self, argv: &[String]) -> Result<()> {
        self.start_keeping(argv, Inherits::Nothing)
    }

    /// Start one worker that holds place `index` of `switch`'s ring: it inherits the two
    /// pipe ends (every other descriptor is closed at exec, as std opens them all
    /// close-on-exec) and finds their numbers in its environment.
    pub fn start_in_ring(
        &mut self,
        argv: &[String],
        place: &Place<PipeWriter, PipeReader>,
    ) -> Result<()> {
        let fds = [place.inbox.as_raw_fd(), place.outbox.as_raw_fd()];
        self.start_keeping(argv, Inherits::Ring(place.index, fds))
    }

    /// Start worker `index` of `serve`: it inherits the listening socket itself (the same
    /// open socket, not another bound to the port), finds its number in its environment,
    /// and accepts on it beside its siblings.
    pub fn start_serving(
        &mut self,
        argv: &[String],
        index: u64,
        listener: &TcpListener,
    ) -> Result<()> {
        self.start_keeping(argv, Inherits::Listener(index, listener.as_raw_fd()))
    }

    fn start_keeping(&mut self, argv: &[String], inherits: Inherits) -> Result<()> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let mut command = std::process::Command::new(exe);
        let parent = std::process::id();
        command
            .args(argv)
            .env(WORKER_ENV, parent.to_string())
            .stdin(Stdio::null());
        // One pipe for stdout and stderr (but a serving worker's stderr, see `Inherits`):
        // the summary line, or the one-line error, is the last line either way. One
        // descriptor per worker in this process, not two, so that 10,000 workers fit
        // under an open-file limit of 20,000.
        let (output, writer) = std::io::pipe().context("cannot make a pipe")?;
        let keep = match inherits {
            Inherits::Nothing => {
                command.stderr(writer.try_clone().context("cannot make a pipe")?);
                Vec::new()
            }
            Inherits::Ring(index, [inbox, outbox]) => {
                command
                    .stderr(writer.try_clone().context("cannot make a pipe")?)
                    .env(RING_ENV, format!("{index} {inbox} {outbox}"));
                vec![inbox, outbox]
            }
            Inherits::Listener(index, listener) => {
                command
                    .stderr(Stdio::inherit())
                    .env(SERVE_ENV, format!("{index} {listener}"));
                vec![listener]
            }
        };
        command.stdout(writer);
        // SAFETY: prctl, getppid and fcntl are async-signal-safe, which is all pre_exec
        // requires. prctl asks the kernel to kill the worker if the parent dies first
        // (even by SIGKILL), so no worker outlives a killed parent; a parent that died
        // before the prctl is caught by the getppid check, and the worker never starts
        // (else a `serve` worker would become a server of its own that nobody stops).
        // fcntl clears close-on-exec on the descriptors the worker inherits (the ring's
        // pipe ends, serve's listener), in the child only, so that they survive the exec.
        unsafe {
            command.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
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

    /// Workers still running (not yet reaped).
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Reap the workers that have exited, without waiting for the others.
    pub fn reap_exited(&mut self) -> Vec<Ended> {
        let mut ended = Vec::new();
        let mut i = 0;
        while i < self.running.len() {
            // An error here (no such child) cannot happen to a child we have not reaped;
            // were it to, the worker is as good as gone.
            let status = match self.running[i].1.try_wait() {
                Ok(None) => {
                    i += 1;
                    continue;
                }
                Ok(Some(status)) => status,
                Err(_) => ExitStatus::from_raw(libc::SIGKILL),
            };
            let (number, child, output) = self.running.remove(i);
            ended.push(finish(number, child, output, status, false));
        }
        ended
    }

    /// Send `signal` to every running worker. Each is our unreaped child, so its pid
    /// cannot have been reused by another process.
    pub fn signal_all(&self, signal: libc::c_int) {
        for (_, child, _) in &self.running {
            // SAFETY: kill only sends a signal to a process of ours.
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        }
    }

    /// Reap every worker as it exits until `deadline`; then kill (SIGKILL) and reap the
    /// ones still running. Polls every 10 ms: a handful of workers, once per run.
    pub fn wait_until(mut self, deadline: Instant) -> Vec<Ended> {
        let mut ended = Vec::new();
        loop {
            ended.extend(self.reap_exited());
            if self.running.is_empty() || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for (number, mut child, output) in std::mem::take(&mut self.running) {
            let _ = child.kill();
            let status = child.wait().unwrap_or(ExitStatus::from_raw(libc::SIGKILL));
            ended.push(finish(number, child, output, status, true));
        }
        ended
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

/// A reaped worker: read what it printed (it has exited, so its pipe is at its end).
fn finish(
    number: usize,
    child: Child,
    mut output: PipeReader,
    status: ExitStatus,
    killed: bool,
) -> Ended {
    workload::mem::untrack(child.id());
    let mut text = String::new();
    let _ = output.read_to_string(&mut text);
    Ended {
        number,
        status,
        last_line: last_line(&text).to_string(),
        killed,
    }
}

/// The last line that is not blank: a worker's summary line, or its one-line error.
fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
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
    let line = last_line(&text);
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
