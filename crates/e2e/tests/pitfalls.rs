//! The `mixed` workload end to end: every variant shows the behaviour its model's
//! `pitfalls.rs` describes, against the real fixture server.
//!
//! Behaviour, not this machine's timings: each check compares runs of the same test (a
//! trap against `offload`), or a latency against a length the same run measured (a stall
//! against its own job), with margins several times smaller than the effect. A variant
//! that stopped demonstrating its trap (a job that no longer holds a worker, a yield that
//! no longer lets anyone in) fails. The timed tests take turns (one lock), so that they
//! do not load the cores under each other; the whole file takes about 30 s.

use e2e::{models, run, Server};
use std::sync::Mutex;
use workload::mixed::MixedStats;
use workload::Summary;

/// One timed test at a time: two streams at once would measure each other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// The stream of every timed run: 100 requests a second for 1 s, beside two jobs per
/// core (every model runs one worker per core, so two per worker): powers 7777 ** 60,000
/// (about 0.1 s each on an idle core), or sleeps of 150 ms for `block`.
fn jobs() -> u64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    (2 * cores).min(workload::cli::MAX_JOBS)
}
const BLOCK_MS: f64 = 150.0;

/// Run `mixed` with this file's stream; `changed` replaces some of its flags' values.
fn mixed(
    server: &Server,
    model: &str,
    variant: Option<&str>,
    changed: &[(&str, &str)],
) -> (Summary, MixedStats) {
    let url = server.url("/delay/10/bytes/1024");
    let jobs = jobs().to_string();
    let mut flags = vec![
        ("--url", url.as_str()),
        ("--rate", "100"),
        ("--duration-ms", "1000"),
        ("--jobs", jobs.as_str()),
        ("--exp", "60000"),
        ("--block-ms", "150"),
    ];
    if let Some(v) = variant {
        flags.push(("--variant", v));
    }
    for (flag, value) in changed {
        match flags.iter_mut().find(|(f, _)| f == flag) {
            Some(pair) => pair.1 = value,
            None => flags.push((flag, value)),
        }
    }
    let mut args = vec!["mixed"];
    for (flag, value) in flags {
        args.extend([flag, value]);
    }
    let summary = run(model, &args).summary();
    let stats = summary
        .mixed
        .clone()
        .expect("a mixed summary has its figures");
    (summary, stats)
}

/// The models that offer the four variants (every async model and green).
fn with_variants() -> Vec<String> {
    models()
        .into_iter()
        .filter(|m| {
            [
                "tokio-async",
                "smol-async",
                "async-std-async",
                "monoio-async",
                "monoio-epoll",
                "green",
            ]
            .contains(&m.as_str())
        })
        .collect()
}

/// For every async model and green: inline and block hold the workers (their p99 far
/// above offload's, a request waiting for most of the jobs), offload runs its jobs on
/// threads of its own, and yield lets the requests in between steps, except on may,
/// whose workers read their sockets only when no coroutine is ready, and on monoio,
/// whose cores fire their timers only when no task is ready.
#[test]
fn each_trap_is_clearly_worse_than_offload() {
    let _turn = serial();
    let server = Server::start();
    let jobs = jobs();
    for model in with_variants() {
        let (off_sum, offload) = mixed(&server, &model, Some("offload"), &[]);
        let (in_sum, inline) = mixed(&server, &model, Some("inline"), &[]);
        let (_, block) = mixed(&server, &model, Some("block"), &[]);
        let (y_sum, yielded) = mixed(&server, &model, Some("yield"), &[]);
        let all = [&offload, &inline, &block, &yielded];
        let ctx = format!(
            "{model}: offload {offload:?}\ninline {inline:?}\nblock {block:?}\nyield {yielded:?}"
        );
        for s in all {
            assert_eq!((s.probes, s.jobs), (100, jobs), "{ctx}");
        }
        assert_eq!(
            off_sum.tasks,
            100 + jobs,
            "every request and job counted: {ctx}"
        );

        // inline: every worker computes until the jobs are done; a request due then
        // waits for most of the jobs' total time.
        assert!(inline.p99_ms > 2.0 * offload.p99_ms, "inline p99: {ctx}");
        assert!(inline.max_ms > 0.5 * inline.jobs_ms, "inline stall: {ctx}");
        // block: the sleeps park the workers, one per worker at a time.
        let workers = off_sum.workers as f64;
        let rounds = (jobs as f64 / workers).ceil();
        assert!(block.p99_ms > 2.0 * offload.p99_ms, "block p99: {ctx}");
        assert!(block.max_ms >= BLOCK_MS, "block stall: {ctx}");
        assert!(
            block.jobs_ms >= 0.9 * rounds * BLOCK_MS,
            "block rounds: {ctx}"
        );
        // offload: the jobs had threads of their own; the others ran on the workers.
        assert!(
            off_sum.peak_threads >= in_sum.peak_threads + jobs / 2,
            "offload threads {} against inline's {}: {ctx}",
            off_sum.peak_threads,
            in_sum.peak_threads
        );
        assert!(
            y_sum.peak_threads < off_sum.peak_threads,
            "yield threads: {ctx}"
        );
        // yield: a step, not a job, between two looks at the requests (not on may, nor on
        // monoio, whose runtimes fire their timers only when a core's queue runs empty:
        // a yielding job keeps its core's queue busy, so the requests due meanwhile, each
        // started by a timer, start when the job is done; see monoio-async's header).
        if model == "green" {
            assert!(
                yielded.max_ms > 0.5 * yielded.jobs_ms,
                "may's yield lets sockets in now? {ctx}"
            );
        } else if model.starts_with("monoio-") {
            assert!(
                yielded.max_ms > 0.5 * yielded.jobs_ms,
                "monoio's timers fire beside a yielding task now? {ctx}"
            );
        } else {
            assert!(yielded.p99_ms < 0.5 * inline.p99_ms, "yield p99: {ctx}");
        }
    }
}

/// On tokio's current-thread runtime one job stalls everything: the largest latency is
/// at least most of the job's own length (a request due when it starts waits it out).
#[test]
fn the_current_thread_stall_is_the_whole_job() {
    let _turn = serial();
    let server = Server::start();
    let (summary, one) = mixed(
        &server,
        "tokio-async",
        Some("current-thread"),
        &[("--jobs", "1"), ("--exp", "100000")],
    );
    assert_eq!(summary.workers, 1, "one thread runs everything");
    assert_eq!(one.jobs, 1);
    assert!(one.max_ms >= 0.75 * one.job_ms, "{one:?}");
    assert!(one.job_ms > 20.0, "a job that short shows nothing: {one:?}");
}

/// threads, the baseline, takes no variant: every request and job on a thread of its own.
#[test]
fn threads_runs_the_baseline_with_no_variant() {
    let _turn = serial();
    let server = Server::start();
    let (summary, stats) = mixed(&server, "threads", None, &[]);
    assert_eq!(stats.variant, "none");
    assert_eq!((stats.probes, stats.jobs), (100, jobs()));
    assert_eq!(
        summary.workers,
        100 + jobs(),
        "one thread per request and per job"
    );
    assert!(
        stats.p50_ms <= stats.p99_ms && stats.p99_ms <= stats.max_ms,
        "{stats:?}"
    );
}

/// What each model offers is listed, and anything else is refused with exit code 2 and
/// one line before any work; a model without `mixed` says why.
#[test]
fn each_model_offers_its_variants_and_refuses_the_rest() {
    let _turn = serial();
    let four = ["offload", "inline", "yield", "block"];
    for model in models() {
        let listed = run(&model, &["mixed", "--list-variants"]);
        let want: Option<Vec<&str>> = match model.as_str() {
            "tokio-async" => Some(vec![
                "offload",
                "inline",
                "yield",
                "block",
                "current-thread",
            ]),
            "smol-async" | "async-std-async" | "monoio-async" | "monoio-epoll" | "green" => {
                Some(four.to_vec())
            }
            "threads" => Some(vec![]),
            _ => None,
        };
        let stderr = listed.stderr();
        match &want {
            Some(want) => {
                assert_eq!(listed.code(), Some(0), "{model}: {stderr}");
                let got = String::from_utf8_lossy(&listed.output.stdout).into_owned();
                assert_eq!(got.lines().collect::<Vec<_>>(), *want, "{model}");
            }
            None => {
                assert_eq!(listed.code(), Some(2), "{model} must refuse mixed");
                assert_eq!(stderr.lines().count(), 1, "{model}: {stderr:?}");
                assert!(
                    stderr.contains("mixed is not offered here: "),
                    "{model}: {stderr}"
                );
            }
        }
        let help = run(&model, &["mixed", "--help"]);
        let help = String::from_utf8_lossy(&help.output.stdout).into_owned();
        match &want {
            Some(want) => {
                for v in want {
                    assert!(
                        help.contains(&format!("  {v} ")),
                        "{model} --help lacks {v}"
                    );
                }
            }
            None => assert!(
                help.contains("Not offered by this model: "),
                "{model}: {help}"
            ),
        }
        for v in ["offload", "current-thread"] {
            if want.as_ref().is_some_and(|w| w.contains(&v)) {
                continue;
            }
            let r = run(
                &model,
                &["mixed", "--variant", v, "--url", "http://127.0.0.1:1/"],
            );
            let stderr = r.stderr();
            assert_eq!(r.code(), Some(2), "{model} --variant {v}: {stderr}");
            assert_eq!(
                stderr.lines().count(),
                1,
                "{model} --variant {v}: {stderr:?}"
            );
            assert!(!stderr.contains("panicked"), "{model}: {stderr}");
        }
    }
}

/// A request that fails fails the run: exit code 1, one line naming the URL and cause.
#[test]
fn a_failed_request_fails_the_run() {
    let _turn = serial();
    let server = Server::start();
    let url = server.url("/status/503");
    for model in models() {
        let variants = run(&model, &["mixed", "--list-variants"]);
        if variants.code() != Some(0) {
            continue;
        }
        let r = run(
            &model,
            &[
                "mixed",
                "--url",
                &url,
                "--rate",
                "20",
                "--duration-ms",
                "200",
                "--jobs",
                "1",
                "--exp",
                "1000",
            ],
        );
        let stderr = r.stderr();
        assert_eq!(r.code(), Some(1), "{model}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{model}: {stderr:?}");
        assert!(
            stderr.contains(&url) && stderr.contains("HTTP status 503"),
            "{model}: {stderr}"
        );
        assert!(
            r.output.stdout.is_empty(),
            "{model}: no summary line for a failed run"
        );
    }
}
