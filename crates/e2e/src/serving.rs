//! Test support for the `serve` workload: start a model's server (a Rust model or a
//! Python peer, with the command benchkit's serve sweep uses), talk HTTP/1.1 to it with a
//! client that verifies every answer, and stop it the way users do.

use crate::die_with_parent;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workload::Summary;

/// A model serving on 127.0.0.1, a free port; killed when dropped.
pub struct Serving {
    child: Option<Child>,
    pub addr: String,
    pub name: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

/// How a stopped server ended.
pub struct Stopped {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub waited: Duration,
}

impl Stopped {
    /// The summary line: the one line after the address. Panics, with stderr, otherwise.
    pub fn summary(&self) -> Summary {
        assert_eq!(self.code, Some(0), "exit code; stderr: {}", self.stderr);
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "the address, then one summary line: {:?}",
            self.stdout
        );
        Summary::from_line(lines[1]).expect("a summary line")
    }
}

/// The command that starts `model` as a server, up to the word `serve`, as benchkit's
/// serve sweep starts it (`benchkit serve-command`): `target/release/<model> serve`, or
/// for a Python peer (`python-*`) the environment's python and its server script (see
/// [`crate::python_venv`] for when that environment exists).
pub fn serve_command(model: &str) -> Command {
    let out = Command::new(crate::bin("benchkit"))
        .args(["serve-command", model])
        .output()
        .expect("run benchkit serve-command");
    assert!(
        out.status.success(),
        "benchkit serve-command {model}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut words = text.lines();
    let mut command = Command::new(words.next().expect("a program"));
    command.args(words);
    command
}

impl Serving {
    /// A model's server (Rust or Python), `serve --port 0 ARGS...`.
    pub fn new(model: &str, args: &[&str]) -> Serving {
        let mut command = serve_command(model);
        command.args(["--port", "0"]).args(args);
        Serving::start(model, command)
    }

    /// Start `command` (a server that prints its address first) and wait for the address.
    pub fn start(name: &str, mut command: Command) -> Serving {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = die_with_parent(&mut command)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} serve: {e}"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        let read = out.read_line(&mut first);
        let addr = first.trim().to_string();
        if read.is_err() || !addr.starts_with("127.0.0.1:") {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "{name} serve printed {addr:?} first; stderr: {}",
                stderr.lock().unwrap()
            );
        }
        let stdout = Arc::new(Mutex::new(first));
        let sink = stdout.clone();
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = out.read_to_string(&mut rest);
            sink.lock().unwrap().push_str(&rest);
        });
        Serving {
            child: Some(child),
            addr,
            name: name.to_string(),
            stdout,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn port(&self) -> u16 {
        self.addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Everything the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// One verified GET on a fresh connection (see [`get`]).
    pub fn get(&self, path: &str) -> Reply {
        get(&self.addr, path)
            .unwrap_or_else(|e| panic!("{} GET {path}: {e}; stderr: {}", self.name, self.log()))
    }

    /// Send `signal`, wait at most `limit` for the exit (then kill), and say how it ended.
    pub fn stop(mut self, signal: i32, limit: Duration) -> Stopped {
        let mut child = self.child.take().unwrap();
        // SAFETY: kill(2) of our own child; no memory involved.
        unsafe { libc::kill(child.id() as i32, signal) };
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let waited = started.elapsed();
        // The reader threads see EOF once the process is gone.
        std::thread::sleep(Duration::from_millis(50));
        Stopped {
            code: status.and_then(|s| s.code()),
            stdout: self.stdout.lock().unwrap().clone(),
            stderr: self.stderr.lock().unwrap().clone(),
            waited,
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One answer, checked: its Content-Length matched the body, its content-type was
/// text/plain, and its `x-checksum` was the FNV-1a 64 of the body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET path` on a fresh connection to `addr`, read to the connection's close, and
/// verified; `Err` says what was wrong.
pub fn get(addr: &str, path: &str) -> Result<Reply, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("no whole answer within 10 s: {e}"))?;
    parse(&answer)
}

/// `GET path` on a fresh connection that asks to stay open: the answer is read to the
/// end of its body (by Content-Length), not to a close, and verified.
pub fn get_keep_alive(addr: &str, path: &str) -> Result<Reply, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
        .map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| format!("no Content-Length in {head:?}"))?;
            if answer.len() >= end + 4 + length {
                return parse(&answer);
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => return parse(&answer),
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("no whole answer within 10 s: {e}")),
        }
    }
}

/// Send raw bytes on a fresh connection and read until the server closes it (or 5 s):
/// what came back, and how long it took.
pub fn raw(addr: &str, bytes: &[u8]) -> (Vec<u8>, Duration) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (answer, started.elapsed())
}

/// The status of an answer's first line, unverified (hyper's, gunicorn's and aiohttp's
/// own error answers carry no `x-checksum`); `Err` is the line.
pub fn status(answer: &[u8]) -> Result<u16, String> {
    let text = String::from_utf8_lossy(answer);
    let line = text.lines().next().unwrap_or("").to_string();
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(line)
}

/// Parse and verify one whole answer.
pub fn parse(answer: &[u8]) -> Result<Reply, String> {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no whole head in {:?}", String::from_utf8_lossy(answer)))?;
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let body = answer[end + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let reply = Reply { status, head, body };
    let length: usize = reply
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no Content-Length in {:?}", reply.head))?;
    if length != reply.body.len() {
        return Err(format!(
            "Content-Length {length}, {} bytes of body",
            reply.body.len()
        ));
    }
    if reply.header("content-type") != Some("text/plain") {
        return Err(format!("not text/plain: {:?}", reply.head));
    }
    let announced = reply
        .header("x-checksum")
        .ok_or_else(|| format!("no x-checksum in {:?}", reply.head))?;
    let computed = format!(
        "{:016x}",
        workload::io::fnv1a(workload::io::FNV_START, &reply.body)
    );
    if announced != computed {
        return Err(format!("x-checksum {announced}, body's {computed}"));
    }
    Ok(reply)
}

/// CPU time a process has used (user and system), from /proc.
pub fn cpu_time(pid: u32) -> Duration {
    ticks(stat_fields(pid).as_ref().map_or(&[][..], |f| &f[11..13]))
}

/// CPU time a process and all its descendants have used: its own, its reaped children's
/// (a gunicorn arbiter's dead workers), and its live children's, theirs included.
pub fn tree_cpu_time(pid: u32) -> Duration {
    let own = ticks(stat_fields(pid).as_ref().map_or(&[][..], |f| &f[11..15]));
    let children = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        });
    own + children.map(tree_cpu_time).sum::<Duration>()
}

/// The fields of /proc/PID/stat after the command's name (from the state, field 3 of
/// proc(5), on); None once the process is gone.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The sum of clock-tick fields (utime, stime: fields 14 and 15; cutime, cstime: 16, 17).
fn ticks(fields: &[String]) -> Duration {
    let ticks: u64 = fields.iter().map(|f| f.parse::<u64>().unwrap()).sum();
    // SAFETY: sysconf reads a constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / per_second)
}
