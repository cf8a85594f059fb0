//! The serve sweep (`benchkit serve`, `make bench-serve`): every model as a server under
//! open-loop load, the rate raised step by step until latency or errors break.
//!
//! For each scenario, model and variant (procs' `--workers K`, the connections held open)
//! a ladder runs on a fresh server: started pinned to CPU 0 (`<model> serve --port 0
//! --backend FIXTURE`), its address read from its first line, `/hello` checked. Each step
//! is one oha run pinned to CPU 1 (with the fixture server) at a fixed rate with latency
//! correction, while the server's process tree is sampled from /proc (CPU time, PSS,
//! threads) and oha's own CPU is read from its rusage. The rate is raised geometrically
//! while p99 and errors stay within the scenario's budget, then refined by bisection
//! ([`ladder`]). The server is then stopped with SIGTERM; it must exit 0 with its summary
//! line. Every cell runs in [`Plan::rounds`] rounds: after the whole first round, a second
//! in reverse order checks each knee on a fresh server ([`ladder::next_confirming`]), so
//! that the report ranks two knees only where every round agrees. The generator's ceiling (oha as fast as it can against /hello of tokio-async) is
//! measured once first, and every knee is set beside the bound that predicts it
//! ([`rows::knee`]). The CSVs are rewritten after every step, so an interruption loses
//! nothing already measured.
//!
//! - [`ladder`]: the rates of one ladder;
//! - [`oha`]: one step of load and oha's JSON;
//! - [`server`]: the server under test, and connections held open against it;
//! - [`process`]: children that end with benchkit, rusage, a process tree from /proc;
//! - [`rows`]: serve.csv, serve-knees.csv, serve-skips.csv, and the knee of a ladder.

pub mod ladder;
pub mod oha;
pub mod process;
pub mod rows;
pub mod server;

use crate::models::Model;
use crate::sweep::scale::Limits;
use anyhow::{Context, Result};
use ladder::{Bracket, Ladder, Progress, Verdict};
use process::sample_tree;
use rows::{KneeRow, Predictions, SkipRow, StepRow, YesNo};
use server::{Held, Server};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// More errors than this share of the requests breaks a step (0.1%).
pub const MAX_ERROR_RATE: f64 = 0.001;
/// The generator is saturated above this share of its one core.
pub const SATURATED: f64 = 0.9;
/// Above this share of its core at the step that broke, the generator may have broken the
/// step itself (an open-loop generator queues its own sends as it nears its core's limit:
/// at 16,000 requests/s without keep-alive oha used 88% of its core and its p99 passed
/// 20 ms against servers using half of theirs): the knee is called the generator's.
pub const GENERATOR_BUSY: f64 = 0.8;
/// The server under test runs alone on CPU 0; oha and the fixture server on CPU 1.
pub const SERVER_CPU: u32 = 0;
pub const GENERATOR_CPU: u32 = 1;

/// One scenario of the contract.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub path: String,
    /// One ladder per entry: oha's `-c`, or (when `hold`) the idle connections held open.
    pub connections: Vec<u64>,
    pub keepalive: bool,
    /// p99 over this breaks a step.
    pub budget_ms: f64,
    pub ladder: Ladder,
    /// The connections scenario: hold `connections` idle keep-alive connections open
    /// during the step, and load the server through `load_connections` of oha's.
    pub hold: bool,
    pub load_connections: u64,
    /// The backend's wait: the service time of Little's law.
    pub backend_ms: Option<u64>,
    /// A step of this scenario lasts this long instead of the plan's step: at one modest
    /// rate, a p99 needs more requests than a 2 s step holds (200 at 100/s: p99 is the
    /// second slowest).
    pub step: Option<Duration>,
}

impl Scenario {
    /// Whether the scenario climbs a ladder of rates to a knee (hello, work, backend), not
    /// one fixed rate (connections, whose later round checks p99 and memory, not a knee).
    pub fn climbs(&self) -> bool {
        self.ladder.top > self.ladder.start
    }

    /// Whether a later round checks this scenario's cell at `connections`: every cell,
    /// except that a scenario that holds connections open is checked only at its fewest
    /// and its most, the two counts its claim compares (the counts between draw its
    /// curve; each check costs a fresh server and thousands of connections).
    pub fn checked_at(&self, connections: u64) -> bool {
        !self.hold
            || Some(&connections) == self.connections.iter().min()
            || Some(&connections) == self.connections.iter().max()
    }
}

/// The whole sweep.
#[derive(Debug, Clone)]
pub struct Plan {
    pub mode: &'static str,
    pub scenarios: Vec<Scenario>,
    pub step: Duration,
    /// `--workers K` of the models that take it, in the backend scenario (the others run
    /// their default: one worker per core, and the server has one core).
    pub backend_workers: Vec<(&'static str, Vec<u64>)>,
    /// How many times each cell is measured: round 1 climbs its ladder, each later round
    /// checks round 1's knee (two steps where it repeats), all cells of one round before
    /// the next, in reverse order.
    pub rounds: u64,
}

impl Plan {
    /// The reference sweep: 1.5 s steps (hello, work), 2 s (backend), ladders of x4 then
    /// three bisections, two rounds; under 25 minutes for the 14 models on 2 cores.
    pub fn full() -> Plan {
        let climb = |start: f64, top: f64| Ladder {
            start,
            factor: 4.0,
            top,
            refinements: 3,
        };
        Plan {
            mode: "full",
            step: Duration::from_secs(2),
            scenarios: vec![
                Scenario {
                    name: "hello",
                    path: "/hello".into(),
                    connections: vec![64],
                    keepalive: false,
                    budget_ms: 20.0,
                    ladder: climb(250.0, 64_000.0),
                    hold: false,
                    load_connections: 64,
                    backend_ms: None,
                    // Near the knees (700/s and up) a p99 rests on ten requests or more.
                    step: Some(Duration::from_millis(1500)),
                },
                Scenario {
                    name: "work",
                    path: "/work/10000".into(),
                    connections: vec![64],
                    keepalive: true,
                    budget_ms: 50.0,
                    ladder: climb(100.0, 6_400.0),
                    hold: false,
                    load_connections: 64,
                    backend_ms: None,
                    // Near the knees (200/s and up), three requests or more.
                    step: Some(Duration::from_millis(1500)),
                },
                Scenario {
                    name: "backend",
                    path: "/backend/50".into(),
                    connections: vec![1000],
                    keepalive: true,
                    // Twice the backend's wait: a queue that grows by 5% of the rate shows
                    // within a 2 s step.
                    budget_ms: 100.0,
                    ladder: climb(10.0, 10_240.0),
                    hold: false,
                    load_connections: 1000,
                    backend_ms: Some(50),
                    step: None,
                },
                Scenario {
                    name: "connections",
                    path: "/hello".into(),
                    connections: vec![100, 1_000, 10_000],
                    keepalive: true,
                    budget_ms: 20.0,
                    ladder: Ladder::fixed(100.0),
                    hold: true,
                    load_connections: 10,
                    backend_ms: None,
                    // 500 requests at 100/s, p99 the 5th slowest, in each of two rounds:
                    // at 2 s it was the 2nd slowest, and one stall decided the claim.
                    step: Some(Duration::from_secs(5)),
                },
            ],
            backend_workers: vec![
                ("procs", vec![1, 2, 8, 32]),
                ("python-procs", vec![1, 2, 8]),
            ],
            rounds: 2,
        }
    }

    /// Seconds, for the tests: half-second steps, short ladders, small counts.
    pub fn quick() -> Plan {
        let climb = |start: f64, top: f64| Ladder {
            start,
            factor: 4.0,
            top,
            refinements: 1,
        };
        Plan {
            mode: "quick",
            step: Duration::from_millis(500),
            scenarios: vec![
                Scenario {
                    name: "hello",
                    path: "/hello".into(),
                    connections: vec![8],
                    keepalive: false,
                    budget_ms: 50.0,
                    ladder: climb(50.0, 800.0),
                    hold: false,
                    load_connections: 8,
                    backend_ms: None,
                    step: None,
                },
                Scenario {
                    name: "work",
                    path: "/work/2000".into(),
                    connections: vec![8],
                    keepalive: true,
                    budget_ms: 100.0,
                    ladder: climb(20.0, 320.0),
                    hold: false,
                    load_connections: 8,
                    backend_ms: None,
                    step: None,
                },
                Scenario {
                    name: "backend",
                    path: "/backend/20".into(),
                    connections: vec![20],
                    keepalive: true,
                    budget_ms: 100.0,
                    ladder: climb(10.0, 160.0),
                    hold: false,
                    load_connections: 20,
                    backend_ms: Some(20),
                    step: None,
                },
                Scenario {
                    name: "connections",
                    path: "/hello".into(),
                    connections: vec![10, 100],
                    keepalive: true,
                    budget_ms: 50.0,
                    ladder: Ladder::fixed(50.0),
                    hold: true,
                    load_connections: 4,
                    backend_ms: None,
                    step: None,
                },
            ],
            backend_workers: vec![("procs", vec![1, 2]), ("python-procs", vec![1, 2])],
            rounds: 2,
        }
    }

    /// The plan with only the scenarios named (all of them when none is): an unknown name
    /// is an error naming the scenarios there are.
    pub fn only(mut self, names: &[String]) -> Result<Plan> {
        if names.is_empty() {
            return Ok(self);
        }
        let known: Vec<&str> = self.scenarios.iter().map(|s| s.name).collect();
        if let Some(bad) = names.iter().find(|n| !known.contains(&n.as_str())) {
            anyhow::bail!(
                "no scenario '{bad}': the scenarios are {}",
                known.join(", ")
            );
        }
        self.scenarios.retain(|s| names.iter().any(|n| n == s.name));
        Ok(self)
    }

    /// The variants (workers, connections) of one model in one scenario.
    fn variants(&self, scenario: &Scenario, model: &Model) -> Vec<(Option<u64>, u64)> {
        let workers: Vec<Option<u64>> =
            match self.backend_workers.iter().find(|(m, _)| *m == model.name) {
                Some((_, ks)) if scenario.backend_ms.is_some() => {
                    ks.iter().map(|k| Some(*k)).collect()
                }
                _ => vec![None],
            };
        workers
            .iter()
            .flat_map(|w| scenario.connections.iter().map(move |c| (*w, *c)))
            .collect()
    }

    /// The plan as lines for serve-plan.txt.
    fn describe(&self) -> String {
        let mut text = format!(
            "mode={} step_ms={} rounds={} later_rounds=check_round_1_knee,reverse_order,held_connections_fewest_and_most,not_at_the_generators_limit_or_the_top max_error_rate={MAX_ERROR_RATE} generator_saturated_above={SATURATED} generator_busy={GENERATOR_BUSY} rerun_a_break=yes server_cpu={SERVER_CPU} generator_cpu={GENERATOR_CPU}\n",
            self.mode,
            self.step.as_millis(),
            self.rounds
        );
        for s in &self.scenarios {
            text += &format!(
                "scenario={} path={} connections={} keepalive={} budget_p99_ms={} step_ms={} ladder_start={} ladder_factor={} ladder_top={} refinements={} hold={} load_connections={}\n",
                s.name,
                s.path,
                s.connections.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
                YesNo::from(s.keepalive).as_str(),
                s.budget_ms,
                s.step.unwrap_or(self.step).as_millis(),
                s.ladder.start,
                s.ladder.factor,
                s.ladder.top,
                s.ladder.refinements,
                YesNo::from(s.hold).as_str(),
                s.load_connections,
            );
        }
        for (model, ks) in &self.backend_workers {
            text += &format!(
                "backend_workers model={model} k={}\n",
                ks.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
            );
        }
        text
    }
}

/// What the sweep has written so far, rewritten after every step.
struct Results {
    out: PathBuf,
    steps: Vec<StepRow>,
    knees: Vec<KneeRow>,
    skips: Vec<SkipRow>,
}

impl Results {
    fn save(&self) -> Result<()> {
        rows::write_csvs(&self.out, &self.steps, &self.knees, &self.skips)
    }
}

/// Where a ladder runs: the paths and addresses every ladder shares.
pub struct Setup<'a> {
    pub bin_dir: &'a Path,
    pub backend: &'a str,
    pub oha: &'a Path,
    pub out: &'a Path,
}

/// One ladder to run.
struct Cell<'a> {
    model: &'a Model,
    scenario: &'a Scenario,
    workers: Option<u64>,
    connections: u64,
}

/// Run the sweep for `models`; write serve.csv, serve-knees.csv and serve-skips.csv (and
/// serve-plan.txt, serve-summaries.jsonl, logs/) into `setup.out`. Err if any ladder
/// failed (its reason is in serve-skips.csv).
pub fn sweep(plan: &Plan, models: &[Model], setup: &Setup) -> Result<()> {
    let out = setup.out;
    std::fs::create_dir_all(out.join("logs"))
        .with_context(|| format!("cannot create {}", out.join("logs").display()))?;
    // Raised to the hard limit: the connections held open are ours, and every server
    // and oha we start inherits it.
    let limits = Limits::read();
    let plan_file = out.join("serve-plan.txt");
    std::fs::write(
        &plan_file,
        format!("{}{}\n", plan.describe(), limits.describe()),
    )
    .with_context(|| format!("cannot write {}", plan_file.display()))?;
    eprintln!("== limits: {}", limits.describe());
    let mut results = Results {
        out: out.to_path_buf(),
        steps: Vec::new(),
        knees: Vec::new(),
        skips: Vec::new(),
    };
    results.save()?;
    // benchkit's own threads (the samplers, the servers' output, the connections held
    // open) run beside oha, not beside the server: the server's CPU is its own. Its
    // threads started from here on inherit this.
    if let Err(e) = pin_to(GENERATOR_CPU) {
        eprintln!("== warning: benchkit could not move itself to CPU {GENERATOR_CPU} ({e}): it shares the server's CPU");
    }
    let started = Instant::now();
    let ceiling = generator_ceiling(plan, models, setup, &mut results)?;
    let cells: Vec<Cell> = plan
        .scenarios
        .iter()
        .flat_map(|scenario| {
            models.iter().flat_map(move |model| {
                plan.variants(scenario, model)
                    .into_iter()
                    .map(move |(workers, connections)| Cell {
                        model,
                        scenario,
                        workers,
                        connections,
                    })
            })
        })
        .collect();
    // What round 1 found for each cell, for the later rounds to check.
    let mut brackets: Vec<Option<Bracket>> = vec![None; cells.len()];
    for round in 1..=plan.rounds.max(1) {
        // Each later round in reverse order: a cell's two runs then sit at different
        // points of the sweep, and what drifts over it falls on them differently.
        let mut order: Vec<usize> = match round % 2 {
            1 => (0..cells.len()).collect(),
            _ => (0..cells.len()).rev().collect(),
        };
        // A later round checks the cells round 1 measured ([`Scenario::checked_at`]); one
        // skipped or failed there has nothing to check (serve-skips.csv says why).
        if round > 1 {
            order.retain(|&i| {
                brackets[i].is_some() && cells[i].scenario.checked_at(cells[i].connections)
            });
        }
        let count = order.len();
        for (n, i) in order.into_iter().enumerate() {
            let cell = &cells[i];
            let earlier = brackets[i];
            eprintln!(
                "[round {round} {:>3}/{count}] {:>4}s {:<11} {:<16} workers={:<3} connections={}",
                n + 1,
                started.elapsed().as_secs(),
                cell.scenario.name,
                cell.model.name,
                cell.workers.map_or("-".into(), |k| k.to_string()),
                cell.connections
            );
            let skip = |status: &str, reason: String| SkipRow {
                model: cell.model.name.clone(),
                scenario: cell.scenario.name.into(),
                workers: cell.workers,
                connections: cell.connections,
                status: status.into(),
                reason,
                round,
            };
            if let Some(reason) = guard(cell, &limits) {
                eprintln!("      skipped: {reason}");
                results.skips.push(skip("skipped", reason));
                results.save()?;
                continue;
            }
            let first_step = results.steps.len();
            let progress = earlier.map_or_else(Progress::default, Progress::confirming);
            let outcome = run_ladder(plan, cell, setup, &mut results, round, progress);
            let predictions = Predictions {
                little: cell.scenario.backend_ms.map(|ms| {
                    let concurrency = if cell.model.serves_one_connection_per_worker() {
                        cell.workers.unwrap_or(1)
                    } else {
                        cell.connections
                    };
                    (concurrency as f64, ms as f64 / 1e3)
                }),
                generator_ceiling_rps: ceiling,
            };
            match outcome {
                Ok(()) => {
                    if let Some(knee) = rows::knee(&results.steps[first_step..], &predictions) {
                        eprintln!("      {}", describe_knee(&knee));
                        if round == 1 && !(cell.scenario.climbs() && at_the_limit(&knee)) {
                            brackets[i] = Some(Bracket {
                                knee: knee.knee_rps,
                                broke: knee.broke_at_rps,
                            });
                        }
                        results.knees.push(knee);
                    }
                }
                Err(e) => {
                    let reason = format!("{e:#}");
                    eprintln!("      FAILED: {reason}");
                    results.skips.push(skip("failed", reason));
                }
            }
            results.save()?;
        }
    }
    eprintln!("== serve sweep done in {:.0?}", started.elapsed());
    let failed = results
        .skips
        .iter()
        .filter(|s| s.status == "failed")
        .count();
    anyhow::ensure!(
        failed == 0,
        "{failed} ladder(s) failed; their reasons are in {}",
        out.join("serve-skips.csv").display()
    );
    Ok(())
}

/// Why a ladder must not run, if it must not: connections held open need a file
/// descriptor each in benchkit and in the server, and a thread each in a model that
/// serves a thread per connection.
fn guard(cell: &Cell, limits: &Limits) -> Option<String> {
    // A server that closes every connection after its answer holds none open: there is
    // nothing to measure, and a held connection would only wait on its one worker for
    // the header timeout (a minute here), ladder after ladder.
    if cell.scenario.hold && cell.model.serves_one_connection_per_worker() {
        return Some(
            "serves one connection per worker and closes each after its answer \
             (connection: close): it holds no idle connection open"
                .into(),
        );
    }
    // Room for the server's and oha's own files beside the connections.
    const SPARE_FILES: u64 = 512;
    let (soft, _) = limits.nofile;
    if soft > 0 && cell.connections + SPARE_FILES > soft {
        return Some(format!(
            "{} connections and {SPARE_FILES} other files exceed the open-file limit {soft} (ulimit -n, raised to the hard limit)",
            cell.connections
        ));
    }
    let kernel_cap = limits.pid_max.min(limits.threads_max) / 2;
    if cell.model.serves_a_thread_per_connection()
        && kernel_cap > 0
        && cell.connections > kernel_cap
    {
        return Some(format!(
            "{} threads (one per connection) would exceed half of min(pid_max {}, threads-max {})",
            cell.connections, limits.pid_max, limits.threads_max
        ));
    }
    None
}

/// The server's command line for one ladder.
fn server_args(cell: &Cell, backend: &str) -> Vec<String> {
    let mut args: Vec<String> = ["--port", "0", "--backend", backend]
        .map(String::from)
        .to_vec();
    if let Some(k) = cell.workers {
        args.extend(["--workers".into(), k.to_string()]);
    }
    if cell.scenario.hold {
        // The held connections wait for their next request through the whole step: a
        // server that closes idle ones at its header timeout (5 s) would close them.
        args.extend(["--header-timeout-ms".into(), "60000".into()]);
    }
    args
}

/// Whether round 1's knee is as high as the sweep can measure: at the generator's limit,
/// or the top of the ladder reached within budget. A later round checks a knee against
/// a disturbance that lowered it; it cannot find such a knee higher, only lower if it is
/// itself disturbed, so it does not check it (the report counts these cells apart). Not
/// for a scenario at one fixed rate ([`Scenario::climbs`]): its later round checks the
/// p99 and memory its claim compares.
pub fn at_the_limit(knee: &KneeRow) -> bool {
    knee.bound == Some(rows::Bound::Generator) || knee.broke_at_rps.is_none()
}

/// One ladder of one round on a fresh server: steps until `progress` says done, each
/// pushed to `results` and saved; then the server is stopped and its summary line kept.
fn run_ladder(
    plan: &Plan,
    cell: &Cell,
    setup: &Setup,
    results: &mut Results,
    round: u64,
    mut progress: Progress,
) -> Result<()> {
    let scenario = cell.scenario;
    let (program, mut args) = cell.model.serve_command_line(setup.bin_dir);
    args.extend(server_args(cell, setup.backend));
    let tag = format!(
        "{}-{}-{}-{}-round{round}",
        cell.model.name,
        scenario.name,
        cell.workers.map_or("default".into(), |k| k.to_string()),
        cell.connections
    );
    let log = setup.out.join("logs").join(format!("{tag}.log"));
    // A server, checked, its PSS before any load, and the connections the scenario holds.
    let start = || -> Result<(Server, Option<u64>, Option<Held>)> {
        let mut server = Server::start(&program, &args, SERVER_CPU, &log)?;
        server.check_hello()?;
        let idle_pss = sample_tree(server.pid(), true).pss_bytes;
        let held = match scenario.hold {
            true => Some(Held::open(&server.addr, cell.connections)?),
            false => None,
        };
        Ok((server, idle_pss, held))
    };
    let (mut server, mut idle_pss, mut held) = start()?;
    // The steps of the server now running, which get its driver when it stops.
    let mut its_steps = results.steps.len();
    let mut url = format!("http://{}{}", server.addr, scenario.path);
    let mut last_broke = false;
    let mut step_number = 0;
    while let Some((rate, a_rerun)) = progress.next(&scenario.ladder) {
        // After a step that broke, a fresh server: a one-connection-per-worker server
        // still owes the requests oha gave up on (they wait in its accept queue), and
        // would serve that backlog during the next step, breaking it too.
        if last_broke {
            drop(held.take());
            let summary = server.stop()?;
            append_summary(setup.out, &tag, &summary)?;
            its_steps = mark_driver(results, its_steps, &summary)?;
            (server, idle_pss, held) = start()?;
            url = format!("http://{}{}", server.addr, scenario.path);
        }
        let load = oha::Load {
            url: url.clone(),
            rate: Some(rate),
            connections: scenario.load_connections,
            keepalive: scenario.keepalive,
            duration: scenario.step.unwrap_or(plan.step),
        };
        let before = sample_tree(server.pid(), false);
        let sampler = Sampler::start(server.pid());
        let step = oha::run(setup.oha, GENERATOR_CPU, &load);
        let (peak_pss, peak_threads) = sampler.finish();
        let after = sample_tree(server.pid(), false);
        let step = step?;
        let open = held.as_ref().map(Held::still_open);
        let m = &step.measured;
        let cpu_s = after.cpu_s - before.cpu_s;
        let within = m.p99_ms.is_some_and(|p| p <= scenario.budget_ms)
            && m.error_rate().is_some_and(|e| e <= MAX_ERROR_RATE);
        let saturated = step.cpu_share > SATURATED;
        step_number += 1;
        let verdict = match (within, saturated) {
            (false, _) => Verdict::Broke,
            (true, true) => Verdict::Saturated,
            (true, false) => Verdict::Within,
        };
        let again = progress.record(
            rate,
            verdict,
            a_rerun,
            worth_a_rerun(rate, m.achieved_rps, saturated),
        );
        let row = StepRow {
            model: cell.model.name.clone(),
            scenario: scenario.name.into(),
            workers: cell.workers,
            connections: cell.connections,
            keepalive: scenario.keepalive.into(),
            step: step_number,
            offered_rps: Some(rate),
            achieved_rps: Some(m.achieved_rps),
            duration_s: Some(m.duration_s),
            requests: m.requests,
            ok: m.ok,
            errors: m.errors(),
            error_rate: m.error_rate(),
            error_kinds: m.error_kinds_cell(),
            p50_ms: m.p50_ms,
            p90_ms: m.p90_ms,
            p99_ms: m.p99_ms,
            p999_ms: m.p999_ms,
            max_ms: m.max_ms,
            server_cpu_ms: Some(cpu_s * 1e3),
            // /proc counts CPU in clock ticks (10 ms): a step that used less than one
            // measured none, which is not a cost of 0.
            server_cpu_us_per_req: (m.answered > 0 && cpu_s > 0.0)
                .then(|| cpu_s * 1e6 / m.answered as f64),
            server_pss_bytes: peak_pss,
            server_threads: Some(peak_threads),
            pss_per_conn_bytes: match (open, peak_pss, idle_pss) {
                (Some(open), Some(peak), Some(idle)) if open > 0 => {
                    Some(peak.saturating_sub(idle) as f64 / open as f64)
                }
                _ => None,
            },
            generator_cpu_share: Some(step.cpu_share),
            generator_saturated: saturated.into(),
            within_budget: within.into(),
            rerun: again.into(),
            round,
            driver: String::new(),
        };
        eprintln!("      {}", describe_step(&row, open));
        results.steps.push(row);
        results.save()?;
        last_broke = !within;
    }
    drop(held);
    let summary = server.stop()?;
    append_summary(setup.out, &tag, &summary)?;
    mark_driver(results, its_steps, &summary).map(|_| ())
}

/// The driver named in a stopped server's summary line, written into the steps it served
/// (`results.steps[from..]`), and saved; returns where the next server's steps begin.
fn mark_driver(results: &mut Results, from: usize, summary: &str) -> Result<usize> {
    let driver = server::driver(summary);
    for step in &mut results.steps[from..] {
        step.driver.clone_from(&driver);
    }
    results.save()?;
    Ok(results.steps.len())
}

/// Whether a step that broke is run once more at the same rate (on a fresh server) before
/// the ladder believes it: a break is a claim about the server, and a burst of other work
/// on the machine (a compile, a cron job, the host of a virtual machine) can break a step
/// the server would sustain. Not when the server answered under half the rate offered
/// (overload: a disturbance would have to stall it for half the step) or the generator
/// was saturated (a rerun measures oha again).
fn worth_a_rerun(offered: f64, achieved: f64, generator_saturated: bool) -> bool {
    !generator_saturated && achieved >= offered / 2.0
}

/// The generator's ceiling: oha as fast as it can (no rate) against /hello of the
/// fastest server (tokio-async, or the first model), with the hello scenario's
/// connections. None, with a failed row, if it could not be measured.
fn generator_ceiling(
    plan: &Plan,
    models: &[Model],
    setup: &Setup,
    results: &mut Results,
) -> Result<Option<f64>> {
    let Some(model) = models
        .iter()
        .find(|m| m.name == "tokio-async")
        .or(models.first())
    else {
        return Ok(None);
    };
    // The hello scenario's load, also when the run leaves hello out (SCENARIOS=backend):
    // the ceiling is the generator's, whatever the scenarios.
    let hello = plan
        .scenarios
        .iter()
        .find(|s| s.name == "hello")
        .cloned()
        .or_else(|| {
            let all = if plan.mode == "quick" {
                Plan::quick()
            } else {
                Plan::full()
            };
            all.scenarios.into_iter().find(|s| s.name == "hello")
        })
        .context("no plan has a hello scenario")?;
    let (connections, keepalive) = (hello.load_connections, hello.keepalive);
    let measure = || -> Result<(f64, f64)> {
        let cell = Cell {
            model,
            scenario: &hello,
            workers: None,
            connections,
        };
        let (program, mut args) = model.serve_command_line(setup.bin_dir);
        args.extend(server_args(&cell, setup.backend));
        let log = setup
            .out
            .join("logs")
            .join(format!("{}-ceiling.log", model.name));
        let mut server = Server::start(&program, &args, SERVER_CPU, &log)?;
        server.check_hello()?;
        let load = oha::Load {
            url: format!("http://{}/hello", server.addr),
            rate: None,
            connections,
            keepalive,
            duration: plan.step,
        };
        let step = oha::run(setup.oha, GENERATOR_CPU, &load)?;
        let summary = server.stop()?;
        append_summary(setup.out, &format!("{}-ceiling", model.name), &summary)?;
        Ok((step.measured.achieved_rps, step.cpu_share))
    };
    match measure() {
        Ok((rps, share)) => {
            eprintln!(
                "== generator ceiling: {rps:.0} requests/s against {}'s /hello ({connections} connections, oha at {:.0}% of its core{})",
                model.name,
                share * 1e2,
                if share > SATURATED { ": saturated" } else { ": NOT saturated, so this is the server's limit, a floor of oha's" }
            );
            Ok(Some(rps))
        }
        Err(e) => {
            let reason = format!("generator ceiling: {e:#}");
            eprintln!("== FAILED: {reason}");
            results.skips.push(SkipRow {
                model: model.name.clone(),
                scenario: "ceiling".into(),
                workers: None,
                connections,
                status: "failed".into(),
                reason,
                round: 1,
            });
            results.save()?;
            Ok(None)
        }
    }
}

/// Move the calling thread (and the threads it starts afterwards) to one CPU.
fn pin_to(cpu: u32) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes within it, and
    // sched_setaffinity reads it for the calling thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu as usize, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// serve-summaries.jsonl: each server's summary line, after its ladder's tag.
fn append_summary(out: &Path, tag: &str, summary: &str) -> Result<()> {
    let path = out.join("serve-summaries.jsonl");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    writeln!(
        file,
        "{{\"ladder\":{},\"summary\":{summary}}}",
        serde_json::Value::from(tag)
    )
    .with_context(|| format!("cannot write {}", path.display()))
}

/// The largest PSS and thread count of the server's tree during a step, sampled on a
/// thread of its own every 200 ms.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(Option<u64>, u64)>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut pss, mut threads) = (None::<u64>, 0);
            loop {
                let s = sample_tree(pid, true);
                pss = pss.max(s.pss_bytes);
                threads = threads.max(s.threads);
                if flag.load(Ordering::Relaxed) {
                    return (pss, threads);
                }
                std::thread::park_timeout(Duration::from_millis(200));
            }
        });
        Sampler { stop, thread }
    }

    fn finish(self) -> (Option<u64>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.thread().unpark();
        self.thread.join().unwrap_or((None, 0))
    }
}

fn describe_step(row: &StepRow, open: Option<u64>) -> String {
    let ms = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.1} ms"));
    format!(
        "{:>6.0} rps: {:.0} achieved, p99 {}, errors {:.2}%{}, server {} us/req, oha {:.0}%{}{} -> {}",
        row.offered_rps.unwrap_or(0.0),
        row.achieved_rps.unwrap_or(0.0),
        ms(row.p99_ms),
        row.error_rate.unwrap_or(1.0) * 1e2,
        if row.error_kinds.is_empty() { String::new() } else { format!(" ({})", row.error_kinds) },
        row.server_cpu_us_per_req.map_or("-".into(), |v| format!("{v:.0}")),
        row.generator_cpu_share.unwrap_or(0.0) * 1e2,
        if row.generator_saturated.yes() { " (saturated)" } else { "" },
        open.map_or(String::new(), |n| format!(", {n} held connections open")),
        match (row.within_budget.yes(), row.rerun.yes()) {
            (true, _) => "within budget",
            (false, true) => "BROKE: run again on a fresh server before the ladder believes it",
            (false, false) => "BROKE",
        }
    )
}

fn describe_knee(k: &KneeRow) -> String {
    let rate = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.0}"));
    format!(
        "knee {} rps (broke at {} by {:?}); predicted {} by {}",
        rate(k.knee_rps),
        rate(k.broke_at_rps),
        k.broke_by,
        rate(k.predicted_rps),
        k.bound
            .map_or("-".into(), |b| format!("{b:?}").to_lowercase()),
    )
}

#[cfg(test)]
mod tests;
