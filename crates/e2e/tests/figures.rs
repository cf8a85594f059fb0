//! Every measured figure a reader meets is generated: the README, results/README.md and
//! the model headers hold none typed by hand.
//!
//! A measured figure is a number a run produced: a time with a decimal (`0.79 s`,
//! `17.7 ms`), any time in µs or ns, a ratio (`29x`, `1.15x`), a memory size with a
//! decimal (`9.6 KiB`), a percentage with a decimal, or a round number said to be measured
//! (`took 3 s`, `measured 1 ms`, `about 65 s`). Settings and limits (`N up to 1,000`,
//! `each task waits 3 s`, `a 16 MiB cap`) are not figures and pass.
//!
//! Where such a figure may stand:
//! - between the markers of a generated block, `<!-- NAME:start -->` ... `<!-- NAME:end -->`,
//!   which `make report` rewrites from results/;
//! - on a line that ends with `<!-- outside: SOURCE -->`: a figure quoted from outside (the
//!   seed article, jimblandy/context-switch, a crate's own documentation), invisible once
//!   rendered, in Markdown and in rustdoc alike.

use regex::Regex;
use std::path::{Path, PathBuf};

/// What a measured figure looks like; see the module's doc.
fn figure() -> Regex {
    let time = r"(?:s|ms|µs|us|ns|min|minutes?|seconds?)";
    let size = r"(?:B|KiB|MiB|GiB|kB|MB|GB)";
    Regex::new(&format!(
        r"(?x)
        \b\d[\d,]*\.\d+\s?(?:{time}|{size}|%)(?:\W|$)    # 0.79 s, 9.6 KiB, 5.5%
        | \b\d[\d,]*(?:\.\d+)?\s?(?:µs|us|ns)\b           # 17 µs
        | \b\d[\d,]*(?:\.\d+)?x\b                         # 29x, 1.15x
        | \b(?:took|takes|taking|measured|about|around|roughly|in)\s+\d[\d,]*(?:\.\d+)?\s?{time}\b
        "
    ))
    .unwrap()
}

/// The places in `text` (a Markdown file, or the `//!` lines of a Rust file) where a
/// measured figure stands outside a generated block and without the outside marker:
/// `(line number, line)`.
fn hand_typed_figures(text: &str) -> Vec<(usize, String)> {
    let figure = figure();
    let start = Regex::new(r"<!-- ([a-z-]+):start -->").unwrap();
    let mut inside: Option<String> = None;
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(name) = &inside {
            if line.contains(&format!("<!-- {name}:end -->")) {
                inside = None;
            }
            continue;
        }
        if let Some(c) = start.captures(line) {
            inside = Some(c[1].to_string());
            continue;
        }
        if line.contains("<!-- outside: ") {
            continue;
        }
        if figure.is_match(line) {
            found.push((i + 1, line.to_string()));
        }
    }
    assert!(inside.is_none(), "a generated block is never closed");
    found
}

/// The `//!` lines of a Rust file, each kept on its own line number.
fn header_lines(text: &str) -> String {
    text.lines()
        .map(|l| l.trim_start().strip_prefix("//!").unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The files a reader meets: the two READMEs and every source file of every model crate,
/// its second binaries' in `src/bin/` too (only their `//!` headers are read).
fn files_read() -> Vec<(PathBuf, String)> {
    let root = root();
    let mut files = Vec::new();
    for md in ["README.md", "results/README.md"] {
        let path = root.join(md);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{md}: {e}"));
        files.push((PathBuf::from(md), text));
    }
    let models = root.join("crates/models");
    for model in std::fs::read_dir(&models).unwrap() {
        let src = model.unwrap().path().join("src");
        let bins = std::fs::read_dir(src.join("bin")).into_iter().flatten();
        for file in std::fs::read_dir(&src).unwrap().chain(bins) {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let shown = path.strip_prefix(&root).unwrap_or(&path).to_path_buf();
                files.push((shown, header_lines(&text)));
            }
        }
    }
    assert!(files.len() > 10, "the model crates were not found");
    files
}

/// The README, results/README.md and the model headers carry no measured figure that no
/// generator wrote: a figure typed by hand goes stale at the next run.
#[test]
fn no_measured_figure_is_typed_by_hand() {
    let mut all = Vec::new();
    for (path, text) in files_read() {
        for (line, text) in hand_typed_figures(&text) {
            all.push(format!("{}:{line}: {}", path.display(), text.trim()));
        }
    }
    assert!(
        all.is_empty(),
        "measured figures typed by hand (generate them with `make report`, or mark an outside \
         reference with `<!-- outside: SOURCE -->`):\n{}",
        all.join("\n")
    );
}

/// The detector itself: a planted figure is found in prose and in a header; the same
/// figure inside a generated block or marked as outside passes; settings and limits pass.
#[test]
fn a_planted_figure_is_found() {
    for planted in [
        "tokio-async took 0.79 s at N=10,000.",
        "A thread switch costs 17 µs here.",
        "uvloop is 1.15x asyncio.",
        "the inline trap is 29x worse",
        "green holds 9.6 KiB per task",
        "process start (measured 1 ms)",
        "the mixed step takes about 65 s",
    ] {
        assert_eq!(
            hand_typed_figures(&format!("# T\n\n{planted}\n")).len(),
            1,
            "not found: {planted}"
        );
        let header = header_lines(&format!("//! Header.\n//! {planted}\nfn main() {{}}\n"));
        assert_eq!(hand_typed_figures(&header).len(), 1, "header: {planted}");
        let block = format!("<!-- report:start -->\n{planted}\n<!-- report:end -->\n");
        assert!(hand_typed_figures(&block).is_empty());
        let outside = format!("{planted} <!-- outside: the seed article -->\n");
        assert!(hand_typed_figures(&outside).is_empty());
    }
    for setting in [
        "cpu N up to 1,000 and exp up to 2,000,000",
        "each task waits 3 s; bodies of 50 KiB after a 100 ms delay",
        "every body at most 16 MiB; a request for 100 GB gets 413",
        "io N=10, 4 URLs, 2 cores, version 1.20",
    ] {
        assert!(
            hand_typed_figures(setting).is_empty(),
            "a setting taken for a figure: {setting}"
        );
    }
    let unclosed = std::panic::catch_unwind(|| hand_typed_figures("<!-- a:start -->\n1.5 s\n"));
    assert!(
        unclosed.is_err(),
        "an unclosed block must not hide the rest"
    );
}
