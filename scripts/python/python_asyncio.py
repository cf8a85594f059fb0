"""python-asyncio: coroutines on one event loop (asyncio + aiohttp), as the seed article's.

The model. Every task is a coroutine; `asyncio.gather` wraps each in a Task on the event
loop and waits for them all. A coroutine runs until it `await`s something not ready (a
socket, a timer), hands the thread back to the loop there, and is resumed when the loop's
selector (epoll) says it can go on. Downloads go through aiohttp with one
`ClientSession` per task, as the article wrote it; CPU work goes through
`loop.run_in_executor`, as the article did, which hands it to the loop's default
executor, a `ThreadPoolExecutor` of min(32, cores + 4) threads.

Who schedules the work. The event loop, in user space, on this one thread: one
coroutine at a time, switching only at an `await`. Nothing may block the loop: a blocking
call in a coroutine stalls every task, which is why the powers go to the executor. There
they are threads, and the GIL still lets one compute at a time, as in python_threads.py.

What it costs. Per task: a Task and its coroutine frame, a few KiB, no kernel thread. In
return every call on the way down must be async (aiohttp, not urllib). One session per
task means one connection pool per task: a task reuses its connection for its own
URLs, but no task shares another's, and each session costs its setup. A shared session
would be the idiomatic choice; the article's shape is kept so its figures compare.

When to pick it. Many connections or timers, mostly waiting. The seed article's asyncio:
cpu 2.23 s (one core), io 4.37 s, the fastest of its io runs. python_uvloop.py runs this
same program on uvloop's loop. Rust's counterparts: crates/models/tokio-async,
smol-async, async-std-async.

    target/python-venv/bin/python scripts/python/python_asyncio.py io --n 10 --url http://127.0.0.1:PORT/delay/100/bytes/51200
    target/python-venv/bin/python scripts/python/python_asyncio.py sleep --n 100000 --ms 100

What to observe. io takes about one task's time whatever N, on one thread; cpu takes as
long as python_threads.py; 100,000 sleeping tasks fit where threads would need 100,000
kernel threads.
"""

import asyncio

import aiohttp

import workload


async def run(args):
    """The workload's coroutine: what asyncio.run (or uvloop.run) drives to its end."""
    runners = {"cpu": run_cpu, "io": run_io, "sleep": run_sleep}
    return await runners[args.workload](args)


async def run_cpu(args):
    """N powers, each on a thread of the loop's default executor."""
    loop = asyncio.get_running_loop()
    # run_in_executor: a power computes for 100+ ms without an `await`; on the loop it
    # would stall every other task (timers fire late, sockets go unread). The executor's
    # threads take it instead, and the loop awaits a future of its result.
    return await gather_all(
        loop.run_in_executor(None, workload.cpu_task, args.base, args.exp) for _ in range(args.n)
    )


async def run_io(args):
    """N tasks on the loop; each downloads its URLs in turn through its own session."""
    return await gather_all(download_all(args.urls, args.timeout_ms) for _ in range(args.n))


async def run_sleep(args):
    """N tasks, each waiting on the loop's timer: all of them wait at the same time."""

    async def sleep():
        # A timer entry on the loop, not a parked thread: the loop moves on to the next task.
        await asyncio.sleep(args.ms / 1000)
        return workload.Tally.task(0, 0)

    return await gather_all(sleep() for _ in range(args.n))


async def gather_all(awaitables):
    """The model itself: run every task on the loop at once, then add them all up."""
    workload.record_workers(1)  # the loop's one thread
    # gather wraps each coroutine in a Task, so all of them start now and interleave at
    # their awaits. return_exceptions: a failed task does not cancel the others; its
    # exception is its result, reported after all have finished.
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    return workload.gather(results)


async def download_all(urls, timeout_ms):
    """One task of the io workload: every URL in turn, in this task's own session."""
    # ONE session per task, as in the article: it holds a connection pool, so the task's
    # second request to the same host reuses the socket of its first. `total` bounds each
    # request from connect to last byte, as the Rust clients' timeout does. trust_env=False
    # (aiohttp's default, said here): no proxy from the environment, as every client here.
    timeout = aiohttp.ClientTimeout(total=timeout_ms / 1000)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
        total = workload.Tally()
        for url in urls:
            total += await download(session, url, timeout_ms)
        return total


async def download(session, target, timeout_ms):
    """Download one URL (a workload.Target), reading the body to its end, and verify it.

    The policy of every client here: no redirect followed (the 3xx comes back, and
    Verifier fails it naming where it pointed), and the URL's credentials, taken out of
    it, sent as one Authorization header; errors name the URL without them.
    """
    url = target.url
    headers = {"Authorization": target.authorization} if target.authorization else {}
    try:
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            verifier = workload.Verifier(url, response.status, response.headers)
            try:
                async for chunk in response.content.iter_chunked(64 * 1024):
                    verifier.update(chunk)
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                raise verifier.broken(cause(e, timeout_ms)) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as e:
        raise workload.FetchError(url, cause(e, timeout_ms)) from None
    return verifier.finish()


def cause(e, timeout_ms):
    """aiohttp's exceptions in the Rust models' words (the rest as workload classifies)."""
    if isinstance(e, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return workload.RESET  # mid-body, Verifier.broken names it a truncated body
    return workload.classify(e, timeout_ms)


def start(args):
    # asyncio.run creates a new event loop on this thread, runs the coroutine to its end,
    # shuts the default executor down, and closes the loop: scheduling begins here.
    return asyncio.run(run(args))


if __name__ == "__main__":
    workload.main("python-asyncio", {"cpu": start, "io": start, "sleep": start})
