"""Flask under gunicorn, written once: how python-sync, python-procs, python-threads and
python-gevent serve. Their files (serve_sync.py, ...) choose gunicorn's worker class and
how many workers; the Flask app, gunicorn's settings and what we add to it live here.

How gunicorn serves. One arbiter process holds the listening socket, forks the worker
processes (all of them accept on that one socket: the kernel hands each connection to
one), restarts any that die, and never serves a request itself. On SIGTERM it closes its
copy of the socket and sends SIGTERM to every worker, which stops accepting and finishes
what it is doing; a worker still busy `graceful_timeout` seconds later is killed. Each
worker runs the WSGI app (Flask) in its own way: that way is the model.

gunicorn's settings here (gunicorn.org's names; an integer number of seconds for each
timeout, so our milliseconds are rounded up):
- `bind`: the socket serve_app.listener bound (`fd://N`), so that a port in use is one
  line at once (gunicorn itself retries five times, a second apart), and port 0 works.
- `graceful_timeout` = --drain-ms; `keepalive` = --header-timeout-ms + 1 s (the idle
  keep-alive connection's limit, after the head timer below, which closes it first).
- `limit_request_line` = 8190 (gunicorn's maximum; a longer request line gets 414) and
  `limit_request_field_size` = 16 KiB (a longer header line gets 431). gunicorn has no
  cap on the whole head: a head of many shorter lines is read up to 100 lines
  (`limit_request_fields`, its default), where the contract refuses any head over 16 KiB.
- `worker_connections` = 16,384 (gevent's and gthread's connections per worker; the
  default 1,000 would leave the contract's 10,000 keep-alive connections queued).
- `preload_app` off, gunicorn's default: each worker imports Flask and builds the app
  after the fork (so gevent's worker patches the standard library first).

What we add, and why:
- HeadTimer: a head not complete within --header-timeout-ms closes the connection.
  gunicorn's sync worker has no such limit (a client that sends half a request holds the
  worker until it is gone, which is why gunicorn's documentation puts a buffering proxy
  in front of it), and gthread's closes a connection that sends nothing, but not one
  that sent part of a head, which holds a thread of its pool. Each
  worker class calls `watch` where it starts waiting for a head and `unwatch` where the
  head is complete; the timer shuts the socket down, which ends the read. Nothing is sent
  (no 408): the connection is closed. Counted as header_timeout when no answer had been
  sent on it yet (an idle kept-alive connection closed is not an error).
- The address is printed once the first workers have loaded the app (each writes a byte
  on a pipe, `post_worker_init`), not when the arbiter has bound the socket: a request
  sent at once would otherwise wait in the accept queue while Flask is imported, and a
  SIGTERM meanwhile would reset it, unanswered, rather than drain it.
- Counting: every answer gunicorn writes for the app (the `post_request` hook: status and
  body bytes sent; short of Content-Length, the client was gone), and its own answers to
  requests it could not parse (`handle_error`), into the worker's cells of memory shared
  with the arbiter, which adds them up at exit (`on_exit`) for the summary line.
- gunicorn's own answers are its own: 400 (a malformed request), 414, 431, as HTML
  (`text/html`, no `x-checksum`), where the contract asks text/plain with a checksum.
- Out of file descriptors (accept() failing with EMFILE, ENFILE, ENOBUFS or ENOMEM):
  gunicorn's gthread worker would exit with a traceback (the arbiter starts another,
  which runs out again), and gevent's server backs off but prints a traceback at each
  retry. Ours count each failure (`accept`), log the first in one line, and pause
  accepting (`Counted.accept_failed`; serve_threads.py and serve_gevent.py). The sync
  worker never gets there: it holds one connection at a time.
- SIGINT drains as SIGTERM does (gunicorn's SIGINT is a quick stop: SIGQUIT to the
  workers), because the contract asks both to drain.
"""

import errno
import mmap
import os
import select
import signal
import socket
import threading
import time

import gunicorn.app.base
import gunicorn.arbiter
import gunicorn.glogging
from gunicorn.http import errors as http_errors

import serve_app
import workload


def serve(model, args, summary_file, worker_class, *, workers, threads=1, scheduler_workers=1):
    """Run gunicorn with `workers` processes of `worker_class` until SIGTERM or SIGINT;
    the summary line is printed at exit. `scheduler_workers`: the summary's `workers`."""
    server = Server(model, args, summary_file, worker_class, workers, threads, scheduler_workers)
    server.run()


def flask_app(model, args):
    """The routes as a Flask app: what each worker runs."""
    # Imported here, in the worker, after the fork: gevent's worker has patched the
    # standard library by then, and blocking.py's sockets must be gevent's (its socket
    # classes are made when it is imported).
    import flask

    import blocking

    app = flask.Flask(model)

    def answer(a):
        return flask.Response(a.body, status=a.status, headers=serve_app.headers(a.body),
                              content_type="text/plain")

    @app.before_request
    def get_only():
        # Flask answers HEAD and OPTIONS by itself; the contract serves GET only.
        if flask.request.method != "GET":
            return answer(serve_app.method_not_allowed(flask.request.method))

    @app.get("/hello")
    def hello():
        return answer(serve_app.hello())

    @app.get("/work/<exp>")
    def work(exp):
        return answer(serve_app.work(exp))

    @app.get("/backend/<ms>")
    def backend(ms):
        plan = serve_app.backend_plan(args.backend, ms)
        if isinstance(plan, serve_app.Answer):
            return answer(plan)
        # The download blocks this worker's thread (sync, gthread) or greenlet (gevent).
        return answer(serve_app.backend_answer(model, workload.attempt(blocking.download, *plan)))

    @app.errorhandler(404)
    def not_found(_):
        return answer(serve_app.not_found(flask.request.path))

    return app


class Server(gunicorn.app.base.BaseApplication):
    """gunicorn, configured in code rather than from its command line."""

    def __init__(self, model, args, summary_file, worker_class, workers, threads,
                 scheduler_workers):
        self.model, self.args, self.summary_file = model, args, summary_file
        self.scheduler_workers = scheduler_workers
        sock, self.listen = serve_app.listener(args)
        # gunicorn takes the socket over by its number (`fd://N`) and closes it at
        # SIGTERM: ours lets go of it without closing it.
        fd = sock.detach()
        # One slot of counters per worker (by its age, the arbiter's count of workers
        # started; a worker started after many restarts shares a dead one's slot).
        # An anonymous shared mapping: made before the fork, it is the same memory in
        # the arbiter and every worker.
        self.slots = max(64, 4 * workers)
        self.shared = mmap.mmap(-1, self.slots * serve_app.Counters.SIZE)
        # Each worker writes a byte here once its app is loaded (see Arbiter); None once
        # the address is printed, so that later workers write nothing.
        self.ready_r, self.ready_w = os.pipe()
        self.workers = workers
        self.settings = {
            "bind": [f"fd://{fd}"],
            "workers": workers,
            "worker_class": worker_class,
            "threads": threads,
            "worker_connections": 16_384,
            "graceful_timeout": serve_app.seconds_up(args.drain_ms),
            "keepalive": serve_app.seconds_up(args.header_timeout_ms) + 1,
            "limit_request_line": 8190,
            "limit_request_field_size": serve_app.HEAD_CAP,
            "loglevel": "warning",
            "errorlog": "-",
            "logger_class": _logger_class(model),
            "proc_name": model,
            "when_ready": self.when_ready,
            "post_worker_init": post_worker_init,
            "post_request": post_request,
            "worker_exit": worker_exit,
            "on_exit": self.on_exit,
        }
        super().__init__()

    def load_config(self):
        for name, value in self.settings.items():
            self.cfg.set(name, value)

    def load(self):
        return flask_app(self.model, self.args)

    def counters(self, age):
        """The counters of the worker of this age, in the shared mapping."""
        size = serve_app.Counters.SIZE
        slot = (age - 1) % self.slots
        return serve_app.Counters(memoryview(self.shared)[slot * size:(slot + 1) * size])

    def run(self):
        Arbiter(self).run()

    # Hooks, run by the arbiter.

    def when_ready(self, arbiter):
        self.clock = serve_app.Clock()
        # PSS and threads of the arbiter and of the workers it has now.
        self.sampler = workload.Sampler(children=lambda: list(arbiter.WORKERS))

    def on_exit(self, arbiter):
        # Every worker has exited and been reaped (Arbiter.stop): their CPU time is in
        # RUSAGE_CHILDREN, their counters in the shared mapping.
        wall = self.clock.seconds()
        pss, threads = self.sampler.finish()
        totals = serve_app.Counters.total(self.counters(age) for age in range(1, self.slots + 1))
        line = serve_app.summary_line(
            self.model, self.listen, wall, totals,
            processes=1 + arbiter.worker_age, workers=self.scheduler_workers,
            peak_rss_bytes=workload.peak_rss_bytes() + totals[0]["peak_rss"],
            peak_pss_bytes=pss, peak_threads=threads)
        serve_app.finish(line, self.summary_file)


class Arbiter(gunicorn.arbiter.Arbiter):
    # SIGINT drains as SIGTERM does (gunicorn's own: a quick stop, no drain).
    def handle_int(self):
        self.handle_term()

    def manage_workers(self):
        super().manage_workers()
        app = self.app
        if app.ready_w is None:
            return
        # The first workers are forked: print the address once each has loaded the app
        # (or after 30 s, when a worker failing to boot is gunicorn's to report).
        deadline, ready = time.monotonic() + 30, 0
        while ready < app.workers and time.monotonic() < deadline:
            if select.select([app.ready_r], [], [], 0.1)[0]:
                ready += len(os.read(app.ready_r, app.workers))
        ready_w, app.ready_w = app.ready_w, None
        os.close(ready_w)
        os.close(app.ready_r)
        serve_app.announce(app.listen)


def _logger_class(model):
    """gunicorn's logger, its lines prefixed with the model's name as ours are."""

    class Logger(gunicorn.glogging.Logger):
        error_fmt = model + r": gunicorn [%(process)d] %(levelname)s %(message)s"

    return Logger


# Hooks, run in each worker.


def post_worker_init(worker):
    """The app is loaded: tell the arbiter, while it waits for the first workers."""
    if worker.app.ready_w is not None:
        try:
            os.write(worker.app.ready_w, b"1")
        except OSError:
            pass  # the arbiter has stopped waiting


def post_request(worker, req, environ, resp):
    """After gunicorn wrote (or failed to write) an answer of the app."""
    if resp is None or resp.status_code is None:
        return
    if resp.response_length is not None and resp.sent < resp.response_length:
        worker.counters.error("client_gone")
    else:
        worker.counters.answered(resp.status_code, resp.sent)


def worker_exit(arbiter, worker):
    counters = getattr(worker, "counters", None)
    if counters is not None:
        counters.exited(workload.peak_rss_bytes())


# What every worker class of ours adds to gunicorn's.


class Counted:
    """Mixed into a gunicorn worker class (before it): its counters, its head timer,
    SIGINT as SIGTERM, and gunicorn's own error answers counted."""

    def load_wsgi(self):
        super().load_wsgi()
        # In the worker, after gevent's worker has patched the standard library (its
        # init_process patches, then calls this): the timer's thread is then a greenlet.
        self.counters = self.app.counters(self.age)
        self.heads = HeadTimer(self.app.args.header_timeout_ms, self.counters)
        self.open_connections = 0

    def init_signals(self):
        super().init_signals()
        # Ctrl-C reaches every process of the group: a worker drains on it as on SIGTERM.
        signal.signal(signal.SIGINT, self.handle_exit)

    def accept_failed(self, exc):
        """An accept() failed with `exc`: True if a resource ran out (file descriptors,
        memory), counted and logged once, and the caller pauses accepting; False for
        anything else (the caller's own handling)."""
        if exc.errno not in OUT_OF_RESOURCES:
            return False
        self.counters.error("accept")
        if not getattr(self, "accept_logged", False):
            self.accept_logged = True
            serve_app.log(self.app.model,
                          f"accept failed: {workload.one_line(exc)}; pausing accepts "
                          f"{ACCEPT_PAUSE * 1000:.0f} ms or more at each failure")
        return True

    def connection_opened(self):
        self.open_connections += 1
        self.counters.connected(self.open_connections)

    def connection_closed(self):
        self.open_connections -= 1

    def handle_error(self, req, client, addr, exc):
        # gunicorn answers a request it could not parse itself (Worker.handle_error):
        # counted here with the status it sends.
        self.counters.answered(_status_of(exc), 0)
        super().handle_error(req, client, addr, exc)


# accept() failing with these means a resource ran out: retrying at once would spin.
OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
# How long a worker stops accepting after such a failure, at least.
ACCEPT_PAUSE = 0.1


def _status_of(exc):
    """The status gunicorn's Worker.handle_error sends for `exc`."""
    for kind, status in ((http_errors.LimitRequestLine, 414),
                         (http_errors.LimitRequestHeaders, 431),
                         (http_errors.UnsupportedTransferCoding, 501),
                         (http_errors.ExpectationFailed, 417),
                         (http_errors.ForbiddenProxyRequest, 403),
                         (http_errors.ConfigurationProblem, 500),
                         (http_errors.InvalidResponseHeader, 500),
                         (http_errors.InvalidResponseHeaderName, 500),
                         (http_errors.ParseException, 400)):
        if isinstance(exc, kind):
            return status
    return 500


class HeadTimer:
    """Closes connections whose head is not complete in time, on a thread of its own.

    `watch(sock)` when the worker starts waiting for a head, `unwatch(sock)` when it is
    complete. Every 1/20 of the timeout (at most 50 ms) the thread shuts down the
    connections past their deadline: the worker's blocked read then returns end-of-file,
    and gunicorn closes the connection as one the client closed. Under gevent's worker the thread is
    a greenlet and the reads are greenlets' (threading and sockets are patched).
    """

    def __init__(self, timeout_ms, counters):
        self.timeout = timeout_ms / 1000
        self.counters = counters
        self.deadlines = {}  # socket -> (deadline, no answer sent on it yet)
        self.lock = threading.Lock()
        threading.Thread(target=self._run, name="head-timer", daemon=True).start()

    def watch(self, sock, first, keep=False):
        with self.lock:
            if not (keep and sock in self.deadlines):
                self.deadlines[sock] = (time.monotonic() + self.timeout, first)

    def unwatch(self, sock):
        with self.lock:
            self.deadlines.pop(sock, None)

    def _run(self):
        step = min(0.05, self.timeout / 20)
        while True:
            time.sleep(step)
            now = time.monotonic()
            with self.lock:
                late = [(s, first) for s, (d, first) in self.deadlines.items() if d <= now]
                for s, _ in late:
                    del self.deadlines[s]
            for s, first in late:
                if first:
                    self.counters.error("header_timeout")
                try:
                    # Through a duplicate of its descriptor: a shutdown acts on the
                    # connection, whichever descriptor names it, and gevent's own
                    # socket.shutdown would wake the greenlet with an error (a
                    # traceback in the log) rather than with end-of-file.
                    with socket.fromfd(s.fileno(), s.family, s.type) as dup:
                        dup.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # closed meanwhile

