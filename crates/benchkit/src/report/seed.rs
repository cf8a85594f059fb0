//! Beside the seed article: our speedups next to the Python article's, each as a ratio
//! to its own sync baseline.

use super::format::{ratio, unique};
use super::inputs::Cell;
use super::runs::speedup;
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
        m if m.ends_with("-async") => "asyncio",
        _ => return None,
    })
}

pub fn seed_comparison(cells: &[Cell]) -> String {
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
            ratio(speedup(cells, model, "cpu")),
            ratio(seed.map(|s| SEED[0].2 / s.2)),
            ratio(speedup(cells, model, "io")),
        );
    }
    md.push('\n');
    md
}
