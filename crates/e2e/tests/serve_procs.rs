//! procs as a server: K pre-forked worker processes on one listening socket. What only
//! procs promises (the routes, hostile input and the drain of every model are in
//! serve.rs): its summary line counts what every worker served, and no worker outlives
//! the server, whether it stops on SIGTERM or is killed.

use e2e::{bin, die_with_parent, run};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use workload::io::{fnv1a, FNV_START};
use workload::Summary;

/// Processes whose environment holds `marker` (the server and its workers inherit it).
fn with_marker(marker: &str) -> Vec<u32> {
    e2e::processes_with_env(marker)
}

/// Wait up to `limit` for no process to carry `marker`; the ones left, if any.
fn left_after(marker: &str, limit: Duration) -> Vec<u32> {
    let deadline = Instant::now() + limit;
    loop {
        let left = with_marker(marker);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `procs serve --workers K`, its address read from its first line, its environment
/// marked so that its workers can be found.
struct Served {
    child: Child,
    stdout: BufReader<ChildStdout>,
    addr: String,
    marker: String,
}

fn serve(workers: u64) -> Served {
    let marker = format!("E2E_SERVE_PROCS={}-{workers}", std::process::id());
    let (key, value) = marker.split_once('=').unwrap();
    let mut command = Command::new(bin("procs"));
    command
        .args(["serve", "--port", "0", "--workers", &workers.to_string()])
        .env(key, value)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = die_with_parent(&mut command).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut addr = String::new();
    stdout.read_line(&mut addr).unwrap();
    let addr = addr.trim().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "first line: {addr:?}");
    Served {
        child,
        stdout,
        addr,
        marker,
    }
}

impl Served {
    /// SIGTERM, then the exit code and the summary line (within 10 s).
    fn stop(mut self) -> (Option<i32>, Summary, String) {
        // SAFETY: kill(2) of our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "procs serve did not stop");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        assert_eq!(rest.lines().count(), 1, "one summary line: {rest:?}");
        let summary = Summary::from_line(&rest).expect("a summary line");
        (status.code(), summary, self.marker.clone())
    }
}

/// Send `GET /hello` on `stream`, read the answer to the server's close and check it:
/// 200, the body, its `x-checksum`, `connection: close`.
fn hello_on(mut stream: TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: e2e\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{answer:?}");
    assert_eq!(body, "hello, world\n");
    let checksum = format!("{:016x}", fnv1a(FNV_START, body.as_bytes()));
    assert!(head.contains(&format!("x-checksum: {checksum}")), "{head}");
    assert!(head.contains("connection: close"), "{head}");
}

/// Three workers, thirty requests: the first three are sent on three connections opened
/// together, so that each of the three workers holds one (a worker serves one connection
/// at a time); the other 27 go one after another. The parent serves nothing itself, so
/// its summary line counts the 30 only if it added every worker's line to its own; and
/// processes = 1 + 3. After SIGTERM no worker is left.
#[test]
fn the_summary_counts_every_workers_requests_and_sigterm_leaves_no_worker() {
    let server = serve(3);
    let deadline = Instant::now() + Duration::from_secs(5);
    while with_marker(&server.marker).len() < 4 {
        assert!(Instant::now() < deadline, "3 workers did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    // Let the three workers accept them (each waits for its connection's head).
    std::thread::sleep(Duration::from_millis(300));
    for stream in held {
        hello_on(stream);
    }
    for _ in 0..27 {
        hello_on(TcpStream::connect(&server.addr).unwrap());
    }
    let (code, summary, marker) = server.stop();
    assert_eq!(code, Some(0));
    let serve = summary.serve.expect("a serve object");
    assert_eq!(serve.by_status.get("200"), Some(&30), "{serve:?}");
    assert_eq!((summary.n, serve.requests, serve.connections), (30, 30, 30));
    assert_eq!(summary.tasks, 30);
    assert_eq!(summary.bytes, 30 * 13);
    // Each worker's peak is at least 1, and the parent adds them up.
    assert!(serve.peak_open_connections >= 3, "{serve:?}");
    assert_eq!((summary.processes, summary.workers), (4, 3));
    assert!(summary.peak_pss_bytes > 0);
    let left = left_after(&marker, Duration::from_secs(3));
    assert!(left.is_empty(), "processes left after SIGTERM: {left:?}");
}

/// The parent killed with SIGKILL (no cleanup code runs): the kernel takes its workers
/// down with it, and none goes on serving the port.
#[test]
fn a_killed_server_leaves_no_worker_behind() {
    let mut server = serve(2);
    let deadline = Instant::now() + Duration::from_secs(5);
    while with_marker(&server.marker).len() < 3 {
        assert!(Instant::now() < deadline, "2 workers did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    hello_on(TcpStream::connect(&server.addr).unwrap());
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    let left = left_after(&server.marker, Duration::from_secs(3));
    assert!(left.is_empty(), "workers outlived their parent: {left:?}");
    // A dying worker's memory goes before its files (the kernel's exit order), so its
    // environment may be unreadable a moment before its listening socket closes.
    let deadline = Instant::now() + Duration::from_secs(3);
    while TcpStream::connect(&server.addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the port still answers after 3 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `--workers` is procs' alone: the models that serve on threads of their own refuse it
/// before they bind anything.
#[test]
fn sync_and_threads_refuse_workers() {
    for model in ["sync", "threads"] {
        let out = run(model, &["serve", "--port", "0", "--workers", "2"]);
        assert_eq!(out.code(), Some(2), "{model}: {}", out.stderr());
        assert!(out.stderr().contains("procs"), "{model}: {}", out.stderr());
        assert!(out.output.stdout.is_empty(), "{model} printed an address");
    }
}
