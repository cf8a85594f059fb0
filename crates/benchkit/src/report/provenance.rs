//! Where each section's figures come from: the command, the date, the commit and the
//! machine that the run's settings file recorded (scripts/lib.sh's `describe_env`),
//! printed under each section's heading; and, at the top of the report and the README's
//! block, a warning when the sections were measured on different machines, or from a
//! tree with uncommitted changes. Figures from two machines are never compared: a ratio
//! is taken only inside one section.

use super::inputs::Settings;

/// One family of results files and the settings file that says where it comes from.
pub struct Source {
    /// The command that writes the family: "make bench", "make bench-scale", ...
    pub command: &'static str,
    /// The settings file it was read from, as named in results/.
    pub file: &'static str,
    pub date: Option<String>,
    pub commit: Option<String>,
    /// Uncommitted changes in the tree measured: `git_dirty=yes`, or a commit that ends
    /// in `-dirty` (settings written before `git_dirty` existed).
    pub dirty: bool,
    /// "Intel(R) Xeon(R) Processor, 2 cores, Linux 6.18.44"; None when not recorded.
    pub machine: Option<String>,
}

impl Source {
    /// The source of a family, from its settings file; None when the file is missing or
    /// empty (the family was not measured).
    pub fn read(command: &'static str, file: &'static str, settings: &Settings) -> Option<Source> {
        if settings.text.trim().is_empty() {
            return None;
        }
        // Settings written by describe_env are `key=value` tokens whose blanks became `_`.
        let value = |key: &str| settings.get(key).map(|v| v.replace('_', " "));
        let commit = value("git_commit");
        let dirty = settings.get("git_dirty") == Some("yes")
            || commit.as_deref().is_some_and(|c| c.ends_with("-dirty"));
        let machine = value("cpu").map(|cpu| {
            let mut parts = vec![cpu];
            parts.extend(value("cores").map(|c| format!("{c} cores")));
            parts.extend(value("kernel"));
            parts.join(", ")
        });
        Some(Source {
            command,
            file,
            date: value("date_utc"),
            commit: commit.map(|c| c.trim_end_matches("-dirty").to_string()),
            dirty,
            machine,
        })
    }

    /// "_Measured by `make bench` on 2026-11-28T07:00:00Z, commit abc1234, on Intel(R)
    /// Xeon(R) Processor, 2 cores, Linux 6.18 (bench-settings.txt)._"
    pub fn line(&self) -> String {
        let unknown = || "unknown".to_string();
        format!(
            "_Measured by `{}` on {}, commit {}{}, on {} ({})._",
            self.command,
            self.date.clone().unwrap_or_else(unknown),
            self.commit.clone().unwrap_or_else(unknown),
            if self.dirty {
                " with uncommitted changes"
            } else {
                ""
            },
            self.machine
                .clone()
                .unwrap_or_else(|| "an unrecorded machine".into()),
            self.file
        )
    }
}

/// The warnings the sources call for, as Markdown paragraphs (empty when none): the
/// sections come from more than one machine, or a run measured uncommitted code.
pub fn warnings(sources: &[&Source]) -> String {
    let mut out = String::new();
    let mut machines: Vec<&str> = sources
        .iter()
        .filter_map(|s| s.machine.as_deref())
        .collect();
    machines.sort_unstable();
    machines.dedup();
    if machines.len() > 1 {
        let each: Vec<String> = sources
            .iter()
            .map(|s| {
                let machine = s.machine.as_deref().unwrap_or("an unrecorded machine");
                format!("`{}` on {machine}", s.command)
            })
            .collect();
        out += &format!(
            "**Warning: these results come from {} machines** ({}). Compare figures only within one section; no ratio here crosses sections.\n\n",
            machines.len(),
            each.join("; ")
        );
    }
    let dirty: Vec<String> = sources
        .iter()
        .filter(|s| s.dirty)
        .map(|s| format!("`{}`", s.command))
        .collect();
    if !dirty.is_empty() {
        out += &format!(
            "**Warning: measured from a tree with uncommitted changes**: {}. The figures may describe code no commit holds.\n\n",
            dirty.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        Settings { text: text.into() }
    }

    const BENCH: &str = "mode=full n=10\ndate_utc=2026-11-28T07:00:00Z\ngit_commit=abc1234 git_dirty=no\ncpu=Intel(R)_Xeon(R)_Processor cores=2\nkernel=6.18.44\n";

    #[test]
    fn a_section_names_its_command_date_commit_and_machine() {
        let s = Source::read("make bench", "bench-settings.txt", &settings(BENCH)).unwrap();
        assert_eq!(
            s.line(),
            "_Measured by `make bench` on 2026-11-28T07:00:00Z, commit abc1234, on Intel(R) Xeon(R) Processor, 2 cores, 6.18.44 (bench-settings.txt)._"
        );
        assert!(!s.dirty);
        assert!(Source::read("make bench", "x", &settings(" \n")).is_none());
    }

    /// Two machines, or a dirty tree, are said at the top; one clean machine says nothing.
    #[test]
    fn different_machines_and_dirty_trees_are_warned_of() {
        let bench = Source::read("make bench", "b", &settings(BENCH)).unwrap();
        let same = Source::read("make bench-scale", "s", &settings(BENCH)).unwrap();
        assert_eq!(warnings(&[&bench, &same]), "");
        let amd = BENCH.replace("Intel(R)_Xeon(R)_Processor", "AMD_EPYC_7B13");
        let other = Source::read("make bench-scale", "s", &settings(&amd)).unwrap();
        let w = warnings(&[&bench, &other]);
        assert!(w.contains("from 2 machines"), "{w}");
        assert!(
            w.contains("`make bench-scale` on AMD EPYC 7B13, 2 cores"),
            "{w}"
        );
        let old = settings("git_commit=4d2baef-dirty\ncpu=X cores=2\n");
        let dirty = Source::read("make bench-python", "p", &old).unwrap();
        assert!(dirty.dirty && dirty.commit.as_deref() == Some("4d2baef"));
        assert!(dirty.line().contains("with uncommitted changes"));
        let w = warnings(&[&dirty]);
        assert!(
            w.contains("uncommitted changes**: `make bench-python`"),
            "{w}"
        );
    }
}
