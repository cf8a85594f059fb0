//! Running a model once, with a deadline, and reading what it printed: the one way every
//! sweep (scale, costs, mixed) starts a model.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;
use workload::Summary;

/// One finished run: its wall time as seen from here, and the model's summary line.
pub struct Run {
    pub seconds: f64,
    pub summary: Summary,
}

/// Why a run gave no summary line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The model exited 2: it refused the arguments or cannot run the workload; its line.
    Refused(String),
    /// Anything else: a failed run, a crash, a deadline, no summary line.
    Failed(String),
}

impl Failure {
    /// The failure as one line for a CSV's `reason`: the exit status and the model's line.
    pub fn reason(&self) -> String {
        match self {
            Failure::Refused(line) => format!("exit status: 2: {line}"),
            Failure::Failed(reason) => reason.clone(),
        }
    }
}

/// Start `program args`, wait at most `kill_after` (killing it then), and read its summary
/// line; on failure, the exit status and the model's last line on stderr.
pub fn run_once(program: &Path, args: &[String], kill_after: Duration) -> Result<Run, Failure> {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::Failed(format!("cannot start {}: {e}", program.display())))?;
    // Read the pipes on their own threads so a chatty child never blocks on a full pipe.
    let stdout = child.stdout.take().map(read_all);
    let stderr = child.stderr.take().map(read_all);
    // wait-timeout sleeps until SIGCHLD or the deadline, so the end of a run is seen at
    // once instead of at the next tick of a polling loop.
    let status = match child.wait_timeout(kill_after) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Failure::Failed(format!(
                "killed after {kill_after:.0?} without finishing"
            )));
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Failure::Failed(format!("cannot wait: {e}")));
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let join = |h: Option<std::thread::JoinHandle<String>>| {
        h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
    };
    let (stdout, stderr) = (join(stdout), join(stderr));
    if !status.success() {
        let line = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message")
            .to_string();
        return Err(match status.code() {
            Some(2) => Failure::Refused(line),
            _ => Failure::Failed(format!("{status}: {line}")),
        });
    }
    let summary = Summary::from_line(stdout.lines().last().unwrap_or(""))
        .map_err(|e| Failure::Failed(format!("no summary line: {e}")))?;
    Ok(Run { seconds, summary })
}

fn read_all(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run that overruns its deadline is killed, and says so; a failure keeps the
    /// model's last line; exit 2 is told apart; one that finishes in time is measured.
    /// `sh` stands in for a model.
    #[test]
    fn runs_are_killed_at_their_deadline_and_failures_keep_the_models_line() {
        let sh = Path::new("/bin/sh");
        let script = |s: &str| vec!["-c".to_string(), s.to_string()];
        let started = Instant::now();
        let Err(Failure::Failed(err)) =
            run_once(sh, &script("sleep 30"), Duration::from_millis(200))
        else {
            panic!("not killed")
        };
        assert!(err.starts_with("killed after 200ms"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not waited out"
        );
        let ten = Duration::from_secs(10);
        let Err(Failure::Failed(err)) = run_once(sh, &script("echo bad >&2; exit 3"), ten) else {
            panic!("exit 3 is a failure")
        };
        assert!(err.ends_with(": bad") && err.contains('3'), "{err}");
        let refused = run_once(sh, &script("echo cannot >&2; exit 2"), ten).err();
        assert_eq!(refused, Some(Failure::Refused("cannot".into())));
        assert_eq!(refused.unwrap().reason(), "exit status: 2: cannot");
        let line = r#"{"model":"m","workload":"sleep","n":1,"wall_ms":1.0,"checksum":"0x0","bytes":0,"tasks":1,"processes":1,"peak_rss_bytes":9}"#;
        let run = run_once(sh, &script(&format!("echo '{line}'")), ten)
            .ok()
            .unwrap();
        assert_eq!(run.summary.peak_rss_bytes, 9);
    }
}
