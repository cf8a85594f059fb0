//! Every model as a server (`serve`), the Rust ones and the Python peers
//! (scripts/python/serve_*.py, where their environment exists): each route answers a
//! verified body, hostile clients leave it answering everyone else, running out of file
//! descriptors does not spin it, and SIGTERM lets the requests in flight finish, then
//! prints the summary line.
//!
//! The models run one at a time inside each test (the machine has two cores); the tests
//! run side by side. `E2E_MODELS=sync,python-threads` runs them for those models only.
//! Without the Python environment (scripts/python-env.sh) the Python peers are skipped
//! with a line saying so; with E2E_REQUIRE_PYTHON set (CI), the tests fail instead.

use e2e::serving::{get, raw, serve_command, status, tree_cpu_time, Serving};
use e2e::Server;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// What a model does where the contract leaves it room, or where its framework departs
/// from the contract in a way that cannot be changed from the outside (each Python
/// server's header says why). Written once; every test reads it.
#[derive(Clone, Copy, Debug)]
struct Model {
    name: &'static str,
    /// Its worker serves one connection at a time: it answers `connection: close`, and an
    /// idle or trickling client holds a worker until the header timeout frees it.
    one_at_a_time: bool,
    /// The status a head over 16 KiB gets: 431, or aiohttp's 400 ("Got more than 16384
    /// bytes when reading"), counted as bad_request.
    too_large: u16,
    /// A head trickled past the header timeout gets 408 before the close (the blocking
    /// parser); hyper, gunicorn and aiohttp close without a word.
    trickle_408: bool,
    /// Out of file descriptors, each failed accept is counted (`errors.accept`) and the
    /// first logged ("accept failed"). The one-at-a-time models never get there (one
    /// connection per worker); uvloop's libuv, at EMFILE, accepts and closes the waiting
    /// connections itself (its "EMFILE trick") and tells nobody.
    counts_accept: bool,
    /// A listener per core (SO_REUSEPORT), so an accept queue per core: one core's answer
    /// says nothing of how far another has got through its own queue.
    listener_per_core: bool,
}

const fn model(name: &'static str, one_at_a_time: bool, trickle_408: bool) -> Model {
    Model {
        name,
        one_at_a_time,
        too_large: 431,
        trickle_408,
        counts_accept: !one_at_a_time,
        listener_per_core: false,
    }
}

const MODELS: [Model; 16] = [
    model("sync", true, true),
    model("threads", false, true),
    model("procs", true, true),
    model("rayon", true, true),
    model("green", false, true),
    model("tokio-async", false, false),
    model("smol-async", false, false),
    model("async-std-async", false, false),
    // The blocking servers' parser (serve::http1) on io_uring reads: its 408 too.
    Model {
        listener_per_core: true,
        ..model("monoio-async", false, true)
    },
    Model {
        listener_per_core: true,
        ..model("monoio-epoll", false, true)
    },
    // gunicorn's sync worker, one worker and one per core.
    model("python-sync", true, false),
    model("python-procs", true, false),
    model("python-threads", false, false),
    model("python-gevent", false, false),
    Model {
        too_large: 400,
        ..model("python-asyncio", false, false)
    },
    Model {
        too_large: 400,
        counts_accept: false,
        ..model("python-uvloop", false, false)
    },
];

/// Every model (the Python peers where their environment exists), or those `E2E_MODELS`
/// names (comma-separated).
fn models() -> Vec<Model> {
    let table = |name: &str| -> Model {
        *MODELS
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} has no row in serve.rs's MODELS"))
    };
    let mut all: Vec<Model> = e2e::models().iter().map(|m| table(m)).collect();
    if e2e::python_venv().is_some() {
        all.extend(MODELS.iter().filter(|m| m.name.starts_with("python-")));
    } else {
        assert!(
            std::env::var_os("E2E_REQUIRE_PYTHON").is_none(),
            "no Python environment (E2E_REQUIRE_PYTHON is set, so this fails)"
        );
        eprintln!("SKIPPED the Python servers: no environment (run scripts/python-env.sh)");
    }
    match std::env::var("E2E_MODELS") {
        Ok(wanted) => {
            let wanted: Vec<&str> = wanted.split(',').map(str::trim).collect();
            all.into_iter()
                .filter(|m| wanted.contains(&m.name))
                .collect()
        }
        Err(_) => all,
    }
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
    for m in models() {
        let model = m.name;
        let s = Serving::new(model, &["--backend", &fixture.addr]);
        let hello = s.get("/hello");
        assert_eq!(
            (hello.status, hello.text().as_str()),
            (200, "hello, world\n")
        );
        // Asked to keep the connection open, only the one-at-a-time models refuse.
        let kept = e2e::serving::get_keep_alive(&s.addr, "/hello").unwrap();
        assert_eq!(
            kept.header("connection") == Some("close"),
            m.one_at_a_time,
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
            (summary.model.as_str(), summary.workload.as_str(), summary.n),
            (model, "serve", 7),
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
    }
}

#[test]
fn a_dead_backend_is_a_502_logged_once_and_no_backend_a_503() {
    for m in models() {
        let model = m.name;
        // A port that was free a moment ago: nothing listens, the connection is refused.
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let s = Serving::new(model, &["--backend", &dead]);
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

        let s = Serving::new(model, &[]);
        assert_eq!(s.get("/backend/5").status, 503, "{model}");
    }
}

#[test]
fn hostile_clients_leave_the_server_answering_everyone_else() {
    for m in models() {
        let model = m.name;
        let s = Serving::new(model, &["--header-timeout-ms", "400"]);

        // A malformed request line: 400, closed.
        let (answer, _) = raw(&s.addr, b"BLAH\r\n\r\n");
        assert_eq!(status(&answer), Ok(400), "{model}");
        assert_eq!(s.get("/hello").status, 200, "{model}");

        // A head over 16 KiB: 431 (aiohttp: 400), closed.
        let mut big = b"GET /hello HTTP/1.1\r\nx-big: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 20 * 1024));
        big.extend(b"\r\n\r\n");
        let (answer, _) = raw(&s.addr, &big);
        assert_eq!(status(&answer), Ok(m.too_large), "{model}");
        assert_eq!(s.get("/hello").status, 200, "{model}");

        // A head that stops coming: the connection is closed at the header timeout (the
        // blocking parser says 408 first; the others close without a word).
        let (answer, waited) = raw(&s.addr, b"GET /hel");
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(4),
            "{model}: closed after {waited:?}"
        );
        if m.trickle_408 {
            assert_eq!(status(&answer), Ok(408), "{model}");
        } else {
            assert!(answer.is_empty(), "{model}: {answer:?}");
        }
        assert_eq!(s.get("/hello").status, 200, "{model}");

        // A client gone before its answer: the server notices at its write, or not at
        // all, and goes on.
        let mut gone = TcpStream::connect(&s.addr).unwrap();
        gone.write_all(b"GET /work/50000 HTTP/1.1\r\n\r\n").unwrap();
        drop(gone);
        assert_eq!(s.get("/hello").status, 200, "{model}");

        // A client gone mid-answer: it reads one byte and closes with the rest unread
        // (the kernel resets the connection), where a keep-alive server waits for its
        // next request.
        let mut half = TcpStream::connect(&s.addr).unwrap();
        half.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut first = [0u8; 1];
        std::io::Read::read_exact(&mut half, &mut first).unwrap();
        drop(half);
        assert_eq!(s.get("/hello").status, 200, "{model}");

        let summary = s.stop(libc::SIGTERM, STOP).summary();
        let errors = summary.serve.unwrap().errors;
        assert!(errors["header_timeout"] >= 1, "{model}: {errors:?}");
        if m.too_large == 431 {
            assert!(errors["bad_request"] >= 1, "{model}: {errors:?}");
            assert!(errors["head_too_large"] >= 1, "{model}: {errors:?}");
        } else {
            assert!(errors["bad_request"] >= 2, "{model}: {errors:?}");
        }
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
    for m in models() {
        let model = m.name;
        // Long enough for the 10,000 to stay open while they are opened.
        let timeout = if m.one_at_a_time { "300" } else { "30000" };
        let s = Serving::new(model, &["--header-timeout-ms", timeout]);
        if m.one_at_a_time {
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
            if m.listener_per_core {
                // That /hello was answered by one core, after the idle connections queued
                // before it on that core: another core may still be accepting its share
                // (a core whose thread the machine left waiting). Each fresh connection
                // lands on a core by a hash of its port, and a core answers in the order it
                // accepts, so once 64 more are answered every core has answered one after
                // its share of the idle ones (but for a chance of C (1 - 1/C)^64: 1e-19 on
                // 2 cores, 0.2% on 8).
                for _ in 0..64 {
                    assert_eq!(get(&s.addr, "/hello").unwrap().status, 200, "{model}");
                }
            }
            drop(idle);
        }
        let summary = s.stop(libc::SIGTERM, STOP).summary();
        let serve = summary.serve.unwrap();
        if !m.one_at_a_time {
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
/// retried at once would spin a core. Every model pauses instead (the CPU of all its
/// processes stays under a fifth of a core), logs no traceback (and, where it counts
/// them, says it once), and answers again once connections close.
#[test]
fn out_of_file_descriptors_the_accept_loop_pauses_instead_of_spinning() {
    use std::os::unix::process::CommandExt;
    for m in models() {
        let model = m.name;
        let mut command = serve_command(model);
        command.args(["--port", "0", "--header-timeout-ms", "10000"]);
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
        let s = Serving::start(model, command);
        let held = idle_connections(&s.addr, 100);
        std::thread::sleep(Duration::from_millis(300));
        let (cpu, wall) = (tree_cpu_time(s.pid()), Instant::now());
        std::thread::sleep(Duration::from_secs(2));
        let used = tree_cpu_time(s.pid()) - cpu;
        assert!(
            used < wall.elapsed() / 5,
            "{model} used {used:?} of CPU in {:?} while out of file descriptors; {}",
            wall.elapsed(),
            s.log().lines().take(20).collect::<Vec<_>>().join("\n")
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
        assert!(
            !stopped.stderr.contains("Traceback"),
            "{model}: a crash report in the log: {}",
            stopped.stderr
        );
        if m.counts_accept {
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
    for (i, m) in models().into_iter().enumerate() {
        let model = m.name;
        let s = Serving::new(model, &["--backend", &fixture.addr]);
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
            "{model} (signal {signal}): {}",
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
    for m in models() {
        let model = m.name;
        let run = |args: &[&str]| serve_command(model).args(args).output().unwrap();
        for args in [
            &["--backend", "10.1.2.3:80"][..],
            &["--backend", "localhost"],
            &["--port", "70000"],
            &["--header-timeout-ms", "0"],
            &["--workers", "0"],
        ] {
            let out = run(args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{model} {args:?}: {stderr}");
            assert_eq!(
                stderr.trim().lines().count(),
                1,
                "{model} {args:?}: {stderr}"
            );
        }
        if !model.ends_with("procs") {
            let out = run(&["--workers", "2"]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{model}: {stderr}");
            assert!(stderr.contains("procs"), "{model}: {stderr}");
        }
    }
}

/// One server through the routes and the hostile inputs, then SIGTERM and its summary.
fn count_exactly(model: &str, too_large: u16, backend: &str) {
    let s = Serving::new(model, &["--backend", backend, "--header-timeout-ms", "500"]);
    for (path, want) in [
        ("/hello", 200),
        ("/work/1000", 200),
        ("/backend/10", 200),
        ("/nope", 404),
        ("/work/0", 400),
    ] {
        assert_eq!(s.get(path).status, want, "{model} {path}");
    }
    // Hostile input: a malformed request line, a head too large, a head that never
    // completes (closed by the header timeout); /hello still answered after each.
    let (bad, _) = raw(&s.addr, b"GARBAGE\r\n\r\n");
    assert_eq!(status(&bad), Ok(400), "{model} malformed");
    let big = format!(
        "GET /hello HTTP/1.1\r\nHost: t\r\nx-big: {}\r\n\r\n",
        "a".repeat(17 * 1024)
    );
    let (answer, _) = raw(&s.addr, big.as_bytes());
    assert_eq!(status(&answer), Ok(too_large), "{model} big head");
    let (rest, waited) = raw(&s.addr, b"GET /hel");
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
    assert_eq!(s.get("/hello").status, 200, "{model}");
    let addr = s.addr.clone();

    let stopped = s.stop(libc::SIGTERM, Duration::from_secs(15));
    let summary = stopped.summary();
    let line = stopped.stdout.lines().nth(1).unwrap();
    let s: serde_json::Value = serde_json::from_str(line).unwrap();
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

/// The Python servers only, beyond the tests above: the summary line's counts are
/// exactly the requests sent, the frameworks' own error answers (gunicorn's and
/// aiohttp's 400 and 431) included, and a trickled head is closed by our head timer, not
/// by gunicorn's or aiohttp's own keep-alive limit. The servers run side by side.
#[test]
fn python_servers_count_exactly_what_they_were_sent() {
    let backend = Server::start();
    let python: Vec<Model> = models()
        .into_iter()
        .filter(|m| m.name.starts_with("python-"))
        .collect();
    std::thread::scope(|scope| {
        for m in python {
            let backend = &backend.addr;
            scope.spawn(move || count_exactly(m.name, m.too_large, backend));
        }
    });
}
