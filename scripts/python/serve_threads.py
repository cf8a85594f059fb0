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

When to pick it. Blocking code (Flask, urllib) that waits on other services, with
keep-alive clients, without gevent's patching. Rust's counterpart, a thread per
connection and no GIL: crates/models/threads.

    target/python-venv/bin/python scripts/python/serve_threads.py serve --port 0 --backend 127.0.0.1:PORT

What to observe. The summary line's workers is the pool's size; peak_threads stays near
it however many connections are open.
"""

from gunicorn.workers import gthread

import serve_app
import serve_gunicorn

MODEL = "python-threads"
THREADS = 4 * serve_app.cores()


class Worker(serve_gunicorn.Counted, gthread.ThreadWorker):
    """gunicorn's gthread worker, with the head timer from a connection's accept (or its
    last answer) to its next complete head, and each accepted connection counted."""

    def accept(self, listener):
        before = self.nr_conns  # gthread's own count of open connections
        super().accept(listener)
        if self.nr_conns > before:
            self.counters.connected(self.nr_conns)

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
