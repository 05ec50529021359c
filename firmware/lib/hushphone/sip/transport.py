# The asyncio driver that carries SIP over TLS for the sans-IO user agent.
# TLS only: there is no UDP or TCP code path. The same code runs on CPython
# and MicroPython, so it sticks to open_connection(ssl=, server_hostname=),
# StreamReader.read, StreamWriter.write/drain, wait_for, sleep, create_task
# and Event.
#
# The driver connects lazily: when the user agent has bytes to send and
# there is no connection, it opens one (a registration refresh after a lost
# connection therefore reconnects; the UA's backoff paces the attempts).
# Incoming requests arrive over the same connection (connection reuse).
import asyncio
import ssl

from hushphone.compat import IS_MICROPYTHON
from hushphone.sip.message import SipParseError, StreamParser

_READ_SIZE = 2048
_CONNECT_TIMEOUT_S = 15
# Sent as soon as the connection opens: MicroPython's TLS does the handshake
# on the first write, so this forces certificate errors to show at once,
# and a CRLF keepalive ping is harmless to any RFC 5626 registrar.
_FIRST_PING = b"\r\n\r\n"


class TransportError(Exception):
    """The connection failed or was lost. `.reason` is a short text for the user."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class CertificateError(TransportError):
    """A certificate was refused. `.kind` is "untrusted", "hostname",
    "expired" or "invalid" (the proxy's certificate, refused by us) or
    "client" (the proxy refused ours, or wanted one we do not have)."""

    def __init__(self, kind, detail):
        if kind == "client":
            text = "client certificate refused by the proxy: %s" % detail
        else:
            text = "server certificate refused (%s): %s" % (kind, detail)
        super().__init__(text)
        self.kind = kind


def _classify_tls_error(exc):
    """Map a runtime's handshake exception to a CertificateError, or None."""
    text = str(getattr(exc, "verify_message", "") or exc).strip()
    low = text.lower()
    if "alert" in low and ("certificate" in low or "handshake" in low):
        return CertificateError("client", text)  # the proxy's verdict, sent as a TLS alert
    if "expired" in low:
        return CertificateError("expired", text)
    if "hostname" in low or "common name" in low:
        return CertificateError("hostname", text)
    if "issuer" in low or "trusted ca" in low or "self-signed" in low or "self signed" in low or "not trusted" in low:
        return CertificateError("untrusted", text)
    if "certificate" in low:
        return CertificateError("invalid", text)
    return None


def _closed(answered, detail):
    """The error for a connection that ended. Before the proxy has sent a
    single byte it is almost always a refused client certificate: TLS 1.3
    servers check it after the handshake and then just hang up."""
    if answered:
        return TransportError("connection " + detail)
    return CertificateError("client", "the proxy ended the connection right after the TLS handshake (%s)" % detail)


def _key_der_to_pem(key_der):
    # CPython's ssl wants PEM: re-encode whatever DER form (SEC1, PKCS#1,
    # PKCS#8) as PKCS#8 PEM.
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_der_private_key(key_der, None)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def make_tls_context(ca_der_list, client_cert_der=None, client_key_der=None):
    """A client TLS context that always verifies the server certificate
    against `ca_der_list` (DER bytes) and the proxy's host name, TLS 1.2+,
    with an optional client certificate (DER) for mutual TLS."""
    if not ca_der_list:
        raise ValueError("at least one CA certificate is required")
    if IS_MICROPYTHON:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # MicroPython's wrapper starts at CERT_NONE: never rely on the default.
        ctx.verify_mode = ssl.CERT_REQUIRED
        for der in ca_der_list:
            ctx.load_verify_locations(cadata=bytes(der))
        if client_cert_der is not None:
            ctx.load_cert_chain(bytes(client_cert_der), bytes(client_key_der))
        return ctx
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=b"".join(bytes(d) for d in ca_der_list))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    if client_cert_der is not None:
        _load_chain_from_der(ctx, client_cert_der, client_key_der)
    return ctx


def make_tls_server_context(ca_der_list, cert_der, key_der):
    """A server TLS context for a handset that takes calls directly (no
    proxy): it shows `cert_der` (the handset's identity) and accepts only
    callers with a certificate from `ca_der_list` (mutual TLS)."""
    if not ca_der_list:
        raise ValueError("at least one CA certificate is required")
    if IS_MICROPYTHON:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(bytes(cert_der), bytes(key_der))
        ctx.verify_mode = ssl.CERT_REQUIRED
        for der in ca_der_list:
            ctx.load_verify_locations(cadata=bytes(der))
        return ctx
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=b"".join(bytes(d) for d in ca_der_list))
    _load_chain_from_der(ctx, cert_der, key_der)
    return ctx


def _load_chain_from_der(ctx, cert_der, key_der):
    # CPython's load_cert_chain only takes files: write PEM to a private
    # (0600) temp file and remove it at once.
    import os
    import tempfile

    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(ssl.DER_cert_to_PEM_cert(bytes(cert_der)))
            f.write(_key_der_to_pem(bytes(key_der)))
        ctx.load_cert_chain(path)
    finally:
        os.remove(path)


class MonotonicMs:
    """Milliseconds since creation that never wrap (MicroPython's
    ticks_ms wraps; the difference between two reads does not)."""

    def __init__(self):
        import time

        self._time = time
        if IS_MICROPYTHON:
            self._last = time.ticks_ms()
        else:
            self._start = time.monotonic()
        self._now = 0

    def __call__(self):
        t = self._time
        if IS_MICROPYTHON:
            tick = t.ticks_ms()
            self._now += t.ticks_diff(tick, self._last)
            self._last = tick
            return self._now
        return int((t.monotonic() - self._start) * 1000)


class SipTlsTransport:
    """Runs a sans-IO UserAgent over one TLS connection to its proxy.

    `run()` until `stop()`; `wakeup()` after calling a UA action so queued
    messages go out at once; `on_event(event)` receives the UA's events."""

    def __init__(self, ua, address, port, tls_context, server_hostname, on_event=None, clock=None):
        self.ua = ua
        self.address = address
        self.port = port
        self.tls_context = tls_context
        self.server_hostname = server_hostname
        self.on_event = on_event
        self.clock = clock or MonotonicMs()
        self._wake = asyncio.Event()
        self._running = False
        self._reader = None
        self._writer = None
        self._read_task = None
        self.last_error = None
        # MicroPython reads into this one buffer (made while the heap is
        # still whole): a 2 KiB read buffer per read was the first thing a
        # small, fragmented heap could not find during a call.
        self._rbuf = bytearray(_READ_SIZE) if IS_MICROPYTHON else None

    def now(self):
        return self.clock()

    def wakeup(self):
        self._wake.set()

    def stop(self):
        self._running = False
        self._wake.set()

    @property
    def connected(self):
        return self._writer is not None

    async def _connect(self):
        handshaking = False
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    self.address, self.port, ssl=self.tls_context, server_hostname=self.server_hostname
                ),
                _CONNECT_TIMEOUT_S,
            )
            handshaking = True  # MicroPython shakes hands on the first write
            writer.write(_FIRST_PING)
            await writer.drain()
        except Exception as e:  # every runtime raises its own types here
            err = _classify_tls_error(e)
            if handshaking:
                try:
                    writer.close()
                except Exception:  # already broken: nothing more to release
                    pass
            if err is None and handshaking:
                # A proxy that wants a client certificate (or refuses ours)
                # just hangs up: the most likely reason, stated as such.
                err = CertificateError("client", "the proxy closed the connection during the TLS handshake (%r)" % (e,))
            if err is None:
                err = TransportError("cannot connect to %s:%s: %r" % (self.address, self.port, e))
            raise err
        self._attach(reader, writer)

    def _attach(self, reader, writer):
        """The connection is up: read from it, and tell the UA."""
        self._reader, self._writer = reader, writer
        self._read_task = asyncio.create_task(self._read_loop(reader))
        self.ua.connection_made(self.now())

    async def _read_loop(self, reader):
        parser = StreamParser()
        error = None
        answered = False  # the proxy has sent something: it accepted us
        try:
            rbuf = self._rbuf
            view = memoryview(rbuf) if rbuf is not None else None
            while True:
                if rbuf is not None:
                    n = await reader.readinto(rbuf)
                    if n is None:
                        continue  # readable, but no whole TLS record yet (MicroPython's Stream.read loops too)
                    data = view[:n] if n else b""
                else:
                    data = await reader.read(_READ_SIZE)
                if not data:
                    error = _closed(answered, "closed by the other end")
                    break
                answered = True
                parser.feed(data)
                while True:
                    item = parser.next_event()
                    if item is None:
                        break
                    self.ua.receive(item, self.now())
                self._wake.set()
        except SipParseError as e:
            # The stream cannot be resynchronised after a framing error.
            error = TransportError("bad framing from the proxy: %s" % e.reason)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            error = _classify_tls_error(e) or _closed(answered, "lost: %r" % (e,))
        if self._reader is reader:
            await self._drop(error)
        self._wake.set()

    async def _drop(self, error):
        writer = self._writer
        self._reader = self._writer = None
        if writer is not None:
            try:
                writer.close()
                await writer.wait_closed()
            except Exception:  # closing a broken TLS stream may raise anything
                pass
        if error is not None:
            self.last_error = error
        self.ua.connection_lost(self.now(), error.reason if error else None)

    async def _flush(self):
        out = self.ua.data_to_send()
        if out and self._writer is None and self._running:
            try:
                await self._connect()
            except TransportError as e:
                self.last_error = e
                self.ua.connection_lost(self.now(), e.reason)
                return
        if self._writer is None:
            return
        try:
            for chunk in out:
                self._writer.write(chunk)
            await self._writer.drain()
        except Exception as e:
            await self._drop(_classify_tls_error(e) or TransportError("write failed: %s" % e))

    def _deliver_events(self):
        while True:
            event = self.ua.next_event()
            if event is None:
                return
            if self.on_event is not None:
                self.on_event(event)

    async def run(self):
        self._running = True
        try:
            while self._running:
                timer = self.ua.get_timer()
                now = self.now()
                if timer is not None and timer <= now:
                    self.ua.handle_timer(now)
                if self.ua.wants_close():
                    if self._writer is not None:
                        await self._drop(TransportError("keepalive: no answer from the proxy"))
                await self._flush()
                self._deliver_events()
                if not self._running:
                    break
                timer = self.ua.get_timer()
                delay = 1.0 if timer is None else max(0, timer - self.now()) / 1000
                self._wake.clear()
                if self.ua.has_pending_output():
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), min(delay, 5.0))
                except asyncio.TimeoutError:
                    pass
        finally:
            await self._flush()
            if self._read_task is not None:
                self._read_task.cancel()
            if self._writer is not None:
                w = self._writer
                self._reader = self._writer = None
                try:
                    w.close()
                    await w.wait_closed()
                except Exception:
                    pass
            self._deliver_events()


class SipTlsListener(SipTlsTransport):
    """SIP over TLS without a proxy: the handset listens on `port` and a
    caller connects to it directly (mutual TLS: `tls_context` is a server
    context that wants a client certificate from the handset's CAs). One
    connection at a time carries the SIP of every call, both ways
    (connection reuse); while none is open there is no one to send to."""

    def __init__(self, ua, address, port, tls_context, on_event=None, clock=None):
        SipTlsTransport.__init__(self, ua, address, port, tls_context, None, on_event=on_event, clock=clock)
        self._server = None

    async def _connect(self):
        raise TransportError("no caller is connected")

    async def _accept(self, reader, writer):
        if self._writer is not None or not self._running:
            writer.close()  # busy with another caller's connection
            return
        self._attach(reader, writer)
        self._wake.set()

    async def run(self):
        self._server = await asyncio.start_server(self._accept, self.address, self.port, ssl=self.tls_context)
        try:
            await SipTlsTransport.run(self)
        finally:
            self._server.close()
            await self._server.wait_closed()
