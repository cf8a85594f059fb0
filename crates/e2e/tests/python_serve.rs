//! The Python servers (scripts/python/serve_*.py, issue 16's `serve` contract) against
//! the real fixture server as their backend: every route's body verified against its
//! `x-checksum`, hostile input answered or closed, and SIGTERM draining into exit 0 with
//! a summary line whose counts are what was sent.
//!
//! They need the environment that `scripts/python-env.sh` creates beside target/release
//! (Flask, gunicorn, aiohttp, uvloop). Without it they are skipped with a line saying
//! why; with E2E_REQUIRE_PYTHON set (CI), they fail instead. The six servers run side by
//! side, so the whole test takes about one server's few seconds.

use e2e::{die_with_parent, expected_checksum, python_venv, repo_root, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use workload::cpu::{modpow, M61};

/// Every Python peer, and what it answers to a head with one 17 KiB header line:
/// gunicorn's 431, aiohttp's 400 ("Got more than 16384 bytes"), as their headers say.
const SERVERS: [(&str, u16); 6] = [
    ("python-sync", 431),
    ("python-procs", 431),
    ("python-threads", 431),
    ("python-gevent", 431),
    ("python-asyncio", 400),
    ("python-uvloop", 400),
];

/// A Python server started on port 0; killed if the test fails before it exits.
struct Served {
    child: Child,
    addr: String,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Served {
    fn start(model: &str, python: &std::path::Path, args: &[&str]) -> Served {
        let script = repo_root()
            .join("scripts/python")
            .join(format!("serve_{}.py", model.trim_start_matches("python-")));
        let mut command = Command::new(python);
        command
            .arg(script)
            .arg("serve")
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = die_with_parent(&mut command)
            .spawn()
            .expect("start a server");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the address");
        let addr = line.trim().to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{model} printed {addr:?}");
        Served {
            child,
            addr,
            stdout,
        }
    }

    /// SIGTERM, then the exit code, the rest of stdout and stderr, within `bound`.
    fn stop(mut self, bound: Duration) -> (Option<i32>, String, String) {
        let started = Instant::now();
        // SAFETY: kill(2) on the pid of our own child, which has not been waited for.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        while self.child.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < bound, "no exit within {bound:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = self.child.wait().unwrap();
        let mut out = String::new();
        self.stdout.read_to_string(&mut out).unwrap();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.code(), out, err)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What came back for raw request bytes: the status, the headers (names lowercased)
/// and the body; the connection is read to its end (the request asks it closed).
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn exchange(addr: &str, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status: status.parse().unwrap(),
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

fn get(addr: &str, path: &str) -> Answer {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// A route's answer: the status, the body, and the contract's headers (text/plain, and
/// `x-checksum` the body's FNV-1a 64 as 16 hex digits).
fn checked(model: &str, addr: &str, path: &str, status: u16) -> Vec<u8> {
    let a = get(addr, path);
    let body = String::from_utf8_lossy(&a.body);
    assert_eq!(a.status, status, "{model} {path}: {body}");
    assert_eq!(
        a.header("content-type"),
        Some("text/plain"),
        "{model} {path}"
    );
    let sum = workload::io::fnv1a(workload::io::FNV_START, &a.body);
    assert_eq!(
        a.header("x-checksum"),
        Some(format!("{sum:016x}").as_str()),
        "{model} {path}"
    );
    a.body
}

/// One server through the routes and the hostile inputs, then SIGTERM and its summary.
fn exercise(model: &str, too_large: u16, python: &std::path::Path, backend: &str) {
    let server = Served::start(
        model,
        python,
        &["--backend", backend, "--header-timeout-ms", "500"],
    );
    let addr = server.addr.clone();
    assert_eq!(checked(model, &addr, "/hello", 200), b"hello, world\n");
    let power = modpow(7777, 1000, M61);
    assert_eq!(
        checked(model, &addr, "/work/1000", 200),
        format!("{power:016x}\n").as_bytes()
    );
    let download = expected_checksum(1024);
    assert_eq!(
        checked(model, &addr, "/backend/10", 200),
        format!("{download:016x}\n").as_bytes()
    );
    checked(model, &addr, "/nope", 404);
    checked(model, &addr, "/work/0", 400);
    // Hostile input: a malformed request line, a head too large, a head that never
    // completes (closed by the header timeout); /hello still answered after each.
    let bad = exchange(&addr, b"GARBAGE\r\n\r\n");
    assert_eq!(bad.status, 400, "{model} malformed");
    let big = format!(
        "GET /hello HTTP/1.1\r\nHost: t\r\nx-big: {}\r\n\r\n",
        "a".repeat(17 * 1024)
    );
    assert_eq!(
        exchange(&addr, big.as_bytes()).status,
        too_large,
        "{model} big head"
    );
    let started = Instant::now();
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /hel").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest); // the server closes it (a reset counts too)
    let waited = started.elapsed();
    assert!(
        rest.is_empty(),
        "{model}: {:?}",
        String::from_utf8_lossy(&rest)
    );
    // Closed by the server's head timer, not by gunicorn's or aiohttp's own keep-alive
    // limit, which is a second later.
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_millis(1400),
        "{model}: a head trickled past the 500 ms timeout was closed after {waited:?}"
    );
    assert_eq!(checked(model, &addr, "/hello", 200), b"hello, world\n");

    let (code, out, err) = server.stop(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{model}: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{model}: one summary line: {out:?}");
    let s: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let summary = workload::Summary::from_line(lines[0]).expect("the Summary fields");
    assert_eq!(
        (summary.model.as_str(), summary.workload.as_str()),
        (model, "serve")
    );
    // 5 answered routes and /hello again; the malformed and the big head answered by
    // the server itself; the trickled head closed with no answer.
    let serve = &s["serve"];
    assert_eq!((summary.n, summary.tasks), (8, 4), "{model}: {serve}");
    assert_eq!(serve["requests"], 8, "{model}");
    assert_eq!(serve["listen"], addr.as_str(), "{model}");
    let (by_status, errors) = if too_large == 431 {
        (
            serde_json::json!({"200": 4, "400": 2, "404": 1, "431": 1}),
            serde_json::json!({"bad_request": 2, "head_too_large": 1, "header_timeout": 1,
                "backend": 0, "client_gone": 0, "accept": 0}),
        )
    } else {
        (
            serde_json::json!({"200": 4, "400": 3, "404": 1}),
            serde_json::json!({"bad_request": 3, "head_too_large": 0, "header_timeout": 1,
                "backend": 0, "client_gone": 0, "accept": 0}),
        )
    };
    assert_eq!(serve["by_status"], by_status, "{model}");
    assert_eq!(serve["errors"], errors, "{model}");
    assert!(
        serve["connections"].as_u64().unwrap() >= 9,
        "{model}: {serve}"
    );
    assert!(summary.peak_pss_bytes > 1 << 20, "{model}: {summary:?}");
    assert!(summary.user_ms > 0.0, "{model}: {summary:?}");
}

/// Every Python server: the three routes' bodies verified, 404 and 400, a malformed
/// request (400), a head over 16 KiB (431, or aiohttp's 400), a head trickled past
/// --header-timeout-ms (closed, /hello still answered), then SIGTERM: exit 0 and one
/// summary line whose counts are exactly these requests.
#[test]
fn python_servers_answer_verified_and_drain_on_sigterm() {
    let Some(venv) = python_venv() else {
        assert!(
            std::env::var_os("E2E_REQUIRE_PYTHON").is_none(),
            "no Python environment (E2E_REQUIRE_PYTHON is set, so this fails)"
        );
        eprintln!("SKIPPED python servers: no environment (run scripts/python-env.sh)");
        return;
    };
    let python = venv.join("bin/python");
    let backend = Server::start();
    std::thread::scope(|scope| {
        for (model, too_large) in SERVERS {
            let (python, backend) = (&python, &backend.addr);
            scope.spawn(move || exercise(model, too_large, python, backend));
        }
    });
}
