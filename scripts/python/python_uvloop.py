"""python-uvloop: the asyncio program, on uvloop's event loop.

The model. Exactly python_asyncio.py (the same coroutines, gather, one aiohttp session
per task, run_in_executor for CPU work): only the event loop differs. uvloop replaces
asyncio's own loop, written mostly in Python, with one written in Cython on libuv, the
loop of Node.js.

Who schedules the work. uvloop's loop, on this one thread: the same rules as asyncio's
(a coroutine runs until its next `await`), with the loop's own bookkeeping, sockets and
timers in C. The default executor is still asyncio's ThreadPoolExecutor. uvloop looks
every address up (an IP one too) on libuv's thread pool: peak_threads shows it.

What it costs. A compiled dependency; nothing in the program changes. The seed article
recommends it for asyncio code, and another published claim says it makes asyncio "at
least 2x" faster: `make bench-python` measures that claim on this machine against
python-asyncio. Only the loop's own work gets faster; time spent in aiohttp's Python
code, in our checks and in the powers does not change.

When to pick it. An asyncio program whose time goes to the loop itself: many small
reads and writes, many timers. Not CPU work.

    target/python-venv/bin/python scripts/python/python_uvloop.py io --n 1000 --url http://127.0.0.1:PORT/delay/100/bytes/1024

What to observe. Against python_asyncio.py: the same checksums, and the difference the
loop alone makes, which grows with the number of tasks.
"""

import uvloop

import python_asyncio
import workload


def start(args):
    # uvloop.run is asyncio.run with uvloop's loop factory (asyncio.Runner on Python
    # 3.11+): a new uvloop loop on this thread, the same coroutine driven to its end.
    return uvloop.run(python_asyncio.run(args))


if __name__ == "__main__":
    workload.main("python-uvloop", {"cpu": start, "io": start, "sleep": start})
