"""python-procs as a server: Flask under gunicorn's sync worker, K worker processes.

The model. serve_sync.py's worker, K times: the arbiter forks K processes that all
accept on the one listening socket, and the kernel hands each new connection to one of
them. Each still serves one connection at a time with `Connection: close`; K of them
serve K at a time. This is how gunicorn is deployed with its default worker, and the
article's advice: "synchronous frameworks must be given more workers".

Who schedules the work. The kernel: it picks which waiting worker's accept() gets the
next connection, and which worker process runs on which core. Each process has its own
interpreter and GIL, so K workers compute on K cores.

What it costs. A whole interpreter per worker (Flask imported in each after the fork,
gunicorn's default; the summary's peak_pss_bytes shares the pages still common): memory
grows with K, and so does the rate of waiting requests, K / the wait (Little's law:
20 K per second for /backend/50). A client that sends half a request holds one worker
until the head timer closes it, as in serve_sync.py.

When to pick it. gunicorn's default deployment: CPU-bound or short requests, K about the
number of cores (gunicorn's documentation suggests 2-4 x cores), more when requests
wait. Rust's counterpart: crates/models/procs.

    target/python-venv/bin/python scripts/python/serve_procs.py serve --port 0 --workers 8 --backend 127.0.0.1:PORT

What to observe. `--workers K` (default: one per core this process may run on);
the summary line's processes is 1 + K, peak_pss_bytes grows with K.
"""

import serve_app
import serve_gunicorn
import serve_sync

MODEL = "python-procs"


def serve(args, summary_file):
    # The same worker class as python-sync's: only their number differs.
    workers = args.workers or serve_app.cores()
    serve_gunicorn.serve(MODEL, args, summary_file, serve_sync.Worker, workers=workers,
                         scheduler_workers=workers)


if __name__ == "__main__":
    serve_app.main(MODEL, serve, takes_workers=True)
