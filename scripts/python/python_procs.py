"""python-procs: one OS process per task (multiprocessing.Process), as the seed article's.

The model. Every task runs in its own process: the parent starts N `multiprocessing.
Process`es, each runs one task and sends its verified tally back through a pipe, and the
parent adds them up. Each process has its own interpreter and its own GIL, which is the
point: CPU work runs on every core.

Who schedules the work. The kernel. Processes share nothing; what crosses between them
is pickled through a pipe (here, one small tally per task).
Downloads go through blocking.py: urllib, as the article used it, with one deadline for
the whole request (urllib's own timeout bounds each socket operation, not the request),
no redirect followed and no proxy, as every client of this study.

What it costs. A process start per task and the memory of a whole interpreter per
process. The start method is `fork`, Linux's default before Python 3.14: the child is a
copy-on-write copy of the parent, so starting one costs a fork, not a fresh interpreter
that imports everything again (`spawn`, macOS's default; Python 3.14 makes `forkserver`
Linux's). Peak RSS is summed over every process, so pages still shared after the fork
count once per process; the summary's peak_pss_bytes divides them among the processes.

When to pick it. CPU-bound work in CPython (the way around the GIL), or isolation. The
seed article's processes: cpu 1.12 s (the fastest), io 7.22 s. Rust's counterpart, where
threads already use every core: crates/models/procs/src/main.rs.

    python3 scripts/python/python_procs.py cpu --n 10
    python3 scripts/python/python_procs.py io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200

What to observe. cpu about N powers / number of cores, unlike python_threads.py; peak
memory many times that of python_threads.py.
"""

import multiprocessing
import time

import blocking
import workload


def run_cpu(args):
    """N powers, one process each; the kernel spreads them over the cores."""
    return on_processes(args.n, workload.cpu_task, args.base, args.exp)


def run_io(args):
    """N tasks, one process each; each blocks on its own socket while the others proceed."""
    return on_processes(args.n, blocking.download_all, args.urls, args.timeout_ms)


def run_sleep(args):
    """N waits, one process each: all of them wait at the same time."""
    return on_processes(args.n, sleep, args.ms)


def sleep(ms):
    time.sleep(ms / 1000)
    return workload.Tally.task(0, 0)


def on_processes(n, task, *task_args):
    """The model itself: start one process per task, then wait for each and add up what
    it reports."""
    workload.record_workers(n)
    context = multiprocessing.get_context("fork")
    workers = []
    for i in range(n):
        # One pipe per worker: the parent reads, the worker writes its result once.
        reader, writer = context.Pipe(duplex=False)
        # daemon: if the parent fails, multiprocessing kills the workers still running
        # when the parent exits, so none outlives it.
        process = context.Process(target=worker, args=(writer, task, *task_args), daemon=True)
        try:
            process.start()
        except OSError as e:  # EAGAIN at the process limit, ENOMEM
            raise workload.TaskError(f"cannot start worker {i + 1} of {n}: {e}") from None
        # The parent keeps only the read end: when the worker exits, its end closes and a
        # worker that died before writing reads as end-of-file, not as a hang.
        writer.close()
        # Count the worker's memory and threads as the model's, until it is reaped.
        workload.track(process.pid)
        workers.append((process, reader))
    # Wait for all of them, in start order; a failed worker is reported with its own
    # one-line error after every worker has finished.
    results = []
    for process, reader in workers:
        try:
            results.append(outcome(reader.recv()))
        except EOFError:
            process.join()
            results.append(workload.TaskError(
                f"worker {process.pid} exited with code {process.exitcode} before reporting"))
        process.join()
        workload.untrack(process.pid)
        reader.close()
    return workload.gather(results)


def worker(writer, task, *task_args):
    """In a worker process: run the one task, exactly as python_sync.py would, and send the
    parent its tally with this process's peak memory, or its error as one line."""
    result = workload.attempt(task, *task_args)
    if isinstance(result, workload.Tally):
        result.child_processes = 1
        result.child_peak_rss_bytes = workload.peak_rss_bytes()
        writer.send(("ok", result))
    else:
        writer.send(("error", workload.one_line(result)))
    writer.close()


def outcome(message):
    kind, value = message
    return value if kind == "ok" else workload.TaskError(value)


if __name__ == "__main__":
    workload.main("python-procs", {"cpu": run_cpu, "io": run_io, "sleep": run_sleep})
