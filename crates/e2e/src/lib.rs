//! Test support for the end-to-end suites: find the release binaries, start the real
//! fixture server on a free loopback port, run a model and read what it printed.
//!
//! The binaries must be built first: `make test` runs `cargo build --release --workspace`
//! before `cargo test --release --workspace`.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use workload::Summary;

pub mod serving;

/// `target/release` (or whichever profile these tests were built in): this test
/// executable lives in its `deps/` folder. Derived from the executable, not from a fixed
/// `target/`, so it is right under `CARGO_TARGET_DIR` or a cargo config's `target-dir`
/// too: where cargo put this test, it put the binaries.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// Path of a workspace binary, checked to exist.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (`cargo build --release --workspace`; `make test` does)",
        path.display()
    );
    path
}

/// The model binaries, as the bench driver discovers them.
pub fn models() -> Vec<String> {
    let out = Command::new(bin("benchkit"))
        .arg("models")
        .output()
        .expect("run benchkit models");
    assert!(
        out.status.success(),
        "benchkit models: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The Python models' environment beside the release folder (`<target>/python-venv`, made
/// by scripts/python-env.sh) when it holds the packages of scripts/python/requirements.txt
/// as it is now: then the scale sweep includes the Python models (benchkit's
/// `python_models`), and their end-to-end tests run.
pub fn python_venv() -> Option<PathBuf> {
    let venv = bin_dir().parent()?.join("python-venv");
    let installed = std::fs::read(venv.join("requirements.installed")).ok()?;
    let wanted = std::fs::read(repo_root().join("scripts/python/requirements.txt")).ok()?;
    (venv.join("bin/python").exists() && installed == wanted).then_some(venv)
}

/// Ask the kernel to kill a child if the test process dies first, so no server or model
/// outlives a crashed or killed test run. The child also gets SIGINT at its default (see
/// [`sigint_as_from_a_terminal`]).
pub fn die_with_parent(command: &mut Command) -> &mut Command {
    sigint_as_from_a_terminal(command);
    // SAFETY: prctl is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        })
    }
}

/// Start the child with SIGINT at its default disposition, as from a terminal, whatever
/// these tests inherited: a shell that starts a command in the background (`cmd &` in a
/// script, `nohup ... &`) makes it ignore SIGINT, every descendant inherits that, and a
/// program cannot catch a signal ignored at its start (bash, CPython), so a test of
/// Ctrl-C would fail only because of how the suite was launched.
pub fn sigint_as_from_a_terminal(command: &mut Command) -> &mut Command {
    // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        })
    }
}

/// The real fixture server on 127.0.0.1, a free port; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// The server as the model tests use it: a body cap of 1 MiB, every other setting default.
    pub fn start() -> Server {
        Server::start_with(&["--max-bytes", "1048576"])
    }

    /// The server with exactly these arguments after `--port 0`.
    pub fn start_with(args: &[&str]) -> Server {
        Server::spawn(args, None)
    }

    /// The server with these arguments, under an open-file limit (soft and hard) of
    /// `open_files`, so that tests can reach the limit with a few hundred connections.
    pub fn start_with_open_files(args: &[&str], open_files: u64) -> Server {
        Server::spawn(args, Some(open_files))
    }

    fn spawn(args: &[&str], open_files: Option<u64>) -> Server {
        let mut command = Command::new(bin("fixture-server"));
        command
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(limit) = open_files {
            // SAFETY: setrlimit is async-signal-safe, as pre_exec requires.
            unsafe {
                command.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: limit as libc::rlim_t,
                        rlim_max: limit as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = die_with_parent(&mut command)
            .spawn()
            .expect("start fixture-server");
        // Read stderr on a thread: a server that logs a lot must never block on a full pipe.
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read bound address");
        let addr = line.trim().to_string();
        assert!(
            addr.starts_with("127.0.0.1:"),
            "fixture-server printed {addr:?}, stderr: {}",
            log.lock().unwrap()
        );
        Server { child, addr, log }
    }

    /// Everything the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one run of a model showed.
pub struct Run {
    pub output: Output,
    pub elapsed: Duration,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The summary line; panics with the model's stderr if the run failed.
    pub fn summary(&self) -> Summary {
        assert!(
            self.output.status.success(),
            "run failed: {}",
            self.stderr()
        );
        let stdout = String::from_utf8_lossy(&self.output.stdout);
        assert_eq!(
            stdout.lines().count(),
            1,
            "exactly one line on stdout: {stdout:?}"
        );
        Summary::from_line(&stdout).expect("a summary line")
    }
}

/// Run `model` with `args` and wait for it.
pub fn run(model: &str, args: &[&str]) -> Run {
    run_with_env(model, args, &[])
}

/// Run `model` with `args` and extra environment variables, and wait for it.
pub fn run_with_env(model: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let mut command = Command::new(bin(model));
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = die_with_parent(&mut command).spawn().expect("start model");
    let output = child.wait_with_output().expect("wait for model");
    Run {
        output,
        elapsed: started.elapsed(),
    }
}

/// The fixture server's body of `n` bytes, checksummed the way the models do: an
/// independent check of what they report.
pub fn expected_checksum(n: u64) -> u64 {
    let body: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    workload::io::fnv1a(workload::io::FNV_START, &body)
}

/// The `driver` column of `model`'s measured rows in a CSV the benchmarks write
/// (summary.csv, scale.csv), read by the header's names. Measured rows have no quoted
/// field, so a plain split is enough. Panics when the file has no `driver` column.
pub fn drivers_of(csv: &str, model: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("no {name} column in:\n{csv}"))
    };
    let (driver, status) = (column("driver"), column("status"));
    lines
        .map(|l| l.split(',').collect::<Vec<&str>>())
        .filter(|f| f[0] == model && f.get(status) == Some(&"ok"))
        .map(|f| f[driver].to_string())
        .collect()
}

/// The repository's root folder (this crate is `crates/e2e`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The target folder cargo built these tests (and the binaries) in: the parent of
/// [`bin_dir`].
pub fn target_dir() -> PathBuf {
    bin_dir().parent().expect("target/<profile>").to_path_buf()
}

/// Held by every test that runs a driver script. The scripts allow one bench at a time
/// per target folder (a second exits at once, saying who holds the lock), and the tests
/// of one test binary run in parallel threads, so they take turns here.
pub fn driver_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    // A test that panicked while holding it leaves nothing behind that matters.
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a script run ended.
pub struct ScriptRun {
    /// None if it was killed (by the timeout, or a signal).
    pub code: Option<i32>,
    pub stderr: String,
}

/// `bash <script> <mode>`, `script` a path: a command for [`run_until`].
pub fn script_command(script: &Path, mode: &str) -> Command {
    let mut command = Command::new("bash");
    command.arg(script).arg(mode);
    command
}

/// Run `command` in a process group of its own and wait at most `timeout` for it: past
/// that, the whole group is killed and the run reported as killed, so a script that would
/// run forever fails the test instead of hanging it.
pub fn run_until(command: &mut Command, timeout: Duration) -> ScriptRun {
    let log = std::env::temp_dir().join(format!(
        "e2e-script-{}-{:?}.stderr",
        std::process::id(),
        std::thread::current().id()
    ));
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("script's stderr file"))
        .process_group(0);
    let mut child = command.spawn().expect("start the script");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the script") {
            break Some(status);
        }
        if Instant::now() > deadline {
            // SAFETY: kill(2) of the process group this script leads; no memory involved.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    ScriptRun {
        code: status.and_then(|s| s.code()),
        stderr,
    }
}

/// Run `scripts/<script> <mode>` with a fresh RESULTS_DIR; assert it succeeded and return
/// that folder's single run folder and the script's stderr (its progress output).
pub fn run_script(script: &str, mode: &str) -> (PathBuf, String) {
    let _turn = driver_lock();
    let root = repo_root();
    let results = std::env::temp_dir().join(format!("{script}-{mode}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&results);
    let out = Command::new("bash")
        .arg(root.join("scripts").join(script))
        .arg(mode)
        .env("RESULTS_DIR", &results)
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{script}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{script} {mode} failed:\n{stderr}");
    let runs: Vec<PathBuf> = std::fs::read_dir(results.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "one run folder: {runs:?}");
    (runs[0].clone(), stderr)
}

/// The processes in group `pgid` (a script's, which every command it starts inherits) or
/// whose command line mentions one of `marks`, this test process excepted, as
/// "pid (state): command line". Zombies (state Z, ended but not yet reaped) are listed
/// only with `zombies`.
pub fn processes_of(pgid: i32, marks: &[&str], zombies: bool) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        // A process that has ended since the listing has no files left: skipped.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...", comm possibly holding spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let pgrp: i32 = fields.get(2).and_then(|f| f.parse().ok()).unwrap_or(0);
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let state = fields.first().copied().unwrap_or("?");
        if (zombies || state != "Z") && (pgrp == pgid || marks.iter().any(|m| cmdline.contains(m)))
        {
            found.push(format!("{pid} ({state}): {cmdline}"));
        }
    }
    found
}

/// Processes whose environment holds `marker` (a server and the workers that inherit it).
pub fn processes_with_env(marker: &str) -> Vec<u32> {
    let needle = marker.as_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}
