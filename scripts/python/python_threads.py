"""python-threads: one OS thread per task (threading.Thread), as the seed article's threads.

The model. Every task gets its own `threading.Thread`; the main thread starts them all,
then joins them. Code inside a task stays plain blocking code, as in python_sync.py.

Who schedules the work. The kernel picks which thread runs, but a thread must hold
CPython's global interpreter lock (GIL) to run Python code. A thread blocked in a socket
read or a sleep releases it, so waiting overlaps; a power holds it from start to end
(`**` on big integers is one call into C that never releases it), so N powers run one
at a time whatever the number of cores.
Downloads go through blocking.py: urllib, as the article used it, with one deadline for
the whole request (urllib's own timeout bounds each socket operation, not the request),
no redirect followed and no proxy, as every client of this study.

What it costs. Per thread: a kernel task and its stack (reserved, touched pages only),
plus the GIL hand-offs. Thousands are fine; the limits are `threads-max`, `pid_max` and
memory.

When to pick it. Blocking I/O with tens to thousands of connections. Not CPU work: the
GIL serialises it. The seed article's threads: cpu 2.47 s (slower than sync), io 7.9 s.
Rust's counterpart, with no GIL: crates/models/threads/src/main.rs.

    python3 scripts/python/python_threads.py cpu --n 10
    python3 scripts/python/python_threads.py io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200

What to observe. io takes about one task's time (URLs x delay), whatever N; cpu takes
as long as python_sync.py, or longer (the threads contend for the GIL).
"""

import threading
import time

import blocking
import workload


def run_cpu(args):
    """N powers, one thread each; the GIL lets one of them compute at a time."""
    return on_threads(args.n, workload.cpu_task, args.base, args.exp)


def run_io(args):
    """N tasks, one thread each; each blocks on its own socket while the others proceed."""
    return on_threads(args.n, blocking.download_all, args.urls, args.timeout_ms)


def run_sleep(args):
    """N waits, one thread each: all of them wait at the same time."""

    def sleep():
        time.sleep(args.ms / 1000)
        return workload.Tally.task(0, 0)

    return on_threads(args.n, sleep)


def on_threads(n, task, *task_args):
    """The model itself: start one thread per task, then join them all."""
    workload.record_workers(n)
    results = [None] * n

    # Each thread writes its own slot: list item assignment needs no lock. `attempt`
    # keeps a task's exception as its result, so a failed task stops neither the others
    # nor the join below, and threading prints no traceback.
    def run(i):
        results[i] = workload.attempt(task, *task_args)

    threads = []
    for i in range(n):
        thread = threading.Thread(target=run, args=(i,))
        try:
            thread.start()
        except RuntimeError as e:  # "can't start new thread": at the thread limit
            for t in threads:
                t.join()
            raise workload.TaskError(f"cannot start thread {i + 1} of {n}: {e}") from None
        threads.append(thread)
    # Join every thread: a thread's failure is reported after all have finished.
    for thread in threads:
        thread.join()
    return workload.gather(results)


if __name__ == "__main__":
    workload.main("python-threads", {"cpu": run_cpu, "io": run_io, "sleep": run_sleep})
