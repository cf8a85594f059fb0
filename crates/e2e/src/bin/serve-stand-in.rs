//! A stand-in for a model's `serve` workload, for the tests of the serve sweep
//! (`scripts/bench-serve.sh`): the serve contract's command line, first line, routes and
//! summary line, served a thread per connection with std alone. Not a model: the sweep's
//! tests run it under a model's name (a link named `tokio-async`) through MODELS where
//! they need a server that fails on purpose; the real models serve in the others.
//!
//! ```sh
//! target/release/serve-stand-in serve --port 0 --backend 127.0.0.1:PORT [--workers K]
//! ```
//!
//! With `STAND_IN_FAIL=hello` it answers /hello 500 (a server the sweep must refuse);
//! with `STAND_IN_FAIL=exit` it exits 3 on SIGTERM (a server that does not stop cleanly).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use workload::io::{fnv1a, FNV_START};

static STOP: AtomicBool = AtomicBool::new(false);
static REQUESTS: AtomicU64 = AtomicU64::new(0);
static OK: AtomicU64 = AtomicU64::new(0);
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Relaxed);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("serve") {
        eprintln!("serve-stand-in: usage: serve-stand-in serve --port P [--backend ADDR]");
        std::process::exit(2);
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let port = value("--port").unwrap_or_else(|| "0".into());
    let backend = value("--backend");
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).expect("bind");
    let addr = listener.local_addr().expect("address");
    println!("{addr}");
    std::io::stdout().flush().expect("stdout");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let started = Instant::now();
    while !STOP.load(Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                CONNECTIONS.fetch_add(1, Relaxed);
                let backend = backend.clone();
                std::thread::spawn(move || serve(stream, backend.as_deref()));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    if std::env::var("STAND_IN_FAIL").as_deref() == Ok("exit") {
        std::process::exit(3);
    }
    let (requests, ok) = (REQUESTS.load(Relaxed), OK.load(Relaxed));
    println!(
        "{{\"model\":\"serve-stand-in\",\"workload\":\"serve\",\"n\":{requests},\"wall_ms\":{:.3},\"checksum\":\"0x0\",\"bytes\":0,\"tasks\":{ok},\"processes\":1,\"peak_rss_bytes\":0,\
\"serve\":{{\"listen\":\"{addr}\",\"requests\":{requests},\"by_status\":{{}},\"errors\":{{\"bad_request\":0,\"head_too_large\":0,\"header_timeout\":0,\"backend\":0,\"client_gone\":0,\"accept\":0}},\"connections\":{},\"peak_open_connections\":0}}}}",
        started.elapsed().as_secs_f64() * 1e3,
        CONNECTIONS.load(Relaxed)
    );
}

/// One connection: requests one after the other while the client keeps it open.
fn serve(stream: TcpStream, backend: Option<&str>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut close = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
            if header.to_ascii_lowercase().starts_with("connection: close") {
                close = true;
            }
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let (status, body) = route(&path, backend);
        REQUESTS.fetch_add(1, Relaxed);
        if status == 200 {
            OK.fetch_add(1, Relaxed);
        }
        // Head and body in one write: two small writes on a kept-alive connection would
        // wait for the client's delayed ACK (Nagle's algorithm), 40 ms an answer.
        let answer = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nx-checksum: {:016x}\r\n\r\n{body}",
            body.len(),
            fnv1a(FNV_START, body.as_bytes())
        );
        if writer.write_all(answer.as_bytes()).is_err() || close {
            return;
        }
    }
}

fn route(path: &str, backend: Option<&str>) -> (u16, String) {
    if path == "/hello" {
        if std::env::var("STAND_IN_FAIL").as_deref() == Ok("hello") {
            return (500, "failing on purpose\n".into());
        }
        return (200, "hello, world\n".into());
    }
    if let Some(exp) = path
        .strip_prefix("/work/")
        .and_then(|e| e.parse::<u32>().ok())
    {
        return match workload::cpu::task(7777, exp) {
            Ok(tally) => (200, format!("{:016x}\n", tally.checksum)),
            Err(e) => (500, format!("{e}\n")),
        };
    }
    if let Some(ms) = path
        .strip_prefix("/backend/")
        .and_then(|m| m.parse::<u64>().ok())
    {
        let Some(backend) = backend else {
            return (503, "no backend\n".into());
        };
        return match download(backend, ms) {
            Ok(sum) => (200, format!("{sum:016x}\n")),
            Err(e) => (502, format!("backend: {e}\n")),
        };
    }
    (404, "not found\n".into())
}

/// `GET /delay/{ms}/bytes/1024` from the fixture server: the body's checksum.
fn download(backend: &str, ms: u64) -> std::io::Result<u64> {
    let mut stream = TcpStream::connect(backend)?;
    write!(
        stream,
        "GET /delay/{ms}/bytes/1024 HTTP/1.1\r\nHost: {backend}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(std::io::ErrorKind::InvalidData)?;
    Ok(fnv1a(FNV_START, &raw[end + 4..]))
}
