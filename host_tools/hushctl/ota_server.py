"""An HTTPS server for update bundles (`hushctl ota serve`): serves the
files of one directory with HTTP Range support (206 + Content-Range, 416
for an unsatisfiable range, HEAD), so handsets resume interrupted
downloads. One thread per connection, at most `max_connections` at once;
TLS always, optionally mutual (only clients with a certificate from
`client_ca`). No Server version string (privacy: no fingerprinting)."""
import os
import re
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hushctl import tls_keys
from hushctl.errors import HushctlError

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_COPY_CHUNK = 64 * 1024


def parse_range(header, size):
    """(start, end) inclusive for a single-range `Range` header value, None
    when the header should be ignored (multiple or other units: send the
    whole file, as RFC 9110 allows), or "unsatisfiable"."""
    m = _RANGE.match(header.strip())
    if not m:
        return None
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size or (last and int(last) < start):
        return "unsatisfiable"
    return start, end


class BundleHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hushctl"
    sys_version = ""

    def version_string(self):
        return "hushctl"

    def log_message(self, fmt, *args):
        self.server.log("%s %s" % (self.address_string(), fmt % args))

    def do_HEAD(self):
        self._serve(body=False)

    def do_GET(self):
        self._serve(body=True)

    def _file(self):
        name = self.path.split("?", 1)[0].lstrip("/")
        if not _NAME.match(name):  # one plain file name: no traversal, no listing
            return None
        path = os.path.join(self.server.directory, name)
        return path if os.path.isfile(path) else None

    def _serve(self, body):
        range_header = self.headers.get("Range")
        self.server.record(self.command, self.path, range_header)
        path = self._file()
        if path is None:
            self._simple(404, b"not found\n", body)
            return
        size = os.path.getsize(path)
        span = parse_range(range_header, size) if range_header else None
        if span == "unsatisfiable":
            self.send_response(416)
            self.send_header("Content-Range", "bytes */%d" % size)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start, end = span if span else (0, size - 1)
        length = end - start + 1 if size else 0
        self.send_response(206 if span else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        if span:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        if body:
            self.copy_range(path, start, length)

    def copy_range(self, path, start, length):
        with open(path, "rb") as f:
            f.seek(start)
            while length > 0:
                chunk = f.read(min(_COPY_CHUNK, length))
                if not chunk:
                    break
                self.wfile.write(chunk)
                length -= len(chunk)

    def _simple(self, code, text, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        if body:
            self.wfile.write(text)


class OtaServer(ThreadingHTTPServer):
    """Serves `directory` over TLS. `requests` records (method, path, Range
    header) of every request, for tests and the access log."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, directory, ssl_context, host="127.0.0.1", port=0, max_connections=16,
                 handler=BundleHandler, log=None, io_timeout=60):
        if not os.path.isdir(directory):
            raise HushctlError("%s is not a directory" % directory)
        self.directory = os.path.abspath(directory)
        self.ssl_context = ssl_context
        self.requests = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._log = log
        self.io_timeout = io_timeout
        if ":" in host:
            self.address_family = socket.AF_INET6
        try:
            super().__init__((host, port), handler)
        except OSError as e:
            raise HushctlError("cannot listen on %s port %d: %s" % (host, port, e.strerror))

    @property
    def url(self):
        host, port = self.server_address[:2]
        return "https://%s:%d/" % ("[%s]" % host if ":" in host else host, port)

    def log(self, text):
        if self._log is not None:
            self._log(text)

    def record(self, method, path, range_header):
        with self._lock:
            self.requests.append((method, path, range_header))

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(self.io_timeout)
        # The TLS handshake runs in the connection's thread (first read), so
        # a slow or hostile client cannot stall the accept loop.
        return self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def process_request(self, request, client_address):
        self._slots.acquire()  # bounded: at most max_connections threads
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address):
        import sys

        self.log("%s: connection error: %s" % (client_address[0], sys.exc_info()[1]))


def server_context(cert, key, client_ca=None, passphrase=None):
    """TLS 1.2+ server context; with `client_ca`, clients must present a
    certificate issued by it. An encrypted key needs `passphrase` (see
    tls_keys.load_cert_chain)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    tls_keys.load_cert_chain(ctx, cert, key, passphrase, "server key")
    if client_ca:
        try:
            ctx.load_verify_locations(cafile=client_ca)
        except (OSError, ssl.SSLError) as e:
            raise HushctlError("cannot load the client CA %s: %s" % (client_ca, getattr(e, "strerror", None) or e))
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
