//! What a run will cost, predicted before it starts: how long it will take, and how much
//! memory its tasks will hold. A run predicted over the ceiling (`--max-run-s`, an hour by
//! default) or past the memory limits is refused in one line naming the prediction and the
//! limit (exit 2), instead of running for hours or failing halfway.
//!
//! Each model declares its [`Shape`] in its `main.rs` (beside what it offers for `mixed`):
//! how many of its tasks wait at the same time, how many compute at the same time, and
//! what one task costs it in memory and in time. The rest is the workload's, and is here:
//!
//! - sleep: ceil(N / tasks waiting at once) rounds of MS.
//! - cpu: N powers of [`cpu_seconds`] each, over min(cores, powers computing at once).
//! - mixed: the stream, or a quarter of it and then the jobs, whichever is longer: J jobs
//!   of [`job_seconds`] over the cores (one thread for `current-thread`), or for `block`
//!   ceil(J / cores) rounds of BLOCK_MS.
//! - spawn: N task starts; switch: N task starts and N x R hand-offs, each at the model's
//!   [`TaskTime`].
//! - io is not predicted: its length is the server's (each request is bounded by
//!   `--timeout-ms`).
//!
//! The estimates are deliberately rough (the machine may be twice as fast or as slow): the
//! ceiling is for runs of hours, not for a run of 55 minutes against one of 65.

use crate::cli::{Cli, Command};
use crate::limits::{check_memory, Footprint, Refused};
use crate::mixed::Variant;
use std::sync::OnceLock;

/// How many of a model's tasks are in flight at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtOnce {
    /// One after another (sync).
    One,
    /// One per worker, the others queued (a pool of one thread per core: rayon).
    Workers,
    /// Every task at once (a thread, process, coroutine or future each).
    All,
}

/// How a model runs its tasks, as far as their cost is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Tasks that wait (sleep, io, spawn, switch) in flight at the same time.
    pub waits: AtOnce,
    /// What one waiting task costs the model: a thread's stack, a coroutine's, a future.
    pub task: Footprint,
    /// Powers (cpu) computing at the same time; each holds its big integers meanwhile.
    pub computes: AtOnce,
    /// What one computing task costs besides its big integers (a thread of a pool).
    pub compute_task: Footprint,
    /// Each task runs in a process of its own (procs): its memory is not in this
    /// process's address space, and each worker has an address-space limit of its own.
    pub own_process: bool,
    /// Every task in flight is a kernel task (a thread or a process of its own): the limits
    /// on kernel tasks are checked before the memory, as the harder fact of the two.
    pub kernel_task_each: bool,
    /// What the model holds whatever N, beyond its threads (counted for every model: one
    /// per core, and two more, see [`check`]): green's pool of coroutine stacks.
    pub base: Footprint,
    /// What one task costs the model in time: its start (spawn, switch) and a hand-off of
    /// switch's token to it.
    pub task_time: TaskTime,
}

/// What one task costs in time, in microseconds: starting and joining it (the slope of
/// spawn against N), and handing switch's token on to it (the slope of switch against
/// N x R). Each is counted above the slope results/costs-fit.csv measured on the
/// development machine (2 cores) and its fit of the medians: a little above, but for a
/// process's start (see [`PROCESS_TIME`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskTime {
    pub start_us: f64,
    pub hand_off_us: f64,
}

/// A worker process: a fork and exec of the model's binary, its dynamic loading and
/// start-up, and its reaping; about 1.5 ms in the fit of spawn, where each worker exits
/// at once. A ring's workers all live until the end: by hand, `procs switch --n 10000`
/// on the same machine, busy with a build, took about 2.6 ms per worker. 2.5 ms is
/// counted. A hand-off wakes another process: about 26 to 28 µs; 30 µs is counted.
pub const PROCESS_TIME: TaskTime = TaskTime {
    start_us: 2_500.0,
    hand_off_us: 30.0,
};
/// A thread started by std: about 100 µs (120 counted); a hand-off wakes a parked thread,
/// about 12 to 18 µs (20 counted).
pub const THREAD_TIME: TaskTime = TaskTime {
    start_us: 120.0,
    hand_off_us: 20.0,
};
/// A may coroutine: about 1.8 to 2.7 µs (3 counted); a hand-off about 0.3 µs (0.5 counted).
pub const COROUTINE_TIME: TaskTime = TaskTime {
    start_us: 3.0,
    hand_off_us: 0.5,
};
/// A future spawned on an async runtime: 0.6 to 1.0 µs (1.5 counted) in tokio, smol and
/// async-std; a hand-off 0.2 to 0.9 µs (1 counted).
pub const FUTURE_TIME: TaskTime = TaskTime {
    start_us: 1.5,
    hand_off_us: 1.0,
};
/// A job on rayon's pool: 0.2 to 0.4 µs (0.5 counted); a hand-off about 0.13 µs (0.2
/// counted).
pub const JOB_TIME: TaskTime = TaskTime {
    start_us: 0.5,
    hand_off_us: 0.2,
};
/// A function call: nothing to start, nothing to hand on (sync, which runs neither spawn
/// nor switch).
pub const CALL_TIME: TaskTime = TaskTime {
    start_us: 0.0,
    hand_off_us: 0.0,
};

/// One OS thread started by std: a 2 MiB stack reserved with its guard page, and the
/// signal stack std maps beside it (reserved); about 10 KiB of it is made resident by a
/// thread that sleeps (results/scale-fit.csv, threads' sleep): 24 KiB is counted.
pub const THREAD: Footprint = Footprint::new(2 * 1024 * 1024 + 32 * 1024, 24 * 1024);
/// A future on an async runtime: 300 to 500 bytes for a sleeping task in the fits of
/// results/scale-fit.csv; 1 KiB is counted.
pub const FUTURE: Footprint = Footprint::new(1024, 1024);
/// A green coroutine: its fixed stack of 128 KiB and guard page reserved; about 8 KiB
/// resident for a sleeper (results/scale-fit.csv); 16 KiB is counted.
pub const COROUTINE: Footprint = Footprint::new(132 * 1024, 16 * 1024);
/// A worker process, seen from its parent: nothing in this address space; its own pages
/// (PSS: shared code counted once) are about 300 KiB for a sleeper; 1 MiB is counted.
pub const PROCESS: Footprint = Footprint::new(0, 1024 * 1024);
/// Nothing beyond the loop that runs the task (sync).
pub const NOTHING: Footprint = Footprint::new(0, 0);
/// A download in flight besides its task: the client's buffers, the connection's state
/// (about 17 to 27 KiB per task in results/scale-fit.csv's io fits); 64 KiB is counted.
const DOWNLOAD: Footprint = Footprint::new(64 * 1024, 64 * 1024);

static SHAPE: OnceLock<Shape> = OnceLock::new();

/// Say how this model runs its tasks. Called first thing in `main`, before
/// `workload::main` checks the run against it.
pub fn shape(shape: Shape) {
    let _ = SHAPE.set(shape);
}

/// A model that has not said: every task at once, a thread each (the costliest).
const UNDECLARED: Shape = Shape {
    waits: AtOnce::All,
    task: THREAD,
    computes: AtOnce::All,
    compute_task: THREAD,
    own_process: false,
    kernel_task_each: true,
    base: NOTHING,
    task_time: THREAD_TIME,
};

fn declared() -> Shape {
    SHAPE.get().copied().unwrap_or(UNDECLARED)
}

fn cores() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as u64
}

fn at_once(a: AtOnce, n: u64) -> u64 {
    match a {
        AtOnce::One => 1,
        AtOnce::Workers => cores().min(n),
        AtOnce::All => n,
    }
}

/// An estimate of one power's CPU time, in seconds: `cpu::task(base, exp)` grows with the
/// result's size (exp x log2(base) bits) to the power 1.16 between exp 100,000 and
/// 2,000,000 (num-bigint's Toom-3 squarings), measured on the development machine (2
/// cores shared with other work): 0.12 s and 3.7 s for base 7777. Counted: 4 s at
/// 7777 ** 2,000,000 (25.9 million bits), scaled by bits^1.2.
pub fn cpu_seconds(base: u64, exp: u32) -> f64 {
    4.0 * (bits(base, exp) / 25.9e6).powf(1.2)
}

/// An estimate of one `mixed` job's CPU time, in seconds. A job multiplies in steps of one
/// multiplication by a 512-bit number, each a pass over the result so far, so it grows
/// with the square of the result's size: 7777 ** 400,000 (5.2 million bits) took 4.7 s on
/// the development machine. Counted: 5 s there, scaled by bits^2.
pub fn job_seconds(base: u64, exp: u32) -> f64 {
    5.0 * (bits(base, exp) / 5.17e6).powi(2)
}

fn bits(base: u64, exp: u32) -> f64 {
    exp as f64 * (base as f64).log2()
}

/// The memory one power holds while it computes: its result (exp x log2(base) / 8 bytes)
/// and the multiplication's temporaries, about 5 results at 7777 ** 2,000,000 (peak RSS
/// 15 MB above an idle process's); 6 are counted.
pub fn power_bytes(base: u64, exp: u32) -> u64 {
    (6.0 * bits(base, exp) / 8.0) as u64
}

/// The run's predicted length in seconds, and what it is made of (for the refusal);
/// `None` for a workload not predicted.
pub fn predict(command: &Command, shape: &Shape) -> Option<(f64, String)> {
    match command {
        Command::Sleep(a) => {
            let at_once = at_once(shape.waits, a.n).max(1);
            let rounds = a.n.div_ceil(at_once);
            Some((
                rounds as f64 * a.ms as f64 / 1e3,
                format!(
                    "{rounds} rounds of {} ms, {at_once} task(s) at a time",
                    a.ms
                ),
            ))
        }
        Command::Cpu(a) => {
            let cores = cores().min(at_once(shape.computes, a.n)).max(1);
            let each = cpu_seconds(a.base, a.exp);
            Some((
                a.n as f64 * each / cores as f64,
                format!(
                    "{} powers of about {each:.1} s each on {cores} core(s)",
                    a.n
                ),
            ))
        }
        Command::Mixed(a) => {
            let stream = a.duration_ms as f64 / 1e3;
            let (jobs, how) = match a.variant {
                Some(Variant::Block) => {
                    let rounds = a.jobs.div_ceil(cores());
                    (
                        rounds as f64 * a.block_ms as f64 / 1e3,
                        format!("{rounds} rounds of --block-ms {}", a.block_ms),
                    )
                }
                variant => {
                    let cores = match variant {
                        Some(Variant::CurrentThread) => 1,
                        _ => cores(),
                    };
                    let each = job_seconds(a.base, a.exp);
                    (
                        a.jobs as f64 * each / cores as f64,
                        format!(
                            "{} jobs of about {each:.1} s each on {cores} core(s)",
                            a.jobs
                        ),
                    )
                }
            };
            Some((
                stream.max(stream / 4.0 + jobs),
                format!("a stream of {stream} s, {how}"),
            ))
        }
        Command::Spawn(a) => {
            let time = shape.task_time;
            Some((
                a.n as f64 * time.start_us / 1e6,
                format!("{} task starts of about {}", a.n, micros(time.start_us)),
            ))
        }
        Command::Switch(a) => {
            let (time, hand_offs) = (shape.task_time, a.n * a.rounds);
            Some((
                (a.n as f64 * time.start_us + hand_offs as f64 * time.hand_off_us) / 1e6,
                format!(
                    "{} task starts of about {} and {hand_offs} hand-offs of about {}",
                    a.n,
                    micros(time.start_us),
                    micros(time.hand_off_us)
                ),
            ))
        }
        // io's length is the server's; a server runs until it is stopped.
        Command::Io(_) | Command::Serve(_) => None,
    }
}

/// What the run's tasks hold in memory at the same time, by [`Shape`].
pub fn footprint(command: &Command, shape: &Shape) -> Footprint {
    let own = |one: Footprint, n: u64| match shape.own_process {
        // Each worker has its own address space: one task's must fit in it.
        true => Footprint::new(one.reserved, one.resident.saturating_mul(n)),
        false => one.times(n),
    };
    match command {
        Command::Sleep(a) => shape.task.times(at_once(shape.waits, a.n)),
        Command::Spawn(a) => shape.task.times(at_once(shape.waits, a.n)),
        Command::Switch(a) => shape.task.times(a.n),
        Command::Io(a) => {
            let n = at_once(shape.waits, a.n);
            shape.task.times(n) + own(DOWNLOAD, n)
        }
        Command::Cpu(a) => {
            let n = at_once(shape.computes, a.n);
            let power = power_bytes(a.base, a.exp);
            shape.compute_task.times(n) + own(Footprint::new(power, power), n)
        }
        Command::Mixed(a) => {
            let power = power_bytes(a.base, a.exp);
            Footprint::new(power, power).times(a.jobs)
        }
        // What a server holds grows with its connections, which its clients decide.
        Command::Serve(_) => Footprint::new(0, 0),
    }
}

/// The run's checks before it starts: its predicted length under the ceiling, its
/// memory under the limits.
pub(crate) fn check(cli: &Cli) -> Result<(), Refused> {
    let shape = declared();
    let command = &cli.command;
    if let (Some(max), Some((seconds, how))) = (cli.max_run_s(), predict(command, &shape)) {
        if seconds > max as f64 {
            return Err(Refused(format!(
                "{} is predicted to take about {} ({how}), over the ceiling of --max-run-s {max}: \
                 lower its settings, or raise --max-run-s (0: no ceiling)",
                command.name(),
                human(seconds)
            )));
        }
    }
    let what = format!("the tasks of {} {}", command.name(), describe(command));
    if shape.kernel_task_each {
        let n = match command {
            Command::Cpu(a) => at_once(shape.computes, a.n),
            Command::Mixed(a) => a.jobs,
            other => at_once(shape.waits, other.n()),
        };
        crate::limits::check_tasks(n, &format!("{what}, a kernel task each,"))?;
    }
    // Every model's own threads, whatever N: a runtime's workers (one per core), a helper
    // thread (a reactor, a timer or a blocking pool's first), and the memory sampler.
    let threads = THREAD.times(cores() + 2);
    check_memory(footprint(command, &shape) + shape.base + threads, &what)
}

fn describe(command: &Command) -> String {
    match command {
        Command::Mixed(a) => format!("with {} jobs", a.jobs),
        other => format!("--n {}", other.n()),
    }
}

/// A task's time as the user reads it: "2.5 ms", "30 µs", "0.5 µs".
fn micros(us: f64) -> String {
    match us >= 1_000.0 {
        true => format!("{} ms", us / 1e3),
        false => format!("{us} µs"),
    }
}

/// Seconds as the user reads them: "14 h", "52 min", "40 s".
fn human(seconds: f64) -> String {
    if seconds >= 2.0 * 3600.0 {
        format!("{:.0} h", seconds / 3600.0)
    } else if seconds >= 120.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{seconds:.0} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn command(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("model").chain(args.iter().copied()))
            .unwrap()
            .command
    }

    const POOL: Shape = Shape {
        waits: AtOnce::Workers,
        task: NOTHING,
        computes: AtOnce::Workers,
        compute_task: NOTHING,
        own_process: false,
        kernel_task_each: false,
        base: NOTHING,
        task_time: JOB_TIME,
    };

    /// The examples: rayon's million sleeps of 100 ms take N / cores rounds, not
    /// one; a thread per task sleeps once.
    #[test]
    fn sleep_takes_as_many_rounds_as_the_model_waits_at_once() {
        let sleep = command(&["sleep", "--n", "1000000", "--ms", "100"]);
        let (pool, _) = predict(&sleep, &POOL).unwrap();
        assert!(pool >= 1e6 * 0.1 / cores() as f64, "{pool}");
        let (threads, _) = predict(&sleep, &UNDECLARED).unwrap();
        assert_eq!(threads, 0.1);
    }

    /// A job grows with the square of its exponent; block jobs take their rounds.
    #[test]
    fn mixed_counts_its_jobs() {
        let url = "http://h/";
        let big = command(&["mixed", "--url", url, "--jobs", "64", "--exp", "2000000"]);
        let (s, _) = predict(&big, &UNDECLARED).unwrap();
        assert!(s > 3600.0, "64 jobs of 7777 ** 2,000,000: {s} s");
        let bench = command(&["mixed", "--url", url]);
        let (s, _) = predict(&bench, &UNDECLARED).unwrap();
        assert!(s < 60.0, "the bench's run: {s} s");
        let block = ["mixed", "--url", url, "--variant", "block", "--jobs", "64"];
        let block = command(&[&block[..], &["--block-ms", "600000"]].concat());
        let (s, _) = predict(&block, &UNDECLARED).unwrap();
        assert!(s >= 64.0 / cores() as f64 * 600.0, "{s}");
        assert!((job_seconds(7777, 800_000) / job_seconds(7777, 400_000) - 4.0).abs() < 1e-9);
    }

    /// spawn and switch: a start per task, and a hand-off per place and round. A ring of
    /// worker processes at the largest N takes tens of seconds, and a lower --max-run-s
    /// refuses it; at the cap of hand-offs it stays under the hour; no model's cheaper
    /// tasks come near it.
    #[test]
    fn spawn_and_switch_count_starts_and_hand_offs() {
        let procs = Shape {
            task_time: PROCESS_TIME,
            ..UNDECLARED
        };
        let ring = command(&["switch", "--n", "10000", "--rounds", "1"]);
        let (s, how) = predict(&ring, &procs).unwrap();
        assert!((10.0..60.0).contains(&s), "{s} s");
        assert_eq!(
            how,
            "10000 task starts of about 2.5 ms and 10000 hand-offs of about 30 µs"
        );
        let laps = command(&["switch", "--n", "100", "--rounds", "1000000"]);
        let (s, _) = predict(&laps, &procs).unwrap();
        assert!((1800.0..3600.0).contains(&s), "{s} s");
        let spawn = command(&["spawn", "--n", "1000"]);
        assert_eq!(predict(&spawn, &procs).unwrap().0, 2.5);
        for time in [THREAD_TIME, COROUTINE_TIME, FUTURE_TIME, JOB_TIME] {
            let shape = Shape {
                task_time: time,
                ..UNDECLARED
            };
            let (s, _) = predict(&laps, &shape).unwrap();
            assert!(s < 3600.0, "{time:?}: {s} s");
            let (s, _) = predict(&command(&["spawn", "--n", "1000000"]), &shape).unwrap();
            assert!(s < 3600.0, "{time:?}: {s} s");
        }
    }

    #[test]
    fn memory_follows_the_tasks_in_flight() {
        let sleep = command(&["sleep", "--n", "1000"]);
        assert_eq!(footprint(&sleep, &POOL), Footprint::default());
        assert_eq!(footprint(&sleep, &UNDECLARED), THREAD.times(1000));
        let cpu = command(&["cpu", "--n", "10", "--exp", "2000000"]);
        let per = footprint(&cpu, &UNDECLARED).resident / 10;
        assert!(
            per > 15_000_000,
            "a power of 7777 ** 2,000,000 holds {per} bytes"
        );
    }

    #[test]
    fn durations_read_as_hours_minutes_or_seconds() {
        assert_eq!(micros(2_500.0), "2.5 ms");
        assert_eq!(micros(30.0), "30 µs");
        assert_eq!(micros(0.5), "0.5 µs");
        assert_eq!(human(50_000.0), "14 h");
        assert_eq!(human(3_120.0), "52 min");
        assert_eq!(human(40.4), "40 s");
    }
}
