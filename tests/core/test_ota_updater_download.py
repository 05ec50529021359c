# The download client's pure parts on both runtimes: https-only URL parsing
# and Content-Range checking (the transfer itself is tested end to end in
# tests/sim/test_ota_resume.py).
import unittest

from hushphone.ota.http_client import DownloadError, _content_range_start, parse_url, request_head


class Urls(unittest.TestCase):
    def test_https_urls(self):
        self.assertEqual(parse_url("https://updates.example:8443/v2.hushota"), ("updates.example", 8443, "/v2.hushota"))
        self.assertEqual(parse_url("https://updates.example"), ("updates.example", 443, "/"))
        self.assertEqual(parse_url("https://[::1]:9000/a/b"), ("::1", 9000, "/a/b"))

    def test_plain_http_and_garbage_refused(self):
        for url in ("http://updates.example/v2.hushota", "ftp://x/y", "https:///nohost", "https://h:port/"):
            with self.assertRaises(ValueError):
                parse_url(url)


class Requests(unittest.TestCase):
    def test_every_handset_sends_the_same_bytes(self):
        # nothing but the method, path, Host (with a non-default port) and Range
        self.assertEqual(request_head("updates.example", 443, "/ota/stable.channel"),
                         b"GET /ota/stable.channel HTTP/1.1\r\nHost: updates.example\r\nConnection: close\r\n\r\n")
        self.assertEqual(request_head("::1", 8443, "/b", 4096),
                         b"GET /b HTTP/1.1\r\nHost: [::1]:8443\r\nConnection: close\r\nRange: bytes=4096-\r\n\r\n")


class ContentRange(unittest.TestCase):
    def test_start_of_range(self):
        self.assertEqual(_content_range_start("bytes 4096-8191/8192"), 4096)

    def test_bad_values(self):
        for value in ("", "items 0-1/2", "bytes x-1/2", "bytes"):
            with self.assertRaises(DownloadError):
                _content_range_start(value)


if __name__ == "__main__":
    unittest.main()
