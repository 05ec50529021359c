"""nginx (Debian's nginx-light) as the static HTTPS host handsets pull
updates from: a plain foreground process with its own prefix, config and
logs under a test directory, on a free loopback port, serving a directory
with the test PKI's server certificate. Its access log records, per
request, everything a handset could identify itself with (request line,
Host, Range, User-Agent, Cookie, Authorization, X-Forwarded-For, query,
client certificate) and the request's length in bytes: equal lengths and
equal fields mean the requests were identical."""
import shutil
import subprocess
import time
from pathlib import Path

from hushctl.lab import free_tcp_port

LOG_FIELDS = ("status", "request", "host", "range", "user_agent", "cookie", "authorization", "forwarded_for",
              "args", "client_dn", "request_length", "bytes_sent")
_LOG_FORMAT = "\\t".join(("$status", "$request", "$http_host", "$http_range", "$http_user_agent", "$http_cookie",
                          "$http_authorization", "$http_x_forwarded_for", "$args", "$ssl_client_s_dn",
                          "$request_length", "$bytes_sent"))

_CONFIG = """
daemon off;
master_process off;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 256; }}
http {{
    types {{ application/octet-stream hushota channel; }}
    default_type application/octet-stream;
    log_format hush '{fmt}';
    access_log {run}/access.log hush;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    server_tokens off;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {www};
        location / {{ }}
    }}
}}
"""


def nginx_exe():
    return shutil.which("nginx") or "/usr/sbin/nginx"


class Nginx:
    def __init__(self, www, cert_pem, key_pem, run_dir):
        self.www = Path(www)
        self.run = Path(run_dir)
        self.run.mkdir(parents=True, exist_ok=True)
        self.cert_pem, self.key_pem = cert_pem, key_pem
        self.proc = None
        self.port = None

    @property
    def url(self):
        return "https://localhost:%d" % self.port

    def start(self, attempts=3, timeout=10):
        for _ in range(attempts):
            self.port = free_tcp_port()
            conf = self.run / "nginx.conf"
            conf.write_text(_CONFIG.format(run=self.run, fmt=_LOG_FORMAT, port=self.port, cert=self.cert_pem,
                                           key=self.key_pem, www=self.www))
            self.proc = subprocess.Popen([nginx_exe(), "-p", str(self.run), "-c", str(conf), "-e",
                                          str(self.run / "error.log")],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if (self.run / "nginx.pid").exists() and _listening(self.port):
                    return self
                time.sleep(0.05)
            self.stop()
        raise AssertionError("nginx did not start: %s" % self.error_log())

    def error_log(self):
        path = self.run / "error.log"
        return path.read_text() if path.exists() else ""

    def access_log(self):
        """[{field: value}] per request, in order."""
        path = self.run / "access.log"
        if not path.exists():
            return []
        return [dict(zip(LOG_FIELDS, line.split("\t"))) for line in path.read_text().splitlines() if line]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _listening(port):
    import socket

    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class CuttingRelay:
    """A TCP relay in front of a server (TLS passes through untouched) that
    cuts the first connection carrying more than `cut_after` bytes towards
    the client, as a dropped link would; later connections pass whole."""

    def __init__(self, target_port, cut_after):
        import socket
        import threading

        self.target_port = target_port
        self.cut_after = cut_after
        self.cuts = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        import socket
        import threading

        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src, dst, to_client):
        import socket

        sent = 0
        try:
            for _ in range(100000):  # bounded: 100000 reads of up to 16 KiB
                data = src.recv(16384)
                if not data:
                    break
                if to_client and sent + len(data) > self.cut_after:
                    with self._lock:
                        cut = self.cuts == 0
                        self.cuts += cut
                    if cut:
                        dst.sendall(data[: self.cut_after - sent])
                        break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):  # shutdown, not only close: it wakes the other direction's recv and sends FIN
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def stop(self):
        self._stop.set()
        self._sock.close()
        self._thread.join(5)
