"""python-gevent as a server: Flask under gunicorn's gevent worker.

The model. One worker process whose first act is gevent's `monkey.patch_all()`
(gunicorn's GeventWorker.init_process), then a greenlet per connection, spawned by
gevent's StreamServer from a pool of `worker_connections`: each greenlet reads its
requests, runs the Flask view in plain blocking style (urllib for the backend) and
writes the answers, keeping the connection alive between them.

Who schedules the work. gevent's hub, on the worker's one thread: a greenlet runs until
it would block on a patched socket or sleep, then the hub's event loop (libev) runs
another. A power never blocks: it keeps the thread until done, stalling every other
connection of the worker meanwhile, as in python_gevent.py.

What it costs. A greenlet (a few KiB) per connection and no kernel thread: thousands of
connections, waiting ones included, fit in one process. gevent's resolver looks every
address up, an IP one too, on a pool of real threads (peak_threads shows them). The
arbiter is not patched: only the worker is, after the fork, where the app is imported.

Out of file descriptors, gevent's server stops accepting for 10 ms, doubling up to 1 s
at each failure in a row; ours counts the failures and logs the first in one line where
gevent prints a traceback for each (`Server`, installed in place of gunicorn's).

When to pick it. Blocking-style code (Flask, urllib) with many waiting requests or many
connections, where patching the standard library is acceptable. Rust's counterpart:
crates/models/green.

    target/python-venv/bin/python scripts/python/serve_gevent.py serve --port 0 --backend 127.0.0.1:PORT

What to observe. /backend requests overlap as in python-threads, on one thread.
"""

import gevent
from gevent.server import StreamServer
from gunicorn.workers import ggevent
from gunicorn.workers.ggevent import GeventWorker

import serve_app
import serve_gunicorn

MODEL = "python-gevent"


class OutOfResources(OSError):
    """An accept() that failed for want of file descriptors or memory, already counted
    and logged: gevent's hub is told not to print it (see Worker.run)."""


class Server(StreamServer):
    """gevent's StreamServer, whose accept failures for want of a resource are counted
    and logged once by the worker. gevent then stops accepting for a while (10 ms,
    doubling up to 1 s at each failure in a row), as it does for any accept error; it
    would also print a traceback each time."""

    worker = None

    def do_read(self):
        try:
            return super().do_read()
        except OSError as e:
            if self.worker is not None and self.worker.accept_failed(e):
                raise OutOfResources(e.errno, e.strerror) from e
            raise


class Worker(serve_gunicorn.Counted, GeventWorker):
    """gunicorn's gevent worker, with the head timer from a connection's accept (or its
    last answer) to its next complete head, and each connection counted while open."""

    def run(self):
        # gunicorn's GeventWorker.run builds its servers by the name `StreamServer` in
        # its module (no setting chooses the class): ours, which knows this worker.
        Server.worker = self
        ggevent.StreamServer = Server
        hub = gevent.get_hub()
        hub.NOT_ERROR = (*hub.NOT_ERROR, OutOfResources)
        super().run()

    def handle(self, listener, client, addr):
        # A greenlet per connection, for its whole life (every kept-alive request).
        self.connection_opened()
        self.heads.watch(client, first=True)
        try:
            super().handle(listener, client, addr)
        finally:
            self.heads.unwatch(client)
            self.connection_closed()

    def handle_request(self, listener_name, req, sock, addr):
        self.heads.unwatch(sock)  # the head is complete
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            self.heads.watch(sock, first=False)  # the wait for the next head


def serve(args, summary_file):
    serve_gunicorn.serve(MODEL, args, summary_file, Worker, workers=1)


if __name__ == "__main__":
    serve_app.main(MODEL, serve)
