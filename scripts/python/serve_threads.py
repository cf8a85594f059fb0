"""python-threads as a server: Flask under gunicorn's gthread worker.

The model. One worker process with a pool of threads (`concurrent.futures.
ThreadPoolExecutor` of `threads` threads) and a poller on its main thread: the main
thread accepts connections and hands each one that has a request to a thread, which
reads the request, runs the Flask view and writes the answer; a kept-alive connection
then goes back to the poller while it is idle, holding no thread.

Who schedules the work. The kernel schedules the threads, and CPython's GIL lets one of
them run Python at a time: a thread blocked on the backend's socket releases it, so
waiting requests overlap; a power holds it, so /work runs one at a time, as in
python_threads.py.

What it costs. A thread per request in progress (up to `threads`), and a socket in the
poller per idle connection: thousands of idle keep-alive connections cost file
descriptors, not threads. In-flight requests are bounded by the pool: `threads` / the
wait per second (Little's law) for /backend. THREADS is 4 per core, the top of the
2-4 x cores gunicorn's documentation suggests.

What we change in gthread (besides serve_gunicorn.py's counting and head timer): a new
connection waits in the poller until its first bytes arrive, as gthread's own deferred
connections do, instead of on a pool thread for up to 5 s first (gunicorn's
DEFAULT_WORKER_DATA_TIMEOUT): with that wait, 10,000 idle connections would hold the
pool's threads one after another for hours, and every request behind them would wait.
Out of file descriptors, the worker stops accepting for a while (gthread's own worker
exits with a traceback; see serve_gunicorn.py).

When to pick it. Blocking code (Flask, urllib) that waits on other services, with
keep-alive clients, without gevent's patching. Rust's counterpart, a thread per
connection and no GIL: crates/models/threads.

    target/python-venv/bin/python scripts/python/serve_threads.py serve --port 0 --backend 127.0.0.1:PORT

What to observe. The summary line's workers is the pool's size; peak_threads stays near
it however many connections are open.
"""

import selectors
import time
from functools import partial

from gunicorn.workers import gthread

import serve_app
import serve_gunicorn

MODEL = "python-threads"
THREADS = 4 * serve_app.cores()


class Worker(serve_gunicorn.Counted, gthread.ThreadWorker):
    """gunicorn's gthread worker, with the head timer from a connection's accept (or its
    last answer) to its next complete head, and each accepted connection counted."""

    accept_paused_until = 0.0

    def accept(self, listener):
        before = self.nr_conns  # gthread's own count of open connections
        try:
            super().accept(listener)
        except OSError as e:
            if not self.accept_failed(e):
                raise
            # Out of file descriptors: the listener stays readable, so the poller would
            # call this again at once. Off the poller for a while (gthread's main loop
            # puts it back at its next turn after the pause: within a second).
            self.accept_paused_until = time.monotonic() + serve_gunicorn.ACCEPT_PAUSE
            self.set_accept_enabled(False)
        if self.nr_conns > before:
            self.counters.connected(self.nr_conns)

    def set_accept_enabled(self, enabled):
        if enabled and time.monotonic() < self.accept_paused_until:
            return
        super().set_accept_enabled(enabled)

    def enqueue_req(self, conn):
        # gthread hands a new connection to a pool thread, which waits up to 5 s for its
        # first bytes before handing it back to the poller: 10,000 idle connections
        # would hold the pool's threads for hours, and /hello would wait behind them.
        # A new connection waits in the poller instead (as gthread's deferred ones do),
        # and gets a thread once it has sent something.
        if conn.initialized or conn.data_ready:
            return super().enqueue_req(conn)
        self.heads.watch(conn.sock, first=True)
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ,
                             partial(self.on_pending_socket_readable, conn))

    def handle(self, conn):
        # On a pool thread. `keep`: a connection deferred to the poller (no byte within
        # gthread's 5 s) or kept alive keeps the deadline it was given.
        self.heads.watch(conn.sock, first=not getattr(conn, "answered", False), keep=True)
        keep_open = super().handle(conn)
        if not keep_open:  # closed; otherwise idle in the poller, still watched
            self.heads.unwatch(conn.sock)
        return keep_open

    def handle_request(self, req, conn):
        self.heads.unwatch(conn.sock)  # the head is complete
        conn.answered = True
        try:
            return super().handle_request(req, conn)
        finally:
            self.heads.watch(conn.sock, first=False)  # the wait for the next head


def serve(args, summary_file):
    serve_gunicorn.serve(MODEL, args, summary_file, Worker, workers=1, threads=THREADS,
                         scheduler_workers=THREADS)


if __name__ == "__main__":
    serve_app.main(MODEL, serve)
