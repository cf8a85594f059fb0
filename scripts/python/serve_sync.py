"""python-sync as a server: Flask under gunicorn's sync worker, one worker process.

The model. gunicorn's default worker: one process that accepts one connection, reads its
request, runs the Flask view, writes the answer with `Connection: close`, closes, and
only then accepts the next. The view's blocking calls (a download from the backend with
urllib, a power) block the one worker; the connections behind it wait in the kernel's
accept queue.

Who schedules the work. Nobody: one connection after another, in program order, as in
python_sync.py. The arbiter (serve_gunicorn.py) only starts and stops the worker.

What it costs. One interpreter and one request at a time: the throughput is one divided
by the time a request takes, whatever it waits on (Little's law with one worker: 20 per
second for /backend/50). `Connection: close` on every answer, as gunicorn's sync worker
sends: a kept-alive idle connection would hold the only worker. So does a client that
sends half a request, until the head timer (serve_gunicorn.HeadTimer) closes it: the
slow-client weakness for which gunicorn's documentation puts a buffering proxy in front
of sync workers. serve_procs.py runs K of these.

When to pick it. Behind a buffering proxy, for short CPU-light requests; the article's
point is that such a server must be given more workers (serve_procs.py) as soon as its
requests wait on anything. Rust's counterpart: crates/models/sync.

    target/python-venv/bin/python scripts/python/serve_sync.py serve --port 0 --backend 127.0.0.1:PORT

What to observe. The first stdout line is the address; `curl -i ADDR/hello`; SIGTERM
(or Ctrl-C) drains and prints the summary line.
"""

from gunicorn.workers.sync import SyncWorker

import serve_app
import serve_gunicorn

MODEL = "python-sync"


class Worker(serve_gunicorn.Counted, SyncWorker):
    """gunicorn's sync worker, with the head timer where it reads a connection's one
    request, and the connection counted while it is handled."""

    def handle(self, listener, client, addr):
        self.connection_opened()
        self.heads.watch(client, first=True)
        try:
            super().handle(listener, client, addr)
        finally:
            self.heads.unwatch(client)
            self.connection_closed()

    def handle_request(self, listener, req, client, addr):
        self.heads.unwatch(client)  # the head is complete
        super().handle_request(listener, req, client, addr)


def serve(args, summary_file):
    serve_gunicorn.serve(MODEL, args, summary_file, Worker, workers=1)


if __name__ == "__main__":
    serve_app.main(MODEL, serve)
