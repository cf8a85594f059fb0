"""What every Python server answers, written once: the counterpart of crates/workload's
`serve` workload (issue 16, /work/serve-contract.md's contract).

A server file (serve_sync.py, serve_asyncio.py, ...) owns only its concurrency: which
server runs the handlers and who schedules them. Everything else lives here, so that two
servers differ in nothing but the model, and answer exactly as the Rust ones do:

- The command line: `serve [--port 0] [--bind 127.0.0.1] [--backend HOST:PORT]
  [--workers K] [--header-timeout-ms 5000] [--drain-ms 5000] [--summary-file FILE]`;
  a bad value is one line on stderr and exit code 2, as in workload.py.
- The routes, as `Answer`s (status and body; `headers` adds content-type and the body's
  FNV-1a 64 as `x-checksum`): `GET /hello`, `GET /work/{exp}` (workload.cpu_task's
  verified power, 1..=200000), `GET /backend/{ms}` (a download from the fixture server,
  0..=10000 ms, verified by workload.Verifier; 503 without --backend, 502 naming the
  cause when it fails, logged once per kind of failure), 404, 405.
- `Counters`: answers by status, bytes, errors by kind, connections; in a buffer that
  gunicorn's worker processes share with their arbiter (serve_gunicorn.py).
- `summary_line`: workload.py's summary line with the `serve` object the contract adds.

Only the standard library and workload.py are imported here; the frameworks (Flask,
gunicorn, aiohttp) are imported by the files that use them.
"""

import argparse
import ipaddress
import json
import math
import os
import re
import resource
import sys
import threading
import time
import typing

import workload

# The contract's limits.
MAX_EXP = 200_000
MAX_DELAY_MS = 10_000
# A head (request line and header lines) larger than this is refused (431 where the
# server can say so: see each server's header for what it really sends).
HEAD_CAP = 16 * 1024
# A backend that has not answered this long after the delay it was asked for is slow:
# 502, as one that is down or sends a wrong body.
BACKEND_SLACK_MS = 5_000
HELLO = b"hello, world\n"
BASE = 7777

# The `errors` keys of the summary line, present even when 0.
ERROR_KINDS = ("bad_request", "head_too_large", "header_timeout", "backend", "client_gone",
               "accept")


def log(model, message):
    """One line for people, on stderr, prefixed with the model's name."""
    print(f"{model}: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# The command line.


def _loopback(text):
    """`--backend`: an IP address and a port on the loopback network, as benchkit's
    models::loopback_addr checks it (the only place our load goes)."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ip = ipaddress.ip_address(host)
        ok = sep and port.isascii() and port.isdigit() and int(port) <= 65535
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"'{text}' is not an address of the form 127.0.0.1:PORT")
    if not ip.is_loopback:
        raise argparse.ArgumentTypeError(
            f"{text} is not a loopback address: the fixture server binds 127.0.0.0/8 or [::1]")
    return text


def _address(text):
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an IP address") from None


def parse_args(model, argv, takes_workers=False):
    """The `serve` command line; raises workload.UsageError on a bad value. `--workers` is
    taken by python-procs only (`takes_workers`): elsewhere it is refused, naming the
    models that take it."""
    parser = workload._Parser(prog=model, allow_abbrev=False,
                              description="Serve HTTP under this program's concurrency "
                              "model until SIGINT or SIGTERM; then print one JSON summary line.")
    sub = parser.add_subparsers(dest="workload", metavar="WORKLOAD")
    serve = sub.add_parser("serve", allow_abbrev=False, help="serve /hello, /work/EXP, /backend/MS")
    serve.add_argument("--port", type=workload._bounded(0, 65535), default=0,
                       help="0: a free port (the first stdout line says which)")
    serve.add_argument("--bind", type=_address, default="127.0.0.1")
    serve.add_argument("--backend", type=_loopback, metavar="HOST:PORT",
                       help="the fixture server that /backend/MS downloads from")
    serve.add_argument("--workers", type=workload._bounded(1, 1024), metavar="K",
                       help="worker processes (python-procs only; default one per core)")
    serve.add_argument("--header-timeout-ms", type=workload._bounded(1, workload.MAX_MS),
                       default=5000)
    serve.add_argument("--drain-ms", type=workload._bounded(0, workload.MAX_MS), default=5000)
    serve.add_argument("--summary-file", metavar="FILE",
                       help="also append the summary line to FILE")
    args = parser.parse_args(argv)
    if args.workload != "serve":
        raise workload.UsageError("the workload is serve (see --help)")
    if args.workers is not None and not takes_workers:
        raise workload.UsageError(
            f"--workers is taken by procs and python-procs only, not by {model}")
    return args


def cores():
    """The cores this process may run on (taskset's, not the machine's)."""
    return len(os.sched_getaffinity(0))


def seconds_up(ms):
    """Whole seconds, rounded up: gunicorn's timeouts are integers."""
    return math.ceil(ms / 1000)


def main(model, serve, takes_workers=False):
    """Parse the command line, open the summary file, raise the open-file limit, and run
    `serve(args, summary_file)`, which returns once the server has stopped and its
    summary line is printed. A bad argument: exit 2; a failure (the port taken): one
    line, exit 1."""
    try:
        args = parse_args(model, sys.argv[1:], takes_workers)
        summary_file = workload.open_summary_file(args)
    except workload.UsageError as e:
        log(model, workload.one_line(e))
        sys.exit(2)
    # Thousands of connections need thousands of file descriptors (workload.execute's).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        serve(args, summary_file)
    except OSError as e:
        log(model, f"error: {workload.one_line(e)}")
        sys.exit(1)


def listener(args):
    """The listening socket on --bind and --port, and its address as the contract prints
    it (`127.0.0.1:PORT`, `[::1]:PORT`). Bound here, before any framework starts, so that
    a port in use is one line and exit 1 at once."""
    import socket

    sock = socket.create_server((args.bind, args.port), backlog=2048)
    host, port = sock.getsockname()[:2]
    return sock, (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")


def announce(listen):
    """The first stdout line: the bound address, flushed, as the fixture server does."""
    print(listen, flush=True)


# ---------------------------------------------------------------------------------------
# The routes.


class Answer(typing.NamedTuple):
    status: int
    body: bytes


def headers(body):
    """What every answer carries besides content-length (which the frameworks add)."""
    return {"content-type": "text/plain", "x-checksum": f"{workload.fnv1a(body):016x}"}


def text(status, line):
    return Answer(status, (line + "\n").encode())


def _whole(text_, lo, hi):
    """A path segment as a number in lo..=hi, or None (digits only, as the Rust parser)."""
    if not (text_.isascii() and text_.isdigit() and len(text_) <= 9):
        return None
    value = int(text_)
    return value if lo <= value <= hi else None


def hello():
    return Answer(200, HELLO)


def work(exp_text):
    """7777 ** exp, verified as the cpu workload verifies it; the body is its checksum."""
    exp = _whole(exp_text, 1, MAX_EXP)
    if exp is None:
        return text(400, f"bad exponent '{exp_text}': a whole number in 1..={MAX_EXP}")
    return Answer(200, f"{workload.cpu_task(BASE, exp).checksum:016x}\n".encode())


def backend_plan(backend, ms_text):
    """What /backend/{ms} downloads and its deadline, as (workload.Target, timeout_ms), or
    the Answer that ends the request at once (400, or 503 without --backend)."""
    ms = _whole(ms_text, 0, MAX_DELAY_MS)
    if ms is None:
        return text(400, f"bad delay '{ms_text}': a whole number of ms in 0..={MAX_DELAY_MS}")
    if backend is None:
        return text(503, "no backend: start the server with --backend HOST:PORT")
    url = f"http://{backend}/delay/{ms}/bytes/1024"
    return workload.target(url), ms + BACKEND_SLACK_MS


# The kinds of backend failure already logged by this process: one line per kind.
_LOGGED = set()
_LOGGED_LOCK = threading.Lock()


def backend_answer(model, result):
    """The answer to /backend/{ms} from the download's result: its workload.Tally (200,
    the body is its checksum), or the exception it raised (502 naming the cause, logged
    once per kind of failure: the cause without its numbers)."""
    if isinstance(result, workload.Tally):
        return Answer(200, f"{result.checksum:016x}\n".encode())
    cause = workload.one_line(result) or type(result).__name__
    kind = re.sub(r"[0-9]+", "N", getattr(result, "cause", cause))
    with _LOGGED_LOCK:
        first = kind not in _LOGGED
        _LOGGED.add(kind)
    if first:
        log(model, f"backend failed (logged once per kind): {cause}")
    return text(502, f"backend: {cause}")


def not_found(path):
    return text(404, f"no route for {path}: GET /hello, /work/EXP or /backend/MS")


def method_not_allowed(method):
    return text(405, f"{method} is not served: GET only")


# ---------------------------------------------------------------------------------------
# Counters.

_FIELDS = ("requests", "bytes", "tasks", "connections", "peak_open", "peak_rss") + ERROR_KINDS
_STATUS_0 = len(_FIELDS)  # cell of status 100; one cell per status up to 599
_CELLS = _STATUS_0 + 500


class Counters:
    """What a server (or one gunicorn worker) answered, in 64-bit cells of `buffer`: a
    bytearray of its own, or a slice of memory shared with gunicorn's arbiter, which adds
    every worker's cells at exit (`total`). Safe to update from several threads."""

    SIZE = _CELLS * 8

    def __init__(self, buffer=None):
        self._cells = memoryview(buffer if buffer is not None else bytearray(self.SIZE)).cast("q")
        self._lock = threading.Lock()

    def _add(self, field, n=1):
        self._cells[_FIELDS.index(field)] += n

    def answered(self, status, nbytes):
        """One answer sent whole: its status and body bytes; the error it stands for."""
        with self._lock:
            self._add("requests")
            self._add("bytes", nbytes)
            if 200 <= status < 300:
                self._add("tasks")
            if 100 <= status <= 599:
                self._cells[_STATUS_0 + status - 100] += 1
            kind = {400: "bad_request", 414: "head_too_large", 431: "head_too_large",
                    502: "backend"}.get(status)
            if kind:
                self._add(kind)

    def error(self, kind):
        """A failure that is not an answer: header_timeout, client_gone, accept."""
        with self._lock:
            self._add(kind)

    def connected(self, open_now):
        """One connection accepted; `open_now` are open with it (the peak is kept)."""
        with self._lock:
            self._add("connections")
            i = _FIELDS.index("peak_open")
            self._cells[i] = max(self._cells[i], open_now)

    def exited(self, peak_rss_bytes):
        """A worker process's peak RSS, written as it exits (the arbiter adds them up)."""
        with self._lock:
            self._cells[_FIELDS.index("peak_rss")] = peak_rss_bytes

    def snapshot(self):
        with self._lock:
            fields = {f: self._cells[i] for i, f in enumerate(_FIELDS)}
            statuses = {str(100 + i): n for i, n in enumerate(self._cells[_STATUS_0:]) if n}
        return fields, statuses

    @staticmethod
    def total(counters):
        """Every counter added up (peak_open too: with several worker processes, the sum
        of their peaks, an upper bound of the peak of the whole)."""
        fields, statuses = dict.fromkeys(_FIELDS, 0), {}
        for c in counters:
            f, s = c.snapshot()
            for k, v in f.items():
                fields[k] += v
            for k, v in s.items():
                statuses[k] = statuses.get(k, 0) + v
        return fields, dict(sorted(statuses.items()))


# ---------------------------------------------------------------------------------------
# The summary line.


def summary_line(model, listen, wall_s, totals, *, processes, workers, peak_rss_bytes,
                 peak_pss_bytes, peak_threads):
    """workload.py's summary line for the serve workload, with the contract's `serve`."""
    fields, statuses = totals
    return json.dumps(
        {
            "model": model,
            "workload": "serve",
            "n": fields["requests"],
            "wall_ms": wall_s * 1e3,
            "checksum": "0x0",
            "bytes": fields["bytes"],
            "tasks": fields["tasks"],
            "unverified": 0,
            "processes": processes,
            "peak_rss_bytes": peak_rss_bytes,
            "peak_pss_bytes": peak_pss_bytes,
            "workers": workers,
            "peak_threads": peak_threads,
            **workload.cpu_ms(),
            "serve": {
                "listen": listen,
                "requests": fields["requests"],
                "by_status": statuses,
                "errors": {k: fields[k] for k in ERROR_KINDS},
                "connections": fields["connections"],
                "peak_open_connections": fields["peak_open"],
            },
        },
        separators=(",", ":"),
    )


def finish(line, summary_file):
    """Print the summary line, and append it to --summary-file."""
    print(line, flush=True)
    if summary_file is not None:
        with summary_file as f:
            f.write(line + "\n")


class Clock:
    """Time served: from the first stdout line to the end of the drain."""

    def __init__(self):
        self.started = time.perf_counter()

    def seconds(self):
        return time.perf_counter() - self.started
