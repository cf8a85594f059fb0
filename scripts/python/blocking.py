"""The blocking HTTP client of python-sync, python-threads, python-procs and python-gevent:
the counterpart of crates/workload/src/blocking.rs.

`urllib.request`, as the seed article used it, with the policy every client of this study
follows (crates/workload/src/io.rs, `Target`): one GET per URL; no proxy from the
environment; no redirect followed (the 3xx comes back, and Verifier fails it, naming
where it pointed); credentials taken out of the URL and sent as one `Authorization: Basic`
header; one deadline for the whole request. A new connection per request (urllib sends
`Connection: close`): no keep-alive pool, as in the article.

The opener. `urlopen(url)` is `open` on a default opener whose handlers read HTTP_PROXY
and friends (ProxyHandler), follow up to 10 redirects (HTTPRedirectHandler) and turn any
non-2xx answer into an exception (HTTPErrorProcessor). Ours holds `ProxyHandler({})` (no
proxy) and HTTP and HTTPS handlers whose connections keep a deadline, nothing else: every
answer comes back as a response, and Verifier checks its status as the Rust models do.

The deadline. urllib's `timeout` bounds each socket operation (connect, each read), not
the request: a server that sends one header line a second, or an endless body, keeps a
request alive forever. Here the socket sets its timeout to the time left before every
read and write, and fails once none is left, so one deadline covers connecting, the
headers and the body, as the Rust clients' `timeout_global` does. Connecting (and TLS's
handshake) get the time left when the request started.
"""

import http.client
import socket
import ssl
import time
import urllib.request

import workload

# Reads of the body, at most this many bytes each.
CHUNK = 64 * 1024


def download_all(urls, timeout_ms):
    """One task of the io workload: every URL (a workload.Target) in turn."""
    total = workload.Tally()
    for url in urls:
        total += download(url, timeout_ms)
    return total


def download(target, timeout_ms):
    """Download one URL through the opener, reading its body to the end, and verify it.

    The call blocks this thread (python-gevent: this greenlet, on a patched socket) until
    each read is done. Errors name the URL without its credentials.
    """
    url = target.url
    request = urllib.request.Request(url)
    if target.authorization:
        request.add_header("Authorization", target.authorization)
    # Read by our handlers below: where the request's connection must give up.
    request.deadline = time.monotonic() + timeout_ms / 1000
    try:
        response = _OPENER.open(request, timeout=timeout_ms / 1000)
    except Exception as e:  # noqa: BLE001: every failure is named by its cause
        raise workload.FetchError(url, workload.classify(e, timeout_ms)) from None
    with response:
        verifier = workload.Verifier(url, response.status, response.headers)
        try:
            while chunk := response.read(CHUNK):
                verifier.update(chunk)
        except Exception as e:  # noqa: BLE001
            if isinstance(e, http.client.IncompleteRead):
                verifier.update(e.partial)
            raise verifier.broken(workload.classify(e, timeout_ms)) from None
    return verifier.finish()


class _Deadline:
    """Mixed into a socket class: before every read and write, the socket's timeout is
    set to the time left until `deadline` (a time.monotonic() value); when none is left,
    the call times out without waiting."""

    deadline = None

    def _time_left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline has passed")
        self.settimeout(left)

    def recv_into(self, *args, **kwargs):
        if self.deadline is not None:
            self._time_left()
        return super().recv_into(*args, **kwargs)

    def sendall(self, *args, **kwargs):
        if self.deadline is not None:
            self._time_left()
        return super().sendall(*args, **kwargs)


# http.client reads a response through `sock.makefile()`, whose every read is a
# `recv_into` on the socket: these classes are where the deadline takes hold. (Under
# gevent's patch_all, `socket.socket` and `ssl.SSLSocket` are gevent's cooperative
# classes by the time this module is imported, and these build on them.)
class _Socket(_Deadline, socket.socket):
    pass


class _TLSSocket(_Deadline, ssl.SSLSocket):
    pass


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, *, deadline, **kwargs):
        super().__init__(host, **kwargs)
        self.deadline = deadline

    def connect(self):
        super().connect()  # socket.create_connection, bounded by `timeout`
        plain = self.sock
        # The same connected socket (its file descriptor), as a socket that keeps the deadline.
        self.sock = _Socket(plain.family, plain.type, plain.proto, plain.detach())
        self.sock.deadline = self.deadline


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, *, deadline, **kwargs):
        super().__init__(host, **kwargs)
        self.deadline = deadline

    def connect(self):
        super().connect()  # TCP, then the TLS handshake, each bounded by `timeout`
        self.sock.deadline = self.deadline  # a _TLSSocket: see _tls_context


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req, deadline=req.deadline)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=_tls_context(), deadline=req.deadline)


_TLS = None


def _tls_context():
    """One TLS context per process, made at the first https request (loading the system's
    root certificates once; two threads racing here at most make a second one), whose
    sockets are _TLSSockets; certificates and host names are verified as urlopen does."""
    global _TLS
    if _TLS is None:
        _TLS = ssl.create_default_context()
        _TLS.set_alpn_protocols(["http/1.1"])
        _TLS.sslsocket_class = _TLSSocket
    return _TLS


def _opener():
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler({}), _HTTPHandler(), _HTTPSHandler()):
        opener.add_handler(handler)
    return opener


# One opener for the process, shared by its threads (it holds no state per request).
_OPENER = _opener()
