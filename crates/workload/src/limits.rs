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
//! - Memory maps: `vm.max_map_count` per process. A thread's stack is two maps (the stack
//!   and its guard page), and so is a may coroutine's.

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
