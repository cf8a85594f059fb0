"""python-uvloop as a server: serve_asyncio.py's aiohttp server, on uvloop's event loop.

The model. Exactly serve_asyncio.py (the same aiohttp app, handlers, executor for the
powers, shared client session, drain): only the event loop differs. uvloop replaces
asyncio's loop, written mostly in Python, with one written in Cython on libuv; its
published claim, "at least 2x" faster, was measured on HTTP servers like this one.

Who schedules the work. uvloop's loop, on this one thread, by asyncio's rules (a
coroutine runs until its next `await`), with the loop's own bookkeeping, sockets and
timers in C. aiohttp's HTTP parser is its own C extension on either loop.

What it costs. A compiled dependency; nothing in the program changes. Only the loop's
work gets faster: aiohttp's Python code, Flask-free handlers and the powers do not.

Where it departs from serve_asyncio.py: out of file descriptors, libuv accepts the
waiting connections with a spare descriptor and closes them at once (its "EMFILE trick"):
no spin, but those clients are dropped, and neither counted (`accept` stays 0) nor
logged, since uvloop tells the program nothing (tests/serve.rs's table says so).

When to pick it. An asyncio server whose time goes to the loop itself: many small
requests, many connections. Rust's counterparts: crates/models/tokio-async and friends.

    target/python-venv/bin/python scripts/python/serve_uvloop.py serve --port 0 --backend 127.0.0.1:PORT

What to observe. Against serve_asyncio.py under the same load (`make bench-serve`): the
difference the loop alone makes on the hello scenario, the cheapest route.
"""

import uvloop

import serve_app
import serve_asyncio

MODEL = "python-uvloop"


def serve(args, summary_file):
    # uvloop.run: asyncio.run with uvloop's loop factory, driving the same server.
    uvloop.run(serve_asyncio.run(MODEL, args, summary_file))


if __name__ == "__main__":
    serve_app.main(MODEL, serve)
