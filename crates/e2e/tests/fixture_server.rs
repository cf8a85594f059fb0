//! The fixture server as the workload sees it: routes, caps, loopback only, 10,000
//! simultaneous connections, clean exit on SIGTERM.

use e2e::{expected_checksum, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One request on a fresh connection; returns the status line and the whole answer.
fn get(server: &Server, path: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
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
    let want = format!("{:016x}", expected_checksum(3000));
    assert_eq!(header(&answer, "x-checksum"), Some(want.as_str()));
    let body_at = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body = &answer[body_at..];
    assert_eq!(body.len(), 3000);
    assert!(
        body.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8),
        "body is the pattern"
    );
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

#[test]
fn binds_loopback_only() {
    let server = Server::start();
    assert!(server.addr.starts_with("127.0.0.1:"));
    // Any non-loopback address of this machine must not reach it.
    let port = server.addr.rsplit(':').next().unwrap();
    let hostname = std::process::Command::new("hostname").arg("-I").output();
    if let Ok(out) = hostname {
        for ip in String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter(|ip| !ip.contains(':'))
        {
            let addr = format!("{ip}:{port}").parse().unwrap();
            assert!(
                TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
                "reachable on {ip}"
            );
        }
    }
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

#[test]
fn bad_arguments_are_one_line_and_exit_2() {
    let out = std::process::Command::new(e2e::bin("fixture-server"))
        .args(["--port", "99999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}
