"""The workloads every Python model runs, written once: the counterpart of crates/workload.

A model file (python_sync.py, python_threads.py, ...) owns only its concurrency: how it
starts, waits for and joins N tasks. Everything that does not depend on the model lives
here, so that two models differ in nothing but the model, and so that they behave exactly
like the Rust binaries: the same command line, the same limits, the same verification and
the same JSON summary line, which is how benchkit reads them as six more models.

- The command line: `cpu --n N [--base B] [--exp E]`, `io --n N --url U [--url U ...]
  [--timeout-ms T]`, `sleep --n N --ms D`, and `--summary-file FILE`; every value checked
  against crates/workload/src/cli.rs's limits before any work starts (a bad value: one
  line on stderr, exit code 2).
- `cpu_task`: the seed's `7777 ** 200000`, verified as crates/workload/src/cpu.rs does.
- `Target` and `Verifier`: crates/workload/src/io.rs's policy and checks. A URL's
  credentials are taken out of it and sent as one `Authorization: Basic` header; an
  answer must be 2xx (a redirect is not followed: it fails, naming where it pointed),
  its bytes equal to Content-Length, their FNV-1a 64 equal to `x-checksum`. From the
  fixture server (marked by `x-fixture-server`), a body without either header fails;
  from any other server it is counted as `unverified` in the summary line. The clients
  that use them: blocking.py (urllib: sync, threads, procs, gevent) and aiohttp in
  python_asyncio.py.
- `Tally`, `gather`, `main`: adding up tasks, the one error line (exit code 1), and the
  summary line with peak memory (RSS and sampled PSS) and threads, as crates/workload's
  run.rs and mem.rs do.

Only the standard library is used here: sync, threads and procs run on a bare python3.
"""

import argparse
import base64
import http.client
import ipaddress
import json
import math
import resource
import sys
import time
import typing
import urllib.error
import urllib.parse

# The limits of crates/workload/src/cli.rs: the same command fails the same way in Rust.
MAX_CPU_N = 1_000
MAX_IO_N = 100_000
MAX_SLEEP_N = 1_000_000
MAX_EXP = 2_000_000
MAX_BASE = 2**32 - 1
MAX_URLS = 100
MAX_MS = 600_000

# The checksum of a power: its residue modulo the Mersenne prime 2^61 - 1.
M61 = (1 << 61) - 1
U64 = (1 << 64) - 1


# ---------------------------------------------------------------------------------------
# Tallies: what finished tasks produced, added up (crates/workload/src/summary.rs).


class Tally:
    """Finished, verified units of work and what they produced, added up in any order.

    `checksum` is the wrapping u64 sum of every unit's checksum, as the Rust models add
    theirs, so the same workload gives the same checksum in both languages.
    """

    __slots__ = ("tasks", "bytes", "checksum", "child_processes", "child_peak_rss_bytes",
                 "unverified")

    def __init__(self, tasks=0, bytes=0, checksum=0, child_processes=0, child_peak_rss_bytes=0,
                 unverified=0):
        self.tasks = tasks
        self.bytes = bytes
        self.checksum = checksum & U64
        # Of `tasks`, downloads whose server announced no Content-Length or no x-checksum.
        self.unverified = unverified
        self.child_processes = child_processes
        self.child_peak_rss_bytes = child_peak_rss_bytes

    @staticmethod
    def task(nbytes, checksum):
        """One verified unit of work."""
        return Tally(1, nbytes, checksum)

    @staticmethod
    def unverified_task(nbytes, checksum):
        """One download finished but not fully verified (no length or checksum announced)."""
        return Tally(1, nbytes, checksum, unverified=1)

    def __add__(self, other):
        return Tally(
            self.tasks + other.tasks,
            self.bytes + other.bytes,
            (self.checksum + other.checksum) & U64,
            self.child_processes + other.child_processes,
            self.child_peak_rss_bytes + other.child_peak_rss_bytes,
            self.unverified + other.unverified,
        )

    # A tally crosses a pipe from a worker process (procs) as a plain tuple.
    def __reduce__(self):
        return (Tally, (self.tasks, self.bytes, self.checksum, self.child_processes,
                        self.child_peak_rss_bytes, self.unverified))


class TaskError(Exception):
    """A task failed; the message is the one line the user sees."""


def attempt(task, *args):
    """Run one task and return its Tally, or the exception it raised instead.

    Every model runs its tasks through this: a failed task must not stop the others
    (threads, greenlets, processes) nor print a traceback (threading, gevent and
    multiprocessing print one for an uncaught exception); its error is reported once, by
    `gather`, after every task has finished.
    """
    try:
        return task(*args)
    except Exception as e:  # noqa: BLE001: every failure becomes the run's error line
        return e


def gather(results):
    """Add up every task's result; if any failed, fail with how many and the first error."""
    total, failed, first, count = Tally(), 0, None, 0
    for result in results:
        count += 1
        if isinstance(result, BaseException):
            failed += 1
            first = first or result
        else:
            total += result
    if isinstance(first, MemoryError):
        # Out of memory is the run's cause, whichever task met it first: exit code 3.
        raise first
    if first is not None:
        raise TaskError(f"{failed} of {count} tasks failed; the first: {one_line(first)}")
    return total


# ---------------------------------------------------------------------------------------
# The CPU-bound task (crates/workload/src/cpu.rs).


def cpu_task(base, exp):
    """One power, verified: `base ** exp`, the seed article's `7777 ** 200000`."""
    x = base**exp
    return Tally.task((x.bit_length() + 7) // 8, verify_power(base, exp, x))


def verify_power(base, exp, x):
    """Check `x == base ** exp` without trusting the big-integer code; return the checksum.

    The residue mod 2^61-1 must equal three-argument pow's (modular exponentiation on
    small numbers, never the big result), and the bit length must be
    floor(exp * log2(base)) + 1, checked unless the float product sits within 1e-6 of an
    integer: the same two checks, in the same words, as the Rust models.
    """
    got, want = x % M61, pow(base, exp, M61)
    if got != want:
        raise TaskError(
            f"cpu: {base}**{exp} is wrong: residue mod 2^61-1 is {got:#x}, expected {want:#x}"
        )
    estimate = exp * math.log2(base)
    if abs(estimate - round(estimate)) > 1e-6:
        want_bits = math.floor(estimate) + 1
        if x.bit_length() != want_bits:
            raise TaskError(
                f"cpu: {base}**{exp} has {x.bit_length()} bits, expected {want_bits}"
            )
    return got


# ---------------------------------------------------------------------------------------
# The I/O-bound task: what is requested, and its verification (crates/workload/src/io.rs).


class Target(typing.NamedTuple):
    """One URL to download, as every client of this study sends it (io.rs's `Target`).

    Clients differ in what they do with `http://user:pass@host/` (urllib cannot open it at
    all; aiohttp turns it into its own BasicAuth), so the credentials are taken out here,
    once: every client requests `url` with `authorization` as its Authorization header.
    """

    url: str  # without `user:password@`: what is requested, and what errors name
    authorization: typing.Optional[str]  # `Basic base64(user:password)`, or None
    given: str  # as given on the command line


def target(given):
    """Split the credentials off an `http(s)://[user[:password]@]host...` URL; each part is
    percent-decoded (RFC 3986) before encoding, as io.rs does."""
    scheme, sep, rest = given.partition("://")
    if not sep:
        return Target(given, None, given)
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    authority, path = rest[:end], rest[end:]
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return Target(given, None, given)
    user, _, password = userinfo.partition(":")
    pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
    encoded = base64.b64encode(pair.encode()).decode()
    return Target(f"{scheme}://{host}{path}", f"Basic {encoded}", given)


CHECKSUM_HEADER = "x-checksum"
# The fixture server marks every answer with it: from it, both checks are owed.
FIXTURE_HEADER = "x-fixture-server"
FNV_START = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def fnv1a(data, h=FNV_START):
    """FNV-1a 64, byte by byte, as the fixture server computes it."""
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & U64
    return h


# FNV-1a in pure Python costs about 10 ms per 50 KiB body, 100 times what Rust pays: at
# the seed's 40 bodies per run that would be our checker's time, not the model's. A body
# byte for byte equal to one already hashed to the same announced checksum has that
# checksum too, and comparing bytes runs in C; so each distinct body is hashed once per
# process and every repeat is compared. The check is the same; only its cost differs.
_HASHED = {}


# A body is kept whole up to this size, to be compared with a repeat; past it, it is
# hashed as it arrives: an endless body must not fill the memory, and each hashing step
# (about 13 ms per 64 KiB) must stay short beside the request's deadline.
KEEP_BYTES = 256 * 1024


def body_checksum(body, announced):
    """FNV-1a 64 of `body`; `announced` is the server's checksum, to find a repeat."""
    seen = _HASHED.get(announced)
    if seen is not None and seen == body:
        return announced
    h = fnv1a(body)
    if h == announced and len(_HASHED) < MAX_URLS:
        _HASHED[announced] = body
    return h


class FetchError(TaskError):
    """One failed download: the URL and why, as one line (`GET URL: cause`)."""

    def __init__(self, url, cause):
        super().__init__(f"GET {url}: {cause}")
        self.url, self.cause = url, cause


# The causes, in the words of crates/workload/src/io.rs.
REFUSED = "connection refused"
RESET = "connection reset or closed by the server"


def redirected(status, location):
    return (f"HTTP status {status}, a redirect to '{location}' "
            "(redirects are not followed: give the final URL)")


def timed_out(timeout_ms):
    return f"timed out after {timeout_ms} ms"


def truncated(expected, got):
    return f"truncated body: {got} of {expected} bytes"


class Verifier:
    """Checks one response as its body arrives, as crates/workload's Verifier does.

    Made from the status and headers, it fails on a redirect (naming its Location) or any
    other non-2xx status before the body is read; `update` takes each chunk of the body;
    `finish` checks the byte count against Content-Length and the FNV-1a 64 of the bytes
    against the server's `x-checksum`; a missing header fails the download if the answer
    carries FIXTURE_HEADER (our fixture server owes both), and makes it an unverified one
    otherwise; `broken` names a failure mid-body, a truncated body when fewer bytes than
    announced arrived.
    """

    def __init__(self, url, status, headers):
        location = headers.get("location")
        if 300 <= status < 400 and location is not None:
            raise FetchError(url, redirected(status, location))
        if not 200 <= status < 300:
            raise FetchError(url, f"HTTP status {status}")
        self.url = url
        self.fixture = headers.get(FIXTURE_HEADER) is not None
        self.content_length = _number(headers.get("content-length"), 10)
        self.announced = _number(headers.get(CHECKSUM_HEADER), 16)
        self.chunks = []  # the body so far, until it outgrows KEEP_BYTES; then None
        self.hash = FNV_START  # FNV-1a 64 of the bytes no longer kept
        self.bytes = 0

    def update(self, chunk):
        self.bytes += len(chunk)
        if self.chunks is not None and self.bytes <= KEEP_BYTES:
            self.chunks.append(chunk)
            return
        if self.chunks is not None:
            self.hash = fnv1a(b"".join(self.chunks))
            self.chunks = None
        self.hash = fnv1a(chunk, self.hash)

    def finish(self):
        if self.content_length is not None and self.bytes != self.content_length:
            raise FetchError(self.url, truncated(self.content_length, self.bytes))
        if self.chunks is None:
            h = self.hash
        elif self.announced is not None:
            h = body_checksum(b"".join(self.chunks), self.announced)
        else:
            h = fnv1a(b"".join(self.chunks))
        if self.announced is not None and h != self.announced:
            raise FetchError(
                self.url, f"body checksum {h:#018x}, server announced {self.announced:#018x}"
            )
        if self.content_length is not None and self.announced is not None:
            return Tally.task(self.bytes, h)
        missing = {
            (True, False): "Content-Length",
            (False, True): CHECKSUM_HEADER,
            (True, True): "Content-Length or x-checksum",
        }[(self.content_length is None, self.announced is None)]
        if self.fixture:
            raise FetchError(self.url, f"the fixture server sent no {missing} header, "
                             "so the body cannot be verified")
        return Tally.unverified_task(self.bytes, h)

    def broken(self, cause):
        """The client failed mid-body with `cause` (a message from `classify`)."""
        mid_body = cause != REFUSED and not cause.startswith("timed out")
        if mid_body and self.content_length is not None and self.bytes < self.content_length:
            cause = truncated(self.content_length, self.bytes)
        return FetchError(self.url, cause)


def _number(value, radix):
    if value is None:
        return None
    value = value.strip()
    if radix == 16 and value.startswith("0x"):
        value = value[2:]
    try:
        n = int(value, radix)
    except ValueError:
        return None
    return n if 0 <= n <= U64 else None


def classify(e, timeout_ms):
    """The cause of a failed download, in the Rust models' words, from a client exception.

    Clients wrap the socket's error: urllib in `URLError.reason`, aiohttp in `os_error`.
    (No HTTPError: neither client turns a status into an exception here; Verifier checks it.)
    """
    inner = getattr(e, "reason", None) if isinstance(e, urllib.error.URLError) else None
    inner = inner or getattr(e, "os_error", None)
    if isinstance(inner, BaseException):
        e = inner
    if isinstance(e, ConnectionRefusedError):
        return REFUSED
    # RemoteDisconnected (a server that closed without answering) is a ConnectionResetError.
    if isinstance(e, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError,
                      http.client.IncompleteRead)):
        return RESET
    # socket.timeout is TimeoutError, and so is asyncio.TimeoutError since Python 3.11.
    if isinstance(e, TimeoutError):
        return timed_out(timeout_ms)
    if isinstance(e, urllib.error.URLError):
        return str(e.reason)
    return one_line(e) or type(e).__name__


# ---------------------------------------------------------------------------------------
# Memory and threads of the whole model (crates/workload/src/mem.rs).


def peak_rss_bytes(pid="self"):
    """Peak resident set size of a process since it started (`VmHWM`), in bytes."""
    return _field(f"/proc/{pid}/status", "VmHWM:") or 0


def _field(path, key):
    """A `Key:   123 kB` (or bare count) field of a /proc file: bytes for kB values."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    words = line[len(key):].split()
                    return int(words[0]) * (1024 if words[1:2] == ["kB"] else 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


# Worker processes of this model (procs), counted with it from start until reaped.
_TRACKED = set()


def track(pid):
    """Count `pid`, a worker process this model started, in the model's memory and threads."""
    _TRACKED.add(pid)


def untrack(pid):
    """Stop counting `pid` (it has exited and been reaped)."""
    _TRACKED.discard(pid)


def _real_thread_tools():
    """A real OS thread, lock and clock, even after gevent's `monkey.patch_all()`.

    Patched, `_thread` starts greenlets, which run only when the hub gets control: never
    during a power. The sampler must run beside the model, so it takes the originals.
    """
    if "gevent.monkey" in sys.modules:
        from gevent import monkey

        start = monkey.get_original("_thread", "start_new_thread")
        lock = monkey.get_original("_thread", "allocate_lock")
        return start, lock
    import _thread

    return _thread.start_new_thread, _thread.allocate_lock


class Sampler:
    """Reads the model's PSS and thread count on its own thread while the workload runs.

    PSS (`Pss` in /proc/<pid>/smaps_rollup) divides each page among the processes that
    share it, so summed over procs' workers the interpreter's code counts once; the
    kernel keeps no peak of it, so we sample it, pacing ourselves as mem.rs does: after
    a sample that took t, wait max(10 ms, 20 t). The sampler's own thread is not counted.
    """

    def __init__(self, children=None):
        # `children()`: the pids of the model's worker processes now (gunicorn's
        # arbiter knows its own); by default those given to `track`.
        self._children = children or (lambda: list(_TRACKED))
        self.pss_bytes, self.threads = 0, 0
        start_thread, allocate_lock = _real_thread_tools()
        # `stop` is held until finish(): the thread waits on it as its sleep, so releasing
        # it wakes the thread at once. `done` is released by the thread when it leaves.
        self._stop, self._done = allocate_lock(), allocate_lock()
        self._stop.acquire()
        self._done.acquire()
        # Samples taken while the thread runs leave it out of the thread count.
        self._alive = False
        pace = self._sample()
        try:
            start_thread(self._loop, (pace,))
            self._alive = True
        except RuntimeError:
            pass  # at a thread limit the run goes on: the first and last samples remain

    def _loop(self, pace):
        while not self._stop.acquire(timeout=pace):
            pace = self._sample()
        self._done.release()

    def _sample(self):
        started = time.perf_counter()
        pids = ["self"] + [str(p) for p in self._children()]
        pss = sum(_field(f"/proc/{p}/smaps_rollup", "Pss:") or 0 for p in pids)
        threads = sum(_field(f"/proc/{p}/status", "Threads:") or 0 for p in pids)
        self.pss_bytes = max(self.pss_bytes, pss)
        self.threads = max(self.threads, threads - self._alive, 1)
        return max(0.010, 20 * (time.perf_counter() - started))

    def finish(self):
        """Stop the thread, take a last sample, and return (peak PSS bytes, peak threads)."""
        if self._alive:
            self._stop.release()
            self._done.acquire()
            self._alive = False
        self._sample()
        return self.pss_bytes, self.threads


# ---------------------------------------------------------------------------------------
# The command line (crates/workload/src/cli.rs).


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage and exits on a bad value; we want one line and exit 2.
    def error(self, message):
        raise UsageError(message)


def _bounded(lo, hi):
    def parse(text):
        if not (text.isascii() and text.isdigit()):
            raise argparse.ArgumentTypeError(f"invalid value '{text}': not a whole number")
        value = int(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"invalid value '{text}': {value} is not in {lo}..={hi}")
        return value

    parse.__name__ = "number"
    return parse


def parse_url(text):
    """Accept `http://[user[:password]@]host[:port]/...` and `https://...` only, with
    cli.rs's parse_url's checks and words; return its Target."""
    if any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"'{text}' contains whitespace (percent-encode it as %20)")
    for scheme in ("http://", "https://"):
        if text.startswith(scheme):
            rest = text[len(scheme):]
            break
    else:
        raise argparse.ArgumentTypeError(f"'{text}' is not an http:// or https:// URL")
    authority = rest
    for sep in "/?#":
        authority = authority.split(sep, 1)[0]
    # Credentials come before the last '@' of the authority.
    authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        # An IPv6 address in brackets, as cli.rs checks it: closed, an address, then
        # nothing or a port.
        address, closed, after = authority[1:].partition("]")
        if not closed:
            raise argparse.ArgumentTypeError(f"'{text}' has an unclosed '[' in its host")
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"'{text}' has a bad IPv6 address '[{address}]'") from None
        if after and not after.startswith(":"):
            raise argparse.ArgumentTypeError(f"'{text}' has '{after}' after its host")
        port = after[1:]
        if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
            raise argparse.ArgumentTypeError(f"'{text}' has a bad port '{port}'")
        return target(text)
    host = authority
    if ":" in authority:
        h, port = authority.rsplit(":", 1)
        if not h.endswith("]") or authority.startswith("["):
            if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
                raise argparse.ArgumentTypeError(f"'{text}' has a bad port '{port}'")
            host = h
    if not host:
        raise argparse.ArgumentTypeError(f"'{text}' has no host")
    return target(text)


def parse_args(model, argv):
    """The command line every model accepts; raises UsageError on a bad value."""
    parser = _Parser(
        prog=model,
        allow_abbrev=False,
        description="Run one workload under this program's concurrency model; "
        "prints one JSON summary line on stdout.",
    )
    parser.add_argument("--summary-file", metavar="FILE",
                        help="also append the summary line to FILE")
    sub = parser.add_subparsers(dest="workload", metavar="WORKLOAD")
    # --summary-file is accepted after the workload too, as in the Rust binaries.
    common = _Parser(add_help=False, allow_abbrev=False)
    common.add_argument("--summary-file", metavar="FILE", default=argparse.SUPPRESS)

    cpu = sub.add_parser("cpu", parents=[common], allow_abbrev=False,
                         help="CPU-bound: compute BASE ** EXP as a big integer, N times")
    cpu.add_argument("--n", type=_bounded(1, MAX_CPU_N), default=10)
    cpu.add_argument("--base", type=_bounded(2, MAX_BASE), default=7777)
    cpu.add_argument("--exp", type=_bounded(1, MAX_EXP), default=200_000)

    io = sub.add_parser("io", parents=[common], allow_abbrev=False,
                        help="I/O-bound: N tasks, each downloading every URL one after another")
    io.add_argument("--n", type=_bounded(1, MAX_IO_N), default=10)
    io.add_argument("--url", dest="urls", action="append", type=parse_url, required=True)
    io.add_argument("--timeout-ms", type=_bounded(1, MAX_MS), default=30_000)

    sleep = sub.add_parser("sleep", parents=[common], allow_abbrev=False,
                           help="waiting only: N tasks, each sleeping MS milliseconds")
    sleep.add_argument("--n", type=_bounded(1, MAX_SLEEP_N), default=10)
    sleep.add_argument("--ms", type=_bounded(0, MAX_MS), default=100)

    args = parser.parse_args(argv)
    if args.workload is None:
        raise UsageError("a workload is required: cpu, io or sleep (see --help)")
    if args.workload == "io" and len(args.urls) > MAX_URLS:
        raise UsageError(f"{len(args.urls)} URLs given; at most {MAX_URLS} per run "
                         "(--url is repeated once per URL)")
    return args


# ---------------------------------------------------------------------------------------
# The main every model calls (crates/workload/src/run.rs).

_WORKERS = 1


def record_workers(n):
    """Say how many threads (or processes) the model's scheduler runs tasks on: 1 for an
    event loop or a plain loop, N for one thread (process) per task. Executor threads
    are not counted here; the summary's peak_threads shows every thread that ran."""
    global _WORKERS
    _WORKERS = n


def one_line(e):
    return " ".join(str(e).split())


def main(model, runners):
    """Parse the command line, run the workload with `runners[workload](args)`, check that
    every task finished, print the summary line and exit.

    Exit codes: 0 success; 1 the run failed (one line on stderr names the cause);
    2 bad arguments, or a --summary-file that cannot be opened (one line on stderr);
    3 out of memory (one line), as in the Rust models.
    """
    try:
        args = parse_args(model, sys.argv[1:])
        # Opened before any work, as the Rust models do: a file we could not write would
        # lose the run.
        summary_file = open_summary_file(args)
    except UsageError as e:
        print(f"{model}: {one_line(e)}", file=sys.stderr)
        sys.exit(2)
    try:
        summary = execute(model, args, runners[args.workload], summary_file)
    except MemoryError:
        # str(MemoryError()) is empty: name the cause, in one line.
        print(f"{model}: error: out of memory (see ulimit -v and MemAvailable)",
              file=sys.stderr)
        sys.exit(3)
    except Exception as e:  # noqa: BLE001: one line, never a traceback
        print(f"{model}: error: {one_line(e)}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"{model}: interrupted", file=sys.stderr)
        sys.exit(130)
    print(summary, flush=True)


def cpu_ms():
    """CPU time so far, user and system, this process and its reaped children (procs'
    workers), as crates/workload/src/rusage.rs counts it."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))
    return {
        "user_ms": (own.ru_utime + children.ru_utime) * 1e3,
        "system_ms": (own.ru_stime + children.ru_stime) * 1e3,
    }


def open_summary_file(args):
    """The --summary-file, opened for appending before the run; None without one."""
    if not args.summary_file:
        return None
    try:
        return open(args.summary_file, "a")
    except OSError as e:
        raise UsageError(f"cannot open --summary-file {args.summary_file}: {e.strerror}") from None


def execute(model, args, run, summary_file=None):
    # Thousands of sockets (and procs' pipes) need thousands of file descriptors.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sampler = Sampler()
    started = time.perf_counter()
    try:
        tally = run(args)
    finally:
        wall = time.perf_counter() - started
        pss_bytes, threads = sampler.finish()

    expected = args.n * len(args.urls) if args.workload == "io" else args.n
    if tally.tasks != expected:
        raise TaskError(f"{model} finished {tally.tasks} of {expected} tasks")
    if args.workload == "sleep" and wall * 1000 < args.ms:
        raise TaskError(
            f"{model} finished sleep in {wall * 1000:.3f} ms, shorter than one task's {args.ms} ms"
        )
    line = json.dumps(
        {
            "model": model,
            "workload": args.workload,
            "n": args.n,
            "wall_ms": wall * 1e3,
            "checksum": f"{tally.checksum:#x}",
            "bytes": tally.bytes,
            "tasks": tally.tasks,
            "unverified": tally.unverified,
            "processes": 1 + tally.child_processes,
            "peak_rss_bytes": peak_rss_bytes() + tally.child_peak_rss_bytes,
            "peak_pss_bytes": pss_bytes,
            "workers": _WORKERS,
            "peak_threads": threads,
            **cpu_ms(),
        },
        separators=(",", ":"),
    )
    if summary_file is not None:
        try:
            with summary_file as f:
                f.write(line + "\n")
        except OSError as e:
            raise TaskError(f"cannot write --summary-file {args.summary_file}: {e.strerror}") from None
    return line
