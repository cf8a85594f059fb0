//! The machine's limits on threads, processes and memory maps, checked before a run.
//!
//! A model that needs one kernel task (thread or process) per task, or two memory maps per
//! stack, asks here first, with the limits in force right now: a run the machine cannot
//! hold is refused in one line that names the limit (exit 2), instead of failing halfway,
//! panicking inside a runtime, or hanging in a thread pool that retries forever.
//!
//! - Threads and processes are both kernel tasks. What bounds them: `threads-max` and
//!   `pid_max` (system-wide, against the tasks already running), the user's process limit
//!   (`ulimit -u`, `RLIMIT_NPROC`: every thread of every process of the user counts; root
//!   is exempt), and a cgroup's `pids.max` (containers, systemd services).
//! - Memory maps: `vm.max_map_count` per process. A thread started by std is four maps
//!   ([`MAPS_PER_THREAD`]: its stack and guard page, and the signal stack std's
//!   stack-overflow handler maps for it, with its own guard page); a may coroutine's stack
//!   is two. Past the limit, the signal stack is what fails, inside the new thread, and std
//!   aborts the process: so the check must count all four.
//! - Memory: the address-space limit (`ulimit -v`, `RLIMIT_AS`), against which a thread's
//!   whole reserved stack counts, and the memory the kernel says is available
//!   (`MemAvailable`), against what the run's tasks make resident ([`check_memory`]).

use std::fmt;

/// A run refused before it started, because a limit of the machine cannot hold it.
/// `workload::main` prints it in one line and exits 2, as for a bad argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// One limit on kernel tasks: its name, how many more tasks it allows, and what to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Room {
    limit: String,
    more: u64,
}

/// Refuse unless `needed` more kernel tasks (threads or processes) can start now.
/// `what` says what they are for, as the user will read it: "10000 threads, one per task,".
pub fn check_tasks(needed: u64, what: &str) -> Result<(), Refused> {
    match tightest() {
        Some(room) if needed > room.more => Err(Refused(format!(
            "{what} need {needed} more kernel tasks, but {} allows {} more: raise that limit",
            room.limit, room.more
        ))),
        _ => Ok(()),
    }
}

/// Memory maps of one thread started by std, measured (see the test below): the stack and
/// its guard page, and the alternate signal stack std maps for its stack-overflow handler,
/// with its guard page.
pub const MAPS_PER_THREAD: u64 = 4;

/// Maps that malloc's per-thread arenas add whatever N (glibc makes at most 8 per core,
/// each a heap and its reserve): a margin above the threads' own maps.
fn arena_maps() -> u64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    8 * cores * 2
}

/// Maps kept free beside the threads' own: the heap's large allocations are a map each
/// (malloc serves 128 KiB and more with an mmap), so threads that fill the map count to
/// the last few still abort when one of them allocates. A sixteenth of the limit.
fn headroom_maps() -> u64 {
    number("/proc/sys/vm/max_map_count").map_or(256, |max| (max / 16).max(256))
}

/// Refuse unless `n` more threads can start now: `n` kernel tasks, and their memory maps
/// under `vm.max_map_count` with some headroom. `what` names them as the user will read it.
pub fn check_threads(n: u64, what: &str) -> Result<(), Refused> {
    check_tasks(n, what)?;
    check_maps(MAPS_PER_THREAD * n + arena_maps() + headroom_maps(), what)
}

/// How many more threads can start now, after a margin of `spare` for the runtime's own:
/// the room under the tightest limit on kernel tasks and under `vm.max_map_count`. For a
/// model that starts threads as it goes (threads' `mixed`), to wait instead of passing it.
pub fn thread_room(spare: u64) -> u64 {
    thread_rooms().0.min(thread_rooms().1).saturating_sub(spare)
}

/// The rooms behind [`thread_room`]: under the kernel task limits, under the memory maps.
fn thread_rooms() -> (u64, u64) {
    let tasks = tightest().map_or(u64::MAX, |r| r.more);
    let maps = match (number("/proc/sys/vm/max_map_count"), maps_in_use()) {
        (Some(max), Some(used)) => {
            let spare = arena_maps() + headroom_maps();
            max.saturating_sub(used).saturating_sub(spare) / MAPS_PER_THREAD
        }
        _ => u64::MAX,
    };
    (tasks, maps)
}

/// The limit that sets [`thread_room`], with its values, as the user will read it.
pub fn thread_room_limit() -> String {
    let (tasks, maps) = thread_rooms();
    match number("/proc/sys/vm/max_map_count") {
        Some(max) if maps < tasks => format!(
            "vm.max_map_count ({max}, {MAPS_PER_THREAD} memory maps per thread), room for {maps} more threads"
        ),
        _ => hint(),
    }
}

/// Refuse unless `needed` more memory maps fit in this process under `vm.max_map_count`.
pub fn check_maps(needed: u64, what: &str) -> Result<(), Refused> {
    let (Some(max), Some(used)) = (number("/proc/sys/vm/max_map_count"), maps_in_use()) else {
        return Ok(());
    };
    let more = max.saturating_sub(used);
    if needed > more {
        return Err(Refused(format!(
            "{what} need {needed} more memory maps, but vm.max_map_count ({max}, {used} in use) \
             allows {more} more: raise /proc/sys/vm/max_map_count or lower --n"
        )));
    }
    Ok(())
}

/// Refuse unless `needed` more file descriptors fit under this process's open-file limit
/// (`ulimit -n`, raised to its hard limit by `workload::main`): a socket per connection
/// in flight, two pipes per worker process.
pub fn check_files(needed: u64, what: &str) -> Result<(), Refused> {
    // SAFETY: getrlimit only reads into the struct we own.
    let limit = unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0
            || lim.rlim_cur == libc::RLIM_INFINITY
        {
            return Ok(());
        }
        lim.rlim_cur
    };
    let open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    let more = limit.saturating_sub(open);
    if needed > more {
        return Err(Refused(format!(
            "{what} need {needed} more open files, but the open-file limit (ulimit -n: {limit}, \
             {open} open) allows {more} more: raise its hard limit or lower --n"
        )));
    }
    Ok(())
}

/// Memory a run needs before it starts: the address space its tasks reserve (a thread's
/// whole stack, a heap's allocations), counted against `RLIMIT_AS`, and what they make
/// resident, counted against the memory the kernel says is available.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    pub reserved: u64,
    pub resident: u64,
}

impl Footprint {
    pub const fn new(reserved: u64, resident: u64) -> Footprint {
        Footprint { reserved, resident }
    }

    /// The footprint of `n` of these.
    pub const fn times(self, n: u64) -> Footprint {
        Footprint::new(
            self.reserved.saturating_mul(n),
            self.resident.saturating_mul(n),
        )
    }
}

impl std::ops::Add for Footprint {
    type Output = Footprint;
    fn add(self, o: Footprint) -> Footprint {
        Footprint::new(
            self.reserved.saturating_add(o.reserved),
            self.resident.saturating_add(o.resident),
        )
    }
}

const MB: u64 = 1_000_000;

/// Refuse unless `need` fits: its address space under the address-space limit (`ulimit
/// -v`, `RLIMIT_AS`) beside what this process already maps, and its resident memory in
/// what the kernel says is available (`MemAvailable`, or a cgroup's `memory.max` if that
/// leaves less). Past either, a run would end in an allocation that fails halfway.
pub fn check_memory(need: Footprint, what: &str) -> Result<(), Refused> {
    if let Some((limit, used)) = address_space() {
        let more = limit.saturating_sub(used);
        if need.reserved > more {
            return Err(Refused(format!(
                "{what} need about {} MB of address space, but the address-space limit \
                 (ulimit -v, RLIMIT_AS: {} MB, {} MB in use) allows {} MB more: raise it or \
                 lower --n",
                need.reserved.div_ceil(MB),
                limit / MB,
                used / MB,
                more / MB
            )));
        }
    }
    if let Some((name, more)) = available_memory() {
        if need.resident > more {
            return Err(Refused(format!(
                "{what} need about {} MB of memory, but {name} leaves {} MB: lower --n",
                need.resident.div_ceil(MB),
                more / MB
            )));
        }
    }
    Ok(())
}

/// The address-space limit and the address space this process maps now, in bytes; `None`
/// when there is no limit.
fn address_space() -> Option<(u64, u64)> {
    // SAFETY: getrlimit only writes into the struct we own.
    let limit = unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_AS, &mut lim) != 0 || lim.rlim_cur == libc::RLIM_INFINITY {
            return None;
        }
        lim.rlim_cur
    };
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = field(&status, "VmSize:")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((limit, kb * 1024))
}

/// The memory this process can still make resident: `MemAvailable` of the machine, or
/// what its cgroup's `memory.max` leaves if that is less. Named as the user will read it.
fn available_memory() -> Option<(String, u64)> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = field(&meminfo, "MemAvailable:")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let mut tightest = ("MemAvailable".to_string(), kb * 1024);
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok();
    let path = cgroup
        .as_deref()
        .and_then(|c| c.lines().find_map(|l| l.strip_prefix("0::")));
    if let Some(path) = path {
        let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
        let read = |f: &str| dir.join(f).to_str().and_then(number);
        if let (Some(max), Some(current)) = (read("memory.max"), read("memory.current")) {
            let more = max.saturating_sub(current);
            if more < tightest.1 {
                tightest = (format!("the cgroup's memory.max ({} MB)", max / MB), more);
            }
        }
    }
    Some(tightest)
}

/// What to tell the user about a failed thread or process start: the open-file limit for
/// EMFILE (a process's pipes), else the tightest limit on kernel tasks.
pub fn start_failure_hint(e: &std::io::Error) -> String {
    if e.raw_os_error() == Some(libc::EMFILE) {
        "the open-file limit (ulimit -n)".into()
    } else {
        hint()
    }
}

/// A hint for a thread or process that failed to start anyway (a race with other
/// processes, or a limit not read here): the tightest limit on kernel tasks, with its values.
pub fn hint() -> String {
    // A thread's stack is reserved address space: under a tight address-space limit its
    // mmap fails, and the thread's start fails with the same EAGAIN as at a task limit.
    if let Some((limit, used)) = address_space() {
        let more = limit.saturating_sub(used);
        if more < 64 * MB {
            return format!(
                "the address-space limit (ulimit -v, RLIMIT_AS: {} MB, {} MB in use), \
                 against which each thread's stack counts",
                limit / MB,
                used / MB
            );
        }
    }
    match tightest() {
        Some(room) => format!(
            "the tightest limit on kernel tasks: {}, {} more allowed",
            room.limit, room.more
        ),
        None => "the limits on kernel tasks (threads-max, pid_max, ulimit -u)".into(),
    }
}

fn tightest() -> Option<Room> {
    rooms().into_iter().min_by_key(|r| r.more)
}

/// Every limit on kernel tasks that can be read, with the room it leaves.
fn rooms() -> Vec<Room> {
    let mut rooms = Vec::new();
    // The 4th field of /proc/loadavg is "running/total" kernel tasks on the machine.
    let total = std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| {
        s.split_whitespace()
            .nth(3)?
            .split('/')
            .nth(1)?
            .parse::<u64>()
            .ok()
    });
    if let Some(total) = total {
        for (name, path) in [
            ("threads-max", "/proc/sys/kernel/threads-max"),
            ("pid_max", "/proc/sys/kernel/pid_max"),
        ] {
            if let Some(max) = number(path) {
                rooms.push(Room {
                    limit: format!("{name} ({max}, {total} tasks running)"),
                    more: max.saturating_sub(total),
                });
            }
        }
    }
    if let Some(room) = nproc_room() {
        rooms.push(room);
    }
    if let Some(room) = cgroup_room() {
        rooms.push(room);
    }
    rooms
}

/// `ulimit -u`: counts every task of the real user; the kernel does not apply it to root.
fn nproc_room() -> Option<Room> {
    // SAFETY: getuid and getrlimit only read; the struct is ours.
    let (uid, limit) = unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NPROC, &mut lim) != 0 {
            return None;
        }
        (libc::getuid(), lim.rlim_cur)
    };
    if uid == 0 || limit == libc::RLIM_INFINITY {
        return None;
    }
    let used = user_tasks(uid);
    Some(Room {
        limit: format!("ulimit -u ({limit}, {used} tasks of this user running)"),
        more: limit.saturating_sub(used),
    })
}

/// Tasks (threads) of every process whose real user is `uid`.
fn user_tasks(uid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
        .filter(|status| {
            field(status, "Uid:").and_then(|v| v.split_whitespace().next()?.parse().ok())
                == Some(uid)
        })
        .map(|status| {
            field(&status, "Threads:")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(1)
        })
        .sum()
}

/// A cgroup v2 `pids.max` over this process's cgroup, if there is one.
fn cgroup_room() -> Option<Room> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let max = number(dir.join("pids.max").to_str()?)?;
    let current = number(dir.join("pids.current").to_str()?)?;
    Some(Room {
        limit: format!("the cgroup's pids.max ({max}, {current} in use)"),
        more: max.saturating_sub(current),
    })
}

fn maps_in_use() -> Option<u64> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    Some(maps.lines().count() as u64)
}

fn number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| l.strip_prefix(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_modest_need_passes_and_an_impossible_one_names_its_limit() {
        assert_eq!(check_tasks(2, "2 threads"), Ok(()));
        let Err(Refused(line)) = check_tasks(u64::MAX / 2, "many threads") else {
            panic!("an impossible number of tasks was accepted")
        };
        assert!(line.starts_with("many threads need "), "{line}");
        assert!(line.contains("allows"), "{line}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn memory_maps_are_checked_against_max_map_count() {
        assert_eq!(check_maps(10, "10 stacks"), Ok(()));
        let Err(Refused(line)) = check_maps(u64::MAX / 2, "huge stacks") else {
            panic!("an impossible number of maps was accepted")
        };
        assert!(line.contains("vm.max_map_count"), "{line}");
    }

    #[test]
    fn open_files_are_checked_against_the_limit() {
        assert_eq!(check_files(1, "one socket"), Ok(()));
        let Err(Refused(line)) = check_files(u64::MAX / 2, "many sockets") else {
            panic!("an impossible number of files was accepted")
        };
        assert!(line.contains("ulimit -n"), "{line}");
        let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(
            start_failure_hint(&emfile),
            "the open-file limit (ulimit -n)"
        );
    }

    /// What a thread started by std really maps, counted in /proc/self/maps before and
    /// after 200 threads that park: no more than MAPS_PER_THREAD each, beyond malloc's
    /// arenas (at most arena_maps() whatever N). It was 2 in the check before, and
    /// threads aborted at 16,366 threads under the default vm.max_map_count of 65,530.
    #[test]
    fn a_thread_maps_what_check_threads_counts() {
        let n = 200;
        let before = maps_in_use().unwrap();
        let (ready, wait) = std::sync::mpsc::channel();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let stopped = std::sync::Arc::new(std::sync::Mutex::new(stopped));
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let (ready, stopped) = (ready.clone(), stopped.clone());
                std::thread::spawn(move || {
                    ready.send(()).unwrap();
                    let _ = stopped.lock().unwrap().recv();
                })
            })
            .collect();
        for _ in 0..n {
            wait.recv().unwrap();
        }
        let added = maps_in_use().unwrap() - before;
        drop(stop);
        for h in handles {
            h.join().unwrap();
        }
        assert!(
            added <= MAPS_PER_THREAD * n + arena_maps(),
            "{n} threads added {added} maps: more than check_threads counts"
        );
        assert!(
            added >= (MAPS_PER_THREAD - 1) * n,
            "{n} threads added only {added} maps: MAPS_PER_THREAD overcounts"
        );
    }

    #[test]
    fn memory_is_checked_against_what_is_available() {
        assert_eq!(check_memory(Footprint::new(1, 1), "one byte"), Ok(()));
        let Err(Refused(line)) = check_memory(Footprint::new(0, u64::MAX / 2), "many tasks") else {
            panic!("an impossible amount of memory was accepted")
        };
        assert!(line.starts_with("many tasks need about "), "{line}");
        assert!(line.contains("MB of memory"), "{line}");
    }

    #[test]
    fn the_hint_names_the_task_limits() {
        let hint = hint();
        assert!(
            hint.starts_with("the tightest limit on kernel tasks: "),
            "{hint}"
        );
        assert!(hint.contains("more allowed"), "{hint}");
    }
}
