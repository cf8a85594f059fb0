//! The syscall step (`benchkit syscalls`, `make bench-syscalls`): how many system calls
//! each model makes per download and per served request, counted by the kernel in runs of
//! their own, so the counting never touches a timed run (issue 18).
//!
//! Two cells per model, each run twice per round at two sizes, the calls per unit being
//! the slope between them ([`rows`]):
//! - `download`: `<model> io --n N --url FIXTURE/delay/D/bytes/1024` at two N (one URL per
//!   task: N downloads), unpinned, as `make bench` runs io;
//! - `request`: `<model> serve` alone on CPU 0, as the serve sweep pins it, loaded from
//!   CPU 1 with a fixed count of `GET /hello` at a fixed modest rate over a few keep-alive
//!   connections ([`load`]), at two counts; only the server is counted.
//!
//! Every run counts the model's whole process tree from its exec ([`counter`]): its
//! threads, its runtime's, its worker processes (procs). It runs with
//! `WORKLOAD_SAMPLER=off`: the memory sampler every model runs for its summary line reads
//! /proc thousands of times a second, which is the harness's work, not the model's.
//! Rounds are interleaved (every model once per cell per round), so that a burst on the
//! machine lands on every model rather than on one; the report ranks two models only
//! where their rounds do not overlap. syscalls.csv is rewritten after every cell.
//!
//! - [`counter`]: perf_event_open on the syscall tracepoints, and a model started under it;
//! - [`load`]: the served-request cell's client;
//! - [`rows`]: syscalls.csv and the arithmetic per unit.

pub mod counter;
pub mod load;
pub mod rows;

use crate::models::Model;
use anyhow::{bail, ensure, Context, Result};
use counter::{Counted, Counts, Cpus, Tracepoints, CALLS};
use rows::{Row, DOWNLOAD, REQUEST};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// The serve sweep's CPUs: the server alone on one, the load (and here benchkit) on the
/// other.
use super::serve::{GENERATOR_CPU, SERVER_CPU};

/// The step's sizes.
#[derive(Debug, Clone)]
pub struct Plan {
    pub mode: &'static str,
    /// Every model once per cell per round.
    pub rounds: u64,
    /// io's N of the smaller and the larger run (one URL per task: N downloads).
    pub downloads: [u64; 2],
    /// The fixture server's wait before each body, and the body's size.
    pub delay_ms: u64,
    pub body_bytes: u64,
    /// Requests of the smaller and the larger served run.
    pub requests: [u64; 2],
    /// Requests a second, over `connections` keep-alive connections.
    pub rate: f64,
    pub connections: u64,
    /// The models run when none is named.
    pub default_models: Option<&'static [&'static str]>,
}

impl Plan {
    /// The reference: three rounds; 50 and 250 downloads of 1 KiB after 10 ms (sync, one
    /// download after another, takes about 3 s for both); 200 and 1,000 requests at 500 a
    /// second over 4 connections.
    pub fn full() -> Plan {
        Plan {
            mode: "full",
            rounds: 3,
            downloads: [50, 250],
            delay_ms: 10,
            body_bytes: 1024,
            requests: [200, 1_000],
            rate: 500.0,
            connections: 4,
            default_models: None,
        }
    }

    /// Seconds, for the tests: sync and tokio-async, two rounds of small runs.
    pub fn tiny() -> Plan {
        Plan {
            mode: "tiny",
            rounds: 2,
            downloads: [4, 24],
            delay_ms: 5,
            body_bytes: 1024,
            requests: [20, 120],
            rate: 500.0,
            connections: 2,
            default_models: Some(&["sync", "tokio-async"]),
        }
    }

    /// The plan as one line of `key=value` tokens, for the run's settings.
    pub fn describe(&self) -> String {
        format!(
            "plan: mode={} rounds={} downloads={},{} delay_ms={} body_bytes={} requests={},{} rate={} connections={} server_cpu={SERVER_CPU} load_cpu={GENERATOR_CPU} sampler=off",
            self.mode,
            self.rounds,
            self.downloads[0],
            self.downloads[1],
            self.delay_ms,
            self.body_bytes,
            self.requests[0],
            self.requests[1],
            self.rate,
            self.connections,
        )
    }
}

/// Where the step runs.
pub struct Setup<'a> {
    pub bin_dir: &'a Path,
    /// The fixture server (host:port).
    pub server: &'a str,
    pub out: &'a Path,
    /// The tracefs folder; None: where the kernel mounts it.
    pub tracefs: Option<&'a Path>,
}

/// What a sweep ended as.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Every cell was measured (or some failed: Err).
    Counted,
    /// Counting is not possible here; the reason is in syscalls-skipped.txt.
    Skipped(String),
}

/// Count every model in both cells, `plan.rounds` times; write syscalls.csv (and
/// syscalls-plan.txt, syscalls-summaries.jsonl) into `setup.out`. Where the kernel does
/// not let benchkit count, write syscalls-skipped.txt with the reason and return
/// [`Outcome::Skipped`]. Err if a cell failed (its row says why).
pub fn sweep(plan: &Plan, models: &[Model], setup: &Setup) -> Result<Outcome> {
    let out = setup.out;
    let tracepoints = match Tracepoints::find(setup.tracefs).and_then(|t| t.probe().map(|()| t)) {
        Ok(t) => t,
        Err(why) => {
            let path = out.join("syscalls-skipped.txt");
            std::fs::write(&path, format!("{why}\n"))
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("== syscalls not counted: {why}");
            return Ok(Outcome::Skipped(why));
        }
    };
    let _held = match tracepoints.hold() {
        Ok(held) => held,
        Err(why) => bail!("{why}"),
    };
    let missing = tracepoints.missing();
    let plan_file = out.join("syscalls-plan.txt");
    std::fs::write(
        &plan_file,
        format!(
            "{} tracefs={} calls={} not_on_this_kernel={}\n",
            plan.describe(),
            tracepoints.dir.display(),
            CALLS.join(","),
            if missing.is_empty() {
                "none".into()
            } else {
                missing.join(",")
            }
        ),
    )
    .with_context(|| format!("cannot write {}", plan_file.display()))?;
    let csv = out.join("syscalls.csv");
    let mut rows: Vec<Row> = Vec::new();
    rows::write(&csv, &rows)?;
    let started = Instant::now();
    let url = format!(
        "http://{}/delay/{}/bytes/{}",
        setup.server, plan.delay_ms, plan.body_bytes
    );
    for round in 1..=plan.rounds {
        for cell in [DOWNLOAD, REQUEST] {
            for model in models {
                eprintln!(
                    "[round {round}/{}] {:>4}s {cell:<8} {}",
                    plan.rounds,
                    started.elapsed().as_secs(),
                    model.name
                );
                let run = Run {
                    model,
                    tracepoints: &tracepoints,
                    setup,
                    cell,
                    round,
                };
                let measured = match cell {
                    DOWNLOAD => plan.downloads.map(|n| run.download(n, &url)),
                    _ => plan.requests.map(|n| run.serve(plan, n)),
                };
                let row = match measured {
                    [Ok(small), Ok(large)] => Row {
                        model: model.name.clone(),
                        driver: large.driver.clone(),
                        cell: cell.into(),
                        round,
                        runs: Some([(small.units, small.counts), (large.units, large.counts)]),
                        reason: String::new(),
                    },
                    [Err(e), _] | [_, Err(e)] => Row {
                        model: model.name.clone(),
                        driver: String::new(),
                        cell: cell.into(),
                        round,
                        runs: None,
                        reason: format!("{e:#}"),
                    },
                };
                eprintln!("      {}", describe(&row));
                rows.push(row);
                rows::write(&csv, &rows)?;
            }
        }
    }
    eprintln!("== syscalls counted in {:.0?}", started.elapsed());
    let failed = rows.iter().filter(|r| r.runs.is_none()).count();
    if failed > 0 {
        bail!(
            "{failed} cell(s) failed; their reasons are in {}",
            csv.display()
        );
    }
    Ok(Outcome::Counted)
}

/// One counted run's result.
struct Measured {
    units: u64,
    counts: Counts,
    driver: String,
}

/// One model in one cell of one round.
struct Run<'a> {
    model: &'a Model,
    tracepoints: &'a Tracepoints,
    setup: &'a Setup<'a>,
    cell: &'static str,
    round: u64,
}

/// How long one io run may take before it is killed.
const RUN_DEADLINE: Duration = Duration::from_secs(120);
/// How long a server may take to print its address, and to exit after SIGTERM.
const SERVER_START: Duration = Duration::from_secs(20);
const SERVER_STOP: Duration = Duration::from_secs(15);

impl Run<'_> {
    /// The model's command line with `args`, its memory sampler off.
    fn command(&self, args: &[String]) -> Command {
        let (program, before) = self.model.command_line(self.setup.bin_dir);
        let mut command = Command::new(program);
        command
            .args(before)
            .args(args)
            .env(workload::mem::SAMPLER_ENV, "off")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// `io --n N --url URL`, counted: N downloads.
    fn download(&self, n: u64, url: &str) -> Result<Measured> {
        let args = ["io", "--n", &n.to_string(), "--url", url].map(String::from);
        let mut command = self.command(&args);
        let mut counted = counter::spawn(&mut command, self.tracepoints, Cpus::All)?;
        let (stdout, stderr) = output(&mut counted);
        let status = match counted.child.wait_timeout(RUN_DEADLINE)? {
            Some(status) => status,
            None => {
                let _ = counted.child.kill();
                let _ = counted.child.wait();
                bail!("killed after {RUN_DEADLINE:?} without finishing");
            }
        };
        let (stdout, stderr) = (join(stdout), join(stderr));
        if !status.success() {
            bail!("{status}: {}", last_line(&stderr));
        }
        let line = stdout.lines().last().unwrap_or("");
        self.keep_summary(n, line)?;
        let (summary, driver) = summary(line)?;
        ensure!(
            summary.tasks == n,
            "{} of {n} downloads in the summary line",
            summary.tasks
        );
        Ok(Measured {
            units: summary.tasks,
            counts: counted.counts()?,
            driver,
        })
    }

    /// `serve` on CPU 0, `requests` of `GET /hello` sent to it, SIGTERM, counted.
    fn serve(&self, plan: &Plan, requests: u64) -> Result<Measured> {
        let args = ["serve", "--port", "0", "--backend", self.setup.server].map(String::from);
        let mut command = self.command(&args);
        let mut counted = counter::spawn(
            &mut command,
            self.tracepoints,
            Cpus::One(SERVER_CPU as usize),
        )?;
        let stderr = counted.child.stderr.take().map(read_all);
        let stdout = counted.child.stdout.take().context("no stdout pipe")?;
        let (tx, rx) = std::sync::mpsc::channel();
        let rest = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let _ = tx.send(first);
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            rest
        });
        let stop = |counted: &mut Counted| -> Result<std::process::ExitStatus> {
            // SAFETY: kill(2) on our child, not yet reaped.
            unsafe { libc::kill(counted.child.id() as libc::pid_t, libc::SIGTERM) };
            match counted.child.wait_timeout(SERVER_STOP)? {
                Some(status) => Ok(status),
                None => {
                    let _ = counted.child.kill();
                    let _ = counted.child.wait();
                    bail!("the server did not exit within {SERVER_STOP:?} of SIGTERM; killed")
                }
            }
        };
        let first = rx.recv_timeout(SERVER_START).unwrap_or_default();
        let addr = match crate::models::loopback_addr(first.trim()) {
            Ok(addr) => addr,
            Err(why) => {
                let _ = counted.child.kill();
                let _ = counted.child.wait();
                let stderr = join(stderr);
                bail!(
                    "the server's first line {:?}: {why}; its last words: {}",
                    first.trim(),
                    last_line(&stderr)
                );
            }
        };
        let load = load::Load {
            requests,
            rate: plan.rate,
            connections: plan.connections,
            cpu: Some(GENERATOR_CPU as usize),
        };
        let sent = load::run(&addr, &load);
        let status = stop(&mut counted)?;
        let (rest, stderr) = (rest.join().unwrap_or_default(), join(stderr));
        let sent = sent?;
        if !status.success() {
            bail!(
                "the server exited with {status} after SIGTERM: {}",
                last_line(&stderr)
            );
        }
        let line = rest
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        self.keep_summary(requests, line)?;
        let (summary, driver) = summary(line)?;
        let answered = summary
            .serve
            .as_ref()
            .map(|s| s.requests)
            .context("the server's summary line has no \"serve\" object")?;
        ensure!(
            answered == sent.answered && answered == requests,
            "the server answered {answered} requests, the load sent {requests} and saw {} answers",
            sent.answered
        );
        Ok(Measured {
            units: answered,
            counts: counted.counts()?,
            driver,
        })
    }

    /// syscalls-summaries.jsonl: each run's summary line, after its model, cell, round
    /// and size.
    fn keep_summary(&self, units: u64, line: &str) -> Result<()> {
        let path = self.setup.out.join("syscalls-summaries.jsonl");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let tag = serde_json::json!({
            "model": self.model.name, "cell": self.cell, "round": self.round, "units": units
        });
        let summary = serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|_| serde_json::Value::from(line));
        writeln!(
            file,
            "{}",
            serde_json::json!({"run": tag, "summary": summary})
        )
        .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The models to count: those named (a model binary's name, or a path to an executable,
/// counted under its file name), else the plan's, else every Rust model (the Python peers
/// are out of this step's scope). An unknown name: Err naming the models there are.
pub fn models(plan: &Plan, all: &[Model], named: &[String]) -> Result<Vec<Model>> {
    let wanted: Vec<String> = match (named, plan.default_models) {
        ([], None) => return Ok(all.to_vec()),
        ([], Some(names)) => names.iter().map(|n| n.to_string()).collect(),
        (named, _) => named.to_vec(),
    };
    wanted
        .iter()
        .map(|name| {
            if name.contains('/') {
                let path = Path::new(name);
                ensure!(path.is_file(), "--models: {name} is not a file");
                return Ok(Model::from_path(path));
            }
            all.iter()
                .find(|m| &m.name == name)
                .cloned()
                .with_context(|| {
                    let names: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
                    format!(
                        "--models: no model {name:?} (the models: {})",
                        names.join(" ")
                    )
                })
        })
        .collect()
}

/// A summary line and its optional `driver` field (the models that pick an I/O driver at
/// start write it; the others write none: empty).
pub fn summary(line: &str) -> Result<(workload::Summary, String)> {
    let summary =
        workload::Summary::from_line(line).with_context(|| format!("no summary line: {line:?}"))?;
    let value: serde_json::Value = serde_json::from_str(line.trim())?;
    let driver = value
        .get("driver")
        .and_then(|d| d.as_str())
        .unwrap_or_default()
        .to_string();
    Ok((summary, driver))
}

/// The progress line of a row: the total per unit and its three largest listed calls.
fn describe(row: &Row) -> String {
    let Some(p) = row.per_unit() else {
        return format!("FAILED: {}", row.reason);
    };
    let mut calls: Vec<(&str, f64)> = CALLS.iter().copied().zip(p.calls).collect();
    calls.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top: Vec<String> = calls
        .iter()
        .take(3)
        .map(|(name, x)| format!("{name} {x:.1}"))
        .collect();
    format!(
        "{:.1} calls per {} ({}, other {:.1}){}",
        p.total,
        row.cell,
        top.join(", "),
        p.other,
        if row.driver.is_empty() {
            String::new()
        } else {
            format!(", driver {}", row.driver)
        }
    )
}

type Pipe = std::thread::JoinHandle<String>;

/// The child's stdout and stderr, each read to its end on a thread of its own.
fn output(counted: &mut Counted) -> (Option<Pipe>, Option<Pipe>) {
    (
        counted.child.stdout.take().map(read_all),
        counted.child.stderr.take().map(read_all),
    )
}

fn read_all(mut pipe: impl Read + Send + 'static) -> Pipe {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

fn join(pipe: Option<Pipe>) -> String {
    pipe.map(|h| h.join().unwrap_or_default())
        .unwrap_or_default()
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message on stderr")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model that picks its I/O driver names it; the others' lines have no such field.
    #[test]
    fn the_driver_comes_from_the_summary_line_when_there_is_one() {
        let line = r#"{"model":"m","workload":"io","n":2,"wall_ms":1.0,"checksum":"0x0","bytes":0,"tasks":2,"processes":1,"peak_rss_bytes":9}"#;
        let (s, driver) = summary(line).unwrap();
        assert_eq!((s.tasks, driver.as_str()), (2, ""));
        let with = line.replace("\"tasks\"", "\"driver\":\"io_uring\",\"tasks\"");
        assert_eq!(summary(&with).unwrap().1, "io_uring");
        let err = format!("{:#}", summary("oops").unwrap_err());
        assert!(err.starts_with("no summary line: \"oops\""), "{err}");
    }

    #[test]
    fn models_named_or_the_plans_or_all() {
        let model = |name: &str| Model {
            name: name.into(),
            kernel_task_per_task: false,
            command: None,
        };
        let all = [model("sync"), model("threads"), model("tokio-async")];
        let names = |v: Vec<Model>| v.into_iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names(models(&Plan::full(), &all, &[]).unwrap()).len(), 3);
        assert_eq!(
            names(models(&Plan::tiny(), &all, &[]).unwrap()),
            ["sync", "tokio-async"]
        );
        let named = ["threads".to_string(), "/bin/sh".into()];
        assert_eq!(
            names(models(&Plan::tiny(), &all, &named).unwrap()),
            ["threads", "sh"]
        );
        let err = models(&Plan::full(), &all, &["nope".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--models: no model \"nope\" (the models: sync threads tokio-async)"
        );
    }

    #[test]
    fn the_plan_is_one_line_of_tokens() {
        let line = Plan::full().describe();
        assert!(!line.contains('\n'));
        assert!(line.contains(" downloads=50,250 delay_ms=10 "), "{line}");
        assert!(
            line.contains(" requests=200,1000 rate=500 connections=4 "),
            "{line}"
        );
    }
}
