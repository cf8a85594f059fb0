//! Beside the seed article: our speedups next to the Python article's, each as a ratio
//! to its own sync baseline; and, once `make bench-python` has measured the article's
//! programs here, three columns per model: the article's figure, Python here, Rust here.

use super::format::{ratio, unique};
use super::inputs::Cell;
use super::runs::speedup_text;
use std::fmt::Write as _;

/// The seed article's Python timings, in seconds: (cpu, io).
const SEED: [(&str, f64, f64); 5] = [
    ("sync", 2.18, 31.4),
    ("threads", 2.47, 7.9),
    ("processes", 1.12, 7.22),
    ("gevent", 2.23, 6.85),
    ("asyncio", 2.23, 4.37),
];

/// Which Python variant of the article each of our models stands beside.
fn seed_counterpart(model: &str) -> Option<&'static str> {
    Some(match model {
        "sync" => "sync",
        "threads" => "threads",
        "procs" => "processes",
        "green" => "gevent",
        m if super::claims::is_async_runtime(m) => "asyncio",
        _ => return None,
    })
}

/// The article's program as written in scripts/python, measured by `make bench-python`.
fn python_counterpart(model: &str) -> Option<&'static str> {
    Some(match seed_counterpart(model)? {
        "sync" => "python-sync",
        "threads" => "python-threads",
        "processes" => "python-procs",
        "gevent" => "python-gevent",
        _ => "python-asyncio",
    })
}

/// The section; `python` is python-summary.csv's cells, when `make bench-python` ran.
pub fn seed_comparison(cells: &[Cell], python: Option<&[Cell]>) -> String {
    if let Some(python) = python {
        return three_columns(cells, python);
    }
    let mut md = String::from("## Beside the seed article\n\n");
    md += "Each figure is a speedup over that study's own sync run (Python: cpu 2.18 s, io 31.4 s; ours above). ";
    md += "Python's threads and asyncio ran CPU work on one core (the GIL); ours do not.\n\n";
    md += "| our model | Python counterpart | Python cpu | ours cpu | Python io | ours io |\n| --- | --- | --- | --- | --- | --- |\n";
    for model in unique(cells.iter().map(|c| c.model.as_str())) {
        let seed = seed_counterpart(model).and_then(|p| SEED.iter().find(|s| s.0 == p));
        let _ = writeln!(
            md,
            "| {model} | {} | {} | {} | {} | {} |",
            seed.map(|s| s.0).unwrap_or("(Pool.map, not measured)"),
            ratio(seed.map(|s| SEED[0].1 / s.1)),
            speedup_text(cells, model, "cpu"),
            ratio(seed.map(|s| SEED[0].2 / s.2)),
            speedup_text(cells, model, "io"),
        );
    }
    md.push('\n');
    md
}

/// Per model and workload: the article's time, the same program in Python here, and our
/// Rust model here, each with its speedup over its own sync.
fn three_columns(cells: &[Cell], python: &[Cell]) -> String {
    let mut md = String::from("## Beside the seed article\n\n");
    md += "Three columns per workload: the article's published figure (another machine, years ago, real websites), the article's program in Python measured here (scripts/python, `make bench-python`), and our Rust model measured here, both against the same fixture server in the same cells. ";
    md += "Each is the median time, then the speedup over that column's own sync (the article's sync: cpu 2.18 s, io 31.4 s; python-sync; Rust's sync). ";
    md += "The three async Rust models all stand beside python-asyncio; python-uvloop has its own row.\n\n";
    md += "| Rust model | article's program | Python here | cpu: article | cpu: Python here | cpu: Rust here | io: article | io: Python here | io: Rust here |\n";
    md += "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    let article = |program: Option<&str>, workload: &str| {
        let seed = program.and_then(|p| SEED.iter().find(|s| s.0 == p));
        let time = |s: &(&str, f64, f64)| if workload == "cpu" { s.1 } else { s.2 };
        match seed {
            Some(s) => format!("{:.2} s, {:.2}x", time(s), time(&SEED[0]) / time(s)),
            None => "–".into(),
        }
    };
    let mut row = |rust: Option<&str>, program: Option<&str>, label: &str, py: Option<&str>| {
        let _ = writeln!(
            md,
            "| {} | {label} | {} | {} | {} | {} | {} | {} | {} |",
            rust.unwrap_or("–"),
            py.unwrap_or("–"),
            article(program, "cpu"),
            measured(python, py, "cpu"),
            measured(cells, rust, "cpu"),
            article(program, "io"),
            measured(python, py, "io"),
            measured(cells, rust, "io"),
        );
    };
    for model in unique(cells.iter().map(|c| c.model.as_str())) {
        let program = seed_counterpart(model);
        let label = program.unwrap_or("(Pool.map, not measured)");
        row(Some(model), program, label, python_counterpart(model));
    }
    row(
        None,
        None,
        "asyncio on uvloop (recommended, not measured)",
        Some("python-uvloop"),
    );
    md.push('\n');
    md
}

/// "1.320 s, 1.00x": a measured cell's median and its speedup over its own sync;
/// "failed", or a dash where there is no such cell.
fn measured(cells: &[Cell], model: Option<&str>, workload: &str) -> String {
    let Some(model) = model else {
        return "–".into();
    };
    match cells
        .iter()
        .find(|c| c.model == model && c.workload == workload)
    {
        Some(c) if c.ok => format!(
            "{:.3} s, {}",
            c.median,
            speedup_text(cells, model, workload)
        ),
        Some(_) => "failed".into(),
        None => "–".into(),
    }
}
