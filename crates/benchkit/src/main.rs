//! benchkit: the parts of `scripts/bench.sh` that need real parsing, the sweeps, and the
//! report.
//!
//! ```sh
//! target/release/benchkit models                 # model binaries, sync first
//! target/release/benchkit serve-command MODEL    # how MODEL serves (Python ones too)
//! target/release/benchkit wait-health 127.0.0.1:PORT
//! target/release/benchkit collect results/runs/STAMP
//! target/release/benchkit scale --server 127.0.0.1:PORT --out results/runs/STAMP
//! target/release/benchkit report results --readme README.md
//! target/release/benchkit costs --out results/runs/STAMP
//! target/release/benchkit mixed --server 127.0.0.1:PORT --out results/runs/STAMP
//! target/release/benchkit serve --backend 127.0.0.1:PORT --oha target/tools/bin/oha --out results/runs/STAMP
//! target/release/benchkit syscalls --server 127.0.0.1:PORT --out results/runs/STAMP
//! ```
//!
//! The layout, one folder per role:
//!
//! - [`models`]: which binaries are models (from `cargo metadata`, every package under
//!   `crates/models/`), so the list is never written twice by hand.
//! - [`collect`]: hyperfine's JSON (times) and the models' own summary lines (peak RSS and
//!   PSS, worker and OS thread counts) into cpu.csv, io.csv and summary.csv.
//! - [`sweep`]: the sweeps side by side, each writing its CSVs: `scale` (how far each
//!   model goes as N grows), `costs` (spawn and switch, fitted), `mixed` (latency beside
//!   CPU jobs), `serve` (every model as a server under open-loop load), `syscalls`
//!   (system calls per download and per served request, counted by the kernel), and the
//!   one way they all start a model (`runner`).
//! - [`table`]: every CSV in results/, read and written with the `csv` crate as typed rows.
//! - [`stats`]: the least-squares fit.
//! - [`charts`]: every SVG chart, drawn with plotters.
//! - [`report`]: REPORT.md and the README's findings block, one file per section, from
//!   the CSVs alone.

mod charts;
mod collect;
mod models;
mod report;
mod stats;
mod sweep;
mod table;

/// A fresh, empty folder for one test, unique to this process.
#[cfg(test)]
fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("benchkit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Helpers for scripts/bench.sh")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the model binaries of the workspace, one per line, sync (the baseline) first.
    Models,
    /// Print the command that starts MODEL as a server, up to the word `serve`, one
    /// argument per line (a Python model: the environment's python and its script; exit 1
    /// with the reason when its environment is not ready). The e2e tests start every
    /// server with it.
    ServeCommand { model: String },
    /// Wait until the fixture server at ADDR answers /health (exit 1 after the timeout).
    WaitHealth {
        #[arg(value_parser = models::loopback_addr)]
        addr: String,
        #[arg(long, default_value_t = 10)]
        timeout_s: u64,
    },
    /// Write <workload>.csv for every workload measured in RUN_DIR, and summary.csv.
    Collect { run_dir: PathBuf },
    /// Sweep N for every model (sleep, io, cpu), the Python models too where their
    /// environment exists; write scale.csv and scale-fit.csv to OUT.
    Scale {
        /// The fixture server's address (host:port).
        #[arg(long, value_parser = models::loopback_addr)]
        server: String,
        /// Folder for scale.csv, scale-fit.csv and scale-limits.txt.
        #[arg(long)]
        out: PathBuf,
        /// A tiny sweep (small N, short waits) for tests.
        #[arg(long)]
        tiny: bool,
    },
    /// Sweep spawn and switch for every model; write costs.csv and costs-fit.csv to OUT.
    Costs {
        /// Folder for costs.csv and costs-fit.csv.
        #[arg(long)]
        out: PathBuf,
        /// A tiny sweep (small N and R) for tests.
        #[arg(long)]
        tiny: bool,
    },
    /// Run `mixed` for every model and variant (latency beside CPU jobs); write OUT/mixed.csv.
    Mixed {
        /// The fixture server's address (host:port).
        #[arg(long, value_parser = models::loopback_addr)]
        server: String,
        /// Folder for mixed.csv.
        #[arg(long)]
        out: PathBuf,
        /// Short cells (a smoke run for tests).
        #[arg(long)]
        quick: bool,
    },
    /// Every model as a server under open-loop load from oha, the rate raised until p99 or
    /// errors break; write serve.csv, serve-knees.csv and serve-skips.csv to OUT.
    Serve {
        /// The fixture server's address (host:port), the servers' backend.
        #[arg(long, value_parser = models::loopback_addr)]
        backend: String,
        /// The load generator: oha 1.16.0, or a test double that takes its command line
        /// and prints its JSON report (crates/e2e/src/bin/oha-stand-in.rs).
        #[arg(long)]
        oha: PathBuf,
        /// Folder for the CSVs, serve-plan.txt, serve-summaries.jsonl and the servers' logs.
        #[arg(long)]
        out: PathBuf,
        /// Short steps and ladders, sync, procs (its K ladder) and tokio-async only (a
        /// smoke run for tests).
        #[arg(long)]
        quick: bool,
        /// Only these models, comma-separated: names, or paths to a server executable
        /// (started as `PATH serve ...`, named after its file).
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Only these scenarios, comma-separated (hello, work, backend, connections).
        #[arg(long, value_delimiter = ',')]
        scenarios: Vec<String>,
        /// Rounds of every cell [default: the plan's, 2]: round 1 climbs each ladder, each
        /// later one checks round 1's knee. 1 halves the time and leaves every knee
        /// unchecked.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=5))]
        rounds: Option<u64>,
    },
    /// Count every Rust model's system calls per download and per served request (perf
    /// counters on the kernel's syscall tracepoints); write syscalls.csv to OUT. Where the
    /// kernel does not allow counting, write OUT/syscalls-skipped.txt with the reason and
    /// exit 0.
    Syscalls {
        /// The fixture server's address (host:port): the downloads' server, the servers'
        /// backend.
        #[arg(long, value_parser = models::loopback_addr)]
        server: String,
        /// Folder for syscalls.csv, syscalls-plan.txt and syscalls-summaries.jsonl.
        #[arg(long)]
        out: PathBuf,
        /// Small runs of sync and tokio-async (a smoke run for tests).
        #[arg(long)]
        tiny: bool,
        /// Only these models, comma-separated: names, or paths to a model executable.
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// The tracefs folder to read tracepoint ids from [default: /sys/kernel/tracing,
        /// else /sys/kernel/debug/tracing].
        #[arg(long)]
        tracefs: Option<PathBuf>,
    },
    /// Write RESULTS/REPORT.md and RESULTS/charts/*.svg from the CSVs in RESULTS.
    Report {
        results: PathBuf,
        /// Also rewrite this README's block between the report markers.
        #[arg(long)]
        readme: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            eprintln!(
                "benchkit: {}",
                text.lines()
                    .next()
                    .unwrap_or("bad arguments")
                    .trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchkit: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The folder of the model binaries: this one's, as cargo builds them all into one.
fn bin_dir() -> Result<PathBuf> {
    Ok(std::env::current_exe()?
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default())
}

/// The models `benchkit serve` runs: those named (a name, or a path to an executable),
/// else in quick mode sync, procs and tokio-async (one connection at a time, pre-forked
/// workers at each K, async), else every model, the Python ones too where their
/// environment is ready.
fn serve_models(
    bin_dir: &std::path::Path,
    quick: bool,
    named: &[String],
) -> Result<Vec<models::Model>> {
    let mut all = models::discover_models()?;
    let python = models::python_models(bin_dir);
    let wanted: Vec<String> = match named {
        [] if quick => vec!["sync".into(), "procs".into(), "tokio-async".into()],
        [] => {
            match python {
                Ok(python) => all.extend(python),
                Err(why) => eprintln!("== Python models left out: {why:#}"),
            }
            return Ok(all);
        }
        named => named.to_vec(),
    };
    if let Ok(python) = python {
        all.extend(python);
    }
    wanted
        .iter()
        .map(|name| {
            if name.contains('/') {
                let path = std::path::Path::new(name);
                anyhow::ensure!(path.is_file(), "--models: {name} is not a file");
                return Ok(models::Model::from_path(path));
            }
            all.iter()
                .find(|m| &m.name == name)
                .cloned()
                .ok_or_else(|| {
                    let names: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
                    anyhow::anyhow!(
                        "--models: no model {name:?} (the models: {})",
                        names.join(" ")
                    )
                })
        })
        .collect()
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Cmd::Models => {
            for model in models::discover()? {
                println!("{model}");
            }
            Ok(())
        }
        Cmd::ServeCommand { model } => {
            let bin_dir = bin_dir()?;
            let mut all = models::discover_models()?;
            if model.starts_with("python-") {
                all.extend(models::python_models(&bin_dir)?);
            }
            let Some(found) = all.iter().find(|m| m.name == model) else {
                anyhow::bail!("no model named {model}");
            };
            let (program, args) = found.serve_command_line(&bin_dir);
            println!("{}", program.display());
            for arg in args {
                println!("{arg}");
            }
            Ok(())
        }
        Cmd::WaitHealth { addr, timeout_s } => {
            models::wait_health(&addr, std::time::Duration::from_secs(timeout_s))
        }
        Cmd::Collect { run_dir } => collect::collect(&run_dir),
        Cmd::Scale { server, out, tiny } => {
            let plan = if tiny {
                sweep::scale::Plan::tiny()
            } else {
                sweep::scale::Plan::full()
            };
            let bin_dir = bin_dir()?;
            let mut all = models::discover_models()?;
            // The Python models too, where their environment is ready (the scripts make it).
            match models::python_models(&bin_dir) {
                Ok(python) => all.extend(python),
                Err(why) => eprintln!("== Python models left out: {why:#}"),
            }
            sweep::scale::sweep(&plan, &all, &bin_dir, &server, &out).map(|_| ())
        }
        Cmd::Costs { out, tiny } => {
            let plan = if tiny {
                sweep::costs::Plan::tiny()
            } else {
                sweep::costs::Plan::full()
            };
            sweep::costs::sweep(&plan, &models::discover_models()?, &bin_dir()?, &out).map(|_| ())
        }
        Cmd::Mixed { server, out, quick } => {
            let plan = if quick {
                sweep::mixed::Plan::quick()
            } else {
                sweep::mixed::Plan::full()
            };
            sweep::mixed::run(&plan, &models::discover()?, &bin_dir()?, &server, &out)
        }
        Cmd::Serve {
            backend,
            oha,
            out,
            quick,
            models,
            scenarios,
            rounds,
        } => {
            let mut plan = if quick {
                sweep::serve::Plan::quick()
            } else {
                sweep::serve::Plan::full()
            }
            .only(&scenarios)?;
            plan.rounds = rounds.unwrap_or(plan.rounds);
            let bin_dir = bin_dir()?;
            let models = serve_models(&bin_dir, quick, &models)?;
            let setup = sweep::serve::Setup {
                bin_dir: &bin_dir,
                backend: &backend,
                oha: &oha,
                out: &out,
            };
            sweep::serve::sweep(&plan, &models, &setup)
        }
        Cmd::Syscalls {
            server,
            out,
            tiny,
            models,
            tracefs,
        } => {
            use sweep::syscalls::{self, Plan, Setup};
            let plan = if tiny { Plan::tiny() } else { Plan::full() };
            let models = syscalls::models(&plan, &models::discover_models()?, &models)?;
            let setup = Setup {
                bin_dir: &bin_dir()?,
                server: &server,
                out: &out,
                tracefs: tracefs.as_deref(),
            };
            syscalls::sweep(&plan, &models, &setup).map(|_| ())
        }
        Cmd::Report { results, readme } => report::report(&results, readme.as_deref()),
    }
}
