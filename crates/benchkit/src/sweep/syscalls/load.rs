//! The load of the served-request cell: a fixed number of `GET /hello` at a fixed, modest
//! rate over a few keep-alive connections, every answer read and checked.
//!
//! Not oha: the counters are on the server alone, so what matters of the client is only
//! what it sends (one request at a time per connection, each when it is due, never
//! pipelined), and a fixed count is what the per-request arithmetic needs, where oha runs
//! for a duration. It also needs nothing installed: the tests run it in seconds where oha
//! takes minutes to build.
//!
//! A server that answers `connection: close` (sync, procs, rayon) closes each connection
//! after its answer; the next request on that slot opens a new one, so those servers pay
//! an accept and a close per request, as their clients would make them.

use anyhow::{bail, ensure, Context, Result};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One load: `requests` in all, `rate` a second, spread over `connections` slots.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub requests: u64,
    pub rate: f64,
    pub connections: u64,
    /// The CPU the load's threads run on (the serve sweep's generator CPU), if any.
    pub cpu: Option<usize>,
}

/// What a load saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Requests answered 200 with the right body.
    pub answered: u64,
    /// Connections opened.
    pub connections: u64,
}

/// Send the load to `addr`: Err on the first request that fails or is answered wrongly.
pub fn run(addr: &str, load: &Load) -> Result<Sent> {
    let started = Instant::now();
    let slots = load.connections.max(1);
    let threads: Vec<_> = (0..slots)
        .map(|slot| {
            let (addr, load) = (addr.to_string(), *load);
            std::thread::spawn(move || {
                if let Some(cpu) = load.cpu {
                    pin_this_thread(cpu);
                }
                run_slot(&addr, &load, slot, slots, started)
            })
        })
        .collect();
    let mut sent = Sent::default();
    let mut first_error = None;
    for thread in threads {
        match thread.join() {
            Ok(Ok(s)) => {
                sent.answered += s.answered;
                sent.connections += s.connections;
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert(anyhow::anyhow!("a load thread panicked"));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(sent),
    }
}

/// Requests `slot`, `slot + slots`, ... of the load, each sent when due (request k is due
/// k / rate after the start), on one connection while the server keeps it open.
fn run_slot(addr: &str, load: &Load, slot: u64, slots: u64, started: Instant) -> Result<Sent> {
    let request = format!("GET /hello HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut sent = Sent::default();
    let mut stream: Option<TcpStream> = None;
    for k in (slot..load.requests).step_by(slots as usize) {
        let due = started + Duration::from_secs_f64(k as f64 / load.rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let s = match stream.as_mut() {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(addr).with_context(|| format!("connect to {addr}"))?;
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                s.set_nodelay(true)?;
                sent.connections += 1;
                stream.insert(s)
            }
        };
        s.write_all(request.as_bytes())
            .with_context(|| format!("request {} to {addr}", k + 1))?;
        let close = read_hello(s).with_context(|| format!("request {} to {addr}", k + 1))?;
        sent.answered += 1;
        if close {
            stream = None;
        }
    }
    Ok(sent)
}

/// Read one answer to `GET /hello`: 200 and `hello, world\n`. Ok(true) when the server
/// said it closes the connection.
fn read_hello(stream: &mut TcpStream) -> Result<bool> {
    let mut raw = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk)?;
        ensure!(n > 0, "the connection closed before a whole answer");
        raw.extend_from_slice(&chunk[..n]);
        if let Some(answer) = parse(&raw)? {
            ensure!(
                answer.status == 200 && answer.body == b"hello, world\n",
                "status {}, body {:?}",
                answer.status,
                String::from_utf8_lossy(answer.body)
            );
            return Ok(answer.close);
        }
    }
}

/// An answer, once whole.
#[derive(Debug, PartialEq)]
struct Answer<'a> {
    status: u16,
    close: bool,
    body: &'a [u8],
}

/// The answer in `raw`, or None while its head or its content-length body is incomplete.
fn parse(raw: &[u8]) -> Result<Option<Answer<'_>>> {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("no status line")?;
    let (mut length, mut close) = (None, false);
    for line in lines {
        match line.split_once(':') {
            Some(("content-length", v)) => length = v.trim().parse::<usize>().ok(),
            Some(("connection", v)) => close = v.trim() == "close",
            _ => {}
        }
    }
    let Some(length) = length else {
        bail!("an answer without content-length");
    };
    let body = &raw[end + 4..];
    if body.len() < length {
        return Ok(None);
    }
    Ok(Some(Answer {
        status,
        close,
        body: &body[..length],
    }))
}

/// Move the calling thread to `cpu` (a CPU the machine lacks: left where it is).
fn pin_this_thread(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes within it, and
    // sched_setaffinity reads it for the calling thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn answers_are_read_whole_and_closing_ones_are_told_apart() {
        let keep = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhello, world\n";
        let a = parse(keep).unwrap().unwrap();
        assert_eq!(
            (a.status, a.close, a.body),
            (200, false, &b"hello, world\n"[..])
        );
        assert_eq!(parse(&keep[..keep.len() - 1]).unwrap(), None, "body cut");
        assert_eq!(parse(&keep[..20]).unwrap(), None, "head cut");
        let close =
            b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 13\r\n\r\nhello, world\n";
        assert!(parse(close).unwrap().unwrap().close);
        let err = parse(b"HTTP/1.1 200 OK\r\n\r\n").unwrap_err();
        assert_eq!(err.to_string(), "an answer without content-length");
    }

    /// A server that answers three requests per connection, then closes: the load sends
    /// exactly its count, each answer checked, and reconnects when a connection closes.
    #[test]
    fn a_fixed_count_is_sent_and_closed_connections_are_reopened() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let mut conn = conn.unwrap();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    for i in 0..3 {
                        let mut got = Vec::new();
                        while !got.ends_with(b"\r\n\r\n") {
                            let n = conn.read(&mut buf).unwrap_or(0);
                            if n == 0 {
                                return;
                            }
                            got.extend_from_slice(&buf[..n]);
                        }
                        let close = if i == 2 { "connection: close\r\n" } else { "" };
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\n{close}content-length: 13\r\n\r\nhello, world\n"
                        );
                        conn.write_all(answer.as_bytes()).unwrap();
                    }
                });
            }
        });
        let load = Load {
            requests: 20,
            rate: 2_000.0,
            connections: 2,
            cpu: None,
        };
        let sent = run(&addr, &load).unwrap();
        // 10 requests per slot, 3 per connection: 4 connections each.
        assert_eq!(
            sent,
            Sent {
                answered: 20,
                connections: 8
            }
        );
    }

    #[test]
    fn a_wrong_answer_fails_the_load() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
        });
        let load = Load {
            requests: 1,
            rate: 100.0,
            connections: 1,
            cpu: None,
        };
        let err = format!("{:#}", run(&addr, &load).unwrap_err());
        assert!(
            err.contains("request 1 to") && err.contains("status 404"),
            "{err}"
        );
    }
}
