//! A TEST DOUBLE of oha, the open-loop load generator of the serve sweep
//! (`scripts/bench-serve.sh`). The real generator is oha 1.16.0, which the driver
//! installs into target/tools (scripts/lib.sh's `ensure_oha`); compiling it takes minutes
//! (aws-lc, jemalloc and SQLite are C builds), too long for `make test`. The sweep's
//! end-to-end tests run this instead, through `OHA=target/release/oha-stand-in`, and a
//! run with `OHA` set never writes results/. No benchmark figure comes from it.
//!
//! It takes the command line benchkit gives oha (crates/benchkit/src/sweep/serve/oha.rs)
//! and does what oha 1.16 does with it (checked in its client.rs and printer.rs):
//!
//! - `-z DURATION` (`500ms`, `2s`): the run's length. At the end, requests still under
//!   way are cut off and counted as `aborted due to deadline`; requests due but not yet
//!   sent are dropped, uncounted.
//! - `-q RATE`: open loop. One thread issues a ticket every 1/RATE s; `-c N` worker
//!   threads, one HTTP/1.1 connection each, take the tickets in turn, so a slow server
//!   makes the tickets queue, not the rate fall. With `--latency-correction` each
//!   request is timed from when its ticket was due, the queue included; without it, from
//!   when it was sent. Without `-q`: closed loop, every worker as fast as the server
//!   answers (the sweep's generator ceiling).
//! - `--disable-keepalive`: `Connection: close` and a new connection per request; else
//!   connections are reused until the server closes them (`Connection: close`, as
//!   sync's answers are), and one found closed is reopened before the request is sent.
//! - `--output-format json --no-tui`: one JSON report on stdout with oha's names and
//!   units (seconds): `summary` (its nine fields), `latencyPercentiles` (p10 ... p99.99
//!   over every answered request, whatever its status, `null` when none was),
//!   `statusCodeDistribution` and `errorDistribution` (each failure's message: an OS
//!   error as std prints it, `Connection refused (os error 111)` as oha does). oha's
//!   histograms, `rps`, `metrics` and `details` are left out: benchkit reads none of them.
//!
//! `--version` says it is the stand-in. Plain `http://` GET only: no TLS, HTTP/2, `-n`
//! or other options of oha's; anything else is refused in one line, exit 2.
//!
//! ```sh
//! target/release/oha-stand-in --no-tui --output-format json -z 500ms -c 8 \
//!     -q 200 --latency-correction --disable-keepalive http://127.0.0.1:PORT/hello
//! ```

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// oha's message for a request cut off by the end of the run (client.rs).
const DEADLINE: &str = "aborted due to deadline";
/// An answer's head larger than this is refused (as a malformed answer).
const MAX_HEAD: usize = 64 * 1024;

/// The command line, checked.
struct Options {
    duration: Duration,
    connections: usize,
    rate: Option<f64>,
    latency_correction: bool,
    keepalive: bool,
    target: Target,
}

/// Where the requests go.
struct Target {
    addr: SocketAddr,
    host: String,
    path: String,
}

/// How one request ended.
enum Outcome {
    Answered {
        status: u16,
        latency: Duration,
        bytes: usize,
    },
    Failed(String),
    CutOff,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!(
            "oha-stand-in {} (a test double of oha 1.16.0, not a benchmark's generator)",
            env!("CARGO_PKG_VERSION")
        );
        return;
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(why) => {
            eprintln!("oha-stand-in: error: {why}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let outcomes = run(&options, started);
    let report = report(&outcomes, started.elapsed());
    println!("{report:#}");
}

fn parse(args: &[String]) -> Result<Options, String> {
    let (mut duration, mut connections, mut rate) = (None, 50, None);
    let (mut latency_correction, mut keepalive, mut url) = (false, true, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value"))
                .cloned()
        };
        match arg.as_str() {
            "--no-tui" => {}
            "--output-format" => {
                let format = value()?;
                if format != "json" {
                    return Err(format!("--output-format {format}: only json"));
                }
            }
            "-z" => duration = Some(parse_duration(&value()?)?),
            "-c" => {
                let v = value()?;
                connections = v
                    .parse()
                    .ok()
                    .filter(|&c| c > 0)
                    .ok_or_else(|| format!("-c {v}: not a count of connections"))?;
            }
            "-q" => {
                let v = value()?;
                rate = Some(
                    v.parse::<f64>()
                        .ok()
                        .filter(|r| r.is_finite() && *r > 0.0)
                        .ok_or_else(|| format!("-q {v}: not a rate"))?,
                );
            }
            "--latency-correction" => latency_correction = true,
            "--disable-keepalive" => keepalive = false,
            flag if flag.starts_with('-') => {
                return Err(format!("{flag}: not an option the stand-in takes"))
            }
            _ if url.is_some() => return Err(format!("{arg}: one URL only")),
            _ => url = Some(arg.clone()),
        }
    }
    Ok(Options {
        duration: duration.ok_or("-z DURATION is required (the stand-in has no -n)")?,
        connections,
        rate,
        latency_correction,
        keepalive,
        target: parse_url(&url.ok_or("no URL")?)?,
    })
}

/// `500ms` or `2s`, as humantime (oha's parser) reads them.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("-z {text}: not a duration such as 500ms or 2s");
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| text.split_at(i))
        .ok_or_else(bad)?;
    let n: u64 = number.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        _ => Err(bad()),
    }
}

fn parse_url(url: &str) -> Result<Target, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr = host
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("{url}: not a host:port"))?;
    Ok(Target {
        addr,
        host: host.to_string(),
        path: if path.is_empty() { "/" } else { path }.to_string(),
    })
}

/// The whole run: the workers' outcomes once the deadline has passed and every worker
/// has stopped.
fn run(options: &Options, started: Instant) -> Vec<Outcome> {
    let deadline = started + options.duration;
    let (tickets, rx) = mpsc::channel::<Instant>();
    // The workers take tickets from one queue; whoever is free takes the next.
    let rx = Arc::new(Mutex::new(rx));
    std::thread::scope(|scope| {
        match options.rate {
            Some(rate) => {
                scope.spawn(move || issue_tickets(tickets, rate, started, deadline));
            }
            None => drop(tickets),
        }
        let workers: Vec<_> = (0..options.connections)
            .map(|_| {
                let rx = Arc::clone(&rx);
                scope.spawn(move || worker(options, &rx, deadline))
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a worker panicked"))
            .collect()
    })
}

/// A ticket every 1/rate s from the start, stamped with when it was due, until the
/// deadline; then the queue closes.
fn issue_tickets(tickets: mpsc::Sender<Instant>, rate: f64, started: Instant, deadline: Instant) {
    for i in 0u64.. {
        let due = started + Duration::from_secs_f64(i as f64 / rate);
        if due > deadline {
            return;
        }
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        if tickets.send(due).is_err() {
            return;
        }
    }
}

/// One connection's worth of requests: one per ticket (open loop), or back to back
/// (closed loop, no rate), until the deadline.
fn worker(
    options: &Options,
    tickets: &Mutex<mpsc::Receiver<Instant>>,
    deadline: Instant,
) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut connection: Option<BufReader<TcpStream>> = None;
    loop {
        let due = if options.rate.is_some() {
            // The lock is held while waiting: the next ticket goes to one idle worker.
            let ticket = tickets.lock().expect("ticket queue").recv();
            match ticket {
                Ok(due) => Some(due),
                Err(_) => break, // the run is over
            }
        } else {
            None
        };
        let sent = Instant::now();
        if sent >= deadline {
            break; // due, not sent: dropped, uncounted (as oha does)
        }
        let outcome = match exchange(&mut connection, options, deadline) {
            Ok((status, bytes)) => {
                let from = match due {
                    Some(due) if options.latency_correction => due,
                    _ => sent,
                };
                Outcome::Answered {
                    status,
                    latency: from.elapsed(),
                    bytes,
                }
            }
            Err(_) if Instant::now() >= deadline => Outcome::CutOff,
            Err(why) => Outcome::Failed(why),
        };
        outcomes.push(outcome);
    }
    outcomes
}

/// One request and its whole answer, on the connection kept from the last one when it
/// is still open: (status, body bytes). The connection is kept for the next request
/// only when both sides keep it alive.
fn exchange(
    connection: &mut Option<BufReader<TcpStream>>,
    options: &Options,
    deadline: Instant,
) -> Result<(u16, usize), String> {
    let target = &options.target;
    let mut reader = match connection.take().filter(still_open) {
        Some(reader) => reader,
        None => {
            let left = remaining(deadline)?;
            let stream = TcpStream::connect_timeout(&target.addr, left).map_err(io)?;
            stream.set_nodelay(true).map_err(io)?;
            BufReader::new(stream)
        }
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nhost: {}\r\nuser-agent: oha-stand-in\r\naccept: */*\r\n{}\r\n",
        target.path,
        target.host,
        if options.keepalive {
            ""
        } else {
            "connection: close\r\n"
        }
    );
    let stream = reader.get_mut();
    stream
        .set_write_timeout(Some(remaining(deadline)?))
        .map_err(io)?;
    stream.write_all(request.as_bytes()).map_err(io)?;
    let answer = read_answer(&mut reader, deadline)?;
    if options.keepalive && answer.keep_alive {
        *connection = Some(reader);
    }
    Ok((answer.status, answer.bytes))
}

/// A kept connection the server has not closed meanwhile (hyper's `ready()` finds the
/// same and oha then reconnects).
fn still_open(reader: &BufReader<TcpStream>) -> bool {
    let stream = reader.get_ref();
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let open = matches!(stream.peek(&mut [0u8; 1]), Err(e) if e.kind() == ErrorKind::WouldBlock);
    open && stream.set_nonblocking(false).is_ok()
}

/// Time left before the deadline; an error once it has passed (the caller counts the
/// request as cut off).
fn remaining(deadline: Instant) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(DEADLINE.into());
    }
    Ok(left)
}

fn io(e: std::io::Error) -> String {
    e.to_string()
}

struct Answer {
    status: u16,
    bytes: usize,
    keep_alive: bool,
}

/// Read an HTTP/1.x answer's head and its whole body (content-length, chunked, or up to
/// the end of the connection), each read bounded by the deadline.
fn read_answer(reader: &mut BufReader<TcpStream>, deadline: Instant) -> Result<Answer, String> {
    let status_line = read_line(reader, deadline)?;
    let mut words = status_line.split_whitespace();
    let version = words.next().unwrap_or_default().to_string();
    let status: u16 = words
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|_| version.starts_with("HTTP/1."))
        .ok_or_else(|| format!("invalid HTTP status line {:?}", status_line.trim_end()))?;
    let mut head_bytes = status_line.len();
    let (mut length, mut chunked, mut close) = (None, false, version == "HTTP/1.0");
    loop {
        let line = read_line(reader, deadline)?;
        head_bytes += line.len();
        if head_bytes > MAX_HEAD {
            return Err("invalid HTTP answer: head over 64 KiB".into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("invalid HTTP header {line:?}"));
        };
        let value = value.trim().to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| format!("invalid HTTP answer: content-length {value:?}"))?,
                )
            }
            "transfer-encoding" => chunked = value.ends_with("chunked"),
            "connection" if value.contains("close") => close = true,
            "connection" if value.contains("keep-alive") => close = false,
            _ => {}
        }
    }
    let bytes = if status == 204 || status == 304 {
        0
    } else if chunked {
        read_chunked(reader, deadline)?
    } else if let Some(length) = length {
        read_body(reader, length, deadline)?
    } else {
        close = true;
        read_body(reader, usize::MAX, deadline)?
    };
    Ok(Answer {
        status,
        bytes,
        keep_alive: !close,
    })
}

fn read_line(reader: &mut BufReader<TcpStream>, deadline: Instant) -> Result<String, String> {
    let mut line = String::new();
    reader
        .get_ref()
        .set_read_timeout(Some(remaining(deadline)?))
        .map_err(io)?;
    // Bounded: a line longer than the whole head allowed is refused.
    let n = reader
        .by_ref()
        .take(MAX_HEAD as u64 + 1)
        .read_line(&mut line)
        .map_err(io)?;
    if n == 0 || !line.ends_with('\n') {
        return Err(incomplete(n > MAX_HEAD));
    }
    Ok(line)
}

fn incomplete(too_long: bool) -> String {
    if too_long {
        "invalid HTTP answer: a line over 64 KiB".into()
    } else {
        // hyper's words (error.rs: IncompleteMessage), which oha prints.
        "connection closed before message completed".into()
    }
}

/// Read `length` bytes of body, or up to the end of the connection when `length` is
/// usize::MAX: how many came.
fn read_body(
    reader: &mut BufReader<TcpStream>,
    length: usize,
    deadline: Instant,
) -> Result<usize, String> {
    let mut buf = [0u8; 16 * 1024];
    let mut got = 0;
    while got < length {
        reader
            .get_ref()
            .set_read_timeout(Some(remaining(deadline)?))
            .map_err(io)?;
        let want = buf.len().min(length - got);
        match reader.read(&mut buf[..want]) {
            Ok(0) if length == usize::MAX => break,
            Ok(0) => return Err(incomplete(false)),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok(got)
}

/// A chunked body: each chunk's size line, its bytes and CRLF, up to the zero chunk and
/// its trailers.
fn read_chunked(reader: &mut BufReader<TcpStream>, deadline: Instant) -> Result<usize, String> {
    let mut total = 0;
    loop {
        let line = read_line(reader, deadline)?;
        let size = line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| format!("invalid HTTP answer: chunk size {:?}", line.trim()))?;
        if size == 0 {
            while !read_line(reader, deadline)?.trim().is_empty() {}
            return Ok(total);
        }
        total += read_body(reader, size, deadline)?;
        read_line(reader, deadline)?;
    }
}

/// oha's JSON report (printer.rs `print_json`), the parts benchkit reads.
fn report(outcomes: &[Outcome], total: Duration) -> Value {
    let mut latencies: Vec<f64> = Vec::new();
    let (mut bytes, mut cut_off) = (0u64, 0u64);
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for outcome in outcomes {
        match outcome {
            Outcome::Answered {
                status,
                latency,
                bytes: n,
            } => {
                latencies.push(latency.as_secs_f64());
                bytes += *n as u64;
                *statuses.entry(status.to_string()).or_default() += 1;
            }
            Outcome::Failed(why) => *errors.entry(why.clone()).or_default() += 1,
            Outcome::CutOff => {
                cut_off += 1;
                *errors.entry(DEADLINE.into()).or_default() += 1;
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let answered = latencies.len();
    let failed: u64 = errors.values().sum::<u64>() - cut_off;
    let total_s = total.as_secs_f64();
    // oha's percentile: the value at index floor(p% of n) of the sorted latencies.
    let percentile = |p: f64| latencies.get((p / 100.0 * answered as f64) as usize);
    let percentiles: serde_json::Map<String, Value> = [
        ("p10", 10.0),
        ("p25", 25.0),
        ("p50", 50.0),
        ("p75", 75.0),
        ("p90", 90.0),
        ("p95", 95.0),
        ("p99", 99.0),
        ("p99.9", 99.9),
        ("p99.99", 99.99),
    ]
    .into_iter()
    .map(|(name, p)| (name.to_string(), json!(percentile(p))))
    .collect();
    let average = (answered > 0).then(|| latencies.iter().sum::<f64>() / answered as f64);
    json!({
        "summary": {
            // Cut-off requests are not the server's failures (oha leaves them out too).
            "successRate": answered as f64 / (answered as f64 + failed as f64),
            "total": total_s,
            "slowest": latencies.last(),
            "fastest": latencies.first(),
            "average": average,
            "requestsPerSec": outcomes.len() as f64 / total_s,
            "totalData": bytes,
            "sizePerRequest": bytes.checked_div(answered as u64),
            "sizePerSec": bytes as f64 / total_s,
        },
        "latencyPercentiles": percentiles,
        "statusCodeDistribution": statuses,
        "errorDistribution": errors,
    })
}
