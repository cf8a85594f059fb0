//! The `main` every model binary calls, so that parsing, timing, checking, printing and
//! exiting are written once and behave the same in every model.

use crate::cli::{Cli, Command};
use crate::summary::{Summary, Tally};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The threads (or processes) the model runs its tasks on; see [`record_workers`].
static WORKERS: AtomicU64 = AtomicU64::new(1);

/// The I/O driver that ran, for a model that has a choice; see [`record_driver`].
static DRIVER: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// The model's name, for lines written outside `main`'s flow (mixed's deadline).
static MODEL: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// The name the model gave [`main`] ("model" before it did): for the log lines of a crate
/// that builds more than one model binary from the same code (monoio-async, monoio-epoll).
pub fn model() -> &'static str {
    MODEL.get().copied().unwrap_or("model")
}

/// Say how many threads (or processes) the model's scheduler runs tasks on: a runtime's
/// worker threads, a pool's size, or N for one thread (process) per task. Every model
/// calls it where it sets its scheduler up, and the summary line reports it, so that the
/// runs say on how many workers each model was measured. Blocking pools are not counted
/// here: `peak_threads` in the summary shows every thread that ran.
pub fn record_workers(n: u64) {
    WORKERS.store(n, Ordering::Relaxed);
}

/// Say which I/O driver the model's runtime runs on (`io_uring` or `epoll`), for a model
/// whose runtime picks one at start (monoio): the summary line names it, so that which
/// one was measured is never a guess. The first call wins; models that never call it
/// print no `driver` field.
pub fn record_driver(driver: &'static str) {
    let _ = DRIVER.set(driver);
}

/// Parse the command line, run the workload under `model`'s `run`, check that every task
/// finished, print the summary line on stdout and exit.
///
/// Exit codes: 0 success; 1 the run failed (a wrong result, a failed request, `mixed` past
/// its deadline: one line on stderr names the cause); 2 bad arguments, or a run refused
/// before it starts because the machine's limits cannot hold it or it is predicted to take
/// longer than `--max-run-s` (one line on stderr); 3 out of memory during the run (one
/// line, see [`crate::oom`]).
pub fn main(model: &'static str, run: impl FnOnce(&Command) -> Result<Tally>) -> ExitCode {
    run_main(model, Sampling::On, run)
}

/// [`main`] for a worker process that runs tasks on behalf of a parent model (procs): the
/// parent samples the worker's memory and threads with its own, so the worker does not.
pub fn worker_main(model: &'static str, run: impl FnOnce(&Command) -> Result<Tally>) -> ExitCode {
    run_main(model, Sampling::Off, run)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sampling {
    On,
    Off,
}

fn run_main(
    model: &'static str,
    sampling: Sampling,
    run: impl FnOnce(&Command) -> Result<Tally>,
) -> ExitCode {
    let _ = MODEL.set(model);
    crate::oom::set_model(model);
    crate::oom::one_arena_under_an_address_limit();
    one_line_panics(model);
    let cli = match parse(model) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if crate::mixed::list_variants(&cli.command).is_some() {
        return ExitCode::SUCCESS;
    }
    // Checked before any work: a summary file we could not write would lose the run.
    let summary_file = match cli
        .summary_file
        .as_deref()
        .map(open_summary_file)
        .transpose()
    {
        Ok(file) => file,
        Err(e) => {
            eprintln!("{model}: {e:#}");
            return ExitCode::from(2);
        }
    };
    // Before any work: how long the run will take and the memory it will hold, against
    // --max-run-s and the machine's memory limits. A worker process's parent checked the
    // whole run already (and the check reads /proc: N workers doing it again would cost
    // N times as much as the run's own starts).
    let checked = match sampling {
        Sampling::On => crate::budget::check(&cli),
        Sampling::Off => Ok(()),
    };
    if let Err(refused) = checked {
        eprintln!("{model}: {refused}");
        return ExitCode::from(2);
    }
    let result = execute(model, &cli, sampling, run).and_then(|summary| {
        let line = summary.to_line();
        if let Some((mut file, path)) = summary_file {
            writeln!(file, "{line}")
                .with_context(|| format!("cannot write --summary-file {}", path.display()))?;
        }
        // Not println!: it panics when stdout cannot be written (a closed pipe, /dev/full).
        writeln!(std::io::stdout().lock(), "{line}")
            .and_then(|()| std::io::stdout().flush())
            .context("cannot write the summary line to stdout")
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A limit of the machine refused the run before it started: like a bad argument.
        Err(e) if e.downcast_ref::<crate::limits::Refused>().is_some() => {
            eprintln!("{model}: {e}");
            ExitCode::from(2)
        }
        // A workload this model cannot run sensibly: one line, exit 2, like a bad argument.
        Err(e) if e.downcast_ref::<crate::costs::Unsupported>().is_some() => {
            eprintln!("{model}: cannot run {}: {e}", cli.command.name());
            ExitCode::from(2)
        }
        Err(e) => {
            // `{:#}` prints anyhow's context chain on one line: "outer: inner: cause".
            eprintln!("{model}: error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// Parse and check the command line under the model's own name (for `--help` and
/// `--version`); a bad one has been reported in one line when this returns `Err`.
fn parse(model: &'static str) -> Result<Cli, ExitCode> {
    use clap::{CommandFactory, FromArgMatches};
    let command = crate::mixed::explain(Cli::command().name(model).bin_name(model));
    let cli = command
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
        .map_err(|e| usage_error(model, e))?;
    cli.validate().map_err(|e| {
        eprintln!("{model}: {e}");
        ExitCode::from(2)
    })?;
    Ok(cli)
}

fn open_summary_file(path: &std::path::Path) -> Result<(std::fs::File, std::path::PathBuf)> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(|file| (file, path.to_path_buf()))
        .with_context(|| format!("cannot open --summary-file {}", path.display()))
}

/// How often a server samples its own PSS and threads for its summary line.
const SERVE_SAMPLE_EVERY: Duration = Duration::from_millis(250);

fn execute(
    model: &str,
    cli: &Cli,
    sampling: Sampling,
    run: impl FnOnce(&Command) -> Result<Tally>,
) -> Result<Summary> {
    // Thousands of sockets need thousands of file descriptors; the default soft limit is
    // often 1024 while the hard limit allows far more.
    crate::mem::raise_nofile_limit();
    let sampler = (sampling == Sampling::On).then(|| match &cli.command {
        // A server's summary needs its peaks, not a fine trace of them.
        Command::Serve(_) => crate::mem::Sampler::start_every(SERVE_SAMPLE_EVERY),
        _ => crate::mem::Sampler::start(),
    });
    crate::oom::plant_fault();
    if let Command::Serve(_) = &cli.command {
        // Before the address is announced: a SIGTERM sent the moment it appears is a
        // clean stop with a summary line, not a kill.
        crate::serve::shutdown::install()?;
    }
    let started = Instant::now();
    let tally = run(&cli.command);
    let wall = started.elapsed();
    let peaks = sampler.map(crate::mem::Sampler::finish).unwrap_or_default();
    // After the run, when procs has reaped every worker: their CPU time counts too.
    let cpu = crate::rusage::cpu_time();
    let tally = tally?;

    let serve = crate::serve::stats::take(&cli.command);
    let expected = match &serve {
        // A server answers what it is sent: every answer is counted, none is owed.
        Some(_) => tally.tasks,
        None => cli.command.units(),
    };
    if tally.tasks != expected {
        bail!("{model} finished {} of {expected} tasks", tally.tasks);
    }
    if let Command::Sleep(a) = &cli.command {
        // Every task waits at least MS: a shorter run means some task did not wait.
        if wall < a.duration() {
            bail!(
                "{model} finished sleep in {wall:?}, shorter than one task's {} ms",
                a.ms
            );
        }
    }
    Ok(Summary {
        model: model.to_string(),
        workload: cli.command.name().to_string(),
        n: serve.as_ref().map_or(cli.command.n(), |s| s.requests),
        wall_ms: wall.as_secs_f64() * 1e3,
        checksum: format!("{:#x}", tally.checksum),
        bytes: tally.bytes,
        tasks: tally.tasks,
        unverified: tally.unverified,
        processes: 1 + tally.child_processes,
        peak_rss_bytes: crate::mem::peak_rss_bytes() + tally.child_peak_rss_bytes,
        peak_pss_bytes: peaks.pss_bytes,
        workers: WORKERS.load(Ordering::Relaxed),
        peak_threads: peaks.threads,
        user_ms: cpu.user_ms,
        system_ms: cpu.system_ms,
        mixed: crate::mixed::take_stats(),
        serve,
        driver: DRIVER.get().map(|d| d.to_string()),
    })
}

/// Add up the results of every task. If any failed, fail with how many and the first
/// error, which names the URL and the cause.
pub fn gather<E>(results: impl IntoIterator<Item = Result<Tally, E>>) -> Result<Tally>
where
    E: Into<anyhow::Error>,
{
    let (mut total, mut failed, mut first) = (Tally::default(), 0u64, None);
    let mut count = 0u64;
    for result in results {
        count += 1;
        match result {
            Ok(t) => total += t,
            Err(e) => {
                failed += 1;
                first.get_or_insert(e.into());
            }
        }
    }
    match first {
        None => Ok(total),
        Some(e) => Err(e.context(format!("{failed} of {count} tasks failed; the first"))),
    }
}

/// What a joined thread returned: its result, or an error if it panicked (the panic hook
/// has already printed the panic's message).
pub fn joined<E: Into<anyhow::Error>>(
    result: std::thread::Result<Result<Tally, E>>,
) -> Result<Tally> {
    match result {
        Ok(result) => result.map_err(Into::into),
        Err(_) => bail!("a task panicked"),
    }
}

fn usage_error(model: &str, e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind::{
        DisplayHelp, DisplayHelpOnMissingArgumentOrSubcommand, DisplayVersion,
        MissingRequiredArgument,
    };
    match e.kind() {
        DisplayHelp | DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        kind => {
            let text = e.render().to_string();
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("bad arguments");
            let line = match kind {
                DisplayHelpOnMissingArgumentOrSubcommand => {
                    "a workload is required: cpu, io, sleep, spawn, switch or mixed (see --help)"
                        .to_string()
                }
                // clap puts the missing flags on the lines that follow: name them.
                MissingRequiredArgument => {
                    let missing: Vec<&str> =
                        lines.take_while(|l| !l.starts_with("Usage:")).collect();
                    format!("{} {}", first.trim_end_matches(':'), missing.join(", "))
                }
                _ => first.to_string(),
            };
            eprintln!("{model}: {}", line.trim_start_matches("error: "));
            ExitCode::from(2)
        }
    }
}

thread_local! {
    /// Set while [`catch_panic`] runs on this thread: its panics are reported by the caller.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f`, turning a panic into `Err(its message)` without printing it: for a library
/// call that panics where it could have returned an error (may's coroutine spawn).
pub fn catch_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    QUIET.with(|q| q.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result.map_err(|payload| panic_message(payload.as_ref()))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
        .replace('\n', " ")
}

/// Whether a panic message is a thread that could not start: the runtimes (tokio's
/// workers, async-io's reactor, async-global-executor, rayon's pool, may's scheduler)
/// panic on it where our own code gets an error.
fn is_failed_thread_start(msg: &str) -> bool {
    let spawn = msg.contains("spawn") || msg.contains("thread pool");
    let exhausted = msg.contains("os error 11")
        || msg.contains("code: 11,")
        || msg.contains("Resource temporarily unavailable")
        || msg.contains("WouldBlock");
    spawn && exhausted
}

/// A panic is a bug, but the user still gets one line, not a backtrace. A panic that is
/// a thread failing to start at a limit of the machine is no bug: it ends the run at once
/// with one line naming the limits (exit 1), before any unwinding, so that no runtime's
/// destructor can turn it into an abort or a hang.
fn one_line_panics(model: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
        if QUIET.with(|q| q.get()) {
            return;
        }
        let msg = panic_message(info.payload());
        if is_failed_thread_start(&msg) {
            eprintln!(
                "{model}: error: a thread could not start ({msg}); see {}",
                crate::limits::hint()
            );
            std::process::exit(1);
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("{model}: internal error: {msg}{at}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{Cause, FetchError};

    #[test]
    fn failed_thread_starts_are_recognised_in_each_runtimes_words() {
        for msg in [
            "OS can't spawn worker thread: Resource temporarily unavailable (os error 11)",
            "cannot spawn async-io thread: Os { code: 11, kind: WouldBlock, message: \"Resource temporarily unavailable\" }",
            "failed to spawn thread: Os { code: 11, kind: WouldBlock, message: \"Resource temporarily unavailable\" }",
            "The global thread pool has not been initialized.: ThreadPoolBuildError { kind: IOError(Os { code: 11, kind: WouldBlock }) }",
        ] {
            assert!(is_failed_thread_start(msg), "{msg}");
        }
        assert!(!is_failed_thread_start("index out of bounds"));
        assert!(!is_failed_thread_start(
            "failed to spawn thread: Os { code: 12 }"
        ));
    }

    #[test]
    fn catch_panic_returns_the_message() {
        assert_eq!(catch_panic(|| 7), Ok(7));
        assert_eq!(
            catch_panic(|| -> u8 { panic!("stack alloc failed") }),
            Err("stack alloc failed".to_string())
        );
    }

    #[test]
    fn gather_adds_successes() {
        let t = gather([
            Ok::<_, anyhow::Error>(Tally::task(1, 1)),
            Ok(Tally::task(2, 2)),
        ])
        .unwrap();
        assert_eq!((t.tasks, t.bytes), (2, 3));
    }

    #[test]
    fn gather_fails_naming_count_and_first_cause() {
        let results = vec![
            Ok(Tally::task(1, 1)),
            Err(FetchError::new("http://a/", Cause::Refused)),
            Err(FetchError::new("http://b/", Cause::Status(500))),
        ];
        let err = format!("{:#}", gather(results).unwrap_err());
        assert_eq!(
            err,
            "2 of 3 tasks failed; the first: GET http://a/: connection refused"
        );
    }
}
