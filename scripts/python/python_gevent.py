"""python-gevent: greenlets on one thread (gevent), as the seed article's gevent program.

The model. `monkey.patch_all()` swaps the standard library's blocking calls (sockets,
`time.sleep`, DNS lookups, threads) for gevent's cooperative ones; then every task is a
greenlet started with `gevent.spawn`, and `gevent.wait` runs them until all are done.
The task code is the same blocking code as python_sync.py (urllib, `time.sleep`): the
patched socket does the switching.

Who schedules the work. gevent's hub, in user space, on this one thread: a greenlet runs
until it would block on a patched call; it then parks, and the hub's event loop (libev)
switches to another ready greenlet and wakes parked ones when their socket or timer is
ready. A greenlet that never blocks (a power) keeps the thread until it is done: CPU
work runs one task at a time, as in sync. An unpatched blocking call (a C library's own
socket) stalls every greenlet.
Downloads go through blocking.py: urllib, as the article used it, with one deadline for
the whole request (urllib's own timeout bounds each socket operation, not the request),
no redirect followed and no proxy, as every client of this study.

What it costs. Per greenlet: a small C stack slice copied in and out on each switch, a
few KiB; no kernel thread. gevent's default resolver runs every address lookup, an IP
one too, on its pool of real threads (up to 10): peak_threads shows them.

When to pick it. Many connections in blocking-style code, without `async`, in a process
where patching the standard library is acceptable. The seed article's gevent: cpu
2.23 s (like sync), io 6.85 s. Rust's counterpart: crates/models/green/src/main.rs.

    target/python-venv/bin/python scripts/python/python_gevent.py io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
    target/python-venv/bin/python scripts/python/python_gevent.py sleep --n 10000 --ms 100

What to observe. io takes about one task's time whatever N, like python_threads.py, on
one thread; cpu takes as long as python_sync.py.
"""

# Patch first, before anything imports socket, ssl or threading: a module that took the
# original `socket.socket` before this line would keep blocking the whole thread.
from gevent import monkey

monkey.patch_all()

import gevent  # noqa: E402

import blocking  # noqa: E402
import workload  # noqa: E402


def run_cpu(args):
    """N powers, one greenlet each; none yields, so they run one after another."""
    return on_greenlets(args.n, workload.cpu_task, args.base, args.exp)


def run_io(args):
    """N tasks, one greenlet each; each parks on its patched socket while others run."""
    return on_greenlets(args.n, blocking.download_all, args.urls, args.timeout_ms)


def run_sleep(args):
    """N waits, one greenlet each, on the hub's timer: all of them wait at the same time."""

    def sleep():
        gevent.sleep(args.ms / 1000)  # what the patched time.sleep calls
        return workload.Tally.task(0, 0)

    return on_greenlets(args.n, sleep)


def on_greenlets(n, task, *task_args):
    """The model itself: spawn one greenlet per task, then wait for them all."""
    workload.record_workers(1)  # the hub's one thread runs every greenlet
    # gevent.spawn schedules the greenlet and returns at once; it first runs when this
    # greenlet yields to the hub, here in gevent.wait. `attempt` keeps a task's exception
    # as its value: gevent would print a traceback for a greenlet that raised.
    greenlets = [gevent.spawn(workload.attempt, task, *task_args) for _ in range(n)]
    gevent.wait(greenlets)
    return workload.gather(g.value for g in greenlets)


if __name__ == "__main__":
    workload.main("python-gevent", {"cpu": run_cpu, "io": run_io, "sleep": run_sleep})
