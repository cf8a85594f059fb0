//! `make report`: results/REPORT.md and results/charts/*.svg from the CSVs already in
//! results/, without running anything. Optionally the README's findings block too, so
//! the README's claims are always the tables' numbers.
//!
//! Inputs ([`inputs`], every CSV through the one reader and its checks): `summary.csv`
//! (required, from `make bench`), `bench-settings.txt` (the run's settings and machine),
//! the full runs kept in `runs/`, and when present: from `make bench-scale`, `scale.csv`,
//! `scale-fit.csv`, `scale-limits.txt`, `costs.csv`, `costs-fit.csv`; from `make bench`,
//! `mixed.csv`; from `make bench-python`, `python-summary.csv`, `python-uvloop.csv` and
//! `python-bench-settings.txt` (the Python bars in the charts, the seed section's Python
//! column, the Python claims); from `make bench-serve`, `serve.csv`, `serve-knees.csv`
//! and `serve-settings.txt` (the servers section and its claims; no section without them);
//! from `make bench-syscalls`, `syscalls.csv` and `syscalls-settings.txt` (the system calls
//! section; none without them).
//!
//! REPORT.md, section by section, one file each:
//! - [`answer`]: the findings, also the README's block ([`readme`]);
//! - [`workloads`]: a table and a chart per workload of `make bench`;
//! - [`memory`]: PSS against peak RSS, and each model's threads;
//! - [`runs`]: speedups from run to run;
//! - [`seed`]: beside the seed article's figures;
//! - [`claims`]: the article's table re-checked;
//! - [`scale`]: the scale sweep, its charts and memory per task;
//! - [`pitfalls`]: what blocks a scheduler (the `mixed` workload), with its
//!   two rows of the claims table;
//! - [`costs`]: what one task costs (spawn, switch, CPU per download), with
//!   its three rows of the claims table;
//! - [`serve`]: every model as a server under open-loop load, with the four server
//!   claims under the claims table;
//! - [`syscalls`]: system calls per download and per served request;
//! - [`thread_per_core`]: the ninth model (monoio on io_uring) beside its epoll driver
//!   and tokio on every measure above, and where it wins and where it loses.

mod answer;
mod by_hand;
mod claims;
mod costs;
pub(crate) mod format;
mod inputs;
mod memory;
mod pitfalls;
mod provenance;
mod readme;
mod runs;
mod scale;
mod seed;
mod serve;
mod syscalls;
#[cfg(test)]
mod tests;
mod thread_per_core;
mod workloads;

use anyhow::{Context, Result};
use inputs::{Cell, CostCell, CostFit, Fit, MixedRow, Python, ScaleCell, Serve, Settings};
use provenance::Source;
use std::fmt::Write as _;
use std::path::Path;

/// Everything `make report` reads from one results folder. Rows measured on another
/// driver than their model's name stands for ([`inputs::wrong_driver`]) are taken out as
/// they are read, so no table, chart or claim sees them; the sections of their files say
/// so ([`inputs::left_out_notes`]).
struct Inputs {
    cells: Vec<Cell>,
    /// summary.csv's cells left out for their driver.
    left_out: Vec<Cell>,
    settings: Settings,
    scale: Option<Vec<ScaleCell>>,
    /// scale.csv's cells left out for their driver (their fits in scale-fit.csv too).
    scale_left_out: Vec<ScaleCell>,
    fits: Option<Vec<Fit>>,
    /// scale-limits.txt: the host's limits, then the sweep's plan line.
    limits: Settings,
    scale_settings: String,
    cores: f64,
    python: Option<Python>,
    /// costs-fit.csv and costs.csv (empty when the costs sweep has not run).
    cost_fits: Vec<CostFit>,
    cost_cells: Vec<CostCell>,
    /// mixed.csv, when the mixed sweep has run.
    mixed: Option<Vec<MixedRow>>,
    /// Where each family of files comes from, as its settings file recorded it.
    origins: Origins,
    /// by-hand.csv, when `make bench-by-hand` has run.
    by_hand: Option<Vec<by_hand::Row>>,
    /// serve.csv and serve-knees.csv, when `make bench-serve` has run.
    serve: Option<Serve>,
    /// serve-settings.txt as written, for the environment section.
    serve_settings: String,
    /// syscalls.csv, when `make bench-syscalls` has run, and its settings as written.
    syscalls: Option<Vec<syscalls::Row>>,
    syscalls_settings: String,
}

/// The run behind each family of results files: `make bench` (summary.csv, mixed.csv),
/// `make bench-python` (python-*.csv), `make bench-scale` (scale*.csv, costs*.csv),
/// `make bench-serve` (serve*.csv).
struct Origins {
    bench: Option<Source>,
    python: Option<Source>,
    scale: Option<Source>,
    serve: Option<Source>,
    syscalls: Option<Source>,
}

impl Origins {
    fn read(results: &Path) -> Origins {
        let read =
            |command, file| Source::read(command, file, &Settings::read(&results.join(file)));
        Origins {
            bench: read("make bench", "bench-settings.txt"),
            python: read("make bench-python", "python-bench-settings.txt"),
            scale: read("make bench-scale", "scale-settings.txt"),
            serve: read("make bench-serve", "serve-settings.txt"),
            syscalls: read("make bench-syscalls", "syscalls-settings.txt"),
        }
    }

    fn all(&self) -> Vec<&Source> {
        [
            &self.bench,
            &self.python,
            &self.scale,
            &self.serve,
            &self.syscalls,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// `section` (a Markdown section opening with its heading) with the line of each of
/// `sources` under its heading: where its figures come from.
fn sourced(section: String, sources: &[&Option<Source>]) -> String {
    let lines: Vec<String> = sources
        .iter()
        .filter_map(|s| s.as_ref())
        .map(|s| s.line())
        .collect();
    match section.split_once('\n') {
        Some((heading, rest)) if heading.starts_with('#') && !lines.is_empty() => {
            format!("{heading}\n\n{}\n{rest}", lines.join("\n"))
        }
        _ => section,
    }
}

impl Inputs {
    fn read(results: &Path) -> Result<Inputs> {
        let settings = Settings::read(&results.join("bench-settings.txt"));
        let cores = settings.num("cores").unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() as f64)
                .unwrap_or(1.0)
        });
        let optional = |name: &str| Some(results.join(name)).filter(|p| p.exists());
        let (cells, left_out) =
            inputs::split_wrong_driver(inputs::read_bench(&results.join("summary.csv"))?, |c| {
                (&c.model, &c.driver)
            });
        let (scale, scale_left_out) = match optional("scale.csv") {
            Some(p) => {
                let (kept, left) =
                    inputs::split_wrong_driver(inputs::read_scale(&p)?, |c| (&c.model, &c.driver));
                (Some(kept), left)
            }
            None => (None, Vec::new()),
        };
        // A fit through cells of the wrong driver measured that driver: out with them.
        let fits = optional("scale-fit.csv")
            .map(|p| inputs::read_fits(&p))
            .transpose()?
            .map(|fits| {
                fits.into_iter()
                    .filter(|f| {
                        !scale_left_out
                            .iter()
                            .any(|c| c.model == f.model && c.workload == f.workload)
                    })
                    .collect()
            });
        Ok(Inputs {
            cells,
            left_out,
            settings,
            scale,
            scale_left_out,
            fits,
            limits: Settings::read(&results.join("scale-limits.txt")),
            scale_settings: std::fs::read_to_string(results.join("scale-settings.txt"))
                .unwrap_or_default(),
            cores,
            python: Python::read(results)?,
            cost_fits: optional("costs-fit.csv")
                .map(|p| inputs::read_cost_fits(&p))
                .transpose()?
                .unwrap_or_default(),
            cost_cells: optional("costs.csv")
                .map(|p| inputs::read_cost_cells(&p))
                .transpose()?
                .unwrap_or_default(),
            mixed: optional("mixed.csv")
                .map(|p| inputs::read_mixed(&p))
                .transpose()?,
            origins: Origins::read(results),
            by_hand: optional("by-hand.csv")
                .map(|p| by_hand::read(&p))
                .transpose()?,
            serve: Serve::read(results)?,
            serve_settings: std::fs::read_to_string(results.join("serve-settings.txt"))
                .unwrap_or_default(),
            syscalls: optional("syscalls.csv")
                .map(|p| syscalls::read(&p))
                .transpose()?,
            syscalls_settings: std::fs::read_to_string(results.join("syscalls-settings.txt"))
                .unwrap_or_default(),
        })
    }
}

pub fn report(results: &Path, readme: Option<&Path>) -> Result<()> {
    let inputs = Inputs::read(results)?;
    let charts_dir = results.join("charts");
    std::fs::create_dir_all(&charts_dir)
        .with_context(|| format!("cannot create {}", charts_dir.display()))?;
    let answer = answer::answer(&answer::Sources {
        cells: &inputs.cells,
        settings: &inputs.settings,
        cores: inputs.cores,
        scale: inputs.scale.as_deref(),
        fits: inputs.fits.as_deref(),
        plan: &inputs.limits,
    });
    let warnings = provenance::warnings(&inputs.origins.all());
    let answer = format!("{warnings}{answer}");
    let (md, claims) = document(&inputs, &answer, results, &charts_dir)?;
    let out = results.join("REPORT.md");
    std::fs::write(&out, &md).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "report: {} and {}/*.svg",
        out.display(),
        charts_dir.display()
    );
    if let Some(readme) = readme {
        readme::update_readme(readme, &answer, &claims, &inputs.settings)?;
    }
    Ok(())
}

/// REPORT.md, section after section, and the claims table alone (the README shows it too).
fn document(
    inputs: &Inputs,
    answer: &str,
    results: &Path,
    charts_dir: &Path,
) -> Result<(String, String)> {
    let src = &inputs.origins;
    let mut md = String::from("# Concurrency models in Rust: the report\n\n");
    md += "Generated by `make report` from the CSVs in this folder; nothing here is typed by hand.\n\n";
    let _ = writeln!(md, "## The answer\n\n{answer}\n");
    let cells = &inputs.cells;
    for workload in ["cpu", "io"] {
        let these: Vec<&Cell> = cells.iter().filter(|c| c.workload == workload).collect();
        let python = inputs.python.as_ref().map(|p| workloads::PythonCells {
            cells: p.cells.iter().filter(|c| c.workload == workload).collect(),
            settings: &p.settings,
        });
        if !these.is_empty() {
            let section = workloads::section(
                workload,
                &these,
                &inputs.settings,
                inputs.cores,
                charts_dir,
                python,
            )?;
            let left_out = inputs.left_out.iter().filter(|c| c.workload == workload);
            let notes = inputs::left_out_notes(
                "summary.csv",
                left_out.map(|c| (c.model.as_str(), c.driver.as_str())),
            );
            md += &sourced(noted(section, &notes), &[&src.bench, &src.python]);
        }
    }
    md += &sourced(
        memory::section(cells, inputs.fits.as_deref()),
        &[&src.bench, &src.scale],
    );
    md += &sourced(memory::threads_table(cells), &[&src.bench]);
    md += &runs::across_runs(&results.join("runs"))?;
    md += &sourced(
        seed::seed_comparison(cells, inputs.python.as_ref().map(|p| &p.cells[..])),
        &[&src.bench, &src.python],
    );
    let costs = costs::costs_report(&costs::Sources::of(inputs), charts_dir)?;
    let pitfalls = inputs
        .mixed
        .as_deref()
        .map(|rows| pitfalls::section(rows, charts_dir))
        .transpose()?;
    let pitfall_claims = pitfalls
        .as_ref()
        .map(|p| p.claims.join("\n"))
        .unwrap_or_default();
    let claims = claims::claims(
        cells,
        inputs.scale.as_deref(),
        inputs.fits.as_deref(),
        inputs.cores,
    );
    let mut claims = sourced(
        with_rows(&claims, &[&pitfall_claims, &costs.claims_rows]),
        &[&src.bench, &src.scale],
    );
    if let Some(python) = &inputs.python {
        claims += &sourced(claims::python_claims(python), &[&src.python]);
    }
    if let Some(serve) = &inputs.serve {
        claims += &sourced(serve::claims_table(serve), &[&src.serve]);
    }
    md += &claims;
    match pitfalls {
        Some(p) => md += &sourced(p.markdown, &[&src.bench]),
        None => md += "## What blocks a scheduler\n\nNot measured yet: `make bench` writes results/mixed.csv.\n\n",
    }
    md += &sourced(costs.section, &[&src.scale]);
    if let Some(rows) = &inputs.by_hand {
        md += &by_hand::section(rows);
    }
    match &inputs.scale {
        Some(scale) => {
            let section = scale::section(scale, inputs.fits.as_deref(), charts_dir, inputs.cores)?;
            let left_out = inputs.scale_left_out.iter();
            let notes = inputs::left_out_notes(
                "scale.csv",
                left_out.map(|c| (c.model.as_str(), c.driver.as_str())),
            );
            md += &sourced(noted(section, &notes), &[&src.scale]);
        }
        None => {
            md += "## Scale\n\nNot measured yet: `make bench-scale` writes results/scale.csv.\n\n"
        }
    }
    if let Some(serve) = &inputs.serve {
        md += &sourced(serve::section(serve, charts_dir)?, &[&src.serve]);
    }
    if let Some(rows) = &inputs.syscalls {
        let order: Vec<String> = format::unique(cells.iter().map(|c| c.model.as_str()))
            .into_iter()
            .map(String::from)
            .collect();
        md += &sourced(syscalls::section(rows, &order), &[&src.syscalls]);
    }
    let tpc = thread_per_core::section(&thread_per_core::Sources {
        cells,
        scale: inputs.scale.as_deref(),
        fits: inputs.fits.as_deref(),
        cost_fits: &inputs.cost_fits,
        mixed: inputs.mixed.as_deref(),
        serve: inputs.serve.as_ref(),
        syscalls: inputs.syscalls.as_deref(),
    });
    if let Some(section) = tpc {
        md += &sourced(
            section,
            &[&src.bench, &src.scale, &src.serve, &src.syscalls],
        );
    }
    md += &environment(inputs);
    Ok((md, claims))
}

/// `section` (a Markdown section opening with its heading) with `note` (whole paragraphs,
/// or nothing) under its heading.
fn noted(section: String, note: &str) -> String {
    match section.split_once('\n') {
        Some((heading, rest)) if heading.starts_with('#') && !note.is_empty() => {
            format!("{heading}\n\n{note}{}", rest.trim_start_matches('\n'))
        }
        _ => section,
    }
}

/// A chart as REPORT.md and the README show it: the image, then a caption naming the CSV
/// and the columns it is drawn from, so a reader can find every figure in results/.
fn charts_embed(alt: &str, path: &str, csv: &str, columns: &str) -> String {
    format!("![{alt}]({path})\n\n_Chart: drawn from {csv}, columns {columns}._\n\n")
}

/// A markdown table (ending in a blank line) with more rows appended to it, from the
/// sections that own them: the claims table gathers one family of rows per section.
fn with_rows(table: &str, rows: &[&str]) -> String {
    let mut md = table.trim_end().to_string();
    for rows in rows.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
        md.push('\n');
        md += rows;
    }
    md + "\n\n"
}

/// The settings and machine of both runs, as they recorded them.
fn environment(inputs: &Inputs) -> String {
    let mut md = format!(
        "## Environment of the runs\n\n`make bench` (bench-settings.txt):\n\n```text\n{}```\n\n",
        inputs.settings.text
    );
    if !inputs.scale_settings.is_empty() || !inputs.limits.text.is_empty() {
        let _ = writeln!(
            md,
            "`make bench-scale` (scale-settings.txt, scale-limits.txt):\n\n```text\n{}{}```",
            inputs.scale_settings, inputs.limits.text
        );
    }
    if !inputs.serve_settings.is_empty() {
        if !md.ends_with("\n\n") {
            md.push('\n');
        }
        let _ = writeln!(
            md,
            "`make bench-serve` (serve-settings.txt):\n\n```text\n{}```",
            inputs.serve_settings
        );
    }
    if !inputs.syscalls_settings.is_empty() {
        if !md.ends_with("\n\n") {
            md.push('\n');
        }
        let _ = writeln!(
            md,
            "`make bench-syscalls` (syscalls-settings.txt):\n\n```text\n{}```",
            inputs.syscalls_settings
        );
    }
    md
}
