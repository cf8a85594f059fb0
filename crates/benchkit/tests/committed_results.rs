//! The committed README findings block and results/REPORT.md are what `benchkit report`
//! makes of the committed CSVs: the report is regenerated into a temporary folder from a
//! copy of results/ (with the kept runs' summary.csv, which the run-to-run table reads)
//! and compared. When this fails, run `make report` and commit what it wrote.

use std::path::{Path, PathBuf};
use std::process::Command;

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
}

/// results/'s files (not its charts), and every kept run's summary.csv.
fn copy_results(results: &Path, to: &Path) {
    for entry in std::fs::read_dir(results).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            copy(&path, &to.join(path.file_name().unwrap()));
        }
    }
    for run in std::fs::read_dir(results.join("runs")).unwrap() {
        let run = run.unwrap().path();
        let summary = run.join("summary.csv");
        if summary.exists() {
            copy(
                &summary,
                &to.join("runs")
                    .join(run.file_name().unwrap())
                    .join("summary.csv"),
            );
        }
    }
}

#[test]
fn committed_report_and_readme_match_the_committed_csvs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tmp: PathBuf =
        std::env::temp_dir().join(format!("benchkit-committed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_results(&root.join("results"), &tmp.join("results"));
    copy(&root.join("README.md"), &tmp.join("README.md"));
    let out = Command::new(env!("CARGO_BIN_EXE_benchkit"))
        .arg("report")
        .arg(tmp.join("results"))
        .arg("--readme")
        .arg(tmp.join("README.md"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "benchkit report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (committed, regenerated) in [
        (
            root.join("results/REPORT.md"),
            tmp.join("results/REPORT.md"),
        ),
        (root.join("README.md"), tmp.join("README.md")),
    ] {
        let committed_text = std::fs::read_to_string(&committed).unwrap();
        let regenerated_text = std::fs::read_to_string(&regenerated).unwrap();
        let first_difference = committed_text
            .lines()
            .zip(regenerated_text.lines())
            .position(|(a, b)| a != b);
        assert!(
            committed_text == regenerated_text,
            "{} is not what `make report` makes of the committed CSVs (first difference at line {}); run `make report` and commit it",
            committed.display(),
            first_difference.map_or("end".to_string(), |i| (i + 1).to_string())
        );
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}
