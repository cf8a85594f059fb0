//! What a run produced: the [`Tally`] models add up, and the one [`Summary`] line printed.

use serde::{Deserialize, Serialize};

/// What finished tasks produced, added up. Order-independent, so models that finish tasks
/// in any order report the same checksum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Finished, verified units of work (one power, one download, one sleep).
    pub tasks: u64,
    /// Bytes produced: big-integer results for cpu, body bytes for io.
    pub bytes: u64,
    /// Wrapping sum of every unit's checksum.
    pub checksum: u64,
    /// Of `tasks`, the downloads whose server announced no Content-Length or no
    /// `x-checksum` (a server other than the fixture server: see [`crate::io`]), so that
    /// their body was checked only as far as the headers allowed.
    pub unverified: u64,
    /// Other processes this model ran (procs' workers): how many, and their peak RSS summed.
    pub child_processes: u64,
    pub child_peak_rss_bytes: u64,
}

impl Tally {
    /// One verified unit of work.
    pub fn task(bytes: u64, checksum: u64) -> Tally {
        Tally {
            tasks: 1,
            bytes,
            checksum,
            ..Tally::default()
        }
    }

    /// One download finished but not fully verified: no Content-Length or no checksum
    /// was announced (see [`Tally::unverified`]).
    pub fn unverified_task(bytes: u64, checksum: u64) -> Tally {
        Tally {
            unverified: 1,
            ..Tally::task(bytes, checksum)
        }
    }
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.tasks += other.tasks;
        self.bytes += other.bytes;
        self.checksum = self.checksum.wrapping_add(other.checksum);
        self.unverified += other.unverified;
        self.child_processes += other.child_processes;
        self.child_peak_rss_bytes += other.child_peak_rss_bytes;
    }
}

impl std::ops::Add for Tally {
    type Output = Tally;
    fn add(mut self, other: Tally) -> Tally {
        self += other;
        self
    }
}

impl std::iter::Sum for Tally {
    fn sum<I: Iterator<Item = Tally>>(iter: I) -> Tally {
        iter.fold(Tally::default(), |a, b| a + b)
    }
}

/// The one JSON line every binary prints on stdout at the end of a successful run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub model: String,
    pub workload: String,
    pub n: u64,
    /// Wall time measured inside the process, from before the first task to after the last.
    pub wall_ms: f64,
    /// The tally's checksum, as hex.
    pub checksum: String,
    pub bytes: u64,
    /// Verified units of work (n for cpu and sleep, n x URLs for io).
    pub tasks: u64,
    /// Of `tasks`, the downloads that could not be fully verified, because a server other
    /// than the fixture server announced no Content-Length or no `x-checksum` (the
    /// fixture server announces both, and a body of its without them fails the run).
    /// 0 for cpu and sleep, and in lines written before the field existed.
    #[serde(default)]
    pub unverified: u64,
    /// Processes that did the work: 1, or 1 + workers for a multi-process model.
    pub processes: u64,
    /// Peak resident memory (`VmHWM`) of this process plus that of every worker process:
    /// pages shared between processes (code, libc) count once per process.
    pub peak_rss_bytes: u64,
    /// Largest proportional memory (PSS) of the whole model, sampled while it ran: every
    /// page divided among the processes that share it, so shared code counts once.
    #[serde(default)]
    pub peak_pss_bytes: u64,
    /// Threads (or processes) the model's scheduler runs tasks on, as the model set it up:
    /// a runtime's or pool's worker threads, or one per task. See [`crate::record_workers`].
    #[serde(default)]
    pub workers: u64,
    /// Largest number of OS threads over the model's processes, sampled while it ran
    /// (blocking pools and helper threads included, the sampler excluded).
    #[serde(default)]
    pub peak_threads: u64,
    /// CPU time in user mode of the whole run: this process plus every worker process it
    /// reaped (procs), as the kernel counts it (`getrusage`). See [`crate::rusage`].
    #[serde(default)]
    pub user_ms: f64,
    /// CPU time in the kernel on the run's behalf, counted the same way.
    #[serde(default)]
    pub system_ms: f64,
    /// The `mixed` workload's latency percentiles and job times; absent for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixed: Option<crate::mixed::MixedStats>,
    /// The `serve` workload's counts: answers by status, errors by kind, connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve: Option<crate::serve::stats::ServeStats>,
    /// The I/O driver the run's runtime used, for a model that has a choice (monoio:
    /// `io_uring`, or `epoll` where io_uring is missing or forced off); absent for the
    /// models with one way only, so their lines are unchanged. See [`crate::record_driver`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
}

impl Summary {
    pub fn to_line(&self) -> String {
        // Serialising plain numbers and strings cannot fail.
        serde_json::to_string(self).expect("summary serialises")
    }

    pub fn from_line(line: &str) -> Result<Summary, serde_json::Error> {
        serde_json::from_str(line.trim())
    }

    /// A worker process's summary, as a tally its parent adds to its own: the worker's
    /// tasks, and its processes and peak memory as children.
    pub fn as_child_tally(&self) -> Option<Tally> {
        let checksum = u64::from_str_radix(self.checksum.trim_start_matches("0x"), 16).ok()?;
        Some(Tally {
            tasks: self.tasks,
            bytes: self.bytes,
            checksum,
            unverified: self.unverified,
            child_processes: self.processes,
            child_peak_rss_bytes: self.peak_rss_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_add_in_any_order() {
        let a = Tally::task(3, u64::MAX);
        let b = Tally::unverified_task(4, 2);
        assert_eq!(a + b, b + a);
        let s: Tally = [a, b].into_iter().sum();
        assert_eq!((s.tasks, s.bytes, s.checksum, s.unverified), (2, 7, 1, 1));
    }

    #[test]
    fn summary_line_round_trips() {
        let s = Summary {
            model: "sync".into(),
            workload: "cpu".into(),
            n: 10,
            wall_ms: 512.5,
            checksum: "0x3dd5b76340df2bf".into(),
            bytes: 3,
            tasks: 10,
            unverified: 4,
            processes: 1,
            peak_rss_bytes: 4096,
            peak_pss_bytes: 2048,
            workers: 2,
            peak_threads: 3,
            user_ms: 12.5,
            system_ms: 3.25,
            mixed: None,
            serve: None,
            driver: Some("io_uring".into()),
        };
        let line = s.to_line();
        assert!(!line.contains('\n'));
        assert_eq!(Summary::from_line(&line).unwrap(), s);
        let child = s.as_child_tally().unwrap();
        assert_eq!(
            (
                child.tasks,
                child.unverified,
                child.checksum,
                child.child_processes,
                child.child_peak_rss_bytes
            ),
            (10, 4, 0x3dd5b76340df2bf, 1, 4096)
        );
    }

    /// Lines written before a field existed still parse, with the field at zero.
    #[test]
    fn older_lines_parse() {
        let line = r#"{"model":"sync","workload":"cpu","n":1,"wall_ms":1.0,"checksum":"0x1","bytes":0,"tasks":1,"processes":1,"peak_rss_bytes":1}"#;
        let s = Summary::from_line(line).unwrap();
        assert_eq!(
            (s.user_ms, s.system_ms, s.peak_threads, s.unverified),
            (0.0, 0.0, 0, 0)
        );
        assert_eq!(s.driver, None);
        // A model with one driver writes no `driver` field at all.
        assert!(!s.to_line().contains("driver"));
    }
}
