//! The fixture server as the workload sees it: routes, caps, loopback only, 10,000
//! simultaneous connections, clean exit on SIGTERM; and as an abusive client sees it:
//! strict parsing, the fault routes, timeouts for idle and slow connections, room for
//! `/health` when clients hold every connection, small requests served while big bodies
//! stream, a log that does not flood.

use e2e::Server;

/// FNV-1a 64 of the server's first 3,000 and 100 body bytes, computed outside this project
/// (CPython, over `bytes(i % 251 for i in range(n))`), so that the server's checksums are
/// not checked against the same function that made them.
const CHECKSUM_3000: u64 = 0xb2b817d52199c655;
const CHECKSUM_100: u64 = 0xfb5c8cec60d83ab1;
use e2e::serving::cpu_time;
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One request on a fresh connection; returns the status line and the whole answer.
fn get(server: &Server, path: &str) -> (String, Vec<u8>) {
    get_with(server, path, "Host: x\r\n")
}

/// One request with these header lines (each ending in CRLF) on a fresh connection.
fn get_with(server: &Server, path: &str, headers: &str) -> (String, Vec<u8>) {
    get_at(&server.addr, path, headers)
}

/// One request to the server at `addr` on a fresh connection.
fn get_at(addr: &str, path: &str, headers: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap_or_else(|e| panic!("GET {path}: cannot send the request: {e}"));
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .unwrap_or_else(|e| panic!("GET {path}: no answer within 5 s: {e}"));
    let status = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    (status, answer)
}

fn header<'a>(answer: &'a [u8], name: &str) -> Option<&'a str> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    })
}

#[test]
fn delay_route_waits_then_sends_the_announced_bytes() {
    let server = Server::start();
    let started = Instant::now();
    let (status, answer) = get(&server, "/delay/200/bytes/3000");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "answered before the delay"
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(header(&answer, "content-length"), Some("3000"));
    let want = format!("{:016x}", CHECKSUM_3000);
    assert_eq!(header(&answer, "x-checksum"), Some(want.as_str()));
    assert!(is_pattern(body_of(&answer), 3000), "body is the pattern");
}

#[test]
fn requests_beyond_the_caps_are_refused_without_allocating() {
    let server = Server::start(); // --max-bytes 1 MiB, default max delay 60 s
    assert!(
        get(&server, "/delay/0/bytes/107374182400")
            .0
            .contains(" 413 "),
        "100 GB must be refused"
    );
    assert!(get(&server, "/delay/0/bytes/1048577").0.contains(" 413 "));
    assert!(get(&server, "/delay/600001/bytes/1").0.contains(" 400 "));
    assert!(get(&server, "/delay/x/bytes/1").0.contains(" 400 "));
    assert!(get(&server, "/nowhere").0.contains(" 404 "));
    assert!(get(&server, "/health").0.contains(" 200 "));
    assert!(get(&server, "/status/418").0.contains(" 418 "));
}

/// The kernel's own table of listening sockets shows the server's port bound to
/// 127.0.0.1 and nothing else (no 0.0.0.0, no IPv6 socket), so no other interface can
/// reach it. Unlike trying this machine's other addresses, this check needs none to exist.
#[test]
fn binds_loopback_only() {
    let server = Server::start();
    assert!(server.addr.starts_with("127.0.0.1:"));
    let port: u16 = server.addr.rsplit(':').next().unwrap().parse().unwrap();
    let mut listening = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state) = (fields[1], fields[3]);
            let (ip, hex_port) = local.rsplit_once(':').unwrap();
            // State 0A is LISTEN.
            if state == "0A" && u16::from_str_radix(hex_port, 16) == Ok(port) {
                listening.push(format!("{table} {ip}"));
            }
        }
    }
    // 127.0.0.1 as /proc/net/tcp writes it: the address's bytes in host (little-endian) order.
    assert_eq!(listening, ["/proc/net/tcp 0100007F"]);
}

/// 10,000 connections open at once, each with a request in flight: every one answered.
#[test]
fn serves_ten_thousand_simultaneous_connections() {
    let (soft, _) = workload::mem::raise_nofile_limit();
    assert!(
        soft >= 10_100,
        "this test needs 10,100 open files, the hard limit allows {soft}"
    );
    let server = Server::start();
    let mut streams: Vec<TcpStream> = (0..10_000)
        .map(|i| {
            TcpStream::connect(&server.addr).unwrap_or_else(|e| panic!("connect {i} refused: {e}"))
        })
        .collect();
    for stream in &mut streams {
        stream
            .write_all(b"GET /delay/100/bytes/16 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
    }
    let mut ok = 0;
    for stream in &mut streams {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        ok += answer.starts_with(b"HTTP/1.1 200") as usize;
    }
    assert_eq!(ok, 10_000);
}

#[test]
fn exits_cleanly_on_sigterm() {
    let mut command = std::process::Command::new(e2e::bin("fixture-server"));
    command
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = e2e::die_with_parent(&mut command).spawn().unwrap();
    let mut first = [0u8; 1];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap(); // listening
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(Instant::now() < deadline, "still running 3 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fixture server that this test did not start itself (a shell did), by pid. Dropping it
/// kills it if it still runs, so that a failing test leaves no server behind.
struct Grandchild(i32);

impl Grandchild {
    /// Its name and state letter from /proc, if it is there.
    fn stat(&self) -> Option<(String, String)> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0)).ok()?;
        let (open, close) = (stat.find('(')?, stat.rfind(')')?);
        let state = stat[close + 1..].split_whitespace().next()?;
        Some((stat[open + 1..close].to_string(), state.to_string()))
    }

    /// Whether it still runs, as the server or as the shell about to become it: /proc has
    /// it and it is not a zombie (an orphan's zombie stays until init reaps it, and a
    /// container's init may never).
    fn running(&self) -> bool {
        self.stat()
            .is_some_and(|(_, state)| !matches!(state.as_str(), "Z" | "X"))
    }

    /// Wait up to `limit` for it to end; whether it did.
    fn ends_within(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.running() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

impl Drop for Grandchild {
    fn drop(&mut self) {
        if self.running()
            && self
                .stat()
                .is_some_and(|(name, _)| name == "fixture-server")
        {
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
}

/// A shell that runs `script` with `$0` the server's path; its stdout (the server's too)
/// and stderr are piped here. The shell itself dies with this test.
fn shell(script: &str) -> std::process::Child {
    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", script])
        .arg(e2e::bin("fixture-server"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    e2e::die_with_parent(&mut command).spawn().unwrap()
}

/// A shell starts the server with `&` and these options, prints its pid and waits, as
/// scripts/lib.sh does. Returns the shell, the server and its address once it serves.
fn started_by_a_shell(options: &str) -> (std::process::Child, Grandchild, String) {
    let mut parent = shell(&format!(
        "\"$0\" --port 0 {options} 2>/dev/null & echo \"pid $!\"; wait"
    ));
    let mut out = std::io::BufReader::new(parent.stdout.take().unwrap());
    let (mut pid, mut addr) = (None, None);
    // Two lines in either order: the shell's "pid N" and the server's address.
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        match line.trim().strip_prefix("pid ") {
            Some(n) => pid = n.parse().ok(),
            None => addr = Some(line.trim().to_string()),
        }
    }
    let server = Grandchild(pid.expect("the shell printed the server's pid"));
    let addr = addr.expect("the server printed its address");
    assert!(addr.starts_with("127.0.0.1:"), "{addr:?}");
    assert_eq!(get_at(&addr, "/health", "Host: x\r\n").0, "HTTP/1.1 200 OK");
    (parent, server, addr)
}

/// Started by a shell with `--exit-with-parent $$`, the server ends within 2 s of that
/// shell being killed by SIGKILL, which runs no trap. Without it, after `kill -9` of
/// scripts/bench.sh, the server was re-parented to init and still serving 18 s later.
#[test]
fn with_exit_with_parent_the_server_ends_when_its_parent_is_killed() {
    let (mut parent, server, addr) = started_by_a_shell("--exit-with-parent $$");
    parent.kill().unwrap();
    parent.wait().unwrap();
    assert!(
        server.ends_within(Duration::from_secs(2)),
        "the server at {addr} still runs 2 s after its parent was killed"
    );
}

/// Without the option, as started by hand from a shell with `&`, the server outlives that
/// shell and goes on serving: nothing stops it by surprise.
#[test]
fn without_exit_with_parent_the_server_outlives_its_parent() {
    let (mut parent, server, addr) = started_by_a_shell("");
    parent.kill().unwrap();
    parent.wait().unwrap();
    assert!(
        !server.ends_within(Duration::from_secs(2)),
        "the server ended with its parent"
    );
    assert_eq!(get_at(&addr, "/health", "Host: x\r\n").0, "HTTP/1.1 200 OK");
}

/// The kernel signals only a parent's death that comes after the server asked for it. Here
/// the parent is gone before the server even starts: a shell starts it from a subshell
/// that first sleeps 0.5 s, with the shell's own pid, and exits at once. The server sees
/// that its parent is not that pid, and exits with one line instead of serving for ever.
#[test]
fn a_parent_gone_before_the_server_started_is_noticed() {
    let mut parent =
        shell("(sleep 0.5; exec \"$0\" --port 0 --exit-with-parent $$) & echo \"pid $!\"");
    let mut out = std::io::BufReader::new(parent.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let pid = line
        .trim()
        .strip_prefix("pid ")
        .and_then(|n| n.parse().ok());
    let server = Grandchild(pid.expect("the shell printed the subshell's pid"));
    assert!(parent.wait().unwrap().success());
    assert!(
        server.ends_within(Duration::from_secs(3)),
        "the server started after its parent ended still runs"
    );
    // Every writer of the pipe has ended: this read ends.
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(!rest.contains("127.0.0.1"), "the server served: {rest}");
    let mut err = String::new();
    parent
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--exit-with-parent"), "{err}");
}

#[test]
fn bad_arguments_are_one_line_and_exit_2() {
    let out = std::process::Command::new(e2e::bin("fixture-server"))
        .args(["--port", "99999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

/// Send one keep-alive request on `stream` and read its answer to the end of the body,
/// discarding the bytes; returns the body length.
fn download(stream: &mut TcpStream, path: &str) -> std::io::Result<u64> {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    let length: u64 = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .expect("a content-length");
    let mut buf = vec![0u8; 64 << 10];
    let mut left = length;
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let got = stream.read(&mut buf[..want])?;
        if got == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        left -= got as u64;
    }
    Ok(length)
}

/// Sixty clients download 16 MiB bodies back to back while a probe asks for `/health`
/// every 100 ms on a fresh connection, and the big downloads keep streaming meanwhile.
/// The old server computed each body's checksum, 16 MiB of FNV-1a, on its runtime threads
/// in one go, and sent the body as one frame: /health waited behind them, 1 s at the
/// median and 2.4 s at worst on this 2-core machine.
///
/// The bound is relative to the machine as loaded right now: at each probe the same
/// request goes to a second, idle server too, which meets the same competition for the
/// CPUs but has no work of its own in the way. The busy server's median may exceed the
/// idle one's twice over by at most 200 ms, and its 9th decile the idle one's twice over
/// by at most 1 s (here both are a few ms, at worst tens): a CI machine that slows every
/// process slows both, while a server whose own work stands in the way fails.
#[test]
fn health_answers_promptly_while_big_bodies_stream() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    const BIG: u64 = 16 << 20;
    let server = Server::start_with(&["--max-bytes", &BIG.to_string()]);
    let idle = Server::start();
    let stop = Arc::new(AtomicBool::new(false));
    let downloaded = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..60)
        .map(|_| {
            let (addr, stop, downloaded) = (server.addr.clone(), stop.clone(), downloaded.clone());
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(&addr).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let n = download(&mut stream, &format!("/delay/0/bytes/{BIG}")).unwrap();
                    downloaded.fetch_add(n, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500)); // the downloads are under way
    let (mut probes, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        for (server, times) in [(&server, &mut probes), (&idle, &mut baseline)] {
            let started = Instant::now();
            let (status, _) = get(server, "/health");
            times.push(started.elapsed());
            assert_eq!(status, "HTTP/1.1 200 OK");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    assert!(
        downloaded.load(Ordering::Relaxed) >= 60 * BIG,
        "the big downloads did not stream meanwhile"
    );
    // The median shows the server; one or two stalls of this shared machine do not.
    let quantiles = |times: &mut Vec<Duration>| {
        times.sort();
        (times[times.len() / 2], times[times.len() * 9 / 10])
    };
    let (median, ninth_decile) = quantiles(&mut probes);
    let (idle_median, idle_ninth) = quantiles(&mut baseline);
    assert!(
        median < 2 * idle_median + Duration::from_millis(200)
            && ninth_decile < 2 * idle_ninth + Duration::from_secs(1),
        "/health took {median:?} (median), {ninth_decile:?} (9 in 10) while big bodies streamed, \
         against {idle_median:?} and {idle_ninth:?} from an idle server: {probes:?}"
    );
}

/// Wait until the server closes `stream`: returns when it did, or `None` if it is still
/// open after `limit`. A line is written every 100 ms if `trickle` is given, as a
/// client that keeps a head coming would.
fn closed_within(
    stream: &mut TcpStream,
    limit: Duration,
    trickle: Option<&str>,
) -> Option<Instant> {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = vec![0u8; 64 << 10];
    while started.elapsed() < limit {
        if let Some(line) = trickle {
            if stream.write_all(line.as_bytes()).is_err() {
                return Some(Instant::now());
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => return Some(Instant::now()),
            Ok(_) => {} // buffered bytes of an answer: read on
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(Instant::now()), // reset
        }
    }
    None
}

/// A client that sends a request line and then one header line every 100 ms never lets
/// its connection go idle: the header timeout (1 s here) cuts it off, counted from the
/// first byte of the head, well before the idle timeout (10 s) would.
#[test]
fn a_head_trickled_line_by_line_is_cut_off_at_the_header_timeout() {
    let server = Server::start_with(&["--header-timeout-ms", "1000", "--idle-timeout-ms", "10000"]);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    let first_byte = Instant::now();
    stream.write_all(b"GET /health HTTP/1.1\r\n").unwrap();
    let closed = closed_within(
        &mut stream,
        Duration::from_secs(5),
        Some("x-trickle: 1\r\n"),
    )
    .expect("still trickling a head after 5 s: no header timeout")
        - first_byte;
    assert!(
        closed >= Duration::from_millis(900),
        "closed after {closed:?}, before the header timeout"
    );
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");
}

/// A keep-alive connection that got its answer and then stays silent is closed at the idle
/// timeout (2 s here), and not at the shorter header timeout (0.5 s), which only starts with
/// the first byte of a request. A connection that never sends anything is idle too.
#[test]
fn an_idle_connection_is_closed_at_the_idle_timeout() {
    let server = Server::start_with(&["--header-timeout-ms", "500", "--idle-timeout-ms", "2000"]);
    let mut kept_alive = TcpStream::connect(&server.addr).unwrap();
    kept_alive
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(download(&mut kept_alive, "/health").unwrap(), 3);
    let answered = Instant::now();
    let mut silent = TcpStream::connect(&server.addr).unwrap();
    let connected = Instant::now();
    for (name, stream, since) in [
        ("kept alive", &mut kept_alive, answered),
        ("silent", &mut silent, connected),
    ] {
        let closed = closed_within(stream, Duration::from_secs(6), None)
            .unwrap_or_else(|| panic!("{name}: still open after 6 s: no idle timeout"))
            - since;
        assert!(
            closed >= Duration::from_millis(1500),
            "{name}: closed after {closed:?}"
        );
        assert!(
            closed < Duration::from_secs(4),
            "{name}: closed after {closed:?}"
        );
    }
}

/// A client that asks for an endless body and stops reading holds its connection only
/// until nothing has moved for the idle timeout (1 s here); the body itself would go on
/// for the delay cap (60 s).
#[test]
fn a_client_that_stops_reading_is_dropped_at_the_idle_timeout() {
    let server = Server::start_with(&["--idle-timeout-ms", "1000"]);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .write_all(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(3)); // not reading: the server's writes stall
                                                // Read what the socket buffers hold; then the connection must end.
    let closed = closed_within(&mut stream, Duration::from_secs(10), None);
    assert!(
        closed.is_some(),
        "still streaming 13 s later: a stalled reader is never dropped"
    );
}

/// The server may hold only 256 files here. 400 clients each open a connection and send
/// half a request head, then hold on: the server closes the ones that have waited longest,
/// and a `/health` probe is still answered at once (the timeouts, 10 s and 30 s, have no
/// part in it). The old server ran out of file descriptors and never accepted the probe,
/// while its log filled with "Too many open files".
#[test]
fn health_answers_while_clients_hold_more_connections_than_there_are_files() {
    let server = Server::start_with_open_files(&[], 256);
    let mut holders: Vec<TcpStream> = (0..400)
        .map(|_| {
            let mut stream = TcpStream::connect(&server.addr).unwrap();
            stream.write_all(b"GET /health HTTP/1.1\r\n").unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500)); // the server works through the queue
    let started = Instant::now();
    let (status, _) = get(&server, "/health");
    let took = started.elapsed();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(took < Duration::from_secs(2), "/health took {took:?}");
    // Who made room: the first to connect, not the last.
    let first = closed_within(&mut holders[0], Duration::from_secs(1), None);
    assert!(
        first.is_some(),
        "the longest waiting connection is still open"
    );
    let last = closed_within(
        holders.last_mut().unwrap(),
        Duration::from_millis(300),
        None,
    );
    assert!(last.is_none(), "the newest connection was closed");
    let log = server.log();
    assert!(
        !log.contains("Too many open files"),
        "ran out of files: {log}"
    );
    let cap_lines = log.lines().filter(|l| l.contains("at the cap")).count();
    assert!(
        (1..=3).contains(&cap_lines),
        "{cap_lines} lines about the cap (folded: at most 3): {log}"
    );
}

/// At a cap of one connection, a client connects and writes its request 100 ms later (a
/// busy machine: preempted between `connect` and `write`). A second client connecting in
/// between does not close the first as idle: it goes over the cap, and both are answered.
/// The old server closed the first, found silent when the second arrived, so its request
/// was lost: in a burst of 60 downloads at a cap of 32 on a busy CI machine, 3 were.
#[test]
fn a_request_sent_a_moment_after_connecting_is_not_taken_for_idle() {
    let server = Server::start_with(&["--max-connections", "1"]);
    let mut late = TcpStream::connect(&server.addr).unwrap();
    late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    std::thread::sleep(Duration::from_millis(50)); // its socket read, and found empty
    let (status, _) = get(&server, "/health");
    assert_eq!(status, "HTTP/1.1 200 OK", "the second client, over the cap");
    std::thread::sleep(Duration::from_millis(50));
    let answer = download(&mut late, "/health");
    assert!(
        matches!(answer, Ok(3)),
        "the first client's request, 100 ms after its connect: {answer:?}; log: {}",
        server.log()
    );
}

/// What the server has done with a connection so far, seen without waiting: `None` while
/// it is open and silent (served, or waiting), else the first bytes of its answer (empty
/// if it was closed without one).
fn answered(stream: &TcpStream) -> Option<Vec<u8>> {
    stream.set_nonblocking(true).unwrap();
    let mut first = [0u8; 12];
    let seen = match stream.peek(&mut first) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
        Ok(n) => Some(first[..n].to_vec()),
        Err(_) => Some(Vec::new()), // reset
    };
    stream.set_nonblocking(false).unwrap();
    seen
}

/// Every connection busy: at the cap of 32 (64 files), 60 clients ask for `/delay/20000`
/// in a burst, then 20 more connect and send nothing. The first 32 are served (still
/// waiting for their bytes), each of the other 28 gets a 503 at once rather than waiting
/// unseen, and none is closed without an answer. A `/health` probe is still answered at
/// once; a download asked for now gets 503. Over the cap, room comes from the silent
/// connection that has waited longest.
///
/// The old server accepted nothing more until a download ended: the probe waited 20 s, as
/// `/health` did behind 300 requests to `/delay/20000` under `prlimit --nofile=300`; and
/// during such a burst it closed about ten connections whose requests it had not read
/// yet, as if they were idle.
#[test]
fn health_answers_when_every_connection_is_busy() {
    let server = Server::start_with_open_files(&[], 64);
    let request = b"GET /delay/20000/bytes/1 HTTP/1.1\r\nHost: x\r\n\r\n";
    let busy: Vec<TcpStream> = (0..60)
        .map(|_| {
            let mut stream = TcpStream::connect(&server.addr).unwrap();
            stream.write_all(request).unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500)); // every request read: all busy
    let silent: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500)); // the server works through the queue
    let started = Instant::now();
    let (status, _) = get(&server, "/health");
    let took = started.elapsed();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(took < Duration::from_secs(2), "/health took {took:?}");
    let started = Instant::now();
    let (status, answer) = get(&server, "/delay/0/bytes/3");
    let took = started.elapsed();
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(header(&answer, "retry-after"), Some("1"));
    assert_eq!(header(&answer, "x-fixture-server"), Some("1"));
    assert!(took < Duration::from_secs(2), "the 503 took {took:?}");
    let outcomes: Vec<Option<Vec<u8>>> = busy.iter().map(answered).collect();
    let served = outcomes.iter().filter(|o| o.is_none()).count();
    let refused = outcomes
        .iter()
        .filter(|o| o.as_deref() == Some(b"HTTP/1.1 503"))
        .count();
    assert_eq!(
        (served, refused),
        (32, 28),
        "of 60 downloads in a burst at a cap of 32, {served} served and {refused} refused; \
         the rest closed without an answer"
    );
    assert!(
        answered(&silent[0]).is_some(),
        "the silent connection that waited longest is still open"
    );
    assert!(
        answered(&silent[19]).is_none(),
        "the newest silent connection was closed"
    );
    let log = server.log();
    assert!(
        !log.contains("Too many open files"),
        "ran out of files: {log}"
    );
    assert!(log.contains("all busy"), "{log}");
}

/// With the connection cap set above the open-file limit (64 files, 1,000 connections),
/// accepts fail with "Too many open files" a hundred times a second; the log prints the
/// line once, then every 5 s how many more times it came.
///
/// The test waits for the first count (at 5 s on an idle machine; up to 30 s allowed, for
/// a loaded one that runs the server's timer late) and bounds the lines by the time
/// waited: one, plus one count per 5 s window begun. A log that printed every error
/// (hundreds of lines a second) or never counted them fails either way.
#[test]
fn a_repeated_error_is_printed_once_then_counted() {
    let server = Server::start_with_open_files(&["--max-connections", "1000"], 64);
    let _holders: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    let started = Instant::now();
    let emfile_lines = |log: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.contains("Too many open files"))
            .map(str::to_string)
            .collect()
    };
    let (log, waited) = loop {
        let (log, waited) = (server.log(), started.elapsed());
        let counted = emfile_lines(&log)
            .iter()
            .any(|l| l.contains(" more in the last "));
        if counted || waited > Duration::from_secs(30) {
            break (log, waited);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let emfile = emfile_lines(&log);
    assert!(!emfile.is_empty(), "no accept error at all: {log}");
    assert!(
        emfile.iter().any(|l| l.contains(" more in the last ")),
        "no count after {waited:?}: {log}"
    );
    let windows = waited.as_secs() / 5 + 1;
    assert!(
        emfile.len() as u64 <= 1 + windows,
        "{} lines in {waited:?}: {log}",
        emfile.len()
    );
}

/// Out of file descriptors (64 files, `--max-connections 1000`, 100 clients waiting in
/// the kernel's queue), every accept fails at once and the waiting connection stays
/// ready: an accept loop that retried at once would spin a core (40% of one here, with
/// other work on the machine, when it only yielded to the runtime between accepts). It
/// backs off instead: over 3 s the server uses at most a tenth of one core (1% here).
#[test]
fn out_of_file_descriptors_the_server_backs_off_instead_of_spinning() {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(e2e::bin("fixture-server"));
    command
        .args(["--port", "0", "--max-connections", "1000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    // SAFETY: setrlimit is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 64,
                rlim_max: 64,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = e2e::die_with_parent(&mut command).spawn().unwrap();
    let mut addr = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut addr)
        .unwrap();
    let _holders: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(addr.trim()).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500)); // out of descriptors by now
    let (cpu, wall) = (cpu_time(child.id()), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let (used, waited) = (cpu_time(child.id()) - cpu, wall.elapsed());
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        used < waited / 10,
        "the server used {used:?} of CPU in {waited:?} out of file descriptors"
    );
}

/// Numbers in paths are plain digits and statuses are final ones: anything else is a 400
/// (the old server answered `/status/999` with 999, and read `+5` as 5).
#[test]
fn numbers_and_status_codes_are_parsed_strictly() {
    let server = Server::start();
    for path in [
        "/status/999",
        "/status/600",
        "/status/+5",
        "/status/+200",
        "/status/100",
        "/status/199",
        "/status/20",
        "/status/",
        "/status/2%30%30",
        "/delay/+5/bytes/1",
        "/delay/5/bytes/+1",
        "/delay/-1/bytes/1",
        "/delay/0x10/bytes/1",
        "/delay/1e3/bytes/1",
        "/delay//bytes/1",
        "/truncate/+4",
        "/truncate/1",
        "/badsum/+1",
        "/redirect/+1/bytes/1",
        "/slow-headers/+1/bytes/1",
        "/basic-auth/u/p/bytes/+1",
    ] {
        let (status, answer) = get(&server, path);
        assert!(
            status.contains(" 400 "),
            "{path}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    for (path, want) in [
        ("/status/200", " 200 "),
        ("/status/599", " 599 "),
        ("/status/204", " 204 "),
        ("/delay/0/bytes/0", " 200 "),
        ("/delay/007/bytes/10", " 200 "),
        ("/delay/0/bytes/99999999999999999999999", " 413 "),
        ("/truncate/1048577", " 413 "),
    ] {
        assert!(get(&server, path).0.contains(want), "{path}: want {want}");
    }
}

/// Whether `body` is the server's deterministic body of `n` bytes (byte i is i % 251).
fn is_pattern(body: &[u8], n: usize) -> bool {
    body.len() == n && body.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8)
}

/// Where the body starts in a whole answer.
fn body_of(answer: &[u8]) -> &[u8] {
    &answer[answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..]
}

/// `/badsum/{n}` sends the right bytes under a wrong `x-checksum`: a client that verifies
/// must refuse them.
#[test]
fn badsum_sends_the_right_bytes_under_a_wrong_checksum() {
    let server = Server::start();
    let (status, answer) = get(&server, "/badsum/3000");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(is_pattern(body_of(&answer), 3000));
    let right = format!("{:016x}", CHECKSUM_3000);
    let announced = header(&answer, "x-checksum").expect("an x-checksum");
    assert_ne!(announced, right);
    assert!(get(&server, "/badsum/1048577").0.contains(" 413 "));
}

/// `/no-checksum/{n}` sends the pattern with its Content-Length and no `x-checksum`; like
/// every answer of the server (a body, an error, a refusal, a 404, a redirect), it carries
/// the `x-fixture-server: 1` mark that makes such a body a fault in the clients.
#[test]
fn no_checksum_sends_no_checksum_and_every_answer_is_marked() {
    let server = Server::start();
    let (status, answer) = get(&server, "/no-checksum/3000");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(is_pattern(body_of(&answer), 3000));
    assert_eq!(header(&answer, "content-length"), Some("3000"));
    assert_eq!(header(&answer, "x-checksum"), None);
    assert!(get(&server, "/no-checksum/1048577").0.contains(" 413 "));
    for path in [
        "/no-checksum/3000",
        "/delay/0/bytes/10",
        "/health",
        "/status/503",
        "/badsum/10",
        "/redirect/1/bytes/10",
        "/nowhere",
        "/delay/x/bytes/1",
        "/slow-headers/10/bytes/10",
    ] {
        let (status, answer) = get(&server, path);
        assert_eq!(
            header(&answer, "x-fixture-server"),
            Some("1"),
            "{path}: {status}"
        );
    }
}

/// `/endless` streams chunked bytes as fast as they are read, with no length announced,
/// until the delay cap (1 s here), then breaks off without the final chunk.
#[test]
fn endless_streams_until_the_delay_cap_then_breaks_off() {
    let server = Server::start_with(&["--max-delay-ms", "1000"]);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (mut total, mut head, mut tail) = (0u64, Vec::new(), Vec::new());
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if head.len() < 4096 {
                    head.extend_from_slice(&buf[..n.min(4096)]);
                }
                tail.extend_from_slice(&buf[..n]);
                tail.drain(..tail.len().saturating_sub(16));
                total += n as u64;
            }
        }
    }
    let took = started.elapsed();
    assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(header(&head, "transfer-encoding"), Some("chunked"));
    assert_eq!(header(&head, "content-length"), None);
    assert!(total > 4 << 20, "only {total} bytes in {took:?}");
    assert!(!tail.ends_with(b"0\r\n\r\n"), "the body ended properly");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

/// `/redirect/3/bytes/100` is three 302s, each to the next link of the chain with a
/// relative Location, then the 100 bytes; the chain and the size are capped.
#[test]
fn a_redirect_chain_counts_down_to_the_bytes() {
    let server = Server::start();
    let mut path = "/redirect/3/bytes/100".to_string();
    let mut hops = Vec::new();
    let answer = loop {
        let (status, answer) = get(&server, &path);
        if status != "HTTP/1.1 302 Found" {
            assert_eq!(status, "HTTP/1.1 200 OK", "{path}");
            break answer;
        }
        path = header(&answer, "location").expect("a Location").to_string();
        hops.push(path.clone());
        assert!(hops.len() <= 3, "more than 3 hops: {hops:?}");
    };
    assert_eq!(
        hops,
        [
            "/redirect/2/bytes/100",
            "/redirect/1/bytes/100",
            "/redirect/0/bytes/100"
        ]
    );
    assert_eq!(body_of(&answer).len(), 100);
    let want = format!("{:016x}", CHECKSUM_100);
    assert_eq!(header(&answer, "x-checksum"), Some(want.as_str()));
    assert!(get(&server, "/redirect/21/bytes/1").0.contains(" 400 "));
    assert!(get(&server, "/redirect/2/bytes/1048577")
        .0
        .contains(" 413 "));
}

/// `/slow-headers/1000/bytes/100` sends its status line at once and completes its head only
/// after a second, line by line; the body follows, checksummed as usual.
#[test]
fn slow_headers_trickle_the_head_line_by_line() {
    let server = Server::start();
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /slow-headers/1000/bytes/100 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    let mut status_line_at = None;
    while !answer.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        answer.push(byte[0]);
        if answer.ends_with(b"\r\n") && status_line_at.is_none() {
            status_line_at = Some(started.elapsed());
        }
    }
    let head_at = started.elapsed();
    let status_line_at = status_line_at.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(
        status_line_at < Duration::from_millis(500),
        "status line after {status_line_at:?}"
    );
    assert!(
        head_at >= Duration::from_millis(950),
        "head complete after {head_at:?}"
    );
    assert!(
        head_at < Duration::from_secs(3),
        "head complete after {head_at:?}"
    );
    let mut body = vec![0u8; 100];
    stream.read_exact(&mut body).unwrap();
    let want = format!("{:016x}", CHECKSUM_100);
    assert_eq!(header(&answer, "x-checksum"), Some(want.as_str()));
    assert!(is_pattern(&body, 100));
    assert!(get(&server, "/slow-headers/60001/bytes/1")
        .0
        .contains(" 400 "));
    assert!(get(&server, "/slow-headers/0/bytes/1048577")
        .0
        .contains(" 413 "));
}

/// `/basic-auth/{user}/{pass}/bytes/{n}` answers only a request that carries exactly those
/// credentials in `Authorization: Basic`, and refuses any whose Host header holds them.
#[test]
fn basic_auth_needs_the_credentials_in_authorization_and_not_in_host() {
    let server = Server::start();
    let path = "/basic-auth/user/pa55/bytes/100";
    // base64("user:pa55") and base64("user:wrong")
    let (right, wrong) = ("dXNlcjpwYTU1", "dXNlcjp3cm9uZw==");
    let (status, answer) = get(&server, path);
    assert!(status.contains(" 401 "), "no credentials: {status}");
    assert_eq!(
        header(&answer, "www-authenticate"),
        Some("Basic realm=\"fixture-server\"")
    );
    let with = |host: &str, auth: &str| {
        get_with(
            &server,
            path,
            &format!("Host: {host}\r\nAuthorization: {auth}\r\n"),
        )
    };
    assert!(with("x", &format!("Basic {wrong}")).0.contains(" 401 "));
    assert!(with("x", "Bearer dXNlcjpwYTU1").0.contains(" 401 "));
    let (status, answer) = with("x", &format!("Basic {right}"));
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body_of(&answer).len(), 100);
    let want = format!("{:016x}", CHECKSUM_100);
    assert_eq!(header(&answer, "x-checksum"), Some(want.as_str()));
    assert!(
        with("x", &format!("basic {right}")).0.contains(" 200 "),
        "the scheme is case-insensitive"
    );
    let (status, _) = with("user:pa55@x", &format!("Basic {right}"));
    assert!(status.contains(" 400 "), "credentials in Host: {status}");
    assert!(get(&server, "/basic-auth/user/pa55/bytes/1048577")
        .0
        .contains(" 413 "));
}

/// `--help` lists every route.
#[test]
fn help_lists_every_route() {
    let out = std::process::Command::new(e2e::bin("fixture-server"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for route in [
        "/health",
        "/delay/{ms}/bytes/{n}",
        "/status/{code}",
        "/truncate/{n}",
        "/reset",
        "/badsum/{n}",
        "/no-checksum/{n}",
        "x-fixture-server",
        "/endless",
        "/redirect/{k}/bytes/{n}",
        "/slow-headers/{ms}/bytes/{n}",
        "/basic-auth/{user}/{pass}/bytes/{n}",
        "--header-timeout-ms",
        "--idle-timeout-ms",
        "--max-connections",
        "--exit-with-parent",
    ] {
        assert!(
            help.contains(route),
            "--help does not name {route}:\n{help}"
        );
    }
}
