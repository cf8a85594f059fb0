//! results/README.md is the data dictionary: every CSV in results/ has a section there
//! (a `##` heading naming the file) whose tables describe each of its columns.

use std::path::Path;

/// The `##` section of `doc` whose heading names `file`, up to the next `##` heading.
fn section<'a>(doc: &'a str, file: &str) -> Option<&'a str> {
    doc.split("\n## ").skip(1).find(|section| {
        let heading = section.lines().next().unwrap_or("");
        heading.split([' ', ',', '(', ')']).any(|w| w == file)
    })
}

/// The columns of `csv_header` that `doc` does not describe: each must stand as
/// `` `column` `` in the first cell of a table row of the file's section.
fn undocumented(doc: &str, file: &str, csv_header: &str) -> Vec<String> {
    let Some(section) = section(doc, file) else {
        return vec![format!("no section for {file}")];
    };
    let described: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('|').nth(1))
        .collect();
    csv_header
        .trim()
        .split(',')
        // A writer may quote every field (scripts/by-hand.sh does); names hold no comma.
        .map(|c| c.trim_matches('"'))
        .filter(|c| !described.iter().any(|d| d.contains(&format!("`{c}`"))))
        .map(|c| format!("{file}: column {c}"))
        .collect()
}

/// Every column of every CSV committed in results/ is described in results/README.md.
#[test]
fn every_results_column_is_described() {
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results");
    let doc = std::fs::read_to_string(results.join("README.md")).unwrap();
    let mut missing = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&results).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            missing.extend(undocumented(&doc, &name, text.lines().next().unwrap_or("")));
            files += 1;
        }
    }
    assert!(files >= 5, "results/ has too few CSVs: {files}");
    assert!(
        missing.is_empty(),
        "not described in results/README.md:\n{}",
        missing.join("\n")
    );
}

/// The serve sweep's and the syscall step's files are not committed yet: the golden
/// copies stand for them (tests/golden/serve/, the contract's columns and the optional
/// `status` and `reason`; tests/golden/syscalls/, a tiny run's, whose header
/// `syscalls.rs` checks against every run it makes), so each of their columns is
/// described before the first run.
#[test]
fn the_uncommitted_files_columns_are_described() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../../results/README.md")).unwrap();
    let mut missing = Vec::new();
    for file in [
        "serve/serve.csv",
        "serve/serve-knees.csv",
        "syscalls/syscalls.csv",
    ] {
        let text = std::fs::read_to_string(root.join("tests/golden").join(file)).unwrap();
        let file = file.split('/').next_back().unwrap();
        missing.extend(undocumented(&doc, file, text.lines().next().unwrap_or("")));
    }
    assert!(
        missing.is_empty(),
        "not described in results/README.md:\n{}",
        missing.join("\n")
    );
}

/// The check itself: a column planted in a CSV header, or a file with no section, is
/// reported; a described one is not.
#[test]
fn a_planted_column_is_reported() {
    let doc = "# r\n\n## a.csv, b.csv\n\n| column | meaning |\n| --- | --- |\n| `x`, `y` | two |\n\n## c.csv\n\n| `z` | |\n";
    assert!(undocumented(doc, "a.csv", "x,y\n").is_empty());
    assert!(undocumented(doc, "b.csv", "y").is_empty());
    assert!(
        undocumented(doc, "b.csv", "\"x\",\"y\"").is_empty(),
        "quoted names"
    );
    assert_eq!(
        undocumented(doc, "a.csv", "x,y,planted"),
        ["a.csv: column planted"]
    );
    assert_eq!(undocumented(doc, "a.csv", "z"), ["a.csv: column z"]);
    assert_eq!(undocumented(doc, "d.csv", "x"), ["no section for d.csv"]);
}
