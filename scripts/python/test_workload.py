"""Unit tests of workload.py, blocking.py and serve_app.py, standard library only:
`python3 -m unittest test_workload` from this folder (crates/e2e/tests/python.rs runs them)."""

import http.client
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import unittest.mock
import urllib.error

import blocking
import serve_app
import workload
from workload import FetchError, Tally, Verifier


class Cpu(unittest.TestCase):
    def test_seed_power_matches_the_rust_kernel(self):
        # crates/workload/src/cpu.rs checks the same numbers on num-bigint.
        t = workload.cpu_task(7777, 200_000)
        self.assertEqual((t.tasks, t.checksum, t.bytes), (1, 0x3DD5B76340DF2BF, 2_585_000 // 8))

    def test_a_wrong_result_is_caught(self):
        x = 7777**2000
        self.assertEqual(workload.verify_power(7777, 2000, x), 0x10B25A8765253EE2)
        with self.assertRaisesRegex(workload.TaskError, "is wrong"):
            workload.verify_power(7777, 2000, x + 1)
        # Adding a multiple of 2^61-1 keeps the residue: only the bit length catches it.
        with self.assertRaisesRegex(workload.TaskError, "bits, expected"):
            workload.verify_power(7777, 2000, x + (workload.M61 << 30_000))

    def test_tallies_wrap_like_u64(self):
        total = Tally.task(3, 2**64 - 1) + Tally.unverified_task(4, 2)
        self.assertEqual((total.tasks, total.bytes, total.checksum, total.unverified),
                         (2, 7, 1, 1))


class Io(unittest.TestCase):
    HEADERS = {"content-length": "6", "x-checksum": "85944171f73967e8"}

    def test_fnv1a_matches_the_reference_vectors(self):
        self.assertEqual(workload.fnv1a(b""), 0xCBF29CE484222325)
        self.assertEqual(workload.fnv1a(b"a"), 0xAF63DC4C8601EC8C)
        self.assertEqual(workload.fnv1a(b"foobar"), 0x85944171F73967E8)

    def verify(self, *chunks, headers=None, status=200):
        v = Verifier("http://h/", status, self.HEADERS if headers is None else headers)
        for chunk in chunks:
            v.update(chunk)
        return v.finish()

    def test_a_complete_body_passes_twice_and_a_changed_repeat_fails(self):
        for _ in range(2):  # the second time through the hashed-body cache
            t = self.verify(b"foo", b"bar")
            self.assertEqual((t.tasks, t.bytes, t.checksum), (1, 6, 0x85944171F73967E8))
        with self.assertRaisesRegex(FetchError, "body checksum .* server announced"):
            self.verify(b"foobaz")

    def test_a_body_past_keep_bytes_is_hashed_as_it_arrives(self):
        body = bytes(i % 251 for i in range(workload.KEEP_BYTES + 1000))
        v = Verifier("http://h/", 200, {"content-length": str(len(body))})
        for i in range(0, len(body), 7000):
            v.update(body[i:i + 7000])
        self.assertIsNone(v.chunks, "not kept whole")
        self.assertEqual(v.finish().checksum, workload.fnv1a(body))

    def test_a_missing_check_fails_from_the_fixture_server_and_is_counted_elsewhere(self):
        for headers, missing in [
            ({"content-length": "6"}, "x-checksum"),
            ({"x-checksum": "85944171f73967e8"}, "Content-Length"),
            ({}, "Content-Length or x-checksum"),
        ]:
            marked = {**headers, workload.FIXTURE_HEADER: "1"}
            with self.assertRaisesRegex(FetchError, f"^GET http://h/: the fixture server sent no "
                                        f"{missing} header, so the body cannot be verified$"):
                self.verify(b"foobar", headers=marked)
            t = self.verify(b"foobar", headers=headers)
            self.assertEqual((t.tasks, t.unverified, t.bytes, t.checksum),
                             (1, 1, 6, 0x85944171F73967E8))
        self.assertEqual(self.verify(b"foobar").unverified, 0)

    def test_status_length_and_a_broken_connection(self):
        with self.assertRaisesRegex(FetchError, r"^GET http://h/: HTTP status 503$"):
            self.verify(status=503)
        with self.assertRaisesRegex(FetchError, r"^GET http://h/: HTTP status 302, a redirect to "
                                    r"'/elsewhere' \(redirects are not followed: give the final URL\)$"):
            self.verify(status=302, headers={"location": "/elsewhere"})
        with self.assertRaisesRegex(FetchError, r"^GET http://h/: HTTP status 304$"):
            self.verify(status=304)
        with self.assertRaisesRegex(FetchError, "truncated body: 5 of 6 bytes"):
            self.verify(b"fooba")
        v = Verifier("http://h/", 200, self.HEADERS)
        v.update(b"foo")
        self.assertEqual(str(v.broken(workload.RESET)), "GET http://h/: truncated body: 3 of 6 bytes")
        self.assertEqual(str(v.broken(workload.timed_out(5))), "GET http://h/: timed out after 5 ms")

    def test_client_errors_are_classified(self):
        classify = workload.classify
        self.assertEqual(classify(urllib.error.URLError(ConnectionRefusedError()), 5), workload.REFUSED)
        self.assertEqual(classify(http.client.RemoteDisconnected("x"), 5), workload.RESET)
        self.assertEqual(classify(TimeoutError(), 5), "timed out after 5 ms")
        self.assertEqual(classify(urllib.error.URLError(TimeoutError()), 5), "timed out after 5 ms")

    def test_gather_names_the_count_and_the_first_error(self):
        results = [Tally.task(1, 1), FetchError("http://a/", workload.REFUSED), ValueError("b")]
        with self.assertRaisesRegex(
            workload.TaskError, r"^2 of 3 tasks failed; the first: GET http://a/: connection refused$"
        ):
            workload.gather(results)


    def test_credentials_leave_the_url_for_one_basic_header(self):
        # The cases of crates/workload/src/io.rs's test of the same name.
        t = workload.target("http://u%40x:p%3Aw@127.0.0.1:80/a@b?c")
        self.assertEqual(t.url, "http://127.0.0.1:80/a@b?c")
        self.assertEqual(t.authorization, "Basic dUB4OnA6dw==")  # base64("u@x:p:w")
        t = workload.target("https://user@h/")
        self.assertEqual((t.url, t.authorization), ("https://h/", "Basic dXNlcjo="))
        t = workload.target("http://h/x@y")
        self.assertEqual((t.url, t.authorization, t.given), ("http://h/x@y", None, "http://h/x@y"))


class CommandLine(unittest.TestCase):
    def test_limits_are_the_rust_binaries(self):
        parse = workload.parse_args
        a = parse("m", ["cpu"])
        self.assertEqual((a.n, a.base, a.exp), (10, 7777, 200_000))
        a = parse("m", ["io", "--url", "http://[::1]:80/x", "--summary-file", "f"])
        self.assertEqual(([u.given for u in a.urls], a.timeout_ms, a.summary_file),
                         (["http://[::1]:80/x"], 30_000, "f"))
        a = parse("m", ["io", "--url", "http://u:p@h/x"])
        self.assertEqual(a.urls[0].url, "http://h/x")
        for bad in (["cpu", "--n", "1001"], ["cpu", "--base", "1"], ["sleep", "--ms", "600001"],
                    ["io", "--url", "http://h:99999/"], ["io", "--url", "http:///p"],
                    ["cpu", "--n", "+3"], []):
            with self.assertRaises(workload.UsageError, msg=bad):
                parse("m", bad)

    def test_url_errors_are_the_rust_binaries_words(self):
        # crates/workload/src/cli.rs: check_url and Cli::validate.
        for url, why in (("http://a b/", "'http://a b/' contains whitespace (percent-encode it as %20)"),
                         ("ftp://h/", "'ftp://h/' is not an http:// or https:// URL"),
                         ("http://u:p@/x", "'http://u:p@/x' has no host"),
                         ("http://h:x/", "'http://h:x/' has a bad port 'x'")):
            with self.assertRaises(workload.UsageError) as e:
                workload.parse_args("m", ["io", "--url", url])
            self.assertTrue(str(e.exception).endswith(why), str(e.exception))
        with self.assertRaisesRegex(workload.UsageError, r"^101 URLs given; at most 100 per run "
                                    r"\(--url is repeated once per URL\)$"):
            workload.parse_args("m", ["io"] + ["--url", "http://h/"] * 101)


class Hardening(unittest.TestCase):
    """Issue 19's items for the Python models, the same as the Rust binaries."""

    def test_an_unclosed_ipv6_host_is_refused_in_cli_rs_words(self):
        for url, why in (("http://[::1", "'http://[::1' has an unclosed '[' in its host"),
                         ("http://[nope]/", "'http://[nope]/' has a bad IPv6 address '[nope]'"),
                         ("http://[::1]:99999/", "'http://[::1]:99999/' has a bad port '99999'")):
            with self.assertRaises(workload.UsageError) as e:
                workload.parse_args("m", ["io", "--url", url])
            self.assertTrue(str(e.exception).endswith(why), str(e.exception))
        workload.parse_args("m", ["io", "--url", "http://[::1]/x"])

    def test_out_of_memory_in_a_task_is_the_runs_cause(self):
        with self.assertRaises(MemoryError):
            workload.gather([Tally.task(1, 1), MemoryError(), ValueError("x")])

    def test_an_unwritable_summary_file_is_refused_before_the_run(self):
        # A sleep of 5 s: refused at once, with exit 2, if the file is checked first.
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-B", "python_sync.py", "sleep", "--n", "1", "--ms", "5000",
             "--summary-file", "/nonexistent-dir/summary.jsonl"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertEqual(out.stderr.strip().count("\n"), 0, out.stderr)
        self.assertIn("cannot open --summary-file /nonexistent-dir/summary.jsonl", out.stderr)
        self.assertLess(time.monotonic() - started, 4.0)


class Deadline(unittest.TestCase):
    """blocking.py's deadline covers the whole request: against a server that sends the
    status line at once, then one header line every 100 ms for ever, a request with a
    timeout of 500 ms fails after about 500 ms, where urllib's own per-read timeout would
    wait for ever. Over plain HTTP, and over TLS where openssl can make a certificate."""

    def trickling_server(self, tls=None):
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)

        def serve():
            try:
                conn, _ = listener.accept()
                if tls:
                    conn = tls.wrap_socket(conn, server_side=True)
                with conn:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 200 OK\r\n")
                    for i in range(100):
                        time.sleep(0.1)
                        conn.sendall(b"x-slow-%d: 1\r\n" % i)
            except OSError:
                pass  # the client gave up and closed: the point of the test

        threading.Thread(target=serve, daemon=True).start()
        return listener.getsockname()[1]

    def assert_times_out(self, url):
        started = time.monotonic()
        with self.assertRaisesRegex(FetchError, r": timed out after 500 ms$"):
            blocking.download(workload.target(url), 500)
        elapsed = time.monotonic() - started
        self.assertTrue(0.45 < elapsed < 3.0, f"{elapsed:.2f} s")

    def test_plain_http(self):
        self.assert_times_out(f"http://127.0.0.1:{self.trickling_server()}/")

    def test_tls(self):
        if shutil.which("openssl") is None:
            self.skipTest("no openssl to make a certificate")
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert, key)
        # The client verifies certificates: let it trust this one.
        blocking._tls_context().load_verify_locations(cert)
        self.assert_times_out(f"https://127.0.0.1:{self.trickling_server(server)}/")


class Serve(unittest.TestCase):
    """serve_app.py: what every Python server answers and counts (the serve contract)."""

    def test_the_command_line_and_its_refusals(self):
        a = serve_app.parse_args("m", ["serve"])
        self.assertEqual((a.port, a.bind, a.backend, a.workers, a.header_timeout_ms, a.drain_ms),
                         (0, "127.0.0.1", None, None, 5000, 5000))
        a = serve_app.parse_args("m", ["serve", "--backend", "[::1]:8", "--workers", "3"],
                                 takes_workers=True)
        self.assertEqual((a.backend, a.workers), ("[::1]:8", 3))
        for argv, why in ((["serve", "--workers", "2"],
                           "--workers is taken by procs and python-procs only, not by m"),
                          (["serve", "--backend", "10.0.0.1:80"],
                           "10.0.0.1:80 is not a loopback address: the fixture server binds "
                           "127.0.0.0/8 or [::1]"),
                          (["serve", "--backend", "localhost:80"],
                           "'localhost:80' is not an address of the form 127.0.0.1:PORT"),
                          (["serve", "--port", "65536"], "65536 is not in 0..=65535"),
                          (["serve", "--bind", "example.com"], "'example.com' is not an IP address"),
                          (["cpu"], "invalid choice")):
            with self.assertRaises(workload.UsageError, msg=argv) as e:
                serve_app.parse_args("m", argv)
            self.assertIn(why, str(e.exception))

    def test_routes_answer_with_the_bodys_checksum(self):
        hello = serve_app.hello()
        self.assertEqual(hello, (200, b"hello, world\n"))
        self.assertEqual(serve_app.headers(hello.body),
                         {"content-type": "text/plain", "x-checksum": "e60e7ee648829675"})
        self.assertEqual(serve_app.work("1000"),
                         (200, f"{pow(7777, 1000, workload.M61):016x}\n".encode()))
        for bad in ("0", "200001", "+5", "1e3", "", "٣"):
            self.assertEqual(serve_app.work(bad).status, 400, bad)
        self.assertEqual(serve_app.backend_plan(None, "10").status, 503)
        self.assertEqual(serve_app.backend_plan("127.0.0.1:9", "10001").status, 400)
        target, timeout_ms = serve_app.backend_plan("127.0.0.1:9", "50")
        self.assertEqual((target.url, timeout_ms),
                         ("http://127.0.0.1:9/delay/50/bytes/1024", 50 + serve_app.BACKEND_SLACK_MS))
        self.assertEqual(serve_app.backend_answer("m", Tally.task(1024, 0xAB)),
                         (200, b"00000000000000ab\n"))

    def test_a_failed_backend_is_a_502_naming_it_logged_once_per_kind(self):
        serve_app._LOGGED.clear()
        errors = [FetchError(f"http://b/{i}", workload.timed_out(5000 + i)) for i in range(3)]
        errors.append(FetchError("http://b/", workload.REFUSED))
        stderr = io.StringIO()
        with unittest.mock.patch("sys.stderr", stderr):
            answers = [serve_app.backend_answer("m", e) for e in errors]
        self.assertEqual(answers[0], (502, b"backend: GET http://b/0: timed out after 5000 ms\n"))
        self.assertEqual({a.status for a in answers}, {502})
        self.assertEqual(stderr.getvalue().count("\n"), 2, stderr.getvalue())

    def test_counters_add_up_across_workers_into_the_summary_line(self):
        shared = bytearray(2 * serve_app.Counters.SIZE)  # two workers' slots, one buffer
        size = serve_app.Counters.SIZE
        a = serve_app.Counters(memoryview(shared)[:size])
        b = serve_app.Counters(memoryview(shared)[size:])
        for status, nbytes in ((200, 13), (200, 17), (404, 57), (431, 0), (502, 30)):
            a.answered(status, nbytes)
        b.answered(400, 10)
        b.error("header_timeout")
        a.connected(1)
        b.connected(3)
        b.connected(2)
        again = serve_app.Counters(memoryview(shared)[size:])  # the arbiter's view of b
        totals = serve_app.Counters.total([a, again])
        line = json.loads(serve_app.summary_line("m", "127.0.0.1:1", 1.5, totals, processes=3,
                                                 workers=2, peak_rss_bytes=1, peak_pss_bytes=2,
                                                 peak_threads=4))
        self.assertEqual((line["n"], line["tasks"], line["bytes"], line["workload"]),
                         (6, 2, 127, "serve"))
        self.assertEqual(line["serve"], {
            "listen": "127.0.0.1:1", "requests": 6,
            "by_status": {"200": 2, "400": 1, "404": 1, "431": 1, "502": 1},
            "errors": {"bad_request": 1, "head_too_large": 1, "header_timeout": 1,
                       "backend": 1, "client_gone": 0, "accept": 0},
            "connections": 3, "peak_open_connections": 4})


if __name__ == "__main__":
    unittest.main()
