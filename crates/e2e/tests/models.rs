//! Every model binary, discovered as the bench driver discovers them, against the real
//! fixture server: results verified independently, every fault a one-line error, waiting
//! tasks that really overlap, and no process left behind.

mod support;

use e2e::{models, run, run_with_env, Server};
use std::time::Duration;

/// The models that run waiting tasks concurrently without bound: all but the serial
/// baseline and rayon, whose pool admits one waiting task per core by design.
fn concurrent_models() -> Vec<String> {
    models()
        .into_iter()
        .filter(|m| m != "sync" && m != "rayon")
        .collect()
}

/// Three powers, checked against constants computed outside this project, with CPython:
/// `pow(7777, 20000, 2**61 - 1)` is 0xc2415df72452856, three of them add up (mod 2^64) to
/// 0x246c419e56cf7902; `(7777**20000).bit_length()` is 258,500 bits, 32,313 bytes each.
#[test]
fn cpu_results_are_verified_and_agree() {
    for model in models() {
        let s = run(&model, &["cpu", "--n", "3", "--exp", "20000"]).summary();
        assert_eq!(
            (s.model.as_str(), s.workload.as_str(), s.n, s.tasks, s.bytes),
            (model.as_str(), "cpu", 3, 3, 3 * 32_313)
        );
        assert_eq!(s.checksum, "0x246c419e56cf7902", "{model}");
        assert!(
            s.peak_rss_bytes > 1 << 20,
            "{model} peak memory {}",
            s.peak_rss_bytes
        );
        if model == "procs" {
            assert_eq!(s.processes, 4, "procs runs one worker per task");
        }
    }
}

/// Three tasks each downloading two URLs in turn: bytes and checksum must match the
/// fixture server's bodies, checksummed outside this project (CPython: FNV-1a 64 of
/// `bytes(i % 251 for i in range(n))`, for 5,000 and 7,000 bytes, summed, times three).
#[test]
fn io_downloads_are_verified_end_to_end() {
    let server = Server::start();
    let (a, b) = (
        server.url("/delay/10/bytes/5000"),
        server.url("/delay/10/bytes/7000"),
    );
    let want = 0x6867c3d8b9ad4966u64;
    for model in models() {
        let s = run(&model, &["io", "--n", "3", "--url", &a, "--url", &b]).summary();
        assert_eq!(
            (s.workload.as_str(), s.n, s.tasks, s.bytes, s.unverified),
            ("io", 3, 6, 36_000, 0),
            "{model}"
        );
        assert_eq!(s.checksum, format!("{want:#x}"), "{model}");
    }
}

/// Every task waits on the model's timer; sync waits one after another.
#[test]
fn sleep_runs_every_task() {
    for model in models() {
        let s = run(&model, &["sleep", "--n", "4", "--ms", "50"]).summary();
        assert_eq!(s.tasks, 4, "{model}");
        assert!(s.wall_ms >= 50.0, "{model} slept {} ms", s.wall_ms);
        if model == "sync" {
            assert!(
                s.wall_ms >= 200.0,
                "sync must wait 4 x 50 ms in turn, took {} ms",
                s.wall_ms
            );
        }
    }
}

/// Each fault: exit code 1 and one line on stderr naming the URL and the cause, within a
/// bounded time, for every model. Among them the ones only a working check catches: a
/// body whose bytes differ from the checksum the server announced, a redirect (no client
/// follows one), a body that never ends, headers that trickle (the deadline covers the
/// whole request, not each read), and a body the fixture server sent without its
/// `x-checksum` (a check that could not run must not pass).
#[test]
fn every_fault_is_one_line_naming_url_and_cause() {
    let server = Server::start();
    let faults = [
        (server.url("/status/503"), "HTTP status 503"),
        (server.url("/truncate/40000"), "truncated body"),
        (server.url("/reset"), "reset or closed"),
        (
            "http://127.0.0.1:1/refused".to_string(),
            "connection refused",
        ),
        (server.url("/delay/5000/bytes/10"), "timed out after 300 ms"),
        (server.url("/badsum/3000"), "body checksum"),
        (
            server.url("/redirect/2/bytes/100"),
            "HTTP status 302, a redirect to '/redirect/1/bytes/100'",
        ),
        (server.url("/endless"), "timed out after 300 ms"),
        (
            server.url("/slow-headers/5000/bytes/10"),
            "timed out after 300 ms",
        ),
        (
            server.url("/no-checksum/3000"),
            "the fixture server sent no x-checksum header, so the body cannot be verified",
        ),
    ];
    for model in models() {
        for (url, cause) in &faults {
            let r = run(
                &model,
                &["io", "--n", "2", "--url", url, "--timeout-ms", "300"],
            );
            let stderr = r.stderr();
            assert_eq!(r.code(), Some(1), "{model} {url}: {stderr}");
            assert_eq!(
                stderr.lines().count(),
                1,
                "{model} {url}: one line, got {stderr:?}"
            );
            assert!(
                stderr.contains(url.as_str()) && stderr.contains(cause),
                "{model} {url}: want {cause:?} in {stderr:?}"
            );
            assert!(
                r.output.stdout.is_empty(),
                "{model} {url}: no summary line for a failed run"
            );
            assert!(
                r.elapsed < Duration::from_secs(5),
                "{model} {url}: took {:?}",
                r.elapsed
            );
        }
    }
}

/// From a server other than the fixture server (no `x-fixture-server` mark, no
/// `x-checksum`), every download succeeds as far as it can be checked (status, length) and
/// is counted as unverified in the summary line; the checksum is still the bytes' own.
#[test]
fn downloads_from_another_server_are_counted_as_unverified() {
    let url = support::foreign_server();
    let one = workload::io::fnv1a(workload::io::FNV_START, support::FOREIGN_BODY);
    let len = support::FOREIGN_BODY.len() as u64;
    for model in models() {
        let s = run(&model, &["io", "--n", "3", "--url", &url]).summary();
        assert_eq!((s.tasks, s.unverified, s.bytes), (3, 3, 3 * len), "{model}");
        assert_eq!(s.checksum, format!("{:#x}", one.wrapping_mul(3)), "{model}");
    }
    // From the fixture server, verified downloads: none unverified.
    let server = Server::start();
    let s = run(
        "sync",
        &["io", "--n", "2", "--url", &server.url("/delay/0/bytes/100")],
    )
    .summary();
    assert_eq!((s.tasks, s.unverified), (2, 0));
}

/// A wrong power fails the run in every model, in one line: the check runs in the model's
/// own tasks, not only in `verify`'s unit tests.
#[test]
fn a_wrong_cpu_result_fails_every_model() {
    let fault = [(workload::cpu::FAULT_ENV, "wrong-power")];
    for model in models() {
        let r = run_with_env(&model, &["cpu", "--n", "2", "--exp", "2000"], &fault);
        let stderr = r.stderr();
        assert_eq!(r.code(), Some(1), "{model}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{model}: {stderr:?}");
        assert!(stderr.contains("7777**2000 is wrong"), "{model}: {stderr}");
    }
}

/// Every client does the same work for a URL with credentials: the same Authorization:
/// Basic header (the server answers 200 only with it, and 400 if the Host header carries
/// them), and errors name the URL without the password.
#[test]
fn credentials_in_a_url_are_sent_alike_by_every_model() {
    let server = Server::start();
    // The password is percent-encoded in the URL (p%40w) and plain in the route (p@w):
    // every client must decode it before it goes into the header.
    let good = server
        .url("/basic-auth/u/p@w/bytes/100")
        .replace("http://", "http://u:p%40w@");
    let wrong = server
        .url("/basic-auth/u/x/bytes/100")
        .replace("http://", "http://u:secret@");
    for model in models() {
        let s = run(&model, &["io", "--n", "2", "--url", &good]).summary();
        assert_eq!((s.tasks, s.bytes), (2, 200), "{model}");
        // CPython: FNV-1a 64 of bytes(i % 251 for i in range(100)), twice.
        assert_eq!(
            s.checksum,
            format!("{:#x}", 0xfb5c8cec60d83ab1u64.wrapping_mul(2)),
            "{model}"
        );
        let r = run(&model, &["io", "--n", "1", "--url", &wrong]);
        let stderr = r.stderr();
        assert_eq!(r.code(), Some(1), "{model}: {stderr}");
        assert!(stderr.contains("HTTP status 401"), "{model}: {stderr}");
        assert!(
            !stderr.contains("secret"),
            "{model} leaked the password: {stderr}"
        );
    }
}

/// Bad values never reach a model: exit code 2 and one line, never a panic.
#[test]
fn bad_arguments_are_one_line_and_exit_2() {
    let mut too_many_urls = vec!["io", "--n", "1"];
    for _ in 0..=workload::cli::MAX_URLS {
        too_many_urls.extend(["--url", "http://127.0.0.1:1/"]);
    }
    let cases: [&[&str]; 8] = [
        &["cpu", "--n", "0"],
        &["cpu", "--n", "ten"],
        &["cpu", "--exp", "99999999"],
        &["io", "--n", "3", "--url", "ftp://example.com/"],
        &["io", "--n", "3", "--url", "http://a b/"],
        &["io", "--n", "3"],
        &["sleep", "--n", "2000000"],
        &too_many_urls,
    ];
    for model in models() {
        for args in cases {
            let r = run(&model, args);
            let stderr = r.stderr();
            assert_eq!(r.code(), Some(2), "{model} {args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{model} {args:?}: {stderr:?}");
            assert!(!stderr.contains("panicked"), "{model} {args:?}: {stderr}");
            if args == ["io", "--n", "3"] {
                assert!(
                    stderr.contains("--url"),
                    "{model}: name the missing flag: {stderr}"
                );
            }
        }
        let version = run(&model, &["--version"]);
        assert_eq!(
            String::from_utf8_lossy(&version.output.stdout)
                .split_whitespace()
                .next(),
            Some(model.as_str()),
            "--version names the model"
        );
    }
}

/// Run `model args` on at most two of the CPUs this test may use, so that every runtime
/// sizes itself for two cores (they all count the CPUs they may run on) on any machine.
fn run_on_two_cpus(model: &str, args: &[&str]) -> e2e::Run {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(e2e::bin(model));
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: sched_getaffinity and sched_setaffinity are system calls on a set we own,
    // async-signal-safe as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            let size = std::mem::size_of::<libc::cpu_set_t>();
            let (mut allowed, mut two) = (std::mem::zeroed(), std::mem::zeroed());
            if libc::sched_getaffinity(0, size, &mut allowed) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let cpus = (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &allowed));
            for cpu in cpus.take(2) {
                libc::CPU_SET(cpu, &mut two);
            }
            if libc::sched_setaffinity(0, size, &two) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = std::time::Instant::now();
    let child = e2e::die_with_parent(&mut command)
        .spawn()
        .expect("start model");
    let output = child.wait_with_output().expect("wait for model");
    e2e::Run {
        output,
        elapsed: started.elapsed(),
    }
}

/// 200 tasks each waiting 300 ms, the model held to two CPUs. Concurrent waiting takes
/// about 0.3 s, plus the process's start (and procs' 200 worker starts, about 1 ms each
/// on an idle machine). A model that blocked its two workers while waiting would need
/// 200 x 300 ms / 2 = 30 s, and one that ran the tasks one after another 60 s. The bound,
/// 10 s, a third of the blocked case, leaves a loaded 2-core CI machine (the same two
/// CPUs as here) 9.7 s for starting processes and still fails any model that
/// serialises; the two CPUs make the blocked case 30 s on a machine of any size.
#[test]
fn waiting_tasks_overlap() {
    let server = Server::start();
    let url = server.url("/delay/300/bytes/1024");
    let bound = Duration::from_secs(10);
    for model in concurrent_models() {
        let io = run_on_two_cpus(&model, &["io", "--n", "200", "--url", &url]);
        assert!(
            io.elapsed < bound,
            "{model} io 200 x 300 ms took {:?}",
            io.elapsed
        );
        let summary = io.summary();
        assert_eq!(summary.tasks, 200);
        if model == "tokio-async" {
            // One worker per CPU it may use: the two it was given (or one).
            assert!(summary.workers <= 2, "{summary:?}");
        }
        let sleep = run_on_two_cpus(&model, &["sleep", "--n", "200", "--ms", "300"]);
        assert!(
            sleep.elapsed < bound,
            "{model} sleep 200 x 300 ms took {:?}",
            sleep.elapsed
        );
    }
}

/// rayon's pool admits one waiting task per worker: with 2 workers, 8 tasks of 100 ms
/// wait in 4 rounds. This is the behaviour the README explains, checked so it stays true.
#[test]
fn rayon_waits_one_task_per_worker() {
    assert!(models().iter().any(|m| m == "rayon"), "rayon is a model");
    let r = run_with_env(
        "rayon",
        &["sleep", "--n", "8", "--ms", "100"],
        &[("RAYON_NUM_THREADS", "2")],
    );
    let s = r.summary();
    assert!(
        s.wall_ms >= 400.0,
        "8 x 100 ms on 2 workers must take 4 rounds, took {} ms",
        s.wall_ms
    );
}

/// monoio-async runs on io_uring or on monoio's epoll fallback, and the summary line names
/// the one that ran: unforced, a machine with io_uring says `io_uring`, and one without
/// says `epoll` and one line why; `MONOIO_FORCE_LEGACY_DRIVER=1` forces epoll, said as
/// `epoll` with no complaint (it was asked for). No other model writes the field.
#[test]
fn monoio_async_names_the_driver_that_ran() {
    let server = Server::start();
    let url = server.url("/delay/10/bytes/1000");
    let io = ["io", "--n", "4", "--url", url.as_str()];
    let forced = run_with_env("monoio-async", &io, &[("MONOIO_FORCE_LEGACY_DRIVER", "1")]);
    assert_eq!(forced.stderr(), "", "forced epoll is no surprise");
    let s = forced.summary();
    assert_eq!((s.driver.as_deref(), s.tasks), (Some("epoll"), 4), "{s:?}");
    let free = run("monoio-async", &["sleep", "--n", "4", "--ms", "10"]);
    match free.summary().driver.as_deref() {
        Some("io_uring") => assert_eq!(free.stderr(), ""),
        Some("epoll") => assert!(
            free.stderr().contains("io_uring is not available here"),
            "{}",
            free.stderr()
        ),
        other => panic!("monoio-async's driver: {other:?}"),
    }
    let tokio = run("tokio-async", &["sleep", "--n", "4", "--ms", "10"]);
    assert_eq!(tokio.summary().driver, None);
}

/// monoio-epoll, the same model forced onto monoio's epoll driver, runs on epoll in every
/// workload's runtime (the seed's, spawn and switch, mixed), whatever the environment
/// says (even `MONOIO_FORCE_LEGACY_DRIVER=0`, which would let monoio pick io_uring), says
/// so in its summary line and says nothing on stderr: a sweep row named monoio-epoll is
/// never io_uring.
#[test]
fn monoio_epoll_never_runs_io_uring() {
    let server = Server::start();
    let url = server.url("/delay/10/bytes/1000");
    let runs: [&[&str]; 5] = [
        &["io", "--n", "4", "--url", url.as_str()],
        &["sleep", "--n", "4", "--ms", "10"],
        &["spawn", "--n", "100"],
        &["switch", "--n", "4", "--rounds", "10"],
        &["cpu", "--n", "2", "--exp", "2000"],
    ];
    for args in runs {
        for env in [&[][..], &[("MONOIO_FORCE_LEGACY_DRIVER", "0")][..]] {
            let r = run_with_env("monoio-epoll", args, env);
            assert_eq!(r.stderr(), "", "{args:?} {env:?}");
            let s = r.summary();
            assert_eq!(
                (s.model.as_str(), s.driver.as_deref()),
                ("monoio-epoll", Some("epoll")),
                "{args:?} {env:?}"
            );
        }
    }
}
