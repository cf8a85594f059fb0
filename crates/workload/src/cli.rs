//! The one command line every model binary accepts.
//!
//! ```sh
//! target/release/threads cpu --n 10 [--base 7777] [--exp 200000]
//! target/release/threads io --n 10 --url URL [--url URL ...] [--timeout-ms 30000]
//! target/release/threads sleep --n 1000 --ms 100
//! target/release/threads spawn --n 1000
//! target/release/threads switch --n 100 --rounds 1000
//! target/release/tokio-async mixed --variant inline --url URL [--rate 200] [--duration-ms 3000] [--jobs 4]
//! ```
//!
//! Every value is checked here, before any work starts: a bad value is a one-line error
//! and exit code 2 (see [`crate::run`]). The caps keep one command from exhausting the
//! machine; they are documented on each flag and in the README.

use crate::io::Target;
use crate::mixed::Variant;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Largest N for `cpu`: each task holds a result of about `exp * log2(base) / 8` bytes.
pub const MAX_CPU_N: u64 = 1_000;
/// Largest N for `io`: each task holds at least one socket (one open file).
pub const MAX_IO_N: u64 = 100_000;
/// Largest N for `sleep`: tasks that only wait are cheap in the async models.
pub const MAX_SLEEP_N: u64 = 1_000_000;
/// Largest exponent for `cpu`: ten times the seed article's 200,000.
pub const MAX_EXP: u32 = 2_000_000;
/// Largest number of URLs one task downloads.
pub const MAX_URLS: usize = 100;
/// Largest per-request timeout (10 minutes) and largest sleep.
pub const MAX_MS: u64 = 600_000;
/// Largest N for `spawn`: as for `sleep`, tasks that do nothing are cheap in most models.
pub const MAX_SPAWN_N: u64 = 1_000_000;
/// Largest ring for `switch`: every place is a task waiting for the token.
pub const MAX_RING_N: u64 = 10_000;
/// Largest number of times round the ring.
pub const MAX_ROUNDS: u64 = 1_000_000;
/// Largest number of hand-offs (N x rounds) in one `switch` run.
pub const MAX_HAND_OFFS: u64 = 100_000_000;
/// `mixed`: the largest probe rate (per second), stream length (ms) and number of CPU jobs.
pub const MAX_RATE: u64 = 5_000;
pub const MAX_STREAM_MS: u64 = 60_000;
pub const MAX_JOBS: u64 = 64;
/// The default ceiling on a run's predicted length (`--max-run-s`): an hour.
pub const DEFAULT_MAX_RUN_S: u64 = 3_600;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Run one workload under this binary's concurrency model; prints one JSON summary line on stdout."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Also append the summary line to this file (the bench driver collects memory from it).
    #[arg(long, global = true, value_name = "FILE")]
    pub summary_file: Option<PathBuf>,

    /// Refuse a run predicted to take longer than this, in seconds (0: no ceiling). The
    /// prediction comes from N, the model's workers and the work per task.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = DEFAULT_MAX_RUN_S)]
    pub max_run_s: u64,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// CPU-bound: compute BASE ** EXP as a big integer, N times.
    Cpu(CpuArgs),
    /// I/O-bound: N tasks, each downloading every URL one after another.
    Io(IoArgs),
    /// Waiting only: N tasks, each sleeping MS milliseconds on the model's own timer.
    Sleep(SleepArgs),
    /// What a task costs to start: N tasks that do nothing, started and joined.
    Spawn(SpawnArgs),
    /// What a switch costs: N tasks in a ring hand a token on, ROUNDS times round.
    Switch(SwitchArgs),
    /// What blocks a scheduler: probe requests at a fixed rate, CPU jobs beside them run
    /// the way --variant says; reports the probes' latency percentiles.
    Mixed(MixedArgs),
    /// Serve /hello, /work/{exp} and /backend/{ms} over HTTP/1.1 until SIGINT or SIGTERM;
    /// the first stdout line is the bound address, the last the summary line.
    Serve(crate::serve::ServeArgs),
}

impl Command {
    /// The workload's name as it appears in the summary line and the CSVs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Cpu(_) => "cpu",
            Command::Io(_) => "io",
            Command::Sleep(_) => "sleep",
            Command::Spawn(_) => "spawn",
            Command::Switch(_) => "switch",
            Command::Mixed(_) => "mixed",
            Command::Serve(_) => "serve",
        }
    }

    /// The arguments that run exactly one task of this workload with the same settings:
    /// how a multi-process model hands one task to a worker process.
    pub fn one_task_argv(&self) -> Vec<String> {
        // One stream, not N tasks: it is never split (procs does not offer it).
        if let Command::Mixed(a) = self {
            return a.argv();
        }
        // A server is not split into tasks either: procs' workers serve with its flags.
        if let Command::Serve(a) = self {
            return a.argv();
        }
        let mut argv: Vec<String> = vec![self.name().into(), "--n".into(), "1".into()];
        match self {
            Command::Cpu(a) => argv.extend([
                "--base".into(),
                a.base.to_string(),
                "--exp".into(),
                a.exp.to_string(),
            ]),
            Command::Io(a) => {
                argv.extend(["--timeout-ms".into(), a.timeout_ms.to_string()]);
                for url in &a.urls {
                    argv.extend(["--url".into(), url.given.clone()]);
                }
            }
            Command::Sleep(a) => argv.extend(["--ms".into(), a.ms.to_string()]),
            Command::Spawn(_) => {}
            // One place of the ring: a worker runs one task that hands the token on
            // ROUNDS times (see procs).
            Command::Switch(a) => argv.extend(["--rounds".into(), a.rounds.to_string()]),
            Command::Mixed(_) | Command::Serve(_) => {}
        }
        argv
    }

    pub fn n(&self) -> u64 {
        match self {
            Command::Cpu(a) => a.n,
            Command::Io(a) => a.n,
            Command::Sleep(a) => a.n,
            Command::Spawn(a) => a.n,
            Command::Switch(a) => a.n,
            Command::Mixed(a) => a.probes(),
            // Requests are counted as they come: the summary line's n is what was served.
            Command::Serve(_) => 0,
        }
    }

    /// The units of work a successful run reports: downloads for io (N x URLs), hand-offs
    /// for switch (N x ROUNDS), probes and jobs for mixed, tasks for the others.
    pub fn units(&self) -> u64 {
        match self {
            Command::Io(a) => a.n * a.urls.len() as u64,
            Command::Switch(a) => a.n * a.rounds,
            // Every probe and every CPU job is one verified unit.
            Command::Mixed(a) => a.probes() + a.jobs,
            other => other.n(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct CpuArgs {
    /// Number of tasks (1..=1000).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=MAX_CPU_N as u64))]
    pub n: u64,
    /// The base (2..=4294967295).
    #[arg(long, default_value_t = 7777, value_parser = clap::value_parser!(u64).range(2..=u32::MAX as u64))]
    pub base: u64,
    /// The exponent (1..=2000000).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u32).range(1..=MAX_EXP as i64))]
    pub exp: u32,
}

#[derive(Debug, Clone, Args)]
pub struct IoArgs {
    /// Number of tasks (1..=100000); each downloads every URL in turn.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=MAX_IO_N as u64))]
    pub n: u64,
    /// A URL to download (http or https); repeat the flag for a list (at most 100).
    /// Credentials (`http://user:pass@host/`) are sent as `Authorization: Basic`;
    /// redirects are not followed.
    #[arg(long = "url", required = true, value_name = "URL", value_parser = parse_url)]
    pub urls: Vec<Target>,
    /// Per-request timeout in milliseconds, connect to last byte (1..=600000).
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=MAX_MS as u64))]
    pub timeout_ms: u64,
}

impl IoArgs {
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Debug, Clone, Args)]
pub struct SleepArgs {
    /// Number of tasks (1..=1000000).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=MAX_SLEEP_N as u64))]
    pub n: u64,
    /// How long each task waits, in milliseconds (0..=600000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=MAX_MS as u64))]
    pub ms: u64,
}

impl SleepArgs {
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.ms)
    }
}

#[derive(Debug, Clone, Args)]
pub struct SpawnArgs {
    /// Number of tasks (1..=1000000); each does nothing.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=MAX_SPAWN_N as u64))]
    pub n: u64,
}

#[derive(Debug, Clone, Args)]
pub struct SwitchArgs {
    /// Tasks in the ring (1..=10000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=MAX_RING_N as u64))]
    pub n: u64,
    /// Times the token goes round (1..=1000000); N x ROUNDS is at most 100000000.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=MAX_ROUNDS as u64))]
    pub rounds: u64,
}

#[derive(Debug, Clone, Args)]
pub struct MixedArgs {
    /// How the CPU jobs run; this model's variants are listed below.
    #[arg(long, value_parser = crate::mixed::parse_variant)]
    pub variant: Option<Variant>,
    /// The probes' URL (the bench: the fixture server's /delay/10/bytes/1024).
    #[arg(long, value_name = "URL", value_parser = parse_url, required_unless_present = "list_variants")]
    pub url: Option<Target>,
    /// Probes started per second, each on its own task, on a fixed schedule (1..=5000).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=MAX_RATE))]
    pub rate: u64,
    /// Length of the probe stream in milliseconds (1..=60000).
    #[arg(long, default_value_t = 3_000, value_parser = clap::value_parser!(u64).range(1..=MAX_STREAM_MS))]
    pub duration_ms: u64,
    /// CPU jobs, all submitted a quarter of the way into the stream (0..=64).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(0..=MAX_JOBS))]
    pub jobs: u64,
    /// Each job computes BASE ** EXP in steps (2..=4294967295).
    #[arg(long, default_value_t = 7777, value_parser = clap::value_parser!(u64).range(2..=u32::MAX as u64))]
    pub base: u64,
    /// The jobs' exponent (1..=2000000).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=MAX_EXP as i64))]
    pub exp: u32,
    /// `block` only: how long each job holds its thread in std::thread::sleep (0..=600000).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=MAX_MS as u64))]
    pub block_ms: u64,
    /// Per-probe timeout in milliseconds, connect to last byte (1..=600000).
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..=MAX_MS as u64))]
    pub timeout_ms: u64,
    /// Print this model's variants, one per line (none: it takes no --variant), and exit.
    #[arg(long)]
    pub list_variants: bool,
}

impl MixedArgs {
    /// Probes in the stream: one every 1/rate seconds for duration_ms.
    pub fn probes(&self) -> u64 {
        self.rate * self.duration_ms / 1000
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms)
    }

    /// The command line that runs this stream again.
    fn argv(&self) -> Vec<String> {
        let mut argv: Vec<String> = vec!["mixed".into()];
        if let Some(v) = self.variant {
            argv.extend(["--variant".into(), v.name().into()]);
        }
        if let Some(url) = &self.url {
            argv.extend(["--url".into(), url.given.clone()]);
        }
        for (flag, value) in [
            ("--rate", self.rate),
            ("--duration-ms", self.duration_ms),
            ("--jobs", self.jobs),
            ("--base", self.base),
            ("--exp", self.exp as u64),
            ("--block-ms", self.block_ms),
            ("--timeout-ms", self.timeout_ms),
        ] {
            argv.extend([flag.into(), value.to_string()]);
        }
        argv
    }
}

/// Accept `http://host[:port]/...` and `https://...` only: the clients speak nothing else,
/// and a typo should fail here, not as N identical network errors.
pub fn parse_url(s: &str) -> Result<Target, String> {
    check_url(s).map(|()| Target::new(s))
}

fn check_url(s: &str) -> Result<(), String> {
    if s.contains(char::is_whitespace) {
        return Err(format!(
            "'{s}' contains whitespace (percent-encode it as %20)"
        ));
    }
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or_else(|| format!("'{s}' is not an http:// or https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Credentials come before the last '@' of the authority.
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    // An IPv6 address in brackets: it must close, hold an address, and be followed by
    // nothing or a port.
    if let Some(inner) = authority.strip_prefix('[') {
        let (address, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("'{s}' has an unclosed '[' in its host"))?;
        if address.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("'{s}' has a bad IPv6 address '[{address}]'"));
        }
        return match after.strip_prefix(':') {
            None if after.is_empty() => Ok(()),
            Some(port) if port.is_empty() || port.parse::<u16>().is_ok() => Ok(()),
            Some(port) => Err(format!("'{s}' has a bad port '{port}'")),
            None => Err(format!("'{s}' has '{after}' after its host")),
        };
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            if !port.is_empty() && port.parse::<u16>().is_err() {
                return Err(format!("'{s}' has a bad port '{port}'"));
            }
            host
        }
        _ => authority,
    };
    if host.is_empty() {
        return Err(format!("'{s}' has no host"));
    }
    Ok(())
}

impl Cli {
    /// The ceiling on the run's predicted length, in seconds; `None` for no ceiling.
    pub fn max_run_s(&self) -> Option<u64> {
        (self.max_run_s > 0).then_some(self.max_run_s)
    }

    /// Checks clap cannot express: how many URLs in all, how many hand-offs in all.
    pub fn validate(&self) -> Result<(), String> {
        if let Command::Io(a) = &self.command {
            if a.urls.len() > MAX_URLS {
                return Err(format!(
                    "{} URLs given; at most {MAX_URLS} per run (--url is repeated once per URL)",
                    a.urls.len()
                ));
            }
        }
        if let Command::Switch(a) = &self.command {
            if a.n * a.rounds > MAX_HAND_OFFS {
                return Err(format!(
                    "--n {} x --rounds {} is {} hand-offs; at most {MAX_HAND_OFFS} per run",
                    a.n,
                    a.rounds,
                    a.n * a.rounds
                ));
            }
        }
        if let Command::Mixed(a) = &self.command {
            if a.probes() == 0 && !a.list_variants {
                return Err(format!(
                    "--rate {} for --duration-ms {} is no probe at all",
                    a.rate, a.duration_ms
                ));
            }
            // Whether this model offers mixed, and this variant (see crate::mixed::offer).
            crate::mixed::check(a)?;
        }
        if let Command::Serve(a) = &self.command {
            crate::serve::check(a)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("model").chain(args.iter().copied()))
    }

    #[test]
    fn cpu_defaults_are_the_seed_articles() {
        let Command::Cpu(a) = parse(&["cpu"]).unwrap().command else {
            panic!("not cpu")
        };
        assert_eq!((a.n, a.base, a.exp), (10, 7777, 200_000));
    }

    #[test]
    fn one_task_argv_round_trips_with_n_of_one() {
        for args in [
            &["cpu", "--n", "7", "--base", "3", "--exp", "99"][..],
            &[
                "io",
                "--n",
                "5",
                "--url",
                "http://a/1",
                "--url",
                "https://b/2",
                "--timeout-ms",
                "77",
            ],
            &["sleep", "--n", "9", "--ms", "12"],
            &["switch", "--n", "3", "--rounds", "8"],
        ] {
            let cmd = parse(args).unwrap().command;
            let argv = cmd.one_task_argv();
            let again = parse(&argv.iter().map(String::as_str).collect::<Vec<_>>())
                .unwrap()
                .command;
            assert_eq!(again.n(), 1);
            assert_eq!(
                format!("{:?}", again).replace("n: 1,", ""),
                format!("{:?}", cmd).replacen(&format!("n: {},", cmd.n()), "", 1)
            );
        }
    }

    /// mixed: its own command line round-trips, --url is required unless only listing,
    /// and its limits hold on both sides.
    #[test]
    fn mixed_arguments_round_trip_and_are_bounded() {
        let args = [
            "mixed",
            "--variant",
            "yield",
            "--url",
            "http://h:1/d",
            "--rate",
            "7",
            "--duration-ms",
            "900",
            "--jobs",
            "3",
            "--base",
            "5",
            "--exp",
            "11",
            "--block-ms",
            "13",
            "--timeout-ms",
            "17",
        ];
        let cmd = parse(&args).unwrap().command;
        let argv = cmd.one_task_argv();
        assert_eq!(argv, args);
        assert_eq!(cmd.n(), 6, "7 a second for 0.9 s");
        assert!(parse(&["mixed"]).is_err(), "mixed without --url");
        assert!(parse(&["mixed", "--list-variants"]).is_ok());
        for (flag, max, min) in [
            ("--rate", MAX_RATE, 1),
            ("--duration-ms", MAX_STREAM_MS, 1),
            ("--jobs", MAX_JOBS, 0),
        ] {
            let with = |v: u64| parse(&["mixed", "--url", "http://h/", flag, &v.to_string()]);
            assert!(with(max).is_ok() && with(min).is_ok(), "{flag}");
            assert!(with(max + 1).is_err(), "{flag} {}", max + 1);
            if min > 0 {
                assert!(with(min - 1).is_err(), "{flag} {}", min - 1);
            }
        }
        assert!(parse(&["mixed", "--url", "http://h/", "--variant", "sideways"]).is_err());
    }

    #[test]
    fn one_spawned_task_is_spawn_with_n_of_one() {
        let cmd = parse(&["spawn", "--n", "4"]).unwrap().command;
        assert_eq!(cmd.one_task_argv(), ["spawn", "--n", "1"]);
    }

    #[test]
    fn bad_numbers_are_rejected() {
        for args in [
            &["cpu", "--n", "0"][..],
            &["cpu", "--n", "1001"],
            &["cpu", "--n", "-3"],
            &["cpu", "--n", "ten"],
            &["cpu", "--exp", "0"],
            &["cpu", "--base", "1"],
            &["sleep", "--n", "1000001"],
            &["io", "--n", "0", "--url", "http://a/"],
            &["io", "--url", "http://a/", "--timeout-ms", "0"],
            &["spawn", "--n", "0"],
            &["switch", "--rounds", "0"],
            &["switch", "--n", "10001"],
        ] {
            assert!(parse(args).is_err(), "accepted {args:?}");
        }
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host() {
        assert!(parse_url("http://127.0.0.1:8080/delay/1/bytes/2").is_ok());
        assert!(parse_url("https://example.com").is_ok());
        assert!(parse_url("http://[::1]:80/x").is_ok());
        assert!(parse_url("http://[::1]/x").is_ok());
        assert!(parse_url("http://u:p@127.0.0.1:8080/x").is_ok());
        for bad in [
            "ftp://x/",
            "example.com",
            "http://",
            "http:///path",
            "http://h:99999/",
            "http://u:p@/x",
            "http://[::1",
            "http://[::1/x",
            "http://[nope]/",
            "http://[::1]x/",
            "http://[::1]:99999/",
        ] {
            assert!(parse_url(bad).is_err(), "accepted {bad}");
        }
        assert_eq!(
            parse_url("http://a b/").unwrap_err(),
            "'http://a b/' contains whitespace (percent-encode it as %20)"
        );
        assert!(parse(&["io"]).is_err(), "io without --url must fail");
    }

    /// Both sides of every documented limit: the largest value passes, one more fails.
    #[test]
    fn every_limit_is_enforced_on_both_sides() {
        let n = |w: &str, v: u64| -> Vec<String> {
            let mut a = vec![w.to_string(), "--n".into(), v.to_string()];
            if w == "io" {
                a.extend(["--url".into(), "http://h/".into()]);
            }
            a
        };
        let ok = |a: Vec<String>| {
            parse(&a.iter().map(String::as_str).collect::<Vec<_>>()).map(|c| c.validate())
        };
        for (w, max) in [
            ("cpu", MAX_CPU_N),
            ("io", MAX_IO_N),
            ("sleep", MAX_SLEEP_N),
            ("spawn", MAX_SPAWN_N),
            ("switch", MAX_RING_N),
        ] {
            assert!(matches!(ok(n(w, max)), Ok(Ok(()))), "{w} --n {max}");
            assert!(ok(n(w, max + 1)).is_err(), "{w} --n {}", max + 1);
            assert!(ok(n(w, 0)).is_err(), "{w} --n 0");
        }
        let exp = |v: u64| ok(vec!["cpu".into(), "--exp".into(), v.to_string()]);
        assert!(matches!(exp(MAX_EXP as u64), Ok(Ok(()))));
        assert!(exp(MAX_EXP as u64 + 1).is_err());
        for (flag, w, min) in [("--timeout-ms", "io", 1), ("--ms", "sleep", 0)] {
            let mut a = n(w, 1);
            a.extend([flag.to_string(), MAX_MS.to_string()]);
            assert!(matches!(ok(a.clone()), Ok(Ok(()))), "{flag} {MAX_MS}");
            *a.last_mut().unwrap() = (MAX_MS + 1).to_string();
            assert!(ok(a.clone()).is_err(), "{flag} {}", MAX_MS + 1);
            *a.last_mut().unwrap() = min.to_string();
            assert!(matches!(ok(a.clone()), Ok(Ok(()))), "{flag} {min}");
            if min > 0 {
                *a.last_mut().unwrap() = (min - 1).to_string();
                assert!(ok(a).is_err(), "{flag} {}", min - 1);
            }
        }
        let urls = |k: usize| {
            let mut a = n("io", 1);
            a.pop();
            a.pop();
            for _ in 0..k {
                a.extend(["--url".into(), "http://h/".into()]);
            }
            ok(a)
        };
        assert!(matches!(urls(MAX_URLS), Ok(Ok(()))));
        assert!(matches!(urls(MAX_URLS + 1), Ok(Err(_))));
        let switch = |n: u64, rounds: u64| {
            ok([
                "switch",
                "--n",
                &n.to_string(),
                "--rounds",
                &rounds.to_string(),
            ]
            .map(String::from)
            .to_vec())
        };
        assert!(matches!(switch(1, MAX_ROUNDS), Ok(Ok(()))));
        assert!(switch(1, MAX_ROUNDS + 1).is_err());
        assert!(matches!(switch(100, MAX_HAND_OFFS / 100), Ok(Ok(()))));
        assert!(matches!(switch(101, MAX_HAND_OFFS / 100), Ok(Err(_))));
    }

    #[test]
    fn units_are_downloads_hand_offs_or_tasks() {
        let units = |args: &[&str]| parse(args).unwrap().command.units();
        assert_eq!(
            units(&["io", "--n", "3", "--url", "http://a/", "--url", "http://b/"]),
            6
        );
        assert_eq!(units(&["switch", "--n", "3", "--rounds", "7"]), 21);
        assert_eq!(units(&["spawn", "--n", "5"]), 5);
    }
}
