//! The `mixed` workload's plumbing, written once: what blocks a scheduler, measured.
//!
//! Two things run at once in one process. A **probe stream**: one request to the fixture
//! server every 1/rate seconds, each on its own task, each verified like an io download.
//! And **CPU jobs**: J powers submitted together a quarter of the way into the stream, run
//! the way the [`Variant`] says. What is reported is the probes' latency: how long the
//! stream's requests waited while the jobs ran beside them.
//!
//! What a model writes itself lives in its `pitfalls.rs`: how a probe task is spawned and
//! how a job runs under each variant, which is the model. Everything else is here:
//!
//! - [`Offer`]: which variants a model runs (shown in its `--help`; any other is refused
//!   with exit code 2 before the run starts).
//! - [`Stream`]: the open-loop schedule. Every probe has a time it is *due*, fixed before
//!   the run, and its latency is measured from that time to its verified last byte, not
//!   from when the model got round to starting it. A stalled scheduler therefore shows up
//!   as latency, in every probe it held back, instead of hiding as a lower request rate
//!   (the "coordinated omission" of load generators that wait for a reply before sending
//!   the next request). The latencies go into an HDR histogram ([`hdrhistogram`]).
//! - [`Job`]: one CPU job, `base ** exp` computed in steps of one multiplication each, so
//!   that the `yield` variant can hand the thread back between steps. Every variant runs
//!   the same steps (offload and inline run them all in one go), so their times compare.
//!   A step multiplies by `base ** k` with `k` as large as fits in [`STEP_BITS`] bits
//!   (7777: k = 39); such a step costs about one pass over the result's limbs, so it
//!   grows with the result: 7777 ** 100,000 (the bench's job) is 2,565 steps, each a
//!   small fraction of the job; 7777 ** 200,000 (the one-second claim) is 5,129. The
//!   jobs' measured times are in mixed.csv (`job_ms`, `jobs_ms`) and the report's "What
//!   blocks a scheduler". num-bigint's `pow` (which squares: few, huge multiplications
//!   that cannot be split) is much faster for the same powers: steps are more work, the
//!   same in every variant. Each result is verified by [`crate::cpu::verify`].
//!
//! The percentiles and job times go into the summary line (`"mixed": {...}`).

use crate::cli::MixedArgs;
use crate::cpu;
use crate::io::Target;
use crate::summary::Tally;
use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use num_bigint::BigUint;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How the CPU jobs run beside the probe stream. A model offers those that make sense for
/// it (see its `pitfalls.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Variant {
    /// Jobs on the runtime's blocking pool (or a plain OS thread): the right way.
    Offload,
    /// Jobs computed inside ordinary tasks: the trap.
    Inline,
    /// Inline, with a yield to the scheduler between steps: the seeds' `sleep(0)`.
    Yield,
    /// Each job is a task that waits with `std::thread::sleep`, not the runtime's timer.
    Block,
    /// Inline on a runtime of one thread: nothing else runs while a job computes.
    CurrentThread,
}

impl Variant {
    /// The name on the command line and in the summary line.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Offload => "offload",
            Variant::Inline => "inline",
            Variant::Yield => "yield",
            Variant::Block => "block",
            Variant::CurrentThread => "current-thread",
        }
    }
}

/// What a model offers for `mixed`, declared in its `pitfalls.rs` and handed to
/// [`offer`] before `workload::main`.
pub enum Offer {
    /// The model runs `mixed` with these variants, each with one line on how it does it;
    /// the first is the default. None: the model takes no `--variant` (threads: the
    /// kernel preempts, the baseline). `why` explains what is not offered.
    Runs {
        variants: &'static [(Variant, &'static str)],
        why: &'static str,
    },
    /// `mixed` makes no sense for this model, for the reason given.
    NotOffered(&'static str),
}

static OFFER: OnceLock<&'static Offer> = OnceLock::new();

/// Say what this model offers for `mixed`. Called first thing in `main`, so that
/// `--help` shows it and an unoffered variant is refused before the run.
pub fn offer(offer: &'static Offer) {
    let _ = OFFER.set(offer);
}

fn offered() -> &'static Offer {
    OFFER.get().copied().unwrap_or(&Offer::NotOffered(
        "this binary does not say what it offers (workload::mixed::offer)",
    ))
}

/// `--help` for `mixed`, in this model's terms: its variants, or why it has none.
pub(crate) fn explain(command: clap::Command) -> clap::Command {
    let text = match offered() {
        Offer::NotOffered(why) => format!("Not offered by this model: {why}"),
        Offer::Runs { variants, why } => {
            let mut text =
                String::from("Variants of this model (--variant; the first is the default):\n");
            if variants.is_empty() {
                text += "  none\n";
            }
            for (v, how) in variants.iter() {
                text += &format!("  {:<15} {how}\n", v.name());
            }
            if !why.is_empty() {
                text += &format!("\n{why}");
            }
            text
        }
    };
    command.mut_subcommand("mixed", |sub| sub.after_help(text))
}

/// `--variant`: a variant's name, or an error that lists what this model offers (clap
/// prints it in one line: "invalid value 'x' for '--variant <VARIANT>': ...").
pub(crate) fn parse_variant(s: &str) -> Result<Variant, String> {
    use clap::ValueEnum;
    if let Some(v) = Variant::value_variants().iter().find(|v| v.name() == s) {
        return Ok(*v);
    }
    Err(match offered() {
        Offer::NotOffered(why) => format!("mixed is not offered here: {why}"),
        Offer::Runs { variants: [], .. } => {
            "this model takes no --variant (see mixed --help)".to_string()
        }
        Offer::Runs { variants, .. } => {
            let names: Vec<&str> = variants.iter().map(|(v, _)| v.name()).collect();
            format!("this model offers {}", names.join(", "))
        }
    })
}

/// Refuse what this model does not offer (exit code 2, one line naming why).
pub(crate) fn check(args: &MixedArgs) -> Result<(), String> {
    match (offered(), args.variant) {
        (Offer::NotOffered(why), _) => Err(format!("mixed is not offered here: {why}")),
        (Offer::Runs { variants, why }, Some(v)) if !variants.iter().any(|(o, _)| *o == v) => {
            let names: Vec<&str> = variants.iter().map(|(o, _)| o.name()).collect();
            if names.is_empty() {
                Err(format!("--variant {} makes no sense here: {why}", v.name()))
            } else {
                Err(format!(
                    "--variant {} is not offered here (offered: {}): {why}",
                    v.name(),
                    names.join(", ")
                ))
            }
        }
        _ => Ok(()),
    }
}

/// `--list-variants`: print the variants and say the run is over (`Some`), or `None`.
pub(crate) fn list_variants(command: &crate::Command) -> Option<()> {
    match command {
        crate::Command::Mixed(a) if a.list_variants => {
            if let Offer::Runs { variants, .. } = offered() {
                for (v, _) in variants.iter() {
                    println!("{}", v.name());
                }
            }
            Some(())
        }
        _ => None,
    }
}

/// The variant of this run: the one asked for, or the model's first. `None` for a model
/// that offers none.
fn chosen(args: &MixedArgs) -> Option<Variant> {
    match offered() {
        Offer::Runs { variants, .. } => args.variant.or(variants.first().map(|(v, _)| *v)),
        Offer::NotOffered(_) => None,
    }
}

/// What the summary line reports for `mixed` (times in milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixedStats {
    /// The variant run, or "none" for a model that has none (threads).
    pub variant: String,
    /// Probes per second, and how many were run (all of them verified).
    pub rate: u64,
    pub probes: u64,
    /// Latency percentiles, from each probe's scheduled start to its verified last byte.
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub jobs: u64,
    /// From the jobs' submission to the end of the last one: the CPU jobs' total time.
    pub jobs_ms: f64,
    /// One job's own length, from its first step to its verified result (the longest).
    pub job_ms: f64,
}

static STATS: Mutex<Option<MixedStats>> = Mutex::new(None);

/// The stats of the stream that just finished, for the summary line.
pub(crate) fn take_stats() -> Option<MixedStats> {
    STATS.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// What every probe and job writes into: shared by the tasks of one stream.
struct Record {
    /// Latencies in microseconds, 1 µs to 1 hour at 3 significant digits (0.1%), and
    /// the exact largest.
    latencies: Mutex<(Histogram<u64>, u64)>,
    /// Each finished job's (first step, end).
    jobs: Mutex<Vec<(Instant, Instant)>>,
}

/// One run of the probe stream and its jobs: the schedule, fixed at the start, and what
/// the probes and jobs record.
pub struct Stream {
    variant: Option<Variant>,
    target: Target,
    start: Instant,
    interval: Duration,
    probes: u64,
    jobs: u64,
    jobs_at: Duration,
    base: u64,
    exp: u32,
    block: Duration,
    rate: u64,
    record: Arc<Record>,
    /// Ends the process if the stream is not over by its deadline; disarmed when dropped.
    _deadline: Deadline,
}

/// The whole stream's deadline: its length, one probe's timeout, and twice the jobs'
/// predicted time ([`crate::budget::predict`]), plus 30 s. A run still going then (a
/// server that stalls every probe for its timeout in turn, jobs far slower than
/// predicted) ends with one line and exit code 1, instead of running on for hours.
fn deadline(args: &MixedArgs) -> Duration {
    let command = crate::Command::Mixed(args.clone());
    let shape = crate::budget::Shape {
        waits: crate::budget::AtOnce::All,
        task: crate::budget::NOTHING,
        computes: crate::budget::AtOnce::All,
        compute_task: crate::budget::NOTHING,
        own_process: false,
        kernel_task_each: false,
        base: crate::budget::NOTHING,
        task_time: crate::budget::CALL_TIME,
    };
    let predicted = crate::budget::predict(&command, &shape).map_or(0.0, |(s, _)| s);
    Duration::from_millis(args.duration_ms + args.timeout_ms)
        + Duration::from_secs_f64(2.0 * predicted)
        + Duration::from_secs(30)
}

/// A watchdog thread that ends the process at the deadline, unless this is dropped first:
/// dropping the sender is what disarms it.
struct Deadline {
    _disarm: Option<std::sync::mpsc::Sender<()>>,
}

impl Deadline {
    fn arm(after: Duration) -> Deadline {
        let (disarm, disarmed) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::Builder::new()
            .name("mixed-deadline".into())
            .spawn(move || {
                // Disconnected: the stream is over (or this test is). Timeout: it is not.
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    disarmed.recv_timeout(after)
                {
                    eprintln!(
                        "{}: error: mixed did not end within its deadline of {} s (the \
                         stream, a probe's timeout and twice the jobs' predicted time)",
                        crate::run::model(),
                        after.as_secs()
                    );
                    std::process::exit(1);
                }
            });
        // A watchdog that cannot start leaves the run without a deadline, not failed.
        Deadline {
            _disarm: watchdog.ok().map(|_| disarm),
        }
    }
}

impl Stream {
    /// Fix the schedule: probe i is due at start + i / rate; the jobs at a quarter of the
    /// stream's length. The clock starts now.
    pub fn start(args: &MixedArgs) -> Result<Stream> {
        let histogram = Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .expect("1 µs to 1 h at 3 digits is a valid histogram");
        Ok(Stream {
            variant: chosen(args),
            target: args.url.clone().context("mixed needs --url")?,
            start: Instant::now(),
            interval: Duration::from_secs(1) / args.rate as u32,
            probes: args.probes(),
            jobs: args.jobs,
            jobs_at: Duration::from_millis(args.duration_ms / 4),
            base: args.base,
            exp: args.exp,
            block: Duration::from_millis(args.block_ms),
            rate: args.rate,
            record: Arc::new(Record {
                latencies: Mutex::new((histogram, 0)),
                jobs: Mutex::new(Vec::new()),
            }),
            _deadline: Deadline::arm(deadline(args)),
        })
    }

    /// The variant asked for, or the model's first. A model that offers none (threads)
    /// has nothing to choose and does not ask; it would get `Offload`, which is what its
    /// jobs on threads of their own are.
    pub fn variant(&self) -> Variant {
        self.variant.unwrap_or(Variant::Offload)
    }

    /// The URL every probe downloads.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Every probe and job in the order they are due. The model sleeps until each is due
    /// (on its own timer), then starts it; one that is late starts at once, and its
    /// latency still counts from when it was due.
    pub fn events(&self) -> impl Iterator<Item = Event> + '_ {
        let probe = move |i: u64| {
            Event::Probe(Probe {
                due: self.start + self.interval * i as u32,
                record: Arc::clone(&self.record),
            })
        };
        let job = move |_| {
            Event::Job(Job {
                due: self.start + self.jobs_at,
                started: None,
                work: match self.variant {
                    Some(Variant::Block) => Work::Block(self.block),
                    _ => Work::Power(Power::new(self.base, self.exp)),
                },
                record: Arc::clone(&self.record),
            })
        };
        // The probes due before the jobs: ceil(jobs_at / interval).
        let before = self
            .jobs_at
            .as_nanos()
            .div_ceil(self.interval.as_nanos().max(1)) as u64;
        let before = before.min(self.probes);
        (0..before)
            .map(probe)
            .chain((0..self.jobs).map(job))
            .chain((before..self.probes).map(probe))
    }

    /// The stream is over: keep its figures for the summary line, pass the result on.
    pub fn finish(self, result: Result<Tally>) -> Result<Tally> {
        let (histogram, max_us) = &*self
            .record
            .latencies
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let jobs = self.record.jobs.lock().unwrap_or_else(|e| e.into_inner());
        // A percentile is its bucket's highest value (within 0.1%): never above the max.
        let ms = |us: u64| us.min(*max_us) as f64 / 1e3;
        let jobs_due = self.start + self.jobs_at;
        let stats = MixedStats {
            variant: self.variant.map_or("none", Variant::name).to_string(),
            rate: self.rate,
            probes: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p90_ms: ms(histogram.value_at_quantile(0.90)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: *max_us as f64 / 1e3,
            jobs: jobs.len() as u64,
            jobs_ms: jobs
                .iter()
                .map(|(_, end)| end.saturating_duration_since(jobs_due))
                .max()
                .unwrap_or_default()
                .as_micros() as f64
                / 1e3,
            job_ms: jobs
                .iter()
                .map(|(start, end)| end.saturating_duration_since(*start))
                .max()
                .unwrap_or_default()
                .as_micros() as f64
                / 1e3,
        };
        *STATS.lock().unwrap_or_else(|e| e.into_inner()) = Some(stats);
        result
    }
}

/// What is due next: a probe to start, or a job to submit.
pub enum Event {
    Probe(Probe),
    Job(Job),
}

impl Event {
    pub fn due(&self) -> Instant {
        match self {
            Event::Probe(p) => p.due,
            Event::Job(j) => j.due,
        }
    }
}

/// One probe: its scheduled start, and where its latency goes.
pub struct Probe {
    due: Instant,
    record: Arc<Record>,
}

impl Probe {
    /// The probe's download is over: record its latency (due to now) if it succeeded,
    /// and pass its result on (a failed probe fails the run).
    pub fn done<E>(self, result: Result<Tally, E>) -> Result<Tally, E> {
        if result.is_ok() {
            let us = self.due.elapsed().as_micros().max(1) as u64;
            let mut latencies = self
                .record
                .latencies
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            latencies.0.saturating_record(us);
            latencies.1 = latencies.1.max(us);
        }
        result
    }
}

/// Largest multiplier of one step, in bits: eight 64-bit limbs. Small enough that a step
/// stays short (see the module's header), large enough that steps are not mostly overhead.
pub const STEP_BITS: u32 = 512;

/// One CPU job, run in steps.
pub struct Job {
    due: Instant,
    started: Option<Instant>,
    work: Work,
    record: Arc<Record>,
}

enum Work {
    Power(Power),
    /// The `block` variant's job: a wait of this long on a blocking std call.
    Block(Duration),
}

impl Job {
    /// Every step in one go, on whatever thread calls it: `offload` and `inline`.
    pub fn run(mut self) -> Result<Tally> {
        while self.step() {}
        self.finish()
    }

    /// One step (one multiplication); `true` while steps remain. `yield` calls this and
    /// hands the thread back to the scheduler between steps.
    pub fn step(&mut self) -> bool {
        self.started.get_or_insert_with(Instant::now);
        match &mut self.work {
            Work::Power(p) => p.step(),
            Work::Block(_) => false,
        }
    }

    /// The `block` variant: how long this job holds its thread. Marks the job started.
    pub fn block_for(&mut self) -> Duration {
        self.started.get_or_insert_with(Instant::now);
        match self.work {
            Work::Block(d) => d,
            Work::Power(_) => Duration::ZERO,
        }
    }

    /// The job is over: verify its power and record when it ran.
    pub fn finish(self) -> Result<Tally> {
        let tally = match &self.work {
            Work::Power(p) => p.finish()?,
            Work::Block(_) => Tally::task(0, 0),
        };
        let end = Instant::now();
        let start = self.started.unwrap_or(end);
        self.record
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((start, end));
        Ok(tally)
    }
}

/// `base ** exp` as repeated multiplication by `base ** k`, one multiplication a step.
struct Power {
    base: u64,
    exp: u32,
    /// The exponent reached so far: `x == base ** done`.
    done: u32,
    x: BigUint,
    k: u32,
    chunk: BigUint,
}

impl Power {
    fn new(base: u64, exp: u32) -> Power {
        // The largest k with base^k < 2^STEP_BITS (at least 1).
        let k = (STEP_BITS as f64 / (base as f64).log2()).floor().max(1.0) as u32;
        Power {
            base,
            exp,
            done: 0,
            x: BigUint::from(1u32),
            k,
            chunk: cpu::power(base, k),
        }
    }

    fn step(&mut self) -> bool {
        let k = self.k.min(self.exp - self.done);
        if k == self.k {
            self.x *= &self.chunk;
        } else if k > 0 {
            self.x *= cpu::power(self.base, k);
        }
        self.done += k;
        self.done < self.exp
    }

    fn finish(&self) -> Result<Tally> {
        anyhow::ensure!(
            self.done == self.exp,
            "cpu job finished after {} of {} steps' exponent",
            self.done,
            self.exp
        );
        let checksum = cpu::verify(self.base, self.exp, &self.x)?;
        Ok(Tally::task(self.x.bits().div_ceil(8), checksum))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The step-wise power is the power: verified, same checksum as `cpu::task`.
    #[test]
    fn a_job_in_steps_computes_the_power() {
        for (base, exp) in [(7777, 2000), (2, 64), (3, 1), (u32::MAX as u64, 300)] {
            let mut p = Power::new(base, exp);
            let mut steps = 1;
            while p.step() {
                steps += 1;
            }
            assert_eq!(
                p.finish().unwrap(),
                cpu::task(base, exp).unwrap(),
                "{base}**{exp}"
            );
            assert_eq!(steps, exp.div_ceil(p.k), "{base}**{exp}");
        }
        assert_eq!(Power::new(7777, 1).k, 39);
    }

    /// The names printed and parsed are the same.
    #[test]
    fn variant_names_are_clap_names() {
        use clap::ValueEnum;
        for v in Variant::value_variants() {
            assert_eq!(v.to_possible_value().unwrap().get_name(), v.name());
        }
    }

    /// An unknown --variant is refused with what this model offers (here: none declared).
    #[test]
    fn an_unknown_variant_names_the_offer() {
        assert_eq!(parse_variant("yield"), Ok(Variant::Yield));
        let err = parse_variant("sideways").unwrap_err();
        assert!(err.starts_with("mixed is not offered here"), "{err}");
    }

    /// The deadline covers the stream, a probe's timeout and the jobs, with room to spare.
    #[test]
    fn the_deadline_covers_the_whole_stream() {
        let mut args = MixedArgs {
            variant: None,
            url: Some(Target::new("http://127.0.0.1:1/")),
            rate: 100,
            duration_ms: 3000,
            jobs: 4,
            base: 7777,
            exp: 100_000,
            block_ms: 0,
            timeout_ms: 30_000,
            list_variants: false,
        };
        let d = deadline(&args);
        assert!(
            d >= Duration::from_secs(63) && d < Duration::from_secs(70),
            "{d:?}"
        );
        args.exp = 2_000_000;
        args.jobs = 64;
        assert!(deadline(&args) > Duration::from_secs(3600));
    }

    /// Probes before the jobs, then the jobs, then the rest, all in due order.
    #[test]
    fn events_come_in_due_order() {
        let args = MixedArgs {
            variant: None,
            url: Some(Target::new("http://127.0.0.1:1/")),
            rate: 100,
            duration_ms: 200,
            jobs: 2,
            base: 7777,
            exp: 10,
            block_ms: 0,
            timeout_ms: 1000,
            list_variants: false,
        };
        let stream = Stream::start(&args).unwrap();
        let events: Vec<Event> = stream.events().collect();
        assert_eq!(events.len(), 22);
        assert!(events.windows(2).all(|w| w[0].due() <= w[1].due()));
        let kinds: String = events
            .iter()
            .map(|e| match e {
                Event::Probe(_) => 'p',
                Event::Job(_) => 'j',
            })
            .collect();
        assert_eq!(kinds, format!("{}jj{}", "p".repeat(5), "p".repeat(15)));
    }

    /// A latency counts from when the probe was due, and a failed probe records nothing.
    #[test]
    fn latency_counts_from_the_due_time() {
        let record = Arc::new(Record {
            latencies: Mutex::new((Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap(), 0)),
            jobs: Mutex::new(Vec::new()),
        });
        let due = Instant::now() - Duration::from_millis(50);
        let late = Probe {
            due,
            record: Arc::clone(&record),
        };
        late.done(Ok::<_, ()>(Tally::task(1, 1))).unwrap();
        let failed = Probe {
            due,
            record: Arc::clone(&record),
        };
        assert!(failed.done(Err::<Tally, _>("refused")).is_err());
        let (h, max) = &*record.latencies.lock().unwrap();
        assert_eq!(h.len(), 1);
        assert!(*max >= 50_000, "{max} µs");
    }
}
