//! Ending with the process that started the server: `--exit-with-parent PID`.
//!
//! A driver script stops its server on the way out, but a script killed by SIGKILL runs no
//! trap: its server is re-parented to init and goes on serving, holding its port, for
//! ever. With `--exit-with-parent $$`, the kernel tells the server when its parent ends
//! (`prctl(PR_SET_PDEATHSIG)`), and the server shuts down as on SIGTERM. Two catches, both
//! handled here:
//! - **The parent may end before the server asks.** The kernel only signals a death that
//!   comes after the `prctl`. So the caller names its pid, and right after the `prctl` the
//!   server compares it with `getppid()`: if they differ, the parent is already gone (or the
//!   pid is wrong), and the server refuses to start.
//! - **The signal comes when the parent *thread* that started the server ends**, which in
//!   a multi-threaded parent may be long before the process does. The kernel then hands
//!   the server to another thread of the same process, so `getppid()` is unchanged: on
//!   each signal the server checks it again and carries on if the parent is still there.
//!
//! The signal is SIGHUP ("the controlling process went away"), handled only with this
//! flag, and only as that question. A server started by hand without the flag is not
//! watched at all: it outlives its shell like any background job, and stops on SIGTERM
//! (or SIGINT, unless started with it ignored: see `shutdown_signal` in main.rs).

use anyhow::{bail, Result};
use tokio::signal::unix::{signal, SignalKind};

/// Start watching `parent`, which must be this process's parent. The returned future
/// resolves once it has ended. Must be called on the thread that lives as long as the
/// server (the one that runs `main`): the kernel keeps the death signal per thread.
pub fn watch(parent: u32) -> Result<impl std::future::Future<Output = ()>> {
    // The handler first: a death signal that comes right after the prctl below must find
    // it (SIGHUP's default action would end the server without a word).
    let mut hangup = signal(SignalKind::hangup())?;
    // SAFETY: prctl with PR_SET_PDEATHSIG only sets a number in the kernel's record of
    // this thread.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGHUP) } != 0 {
        bail!(
            "--exit-with-parent: prctl(PR_SET_PDEATHSIG) failed: {}",
            std::io::Error::last_os_error()
        );
    }
    // From here on a death is signalled; one before it shows in getppid() now.
    let now = current_parent();
    if now != parent {
        bail!(
            "--exit-with-parent {parent}: this server's parent is process {now}: \
             process {parent} has already ended, or is not the one that started the server"
        );
    }
    Ok(async move {
        // A hang-up while the parent lives (the thread that started us ended, or someone
        // sent SIGHUP) changes nothing.
        while hangup.recv().await.is_some() {
            if current_parent() != parent {
                return;
            }
        }
        // The signal stream never ends while the runtime runs; if it did, keep serving.
        std::future::pending().await
    })
}

fn current_parent() -> u32 {
    // SAFETY: getppid cannot fail and touches nothing of ours.
    let pid = unsafe { libc::getppid() };
    u32::try_from(pid).unwrap_or(0)
}
