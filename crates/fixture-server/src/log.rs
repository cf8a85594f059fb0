//! The server's log on stderr, with repeated lines folded.
//!
//! Some lines can repeat as fast as the accept loop turns: out of file descriptors, the
//! old server printed "Too many open files" a hundred times a second. Here a line is
//! printed the first time; while it keeps coming, [`Log::fold_repeats`] (called every
//! [`WINDOW`]) prints how many more times it came since, so the log stays readable and
//! still says how often. A line that stops repeating is forgotten after one quiet window,
//! and printed again in full if it comes back.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the count of a repeating line is printed.
pub const WINDOW: Duration = Duration::from_secs(5);

pub struct Log<W: Write + Send = std::io::Stderr> {
    out: Mutex<(W, HashMap<String, Seen>)>,
}

/// A line printed recently: when, and how many times it came since.
struct Seen {
    printed_at: Instant,
    repeats: u64,
}

impl Log {
    pub fn stderr() -> Log {
        Log::new(std::io::stderr())
    }
}

impl<W: Write + Send> Log<W> {
    pub fn new(out: W) -> Log<W> {
        Log {
            out: Mutex::new((out, HashMap::new())),
        }
    }

    /// Print `text`, unless it was printed within the last window: then only count it.
    pub fn line(&self, text: &str) {
        self.line_at(text, Instant::now());
    }

    fn line_at(&self, text: &str, now: Instant) {
        let mut guard = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let (out, seen) = &mut *guard;
        match seen.get_mut(text) {
            Some(s) if now.duration_since(s.printed_at) < WINDOW => s.repeats += 1,
            Some(s) if s.repeats > 0 => {
                s.repeats += 1;
                print_count(out, text, s, now);
            }
            _ => {
                let _ = writeln!(out, "fixture-server: {text}");
                let entry = Seen {
                    printed_at: now,
                    repeats: 0,
                };
                seen.insert(text.to_string(), entry);
            }
        }
    }

    /// Print the count of every line that repeated since it was last printed, and forget
    /// the lines that did not.
    pub fn fold_repeats(&self) {
        self.fold_repeats_at(Instant::now());
    }

    fn fold_repeats_at(&self, now: Instant) {
        let mut guard = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let (out, seen) = &mut *guard;
        seen.retain(|text, s| {
            if s.repeats > 0 {
                print_count(out, text, s, now);
                true
            } else {
                now.duration_since(s.printed_at) < WINDOW
            }
        });
    }
}

/// Print how many more times `text` came since it was last printed, and start counting anew.
fn print_count(out: &mut impl Write, text: &str, seen: &mut Seen, now: Instant) {
    let secs = now.duration_since(seen.printed_at).as_secs_f64();
    let _ = writeln!(
        out,
        "fixture-server: {text} ({} more in the last {secs:.0} s)",
        seen.repeats
    );
    seen.printed_at = now;
    seen.repeats = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(log: Log<Vec<u8>>) -> Vec<String> {
        let (out, _) = log.out.into_inner().unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_line_repeated_a_hundred_times_a_second_prints_once_then_a_count() {
        let log = Log::new(Vec::new());
        let start = Instant::now();
        let emfile = "accept failed: Too many open files (os error 24)";
        // 10 s at 100 lines a second, with the fold every WINDOW as the server runs it.
        for i in 0..1000u64 {
            let now = start + Duration::from_millis(10 * i);
            log.line_at(emfile, now);
            if i > 0 && (10 * i) % WINDOW.as_millis() as u64 == 0 {
                log.fold_repeats_at(now);
            }
        }
        log.fold_repeats_at(start + 2 * WINDOW);
        let lines = printed(log);
        assert_eq!(
            lines,
            [
                format!("fixture-server: {emfile}"),
                format!("fixture-server: {emfile} (500 more in the last 5 s)"),
                format!("fixture-server: {emfile} (499 more in the last 5 s)"),
            ]
        );
    }

    #[test]
    fn different_lines_are_each_printed_and_a_quiet_line_is_forgotten() {
        let log = Log::new(Vec::new());
        let start = Instant::now();
        log.line_at("a", start);
        log.line_at("b", start);
        log.line_at("a", start + Duration::from_secs(1));
        log.fold_repeats_at(start + WINDOW); // a: 1 repeat; b: quiet, forgotten
        log.fold_repeats_at(start + 2 * WINDOW); // a: quiet now, forgotten
        log.line_at("a", start + 2 * WINDOW + Duration::from_secs(1));
        log.line_at("b", start + 2 * WINDOW + Duration::from_secs(1));
        assert_eq!(
            printed(log),
            [
                "fixture-server: a",
                "fixture-server: b",
                "fixture-server: a (1 more in the last 5 s)",
                "fixture-server: a",
                "fixture-server: b",
            ]
        );
    }
}
