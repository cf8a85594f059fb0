//! The server under test: started pinned to its CPU, its address read from its first
//! stdout line (loopback only), `/hello` checked, then stopped with SIGTERM, its summary
//! line read and its exit status checked. Also the idle keep-alive connections the
//! connections scenario holds open against it.

use super::process::{die_with_parent, signal, wait_with_rusage};
use anyhow::{bail, ensure, Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running server.
pub struct Server {
    child: Child,
    pub addr: String,
    /// The rest of its stdout, read to its end: the summary line comes last.
    rest: Option<std::thread::JoinHandle<String>>,
    log: PathBuf,
}

/// How long a server may take to print its address (a Python server imports its packages
/// and starts gunicorn's workers first).
const START_TIMEOUT: Duration = Duration::from_secs(20);

impl Server {
    /// Start `program args` pinned to CPU `cpu`, its stderr into `log`.
    pub fn start(program: &Path, args: &[String], cpu: u32, log: &Path) -> Result<Server> {
        let err = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = Command::new("taskset");
        command
            .args(["-c", &cpu.to_string()])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err);
        die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {} with taskset", program.display()))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let (tx, rx) = mpsc::channel();
        let rest = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let _ = tx.send(first);
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            rest
        });
        let mut server = Server {
            child,
            addr: String::new(),
            rest: Some(rest),
            log: log.to_path_buf(),
        };
        let first = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let first = first.trim();
        if first.is_empty() {
            let why = server.last_words();
            server.kill();
            bail!("the server printed no address within {START_TIMEOUT:?}: {why}");
        }
        match crate::models::loopback_addr(first) {
            Ok(addr) => server.addr = addr,
            Err(why) => {
                server.kill();
                bail!("the server's first line: {why}");
            }
        }
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its last line on stderr, or its exit status if it has ended without one.
    fn last_words(&mut self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let line = text.lines().rev().find(|l| !l.trim().is_empty());
        match (line, self.child.try_wait()) {
            (Some(line), _) => line.to_string(),
            (None, Ok(Some(status))) => format!("{status}, without a word on stderr"),
            (None, _) => "no message on stderr".into(),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `GET /hello` answers 200, `hello, world\n`, with its checksum.
    pub fn check_hello(&mut self) -> Result<()> {
        let answer = get(&self.addr, "/hello").map_err(|e| {
            anyhow::anyhow!(
                "GET /hello failed: {e}; the server's last line: {}",
                self.last_words()
            )
        })?;
        ensure!(
            answer.status == 200 && answer.body == b"hello, world\n",
            "GET /hello: status {}, body {:?}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        let want = format!(
            "{:016x}",
            workload::io::fnv1a(workload::io::FNV_START, &answer.body)
        );
        ensure!(
            answer.checksum.as_deref() == Some(want.as_str()),
            "GET /hello: x-checksum {:?}, the body's is {want}",
            answer.checksum
        );
        Ok(())
    }

    /// SIGTERM, then wait (the server drains for at most its --drain-ms, 5 s by default)
    /// for exit status 0 and its summary line: a JSON object with a `serve` object.
    pub fn stop(mut self) -> Result<String> {
        signal(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        let reaped = wait_with_rusage(&mut self.child, deadline);
        let rest = self
            .rest
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let Some(reaped) = reaped else {
            bail!("the server did not exit within 15 s of SIGTERM; killed");
        };
        if !reaped.status.success() {
            bail!(
                "the server exited with {} after SIGTERM: {}",
                reaped.status,
                self.last_words()
            );
        }
        let line = rest
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let summary: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("the server's summary line is not JSON: {line:?}"))?;
        ensure!(
            summary.get("serve").is_some_and(|s| s.is_object()),
            "the server's summary line has no \"serve\" object: {line}"
        );
        Ok(line.to_string())
    }
}

/// The I/O driver a stopped server's summary line names (monoio's binaries: `io_uring` or
/// `epoll`); empty for a model that names none.
pub fn driver(summary: &str) -> String {
    serde_json::from_str::<serde_json::Value>(summary)
        .ok()
        .and_then(|v| v.get("driver")?.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Drop for Server {
    /// A server not stopped (an error on the way) is killed, never left running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// An answer to one GET.
pub struct Answer {
    pub status: u16,
    pub checksum: Option<String>,
    pub body: Vec<u8>,
}

/// One `GET path` on a connection of its own (`Connection: close`), read to its end.
pub fn get(addr: &str, path: &str) -> Result<Answer> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> Result<Answer> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no complete head in the answer")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("no status line")?;
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let mut body = raw[end + 4..].to_vec();
    if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.truncate(len);
    }
    Ok(Answer {
        status,
        checksum: header("x-checksum"),
        body,
    })
}

/// Idle keep-alive connections held open against a server: each has sent one
/// `GET /hello` and read its answer, so the server has accepted it and set it up, and now
/// waits for its next request.
pub struct Held {
    streams: Vec<TcpStream>,
}

impl Held {
    /// Open `n` such connections, one after the other (a server that closes each after
    /// its answer, as sync's does, gets them in turn instead of all at once).
    pub fn open(addr: &str, n: u64) -> Result<Held> {
        let mut streams = Vec::with_capacity(n as usize);
        let request = format!("GET /hello HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        for i in 0..n {
            let mut stream = TcpStream::connect(addr)
                .with_context(|| format!("connection {} of {n} to {addr}", i + 1))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream.write_all(request.as_bytes())?;
            read_one_answer(&mut stream)
                .with_context(|| format!("connection {} of {n}: GET /hello", i + 1))?;
            streams.push(stream);
        }
        Ok(Held { streams })
    }

    /// How many are still open: the server has not closed them (a read finds no end of
    /// stream).
    pub fn still_open(&self) -> u64 {
        let mut open = 0;
        let mut byte = [0u8; 1];
        for s in &self.streams {
            if s.set_nonblocking(true).is_err() {
                continue;
            }
            match s.peek(&mut byte) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => open += 1,
                _ => {}
            }
            let _ = s.set_nonblocking(false);
        }
        open
    }
}

/// Read one answer's head and its content-length body.
fn read_one_answer(stream: &mut TcpStream) -> Result<()> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk)?;
        ensure!(n > 0, "the connection closed before a whole answer");
        raw.extend_from_slice(&chunk[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let answer = parse_answer(&raw)?;
            ensure!(answer.status == 200, "status {}", answer.status);
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len = head
                .split("\r\n")
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + len {
                return Ok(());
            }
        }
    }
}
