//! A model's system calls, counted by the kernel: perf_event_open on the syscall
//! tracepoints, the way `perf stat -e raw_syscalls:sys_enter` counts, with no outside tool.
//!
//! One counter per tracepoint (`raw_syscalls:sys_enter` for every call, and
//! `syscalls:sys_enter_<name>` for each of [`CALLS`]), each attached to the model's
//! process before it starts, with `inherit` (every thread and child process it starts is
//! counted into the same counter) and `enable_on_exec` (counting begins at its exec, so
//! nothing of benchkit's is counted). The child waits on a pipe between fork and exec until
//! the counters are open, as `perf stat` does ([`spawn`]). Counters are read after the
//! model has exited and been reaped: the kernel folds an inherited counter into its parent
//! when a thread or process exits, so then the count is the whole model's.
//!
//! Where the kernel does not allow it (tracefs not mounted or not readable,
//! `perf_event_paranoid` refusing, a container's seccomp profile), [`Tracepoints::find`]
//! and [`Tracepoints::probe`] say why in one line, and what to do.

use anyhow::{bail, Context, Result};
use perf_event::events::Tracepoint;
use perf_event::{Builder, Counter};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// The calls counted one by one: enough to tell the I/O designs apart. The I/O itself
/// (`read`, `recvfrom`, `writev`, ...); readiness (`epoll_wait`/`epoll_pwait`,
/// `epoll_ctl`, `poll`), which the epoll models ask before each call that would block;
/// `io_uring_enter`, completion-based I/O's one call; `futex`, threads waking each other,
/// and `sched_yield`, threads that spin before they sleep (rayon's idle workers);
/// connections (`socket`, `connect`, `accept4`, `close`) and setting them up
/// (`setsockopt`, `fcntl` and `ioctl`, which also make a socket non-blocking); threads and
/// memory (`clone3`, `mmap`, `munmap`, `mprotect`). Every other call is in the total.
pub const CALLS: [&str; 26] = [
    "read",
    "write",
    "readv",
    "writev",
    "recvfrom",
    "sendto",
    "recvmsg",
    "sendmsg",
    "epoll_wait",
    "epoll_pwait",
    "epoll_ctl",
    "poll",
    "io_uring_enter",
    "futex",
    "sched_yield",
    "socket",
    "connect",
    "accept4",
    "close",
    "setsockopt",
    "fcntl",
    "ioctl",
    "clone3",
    "mmap",
    "munmap",
    "mprotect",
];

/// The position of `name` in [`CALLS`].
pub fn index(name: &str) -> Option<usize> {
    CALLS.iter().position(|c| *c == name)
}

/// Where the kernel mounts tracefs, then where older systems have it (under debugfs).
pub const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// What one run made: every call, and each of [`CALLS`] in that order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub calls: [u64; CALLS.len()],
}

impl Counts {
    /// The calls that are none of [`CALLS`].
    pub fn other(&self) -> u64 {
        self.total.saturating_sub(self.calls.iter().sum())
    }
}

/// The tracepoint ids of this kernel (they differ from kernel to kernel).
#[derive(Debug, Clone)]
pub struct Tracepoints {
    /// The tracefs folder they were read from.
    pub dir: PathBuf,
    total: u64,
    /// None: the kernel has no such call on this architecture (arm64 has no `epoll_wait`
    /// or `poll`), so nothing can make it: counted as 0.
    calls: Vec<Option<u64>>,
}

impl Tracepoints {
    /// Read the ids from `dir` (a tracefs mount), or from the first of [`TRACEFS`] that
    /// has them when `dir` is None. Err: one line naming the cause and what to do.
    pub fn find(dir: Option<&Path>) -> Result<Tracepoints, String> {
        let dirs: Vec<PathBuf> = match dir {
            Some(d) => vec![d.to_path_buf()],
            None => TRACEFS.iter().map(PathBuf::from).collect(),
        };
        let mut found = None;
        for d in &dirs {
            match std::fs::metadata(d.join("events")) {
                Ok(_) => {
                    found = Some(d);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    return Err(format!(
                        "cannot read {}: permission denied (tracefs is readable by root only \
                         by default): run as root",
                        d.join("events").display()
                    ))
                }
                Err(_) => {}
            }
        }
        let Some(dir) = found else {
            let tried: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            return Err(format!(
                "tracefs is not mounted (no events/ under {}): mount it as root \
                 (`mount -t tracefs nodev /sys/kernel/tracing`)",
                tried.join(" or ")
            ));
        };
        let total = read_id(dir, "raw_syscalls/sys_enter")?.ok_or_else(|| {
            format!(
                "the kernel has no syscall tracepoints ({}/events/raw_syscalls is missing: \
                 a kernel built without CONFIG_FTRACE_SYSCALLS); count on another kernel",
                dir.display()
            )
        })?;
        let calls = CALLS
            .iter()
            .map(|name| read_id(dir, &format!("syscalls/sys_enter_{name}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tracepoints {
            dir: dir.clone(),
            total,
            calls,
        })
    }

    /// The calls of [`CALLS`] this kernel does not have (counted as 0).
    pub fn missing(&self) -> Vec<&'static str> {
        CALLS
            .iter()
            .zip(&self.calls)
            .filter(|(_, id)| id.is_none())
            .map(|(name, _)| *name)
            .collect()
    }

    /// Open one counter on this process and see it count: Err says in one line why the
    /// kernel refuses, and what to do.
    pub fn probe(&self) -> Result<(), String> {
        let mut counter = builder(self.total)
            .observe_self()
            .enabled(true)
            .build()
            .map_err(|e| refused(&e))?;
        // SAFETY: getppid has no arguments and cannot fail.
        unsafe { libc::getppid() };
        let seen = counter
            .read()
            .map_err(|e| format!("cannot read a counter: {e}"))?;
        if seen == 0 {
            return Err(
                "a syscall counter opened but counted nothing: this kernel's \
                        tracepoints do not fire for perf (count on another kernel)"
                    .into(),
            );
        }
        Ok(())
    }
}

/// One disabled counter per tracepoint on benchkit itself, held open for the whole step.
///
/// The kernel hooks a tracepoint up for perf when the first counter of it opens and
/// unhooks it when the last one closes, and each of those waits for every CPU to pass a
/// quiescent point (36 ms a close on the machine this was written on): opening and
/// closing the 27 counters of every run took most of a second each. With one of each held open, a run's counters only join and leave.
pub struct Held {
    _counters: Vec<Counter>,
}

impl Tracepoints {
    /// Hold every tracepoint hooked up until the [`Held`] is dropped.
    pub fn hold(&self) -> Result<Held, String> {
        let ids = std::iter::once(self.total).chain(self.calls.iter().flatten().copied());
        let counters = ids
            .map(|id| {
                Builder::new(Tracepoint::with_id(id))
                    .exclude_kernel(false)
                    .observe_self()
                    .build()
                    .map_err(|e| refused(&e))
            })
            .collect::<Result<_, _>>()?;
        Ok(Held {
            _counters: counters,
        })
    }
}

/// `events/<name>/id` under `dir`: Ok(None) when there is no such event, Err when it
/// cannot be read (tracefs is root's by default).
fn read_id(dir: &Path, name: &str) -> Result<Option<u64>, String> {
    let path = dir.join("events").join(name).join("id");
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_id(&text).map(Some).ok_or_else(|| {
            format!(
                "{}: {:?} is not a tracepoint id",
                path.display(),
                text.trim()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(format!(
            "cannot read {}: permission denied (tracefs is readable by root only by default): \
             run as root",
            path.display()
        )),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// A tracepoint id file's text: a number and a newline.
pub fn parse_id(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A counter of tracepoint `id` as every counter here is set: kernel events counted (a
/// tracepoint fires in the kernel, so excluding it would count nothing), off until the
/// exec, then on for every thread and process the model starts.
fn builder(id: u64) -> Builder<'static> {
    let mut b = Builder::new(Tracepoint::with_id(id));
    b.exclude_kernel(false)
        .exclude_hv(false)
        .inherit(true)
        .enable_on_exec(true);
    b
}

/// perf_event_open's refusal, as one line naming the cause and what to do.
fn refused(e: &std::io::Error) -> String {
    let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .map(|t| t.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => format!(
            "perf_event_open refused to count syscall tracepoints ({e}; kernel.perf_event_paranoid \
             is {paranoid}): run as root or with CAP_PERFMON, or set kernel.perf_event_paranoid \
             to 1 or less; in a container, its seccomp profile may block perf_event_open"
        ),
        Some(libc::ENOSYS) => format!(
            "perf_event_open is not available ({e}): a kernel without CONFIG_PERF_EVENTS, or a \
             seccomp profile that hides it; count on another machine"
        ),
        Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::EOPNOTSUPP) => format!(
            "this kernel cannot count tracepoints with perf_event_open ({e}); count on another \
             kernel"
        ),
        _ => format!("perf_event_open failed: {e}"),
    }
}

/// The open counters of one model run.
struct Counters {
    total: Counter,
    calls: Vec<Option<Counter>>,
}

impl Counters {
    fn open(tracepoints: &Tracepoints, pid: libc::pid_t) -> Result<Counters, String> {
        let open = |id: u64| {
            builder(id)
                .observe_pid(pid)
                .any_cpu()
                .build()
                .map_err(|e| refused(&e))
        };
        Ok(Counters {
            total: open(tracepoints.total)?,
            calls: tracepoints
                .calls
                .iter()
                .map(|id| id.map(open).transpose())
                .collect::<Result<_, _>>()?,
        })
    }

    fn read(&mut self) -> Result<Counts> {
        let mut counts = Counts {
            total: self.total.read().context("cannot read a syscall counter")?,
            ..Counts::default()
        };
        for (slot, counter) in counts.calls.iter_mut().zip(&mut self.calls) {
            if let Some(counter) = counter {
                *slot = counter.read().context("cannot read a syscall counter")?;
            }
        }
        Ok(counts)
    }
}

/// A model started under its counters.
pub struct Counted {
    pub child: Child,
    counters: Counters,
}

impl Counted {
    /// The counts so far: the whole model's once it has exited and been reaped.
    pub fn counts(&mut self) -> Result<Counts> {
        self.counters.read()
    }
}

/// The CPUs a model may run on: one (a server, pinned as the serve sweep pins it), or
/// every CPU (benchkit itself may be pinned elsewhere, and a child inherits that).
#[derive(Debug, Clone, Copy)]
pub enum Cpus {
    One(usize),
    All,
}

impl Cpus {
    fn set(self) -> libc::cpu_set_t {
        // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes within it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            match self {
                Cpus::One(cpu) => libc::CPU_SET(cpu, &mut set),
                Cpus::All => {
                    for cpu in 0..libc::CPU_SETSIZE as usize {
                        libc::CPU_SET(cpu, &mut set);
                    }
                }
            }
            set
        }
    }
}

/// Start `command` with its system calls counted from its exec on: the child, between
/// fork and exec, moves to `cpus`, asks to be killed when benchkit dies, writes its pid on
/// one pipe and waits on another; a thread here opens the counters on that pid, then lets
/// it go on to exec (or, if they cannot be opened, makes it fail, and says why).
pub fn spawn(command: &mut Command, tracepoints: &Tracepoints, cpus: Cpus) -> Result<Counted> {
    match start(command, tracepoints, cpus)? {
        (Ok(child), Ok(counters)) => Ok(Counted { child, counters }),
        // Not reached while the gate holds: without its counters the child never execs.
        (Ok(mut child), Err(why)) => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{why}")
        }
        (Err(_), Err(why)) => bail!("{why}"),
        (Err(e), Ok(_)) => Err(e)
            .with_context(|| format!("cannot start {}", command.get_program().to_string_lossy())),
    }
}

/// [`spawn`]'s two halves: the child as `Command::spawn` returned it (an error with
/// ECANCELED when its counters could not be opened: it stopped before its exec), and its
/// counters.
type Started = (std::io::Result<Child>, Result<Counters, String>);

fn start(command: &mut Command, tracepoints: &Tracepoints, cpus: Cpus) -> Result<Started> {
    let (pid_out, pid_in) = pipe()?;
    let (go_out, go_in) = pipe()?;
    let (pid_fd, go_fd, set) = (pid_in.as_raw_fd(), go_out.as_raw_fd(), cpus.set());
    // SAFETY: between fork and exec only async-signal-safe calls: prctl, sched_setaffinity,
    // getpid, write, read, and io::Error from an errno (no allocation).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Unlike the others, this one may fail harmlessly: a CPU the machine lacks.
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            let pid = libc::getpid().to_ne_bytes();
            if libc::write(pid_fd, pid.as_ptr().cast(), pid.len()) != pid.len() as isize {
                return Err(std::io::Error::last_os_error());
            }
            let mut go = 0u8;
            loop {
                match libc::read(go_fd, (&mut go as *mut u8).cast(), 1) {
                    1 if go == 1 => return Ok(()),
                    -1 if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {
                        continue
                    }
                    _ => return Err(std::io::Error::from_raw_os_error(libc::ECANCELED)),
                }
            }
        });
    }
    let tracepoints = tracepoints.clone();
    let opener = std::thread::spawn(move || -> Result<Counters, String> {
        let mut pid = [0u8; 4];
        File::from(pid_out)
            .read_exact(&mut pid)
            .map_err(|_| "the model did not start".to_string())?;
        let counters = Counters::open(&tracepoints, libc::pid_t::from_ne_bytes(pid));
        // The child goes on to exec only if every counter is open.
        let go = [u8::from(counters.is_ok())];
        let _ = File::from(go_in).write_all(&go);
        counters
    });
    let spawned = command.spawn();
    // The child's copies of the pipes close at its exec (or exit); with ours closed too,
    // the thread above sees the end of the pipe if the child never got to write its pid.
    drop((pid_in, go_out));
    let counters = opener
        .join()
        .unwrap_or_else(|_| Err("the thread opening the counters panicked".into()));
    Ok((spawned, counters))
}

/// A pipe whose two ends close at exec: (read end, write end).
fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error()).context("cannot make a pipe");
    }
    // SAFETY: both descriptors were just opened and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    #[test]
    fn ids_and_missing_tracefs() {
        assert_eq!(parse_id("443\n"), Some(443));
        assert_eq!(parse_id("x"), None);
        let d = crate::test_dir("tracefs");
        let err = Tracepoints::find(Some(&d)).unwrap_err();
        assert!(err.starts_with("tracefs is not mounted"), "{err}");
        // A tracefs with no syscall events: a kernel built without them.
        std::fs::create_dir_all(d.join("events/sched")).unwrap();
        let err = Tracepoints::find(Some(&d)).unwrap_err();
        assert!(err.contains("CONFIG_FTRACE_SYSCALLS"), "{err}");
        // raw_syscalls and one call: the others are missing, counted as 0.
        for (name, id) in [
            ("raw_syscalls/sys_enter", "7"),
            ("syscalls/sys_enter_read", "9"),
        ] {
            std::fs::create_dir_all(d.join("events").join(name)).unwrap();
            std::fs::write(d.join("events").join(name).join("id"), format!("{id}\n")).unwrap();
        }
        let found = Tracepoints::find(Some(&d)).unwrap();
        assert_eq!((found.total, found.calls[0]), (7, Some(9)));
        assert_eq!(found.missing().len(), CALLS.len() - 1);
        std::fs::write(d.join("events/raw_syscalls/sys_enter/id"), "seven").unwrap();
        let err = Tracepoints::find(Some(&d)).unwrap_err();
        assert!(err.ends_with("\"seven\" is not a tracepoint id"), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn other_is_what_no_listed_call_counts() {
        let mut c = Counts {
            total: 100,
            ..Counts::default()
        };
        c.calls[index("read").unwrap()] = 30;
        c.calls[index("futex").unwrap()] = 20;
        assert_eq!(c.other(), 50);
    }

    /// This machine's tracepoints, or None after saying why the counting tests are skipped
    /// (under E2E_REQUIRE_ROOT, which CI sets as it runs as root, they fail instead).
    fn tracepoints_here() -> Option<Tracepoints> {
        match Tracepoints::find(None).and_then(|t| t.probe().map(|()| t)) {
            Ok(t) => Some(t),
            Err(why) => {
                assert!(
                    std::env::var_os("E2E_REQUIRE_ROOT").is_none(),
                    "{why} (E2E_REQUIRE_ROOT is set, so this fails instead of skipping)"
                );
                eprintln!("SKIPPED: {why}");
                None
            }
        }
    }

    /// `sh -c SCRIPT`, counted to its end.
    fn count(tracepoints: &Tracepoints, script: &str) -> Counts {
        let mut command = Command::new("/bin/sh");
        command.args(["-c", script]).stdout(Stdio::null());
        let mut counted = spawn(&mut command, tracepoints, Cpus::All).unwrap();
        assert!(counted.child.wait().unwrap().success());
        counted.counts().unwrap()
    }

    fn call(c: &Counts, name: &str) -> u64 {
        c.calls[index(name).unwrap()]
    }

    /// A shell that writes k lines makes k more `write` calls than one that writes none,
    /// exactly; the children it starts (each `/bin/true` a process of its own, started
    /// after the counters were attached) are counted too, with the dozens of calls a
    /// dynamically linked start costs; nothing of benchkit's is (a counted `true` alone is
    /// a few hundred calls, not benchkit's thousands).
    #[test]
    fn every_call_of_the_model_and_its_children_is_counted_and_nothing_else() {
        let Some(tp) = tracepoints_here() else { return };
        let writes = |k: u32| {
            let c = count(
                &tp,
                &format!("i=0; while [ $i -lt {k} ]; do echo x; i=$((i+1)); done"),
            );
            call(&c, "write")
        };
        assert_eq!(writes(250) - writes(50), 200);
        let children = |k: u32| {
            count(
                &tp,
                &format!("i=0; while [ $i -lt {k} ]; do /bin/true; i=$((i+1)); done"),
            )
        };
        let (few, many) = (children(2), children(12));
        let per_child = (many.total - few.total) as f64 / 10.0;
        assert!(
            per_child > 20.0,
            "{per_child} calls per child process: not counted"
        );
        assert!(
            call(&many, "mmap") > call(&few, "mmap") + 10,
            "{many:?} {few:?}"
        );
        assert!(
            few.total < 3_000,
            "{few:?}: more than a shell and two children"
        );
    }

    /// Counters that cannot be opened stop the child before its exec (its start fails
    /// with ECANCELED, from between fork and exec), and say why.
    #[test]
    fn a_child_whose_counters_cannot_open_never_runs() {
        let Some(mut tp) = tracepoints_here() else {
            return;
        };
        tp.total = u64::MAX; // no such tracepoint
        let mut command = Command::new("/bin/true");
        let (spawned, counters) = start(&mut command, &tp, Cpus::All).unwrap();
        assert!(counters.is_err());
        match spawned {
            Ok(mut child) => {
                let _ = child.wait();
                panic!("the child went on to exec without its counters");
            }
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "{e}"),
        }
        // A fresh command: pre_exec hooks add up, and the first one's pipes are closed.
        let err = spawn(&mut Command::new("/bin/true"), &tp, Cpus::All)
            .err()
            .unwrap();
        assert!(err.to_string().contains("perf_event_open"), "{err:#}");
    }
}
