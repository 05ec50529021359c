# Downloads an update bundle over HTTPS straight into the updater, and
# resumes an interrupted download with an HTTP Range request instead of
# starting again: the updater knows how many image bytes are safely in
# flash (ProgressStore), so the next attempt asks for the bundle from that
# point on. The server's bytes still go through the full verification:
# a resumed download of a bundle that changed on the server fails the
# SHA-256 check and the next attempt starts from the beginning.
try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from hushphone.ota import OtaRejected
from hushphone.ota.bundle import HEADER_SIZE
from hushphone.ota.updater import BundleWriter

_CHUNK = 4096
_MAX_HEADER_LINE = 1024
_MAX_HEADERS = 32


class DownloadError(Exception):
    """The transfer failed (network, HTTP status, server misbehaving): worth
    another attempt, unlike OtaRejected."""


def parse_url(url):
    """(host, port, path) of an https:// URL. Plain http is refused: the
    handset never fetches code over an unauthenticated link."""
    if not url.startswith("https://"):
        raise ValueError("only https:// URLs are allowed")
    rest = url[8:]
    slash = rest.find("/")
    hostport, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    if hostport.startswith("["):  # [IPv6]:port
        end = hostport.find("]")
        host, tail = hostport[1:end], hostport[end + 1 :]
        port = int(tail[1:]) if tail.startswith(":") else 443
    elif ":" in hostport:
        host, port = hostport.rsplit(":", 1)
        port = int(port)
    else:
        host, port = hostport, 443
    if not host:
        raise ValueError("URL has no host")
    return host, port, path


async def _read_head(reader, timeout):
    status = await asyncio.wait_for(reader.readline(), timeout)
    parts = status.decode().split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise DownloadError("not an HTTP response")
    headers = {}
    for _ in range(_MAX_HEADERS):
        line = await asyncio.wait_for(reader.readline(), timeout)
        if len(line) > _MAX_HEADER_LINE:
            raise DownloadError("response header line too long")
        line = line.decode().strip()
        if not line:
            return int(parts[1]), headers
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    raise DownloadError("too many response headers")


def _content_range_start(value):
    # "bytes START-END/TOTAL"
    try:
        unit, spec = value.split(" ", 1)
        start = int(spec.split("-", 1)[0])
    except (ValueError, IndexError):
        raise DownloadError("bad Content-Range %r" % value)
    if unit != "bytes":
        raise DownloadError("bad Content-Range unit")
    return start


def request_head(host, port, path, start=None):
    """The request every handset sends alike: method, path, Host, close and
    (to resume) a Range. Nothing that tells one handset from another: no
    User-Agent, no cookie, no serial (a static host serves it as it is)."""
    if ":" in host:
        host = "[%s]" % host
    if port != 443:  # RFC 9110 7.2: the port unless it is the scheme's default
        host = "%s:%d" % (host, port)
    request = "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (path, host)
    if start is not None:
        request += "Range: bytes=%d-\r\n" % start
    return (request + "\r\n").encode()


async def _open(host, port, ssl_context, timeout):
    return await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=ssl_context, server_hostname=host), timeout)


async def _close(writer):
    writer.close()
    try:
        await writer.wait_closed()
    except Exception:
        pass


async def fetch(url, ssl_context, max_size, timeout=30):
    """The body of a small document (e.g. a signed channel document) of at
    most `max_size` bytes; DownloadError if the server fails or sends more."""
    host, port, path = parse_url(url)
    reader, writer = await _open(host, port, ssl_context, timeout)
    try:
        writer.write(request_head(host, port, path))
        await writer.drain()
        status, headers = await _read_head(reader, timeout)
        if status != 200:
            raise DownloadError("HTTP status %d" % status)
        if "chunked" in headers.get("transfer-encoding", ""):
            raise DownloadError("chunked responses are not supported")
        length = headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > max_size:
            raise DownloadError("document length %r is missing or above %d bytes" % (length, max_size))
        body = bytearray(int(length))  # one allocation, filled in place
        got = 0
        while got < len(body):
            chunk = await asyncio.wait_for(reader.read(min(_CHUNK, len(body) - got)), timeout)
            if not chunk:
                raise DownloadError("connection closed %d bytes early" % (len(body) - got))
            body[got : got + len(chunk)] = chunk
            got += len(chunk)
        return body
    finally:
        await _close(writer)


class BundleDownload:
    """Fetches `url` into a fresh Updater from `service` (an OtaService with
    a ProgressStore), retrying up to `attempts` times; each retry resumes.
    ssl_context: verifies the update server (CERT_REQUIRED, CA loaded).
    on_manifest(manifest), if given, sees the checked manifest before any
    image byte is written and may raise OtaRejected to stop."""

    def __init__(self, service, url, ssl_context, attempts=5, timeout=30, log=None, on_manifest=None):
        self.service = service
        self.on_manifest = on_manifest
        self.url = url
        self.host, self.port, self.path = parse_url(url)
        self.ssl_context = ssl_context
        self.attempts = attempts
        self.timeout = timeout
        self.log = log
        self.requests = []  # (range start or None) per attempt, for diagnostics

    async def run(self):
        """The VerifiedUpdate once installed (set_boot done); raises
        OtaRejected if the update is refused, DownloadError if every
        attempt failed."""
        last = None
        for _ in range(self.attempts):
            try:
                return await self._attempt()
            except OtaRejected as e:
                if e.reason == "digest" and self.requests and self.requests[-1] is not None:
                    last = e  # resumed onto changed data: start over once more
                    continue
                raise
            except (DownloadError, OSError, asyncio.TimeoutError, ValueError) as e:
                last = e
                if self.log:
                    self.log("ota: download interrupted (%s), will resume" % (e,))
        raise DownloadError("download failed after %d attempts: %s" % (self.attempts, last))

    async def _attempt(self):
        updater = self.service.updater()
        saved = self.service.progress.load() if self.service.progress is not None else None
        start = None
        if saved is not None:
            try:
                updater.begin(saved[1], accept=self.on_manifest)
            except OtaRejected:
                self.service.progress.clear()  # e.g. expired meanwhile: start afresh
                updater = self.service.updater()
            else:
                if updater.offset >= updater.manifest.image_size:
                    return updater.finish()  # every byte was in flash already (cut before set_boot)
                if updater.offset > 0:
                    start = HEADER_SIZE + len(saved[1]) + updater.offset
                else:
                    updater = self.service.updater()
        self.requests.append(start)
        reader, writer = await _open(self.host, self.port, self.ssl_context, self.timeout)
        try:
            writer.write(request_head(self.host, self.port, self.path, start))
            await writer.drain()
            status, headers = await _read_head(reader, self.timeout)
            if start is not None and status == 206:
                if _content_range_start(headers.get("content-range", "")) != start:
                    raise DownloadError("server answered a different range")
                sink = updater.write
            elif status == 200:
                if start is not None:  # server ignored the Range: take it all again
                    updater = self.service.updater()
                sink = BundleWriter(updater, self.on_manifest).feed
            else:
                raise DownloadError("HTTP status %d" % status)
            if "chunked" in headers.get("transfer-encoding", ""):
                raise DownloadError("chunked responses are not supported")
            length = headers.get("content-length")
            remaining = int(length) if length is not None else -1
            while remaining != 0:
                chunk = await asyncio.wait_for(reader.read(_CHUNK if remaining < 0 else min(_CHUNK, remaining)),
                                               self.timeout)
                if not chunk:
                    if remaining > 0:
                        raise DownloadError("connection closed %d bytes early" % remaining)
                    break
                if remaining > 0:
                    remaining -= len(chunk)
                sink(chunk)
        finally:
            await _close(writer)
        if updater.manifest is None:
            raise OtaRejected("truncated", "bundle ended before its manifest")
        return updater.finish()
