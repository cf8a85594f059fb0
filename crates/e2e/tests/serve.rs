//! Every model as a server (`serve`): each route answers a verified body, hostile clients
//! leave it answering everyone else, running out of file descriptors does not spin it,
//! and SIGTERM lets the requests in flight finish, then prints the summary line.
//!
//! The models run one at a time inside each test (the machine has two cores); the tests
//! run side by side. `E2E_MODELS=sync,threads` runs them for those models only.

use e2e::serving::{cpu_time, get, Serving};
use e2e::Server;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The models whose worker serves one connection at a time, so that they answer
/// `connection: close` and an idle client holds a worker until the header timeout.
const ONE_AT_A_TIME: [&str; 3] = ["sync", "procs", "rayon"];

/// Every model, or those `E2E_MODELS` names (comma-separated).
fn models() -> Vec<String> {
    let all = e2e::models();
    match std::env::var("E2E_MODELS") {
        Ok(wanted) => {
            let wanted: Vec<&str> = wanted.split(',').map(str::trim).collect();
            all.into_iter()
                .filter(|m| wanted.contains(&m.as_str()))
                .collect()
        }
        Err(_) => all,
    }
}

fn one_at_a_time(model: &str) -> bool {
    ONE_AT_A_TIME.contains(&model)
}

const STOP: Duration = Duration::from_secs(15);

/// The fixture server's body of /delay/{ms}/bytes/1024, as /backend answers it.
fn backend_body() -> String {
    format!("{:016x}\n", e2e::expected_checksum(1024))
}

#[test]
fn every_route_answers_a_verified_body_and_sigterm_prints_the_counts() {
    let fixture = Server::start();
    let power = workload::cpu::task(7777, 1000).unwrap().checksum;
    for model in models() {
        let s = Serving::rust(&model, &["--backend", &fixture.addr]);
        let hello = s.get("/hello");
        assert_eq!(
            (hello.status, hello.text().as_str()),
            (200, "hello, world\n")
        );
        // Asked to keep the connection open, only the one-at-a-time models refuse.
        let kept = e2e::serving::get_keep_alive(&s.addr, "/hello").unwrap();
        assert_eq!(
            kept.header("connection") == Some("close"),
            one_at_a_time(&model),
            "{model}: connection: close is for the one-at-a-time models: {}",
            kept.head
        );
        let work = s.get("/work/1000");
        assert_eq!(
            (work.status, work.text()),
            (200, format!("{power:016x}\n")),
            "{model}"
        );
        let backend = s.get("/backend/10");
        assert_eq!(
            (backend.status, backend.text()),
            (200, backend_body()),
            "{model}"
        );
        assert_eq!(s.get("/nope").status, 404, "{model}");
        assert_eq!(s.get("/work/0").status, 400, "{model}");
        assert_eq!(s.get("/work/200001").status, 400, "{model}");
        let stopped = s.stop(libc::SIGTERM, STOP);
        let summary = stopped.summary();
        let serve = summary.serve.expect("a serve object");
        assert_eq!(
            (summary.workload.as_str(), summary.n),
            ("serve", 7),
            "{model}"
        );
        assert_eq!(summary.tasks, 4, "{model}: four 2xx answers");
        let by_status: Vec<(&str, u64)> = serve
            .by_status
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(by_status, [("200", 4), ("400", 2), ("404", 1)], "{model}");
        assert!(
            serve.listen.starts_with("127.0.0.1:"),
            "{model}: {}",
            serve.listen
        );
        assert!(summary.peak_pss_bytes > 0 && summary.user_ms + summary.system_ms > 0.0);
        assert!(
            stopped.stderr.contains("SIGTERM"),
            "{model} says it stopped: {}",
            stopped.stderr
        );
    }
}

#[test]
fn a_dead_backend_is_a_502_logged_once_and_no_backend_a_503() {
    for model in models() {
        // A port that was free a moment ago: nothing listens, the connection is refused.
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let s = Serving::rust(&model, &["--backend", &dead]);
        for _ in 0..3 {
            let reply = s.get("/backend/5");
            assert_eq!(reply.status, 502, "{model}: {}", reply.text());
            assert!(
                reply.text().contains("refused"),
                "{model}: {}",
                reply.text()
            );
        }
        assert_eq!(s.get("/hello").status, 200);
        let stopped = s.stop(libc::SIGTERM, STOP);
        let summary = stopped.summary();
        assert_eq!(
            summary.serve.as_ref().unwrap().errors["backend"],
            3,
            "{model}"
        );
        let lines = stopped
            .stderr
            .lines()
            .filter(|l| l.contains("backend failed"))
            .count();
        // Once per process (procs' workers each log their own).
        assert!(
            lines >= 1 && lines as u64 <= summary.processes,
            "{model}: one line per kind: {}",
            stopped.stderr
        );

        let s = Serving::rust(&model, &[]);
        assert_eq!(s.get("/backend/5").status, 503, "{model}");
    }
}

/// Send raw bytes on a fresh connection and read until the server closes it (or 5 s).
fn raw(addr: &str, bytes: &[u8]) -> (Vec<u8>, Duration) {
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

#[test]
fn hostile_clients_leave_the_server_answering_everyone_else() {
    for model in models() {
        let s = Serving::rust(&model, &["--header-timeout-ms", "400"]);
        // hyper's own 400 and 431 carry no x-checksum: only the status is read here.
        let status = |answer: &[u8]| -> Result<u16, String> {
            let text = String::from_utf8_lossy(answer);
            let line = text.lines().next().unwrap_or("").to_string();
            line.split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or(line)
        };

        // A malformed request line: 400, closed.
        let (answer, _) = raw(&s.addr, b"BLAH\r\n\r\n");
        assert_eq!(status(&answer), Ok(400), "{model}");
        assert_eq!(s.get("/hello").status, 200, "{model}");

        // A head over 16 KiB: 431, closed.
        let mut big = b"GET /hello HTTP/1.1\r\nx-big: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 20 * 1024));
        big.extend(b"\r\n\r\n");
        let (answer, _) = raw(&s.addr, &big);
        assert_eq!(status(&answer), Ok(431), "{model}");
        assert_eq!(s.get("/hello").status, 200, "{model}");

        // A head that stops coming: the connection is closed at the header timeout (a
        // blocking server says 408 first; hyper closes without a word).
        let (answer, waited) = raw(&s.addr, b"GET /hel");
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(4),
            "{model}: closed after {waited:?}"
        );
        assert!(answer.is_empty() || status(&answer) == Ok(408), "{model}");
        assert_eq!(s.get("/hello").status, 200, "{model}");

        // A client gone before its answer: the server notices at its write, or not at
        // all, and goes on.
        let mut gone = TcpStream::connect(&s.addr).unwrap();
        gone.write_all(b"GET /work/50000 HTTP/1.1\r\n\r\n").unwrap();
        drop(gone);
        assert_eq!(s.get("/hello").status, 200, "{model}");

        let summary = s.stop(libc::SIGTERM, STOP).summary();
        let errors = summary.serve.unwrap().errors;
        assert!(errors["bad_request"] >= 1, "{model}: {errors:?}");
        assert!(errors["head_too_large"] >= 1, "{model}: {errors:?}");
        assert!(errors["header_timeout"] >= 1, "{model}: {errors:?}");
    }
}

/// Open `n` connections to `addr` that send nothing.
fn idle_connections(addr: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            TcpStream::connect(addr).unwrap_or_else(|e| panic!("idle connection {i} of {n}: {e}"))
        })
        .collect()
}

/// 10,000 idle connections held open: every model that keeps connections open answers
/// /hello at once beside them. A one-at-a-time model cannot (each idle connection holds
/// a worker until the header timeout frees it: gunicorn's slow-client weakness), but the
/// timeout bounds the wait.
#[test]
fn idle_connections_hold_no_worker_or_only_until_the_header_timeout() {
    workload::mem::raise_nofile_limit();
    for model in models() {
        // Long enough for the 10,000 to stay open while they are opened.
        let timeout = if one_at_a_time(&model) {
            "300"
        } else {
            "30000"
        };
        let s = Serving::rust(&model, &["--header-timeout-ms", timeout]);
        if one_at_a_time(&model) {
            // Four idle clients hold every worker (sync 1, rayon and procs one per core).
            let idle = idle_connections(&s.addr, 4);
            let started = Instant::now();
            let hello = get(&s.addr, "/hello").unwrap();
            let waited = started.elapsed();
            assert_eq!(hello.status, 200);
            assert!(
                waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
                "{model}: /hello behind 4 idle clients after {waited:?}"
            );
            drop(idle);
        } else {
            let idle = idle_connections(&s.addr, 10_000);
            let started = Instant::now();
            let hello = get(&s.addr, "/hello").unwrap();
            assert_eq!(hello.status, 200);
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{model}: /hello beside 10,000 idle connections took {:?}",
                started.elapsed()
            );
            drop(idle);
        }
        let summary = s.stop(libc::SIGTERM, STOP).summary();
        let serve = summary.serve.unwrap();
        if !one_at_a_time(&model) {
            // A connection's own task or coroutine counts it once it runs: one or two
            // may start after others have already seen their client leave.
            assert!(
                serve.peak_open_connections >= 9_900,
                "{model}: {}",
                serve.peak_open_connections
            );
        }
    }
}

/// Out of file descriptors, `accept` fails while the listener stays readable: a loop that
/// retried at once would spin a core. Every model pauses instead, logs it once, and
/// answers again once connections close.
#[test]
fn out_of_file_descriptors_the_accept_loop_pauses_instead_of_spinning() {
    use std::os::unix::process::CommandExt;
    for model in models() {
        let mut command = std::process::Command::new(e2e::bin(&model));
        command.args(["serve", "--port", "0", "--header-timeout-ms", "10000"]);
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
        let s = Serving::start(&model, command);
        let held = idle_connections(&s.addr, 100);
        std::thread::sleep(Duration::from_millis(300));
        let (cpu, wall) = (cpu_time(s.pid()), Instant::now());
        std::thread::sleep(Duration::from_secs(2));
        let used = cpu_time(s.pid()) - cpu;
        assert!(
            used < wall.elapsed() / 5,
            "{model} used {used:?} of CPU in {:?} while out of file descriptors",
            wall.elapsed()
        );
        drop(held);
        // Once they close, it answers (a one-at-a-time model first sees each closed one).
        let started = Instant::now();
        let hello = loop {
            match get(&s.addr, "/hello") {
                Ok(reply) => break reply,
                Err(e) if started.elapsed() > Duration::from_secs(10) => {
                    panic!(
                        "{model}: no /hello after the clients left: {e}; {}",
                        s.log()
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        assert_eq!(hello.status, 200);
        let stopped = s.stop(libc::SIGTERM, STOP);
        let summary = stopped.summary();
        if !one_at_a_time(&model) {
            assert!(
                summary.serve.unwrap().errors["accept"] >= 1,
                "{model}: {}",
                stopped.stderr
            );
            let lines = stopped
                .stderr
                .lines()
                .filter(|l| l.contains("accept failed"))
                .count();
            assert_eq!(lines, 1, "{model}: logged once: {}", stopped.stderr);
        }
    }
}

/// SIGTERM (or SIGINT) mid-request: the request is answered, then the summary line is
/// printed with it counted, and the server exits 0.
#[test]
fn a_stop_lets_the_request_in_flight_finish() {
    let fixture = Server::start();
    for (i, model) in models().into_iter().enumerate() {
        let s = Serving::rust(&model, &["--backend", &fixture.addr]);
        let addr = s.addr.clone();
        let request = std::thread::spawn(move || get(&addr, "/backend/800"));
        std::thread::sleep(Duration::from_millis(300));
        let signal = if i % 2 == 0 {
            libc::SIGTERM
        } else {
            libc::SIGINT
        };
        let stopped = s.stop(signal, STOP);
        let reply = request.join().unwrap();
        assert_eq!(
            reply.map(|r| (r.status, r.text())),
            Ok((200, backend_body())),
            "{model}: {}",
            stopped.stderr
        );
        let summary = stopped.summary();
        assert_eq!(summary.serve.unwrap().by_status["200"], 1, "{model}");
        assert!(
            stopped.waited < Duration::from_secs(5),
            "{model}: {:?}",
            stopped.waited
        );
    }
}

#[test]
fn bad_serve_arguments_are_one_line_and_exit_2() {
    for model in models() {
        for args in [
            &["serve", "--backend", "10.1.2.3:80"][..],
            &["serve", "--backend", "localhost"],
            &["serve", "--port", "70000"],
            &["serve", "--header-timeout-ms", "0"],
            &["serve", "--workers", "0"],
        ] {
            let run = e2e::run(&model, args);
            assert_eq!(run.code(), Some(2), "{model} {args:?}: {}", run.stderr());
            assert_eq!(
                run.stderr().trim().lines().count(),
                1,
                "{model} {args:?}: {}",
                run.stderr()
            );
        }
        if model != "procs" {
            let run = e2e::run(&model, &["serve", "--workers", "2"]);
            assert_eq!(run.code(), Some(2), "{model}: {}", run.stderr());
            assert!(run.stderr().contains("procs"), "{model}: {}", run.stderr());
        }
    }
}
