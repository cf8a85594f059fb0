"""Unit tests of workload.py, standard library only: `python3 -m unittest test_workload`
from this folder (crates/e2e/tests/python.rs runs them)."""

import http.client
import unittest
import urllib.error

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
        total = Tally.task(3, 2**64 - 1) + Tally.task(4, 2)
        self.assertEqual((total.tasks, total.bytes, total.checksum), (2, 7, 1))


class Io(unittest.TestCase):
    HEADERS = {"content-length": "6", "x-checksum": "85944171f73967e8"}

    def test_fnv1a_matches_the_reference_vectors(self):
        self.assertEqual(workload.fnv1a(b""), 0xCBF29CE484222325)
        self.assertEqual(workload.fnv1a(b"a"), 0xAF63DC4C8601EC8C)
        self.assertEqual(workload.fnv1a(b"foobar"), 0x85944171F73967E8)

    def verify(self, *chunks, headers=None, status=200):
        v = Verifier("http://h/", status, headers or self.HEADERS)
        for chunk in chunks:
            v.update(chunk)
        return v.finish()

    def test_a_complete_body_passes_twice_and_a_changed_repeat_fails(self):
        for _ in range(2):  # the second time through the hashed-body cache
            t = self.verify(b"foo", b"bar")
            self.assertEqual((t.tasks, t.bytes, t.checksum), (1, 6, 0x85944171F73967E8))
        with self.assertRaisesRegex(FetchError, "body checksum .* server announced"):
            self.verify(b"foobaz")

    def test_status_length_and_a_broken_connection(self):
        with self.assertRaisesRegex(FetchError, r"^GET http://h/: HTTP status 503$"):
            self.verify(status=503)
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
        self.assertEqual(classify(urllib.error.HTTPError("u", 404, "no", {}, None), 5), "HTTP status 404")

    def test_gather_names_the_count_and_the_first_error(self):
        results = [Tally.task(1, 1), FetchError("http://a/", workload.REFUSED), ValueError("b")]
        with self.assertRaisesRegex(
            workload.TaskError, r"^2 of 3 tasks failed; the first: GET http://a/: connection refused$"
        ):
            workload.gather(results)


class CommandLine(unittest.TestCase):
    def test_limits_are_the_rust_binaries(self):
        parse = workload.parse_args
        a = parse("m", ["cpu"])
        self.assertEqual((a.n, a.base, a.exp), (10, 7777, 200_000))
        a = parse("m", ["io", "--url", "http://[::1]:80/x", "--summary-file", "f"])
        self.assertEqual((a.urls, a.timeout_ms, a.summary_file), (["http://[::1]:80/x"], 30_000, "f"))
        for bad in (["cpu", "--n", "1001"], ["cpu", "--base", "1"], ["sleep", "--ms", "600001"],
                    ["io", "--url", "http://h:99999/"], ["io", "--url", "http:///p"],
                    ["io"] + ["--url", "http://h/"] * 101, ["cpu", "--n", "+3"], []):
            with self.assertRaises(workload.UsageError, msg=bad):
                parse("m", bad)


if __name__ == "__main__":
    unittest.main()
