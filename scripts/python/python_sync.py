"""python-sync: one thing after another (the baseline), as the seed article's sync program.

The model. One thread does every task in turn: the next power starts when the last one
is done, the next download when the last body has arrived. No concurrency at all, which
is what makes it the baseline every other Python model is compared to.

Who schedules the work. Nobody: program order. Each blocking call (a download, a socket
read, `time.sleep`) parks the one thread in the kernel, and nothing else runs meanwhile.
Downloads go through blocking.py: urllib, as the article used it, with one deadline for
the whole request (urllib's own timeout bounds each socket operation, not the request),
no redirect followed and no proxy, as every client of this study.

What it costs. Nothing beyond the work itself and the interpreter: one thread, one
connection at a time. Time is the sum of every task's time.

When to pick it. When there is one thing to do, or when the things must happen in order
anyway. The seed article's sync run: cpu 2.18 s, io 31.4 s. Rust's counterpart:
crates/models/sync/src/main.rs.

    python3 scripts/python/python_sync.py cpu --n 10
    python3 scripts/python/python_sync.py io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200

What to observe. cpu takes N times one power (CPython's big-integer power is about
twice as slow as num-bigint's); io takes N x URLs x the server delay. Diff this file
against any other Python model: what differs is the model.
"""

import time

import blocking
import workload


def run_cpu(args):
    """N powers, one after another, on this thread."""
    total = workload.Tally()
    for _ in range(args.n):
        total += workload.cpu_task(args.base, args.exp)
    return total


def run_io(args):
    """N tasks, one after another; each downloads its URLs in turn. The first failure
    stops the run: there is nothing running beside it to wait for."""
    total = workload.Tally()
    for _ in range(args.n):
        total += blocking.download_all(args.urls, args.timeout_ms)
    return total


def run_sleep(args):
    """N waits, one after another: N x MS of wall time, by design."""
    total = workload.Tally()
    for _ in range(args.n):
        time.sleep(args.ms / 1000)
        total += workload.Tally.task(0, 0)
    return total


if __name__ == "__main__":
    workload.main("python-sync", {"cpu": run_cpu, "io": run_io, "sleep": run_sleep})
