"""python-asyncio as a server: aiohttp.web on asyncio's event loop.

The model. One event loop on one thread runs aiohttp's server: every connection is a
protocol object whose coroutine reads requests and runs the handler for each as a Task;
a handler runs until it `await`s something not ready (the backend's answer), and the loop
runs the others meanwhile. /work's power goes to the loop's default executor
(`run_in_executor`, a ThreadPoolExecutor of min(32, cores + 4) threads), as
python_asyncio.py does: on the loop it would stall every connection for its duration.
/backend downloads through one aiohttp ClientSession for the server (its connection pool
reused by every request, with no limit on connections: aiohttp's default of 100 would
cap waiting requests at 100), verified as python_asyncio.download verifies.

Who schedules the work. The event loop, in user space, switching only at an `await`;
the kernel's epoll says which sockets are ready. The executor's threads still take the
GIL in turn: one power at a time.

What it costs. Per connection: a transport, a protocol and a Task, a few KiB, no thread;
every call on the way down must be async (aiohttp's client, not urllib).

aiohttp's settings here: `keepalive_timeout` = --header-timeout-ms + 1 s (aiohttp's
limit on an idle connection, and on a head that does not complete: it closes the
connection, sending nothing); `max_line_size` and `max_field_size` = 16 KiB, where
aiohttp answers a longer request line or header line with 400 ("Got more than 16384
bytes when reading"), not 431 (counted as bad_request); a head of many shorter lines
is not capped at 16 KiB (aiohttp's `max_headers`, 128, bounds their number). On SIGTERM or SIGINT: `runner.cleanup()` stops accepting, closes idle
connections and waits --drain-ms for the handlers in progress (aiohttp's
`shutdown_timeout`), then cancels those still running and waits for them to unwind.

What we add: a timer per connection closes it when no head is complete --header-timeout-ms
after it was accepted (counted as header_timeout; aiohttp's keepalive_timeout, a second
later, is the limit between requests, and on a head trickled after the first); an access
logger counts every answer aiohttp sends, its own 400s included. Accept errors (out of
file descriptors) are asyncio's: it pauses accepting for a second; Listener counts them
and logs the first (uvloop's libuv closes the waiting connections itself: uncounted).

When to pick it. Many connections and many waiting requests, in code written async.
Rust's counterparts: crates/models/tokio-async, smol-async, async-std-async.

    target/python-venv/bin/python scripts/python/serve_asyncio.py serve --port 0 --backend 127.0.0.1:PORT

What to observe. /backend requests overlap on one thread; peak_threads stays small
however many connections are open. serve_uvloop.py runs this same server on uvloop.
"""

import asyncio
import errno
import logging
import signal
import socket

import aiohttp
from aiohttp import http_exceptions, web

import python_asyncio
import serve_app
import workload

MODEL = "python-asyncio"


def routes(model, args, counters, started):
    """The aiohttp app: the routes, and what each request needs (the shared session)."""

    async def session_ctx(app):
        # One client session for the server, opened at startup and closed at cleanup.
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
            app["session"] = session
            yield

    @web.middleware
    async def head_complete(request, handler):
        started.add(request.protocol)  # this connection's head was complete in time
        return await handler(request)

    def answer(a):
        return web.Response(body=a.body, status=a.status, headers=serve_app.headers(a.body))

    async def hello(request):
        return answer(serve_app.hello())

    async def work(request):
        loop = asyncio.get_running_loop()
        # To the default executor's threads: a power is long C code with no `await`.
        return answer(await loop.run_in_executor(None, serve_app.work,
                                                 request.match_info["exp"]))

    async def backend(request):
        plan = serve_app.backend_plan(args.backend, request.match_info["ms"])
        if isinstance(plan, serve_app.Answer):
            return answer(plan)
        target, timeout_ms = plan
        try:
            # The loop runs other requests while this one waits on the backend.
            async with asyncio.timeout(timeout_ms / 1000):
                result = await python_asyncio.download(request.app["session"], target, timeout_ms)
        except TimeoutError:
            result = workload.FetchError(target.url, workload.timed_out(timeout_ms))
        except Exception as e:  # noqa: BLE001: every failure is the 502's cause
            result = e
        return answer(serve_app.backend_answer(model, result))

    async def other(request):
        if request.method != "GET":
            return answer(serve_app.method_not_allowed(request.method))
        return answer(serve_app.not_found(request.path))

    app = web.Application(middlewares=[head_complete])
    app.cleanup_ctx.append(session_ctx)
    app.add_routes([web.get("/hello", hello, allow_head=False),
                    web.get("/work/{exp}", work, allow_head=False),
                    web.get("/backend/{ms}", backend, allow_head=False),
                    web.route("*", "/{tail:.*}", other)])
    return app


async def run(model, args, summary_file):
    """Serve until SIGTERM or SIGINT, drain, and print the summary line."""
    log_in_one_line(model)
    counters = serve_app.Counters()
    started = set()  # connections with a complete head (aiohttp's protocol objects)
    sock, listen = serve_app.listener(args)
    sock = Listener(model, counters, sock)

    class Counted(web.AbstractAccessLogger):
        # aiohttp calls it for every answer it sends, its own 400s included, and for one
        # it could not write because the client was gone (the connection lost first).
        def log(self, request, response, time):
            started.add(request.protocol)
            if request.transport is None:
                counters.error("client_gone")
            else:
                counters.answered(response.status, response.content_length or 0)

    runner = web.AppRunner(
        routes(model, args, counters, started), handle_signals=False,
        access_log_class=Counted, keepalive_timeout=args.header_timeout_ms / 1000 + 1,
        max_line_size=serve_app.HEAD_CAP, max_field_size=serve_app.HEAD_CAP,
        shutdown_timeout=args.drain_ms / 1000)
    asyncio.get_running_loop().set_exception_handler(quiet_accept_failures)
    await runner.setup()
    watch_heads(runner.server, counters, started, args.header_timeout_ms / 1000)
    await web.SockSite(runner, sock, backlog=2048).start()
    serve_app.announce(listen)
    clock, sampler = serve_app.Clock(), workload.Sampler()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()

    pss, threads = sampler.finish()
    line = serve_app.summary_line(model, listen, clock.seconds(), counters.total([counters]),
                                  processes=1, workers=1,
                                  peak_rss_bytes=workload.peak_rss_bytes(),
                                  peak_pss_bytes=pss, peak_threads=threads)
    serve_app.finish(line, summary_file)


class Listener(socket.socket):
    """The listening socket, whose accept() failures for want of file descriptors or
    memory are counted and logged once.

    asyncio's own handling of them (Python 3.11's selector loop) spins: it logs the
    failure with a traceback, takes the listener off the loop and schedules its return a
    second later, then calls accept() again, up to `backlog` (2,048) times in a row, each
    failing, logged and scheduled the same way. Here the first failure of a round is
    raised (asyncio pauses the listener for a second) and the next accept() of that
    round says "nothing waiting", which ends it. uvloop never calls this: libuv accepts
    and closes the waiting connections itself at EMFILE, uncounted."""

    def __init__(self, model, counters, sock):
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self.model, self.counters, self.failed, self.logged = model, counters, False, False

    def accept(self):
        if self.failed:
            self.failed = False
            raise BlockingIOError(errno.EAGAIN, "paused after a failed accept")
        try:
            return super().accept()
        except OSError as e:
            if e.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                raise
            self.counters.error("accept")
            if not self.logged:
                self.logged = True
                serve_app.log(self.model, f"accept failed: {workload.one_line(e)}; pausing "
                              "accepts 1 s at each failure (asyncio's delay)")
            self.failed = True
            raise


def quiet_accept_failures(loop, context):
    """The loop's exception handler: an accept failure (counted and logged once by
    Listener) is not logged again; anything else as asyncio logs it."""
    if isinstance(context.get("exception"), OSError) and context.get("socket") is not None \
            and "accept" in context.get("message", ""):
        return
    loop.default_exception_handler(context)


def watch_heads(server, counters, started, timeout):
    """Count each connection aiohttp's server accepts, and close it if its first head is
    not complete `timeout` seconds later (aiohttp's server offers no hook for either: its
    own two methods are wrapped, on this one instance)."""
    loop = asyncio.get_running_loop()
    made, lost = server.connection_made, server.connection_lost

    def check(handler):
        if handler in server.connections and handler not in started:
            counters.error("header_timeout")
            handler.force_close()

    def connection_made(handler, transport):
        made(handler, transport)
        counters.connected(len(server.connections))
        loop.call_later(timeout, check, handler)

    def connection_lost(handler, exc=None):
        started.discard(handler)
        lost(handler, exc)

    server.connection_made, server.connection_lost = connection_made, connection_lost


def log_in_one_line(model):
    """aiohttp's log lines on stderr, prefixed with the model's name; a request it could
    not parse in one line (aiohttp logs it with a traceback)."""

    def one_line(record):
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, http_exceptions.HttpProcessingError):
            record.msg, record.args = f"{record.getMessage()}: {workload.one_line(exc)}", ()
            record.exc_info = None
        return True

    logging.basicConfig(format=f"{model}: %(name)s %(levelname)s %(message)s")
    logging.getLogger().handlers[0].addFilter(one_line)


def serve(args, summary_file):
    # asyncio.run: a new event loop on this thread, driving the server to its end.
    asyncio.run(run(MODEL, args, summary_file))


if __name__ == "__main__":
    serve_app.main(MODEL, serve)
