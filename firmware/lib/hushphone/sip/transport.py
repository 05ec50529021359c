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
#
# A peer's bad message costs that message only: every message is handed to
# the user agent on its own, its events delivered before the next one, and
# anything raised while handling it (or a timer) is reported through
# on_error(exc, where) and the loop goes on. A connection is dropped only
# when its stream framing is lost (a fatal SipParseError) or its deadline
# passes. The listener's limits (slots, per-source limit, deadlines) are
# documented at SipTlsListener.
import asyncio
import ssl

from hushphone.compat import IS_MICROPYTHON, sleep_ms
from hushphone.sip.message import SipParseError, StreamParser

_READ_SIZE = 2048
_CONNECT_TIMEOUT_S = 15
# Sent as soon as the connection opens: MicroPython's TLS does the handshake
# on the first write, so this forces certificate errors to show at once,
# and a CRLF keepalive ping is harmless to any RFC 5626 registrar.
_FIRST_PING = b"\r\n\r\n"
_UNREACHABLE = (111, 113, 101, 110)  # ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT (Linux/lwIP numbers)


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


async def _open_tls_micropython(address, port, tls_context, server_hostname):
    """open_connection(ssl=) as MicroPython's asyncio does it, but keeping
    the socket under the TLS one: after a refused handshake MicroPython's
    TLS socket closes without closing it (a descriptor left in CLOSE_WAIT
    per refusal). Returns (stream, raw socket)."""
    import socket

    ai = socket.getaddrinfo(address, port, 0, socket.SOCK_STREAM)[0]
    raw = socket.socket(ai[0], ai[1], ai[2])
    try:
        raw.setblocking(False)
        try:
            raw.connect(ai[-1])
        except OSError as e:
            if e.errno != 115:  # EINPROGRESS: the connection completes in the background
                raise
        tls = tls_context.wrap_socket(raw, server_hostname=server_hostname, do_handshake_on_connect=False)
        tls.setblocking(False)
        return asyncio.StreamReader(tls), raw
    except BaseException:
        raw.close()
        raise


async def close_stream(writer, raw=None):
    """Close a stream and free its socket, on every runtime: MicroPython's
    close() does nothing, its wait_closed() closes the socket; CPython's
    wait_closed() waits for the TLS shutdown, bounded here (then aborted)."""
    try:
        writer.close()
        if IS_MICROPYTHON:
            await writer.wait_closed()
        else:
            await asyncio.wait_for(writer.wait_closed(), 1)
    except Exception:  # a broken TLS stream may raise anything while closing; aborted below
        abort = getattr(getattr(writer, "transport", None), "abort", None)
        if abort is not None:
            abort()
    if raw is not None:  # MicroPython: the socket under the TLS one (see _open_tls_micropython)
        try:
            raw.close()
        except OSError:  # already closed with its TLS socket
            pass


class SipTlsTransport:
    """Runs a sans-IO UserAgent over one TLS connection to its proxy.

    `run()` until `stop()`; `wakeup()` after calling a UA action so queued
    messages go out at once; `on_event(event)` receives the UA's events;
    `on_error(exc, where)` hears of anything raised while handling one
    message, timer or event (the loop itself carries on)."""

    def __init__(self, ua, address, port, tls_context, server_hostname, on_event=None, clock=None, on_error=None):
        self.ua = ua
        self.address = address
        self.port = port
        self.tls_context = tls_context
        self.server_hostname = server_hostname
        self.on_event = on_event
        self.on_error = on_error
        self.clock = clock or MonotonicMs()
        self._wake = asyncio.Event()
        self._running = False
        self._reader = None
        self._writer = None
        self._read_task = None
        self._raw = None  # MicroPython: the socket under the TLS one
        self.last_error = None
        self.faults = 0  # exceptions caught around one message, timer or event
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

    def stats(self):
        return {"connected": self.connected, "faults": self.faults}

    # -- one message, timer or event at a time, each guarded -----------------

    def _fault(self, exc, where):
        self.faults += 1
        if self.on_error is not None:
            try:
                self.on_error(exc, where)
            except Exception:  # the report failed too: the loop must still go on
                pass

    def _receive(self, item, now):
        """One framed item (a message, a well-framed bad message as its
        SipParseError, "ping"/"pong") into the UA, and its events out at
        once, before the next message is looked at."""
        try:
            self.ua.receive(item, now)
        except Exception as e:  # MemoryError or a bug: this message only
            self._fault(e, "receive")
        self._deliver_events()

    def _timer(self, now):
        timer = self.ua.get_timer()
        if timer is not None and timer <= now:
            try:
                self.ua.handle_timer(now)
            except Exception as e:
                self._fault(e, "timer")

    def _deliver_events(self):
        while True:
            event = self.ua.next_event()
            if event is None:
                return
            if self.on_event is not None:
                try:
                    self.on_event(event)
                except Exception as e:  # the app's handler failed: the next event still goes out
                    self._fault(e, "event")

    def _next_items(self, parser, data, now):
        """Feed `data` and hand every whole item to the UA. Raises
        SipParseError only when the stream framing is lost (fatal)."""
        parser.feed(data)
        while True:
            try:
                item = parser.next_event()
            except SipParseError as e:
                if e.fatal:
                    raise
                item = e  # a well-framed bad message: the UA answers it (4xx), the stream goes on
            if item is None:
                return
            self._received(item, now)

    def _received(self, item, now):
        self._receive(item, now)

    # -- the proxy connection -------------------------------------------------

    async def _connect(self):
        handshaking = False
        raw = None
        try:
            if IS_MICROPYTHON:
                writer, raw = await _open_tls_micropython(self.address, self.port, self.tls_context,
                                                          self.server_hostname)
                reader = writer
                handshaking = True  # the TCP connect and the handshake run on the first write
                writer.write(_FIRST_PING)
                await asyncio.wait_for(writer.drain(), _CONNECT_TIMEOUT_S)
            else:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        self.address, self.port, ssl=self.tls_context, server_hostname=self.server_hostname
                    ),
                    _CONNECT_TIMEOUT_S,
                )
                handshaking = True
                writer.write(_FIRST_PING)
                await writer.drain()
        except Exception as e:  # every runtime raises its own types here
            err = _classify_tls_error(e)
            if handshaking:
                await close_stream(writer, raw)
            if err is None and getattr(e, "errno", None) in _UNREACHABLE:
                handshaking = False  # no TCP connection at all (MicroPython says so on the first write)
            if err is None and handshaking:
                # A proxy that wants a client certificate (or refuses ours)
                # just hangs up: the most likely reason, stated as such.
                err = CertificateError("client", "the proxy closed the connection during the TLS handshake (%r)" % (e,))
            if err is None:
                err = TransportError("cannot connect to %s:%s: %r" % (self.address, self.port, e))
            raise err
        self._raw = raw
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
                self._next_items(parser, data, self.now())
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
        writer, raw = self._writer, self._raw
        self._reader = self._writer = self._raw = None
        if writer is not None:
            await close_stream(writer, raw)
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

    async def _housekeeping(self, now):
        """Between rounds of the loop: the keepalive's verdict."""
        if self.ua.wants_close():
            if self._writer is not None:
                await self._drop(TransportError("keepalive: no answer from the proxy"))

    def _next_deadline(self):
        return None

    async def _close_all(self):
        if self._read_task is not None:
            self._read_task.cancel()
        if self._writer is not None:
            w, raw = self._writer, self._raw
            self._reader = self._writer = self._raw = None
            await close_stream(w, raw)

    async def run(self):
        self._running = True
        try:
            while self._running:
                now = self.now()
                self._timer(now)
                try:
                    await self._housekeeping(now)
                    await self._flush()
                except Exception as e:  # e.g. no memory for a new connection: this round only
                    self._fault(e, "flush")
                    await sleep_ms(100)  # no busy loop if it keeps failing (the supervisor counts it)
                self._deliver_events()
                if not self._running:
                    break
                timer = self.ua.get_timer()
                deadline = self._next_deadline()
                if deadline is not None and (timer is None or deadline < timer):
                    timer = deadline
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
            await self._close_all()
            self._deliver_events()


# The listening handset's limits (direct calls; docs/handset.md). Each TLS
# session costs tens of KB of an ESP32's heap, hence few slots; a caller
# connects to send its INVITE at once, hence short deadlines before that.
LISTEN_SLOTS = 4  # connections at once, TLS handshake included
LISTEN_SLOTS_PER_SOURCE = 2  # ... from one address: one source cannot take them all
HANDSHAKE_MS = 5000  # accepted -> TLS done and the first bytes in
MESSAGE_MS = 5000  # a message begun must be complete within this
IDLE_MS = 60000  # no SIP message and no call on the connection: closed
WRITE_MS = 5000  # a peer that does not read what we send: closed
_ROUTES_PER_CONNECTION = 16  # Call-IDs remembered per connection (for replies)
_PONG = b"\r\n"


def _source_of(peername):
    """The peer's address without its port, from get_extra_info("peername"):
    a tuple on CPython, raw sockaddr bytes on the MicroPython unix port."""
    if isinstance(peername, (tuple, list)):
        return peername[0]
    if isinstance(peername, (bytes, bytearray)):
        if len(peername) >= 24 and peername[0] == 10:  # AF_INET6: the 16-byte address
            return bytes(peername[8:24])
        if len(peername) >= 8:  # AF_INET: the 4-byte address
            return bytes(peername[4:8])
    return peername


def _call_id_of(data):
    """The Call-ID of one outgoing message (bytes), or None (a keepalive)."""
    end = data.find(b"\r\n\r\n")
    i = data.find(b"\r\n")
    while 0 <= i < end:
        j = data.find(b"\r\n", i + 2)
        colon = data.find(b":", i + 2, j)
        if colon > 0:
            name = bytes(data[i + 2 : colon]).strip().lower()
            if name == b"call-id" or name == b"i":
                return bytes(data[colon + 1 : j]).strip().decode()
        i = j
    return None


class _Connection:
    """One caller's TLS connection to the listening handset."""

    def __init__(self, writer, source, now):
        self.writer = writer
        self.source = source
        self.accepted_at = now
        self.opened = False  # TLS done and bytes in: a caller, not just a socket
        self.last_message = now
        self.partial_since = None  # a message begun and not yet complete
        self.write_since = None
        self.out = []
        self.call_ids = []
        self.task = None
        self.writing = None
        self.reason = None
        self.raw = None  # MicroPython: the socket under the TLS one

    def deadline(self, has_call):
        if not self.opened:
            return self.accepted_at + HANDSHAKE_MS
        best = None if has_call else self.last_message + IDLE_MS
        if self.partial_since is not None:
            best = _earlier(best, self.partial_since + MESSAGE_MS)
        if self.write_since is not None:
            best = _earlier(best, self.write_since + WRITE_MS)
        return best


def _earlier(a, b):
    return b if a is None or b < a else a


class SipTlsListener(SipTlsTransport):
    """SIP over TLS without a proxy: the handset listens on `port` and
    callers connect to it directly (mutual TLS: `tls_context` is a server
    context that wants a client certificate from the handset's CAs).

    Up to LISTEN_SLOTS connections at once, LISTEN_SLOTS_PER_SOURCE from
    one address; a connection over the limit is closed at once. Each has
    deadlines: TLS handshake and first bytes within HANDSHAKE_MS, each
    message complete within MESSAGE_MS of its first byte, our writes taken
    within WRITE_MS, and closed after IDLE_MS without a message unless a
    call is on it. Every message goes to the one user agent; what the UA
    sends goes back on the connection its Call-ID came in on (a keepalive
    ping to every connection). A connection's loss ends the calls of the
    UA only when it carried one (the UA has one flow: then all its calls
    end, as they did with a single connection).

    CPython's server does the TLS handshake before handing us the
    connection (bounded by HANDSHAKE_MS there too); on MicroPython we start
    TLS on the accepted socket ourselves, after the slot check, and the
    handshake runs on the first reads."""

    def __init__(self, ua, address, port, tls_context, on_event=None, clock=None, on_error=None,
                 on_listening=None):
        SipTlsTransport.__init__(self, ua, address, port, tls_context, None, on_event=on_event, clock=clock,
                                 on_error=on_error)
        self.on_listening = on_listening  # called once the port takes connections
        self._server = None
        self._conns = []
        self._routes = {}  # Call-ID -> _Connection
        self._last = None  # the connection of the latest message (replies without a Call-ID)
        self._conn = None  # the connection whose bytes are being handled
        self._rbuf = None
        self.accepted = 0
        self.refused = 0  # over the slot limits: closed at once
        self.cut = 0  # closed at a deadline

    @property
    def connected(self):
        for c in self._conns:
            if c.opened:
                return True
        return False

    def stats(self):
        return {"connected": self.connected, "faults": self.faults, "connections": len(self._conns),
                "accepted": self.accepted, "refused": self.refused, "cut": self.cut}

    async def _connect(self):
        raise TransportError("no caller is connected")

    # -- accepting and serving one connection ------------------------------------

    async def _accept(self, reader, writer):
        now = self.now()
        try:
            source = _source_of(writer.get_extra_info("peername"))
        except Exception:  # no address known: counted as one unknown source
            source = None
        same = 0
        for c in self._conns:
            if c.source == source:
                same += 1
        if not self._running or len(self._conns) >= LISTEN_SLOTS or same >= LISTEN_SLOTS_PER_SOURCE:
            self.refused += 1
            await close_stream(writer)  # (on MicroPython before any TLS: nothing allocated for it)
            return
        raw = None
        if IS_MICROPYTHON:
            # TLS is ours to start here (the server is plain TCP): after a
            # refused handshake MicroPython's TLS socket closes without
            # closing the socket under it (a descriptor in CLOSE_WAIT per
            # refusal), so we keep that socket and close it ourselves.
            raw = writer.s
            try:
                reader = writer = asyncio.StreamReader(
                    self.tls_context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False),
                    {"peername": writer.get_extra_info("peername")})
            except Exception:  # e.g. no memory for a TLS session: refused like any other
                self.refused += 1
                raw.close()
                return
        self.accepted += 1
        conn = _Connection(writer, source, now)
        conn.raw = raw
        conn.task = asyncio.current_task()
        self._conns.append(conn)
        self._wake.set()  # the loop's next wait ends at this connection's deadline
        error = None
        try:
            error = await self._serve(conn, reader)
        except asyncio.CancelledError:
            error = conn.reason or "closed"
        finally:
            await self._release(conn, error)

    async def _serve(self, conn, reader):
        """Read until the connection ends; returns why."""
        parser = StreamParser()
        buf = bytearray(_READ_SIZE) if IS_MICROPYTHON else None
        view = memoryview(buf) if buf is not None else None
        try:
            while True:
                if buf is not None:
                    n = await reader.readinto(buf)
                    if n is None:
                        continue  # a TLS handshake step, or no whole record yet
                    data = view[:n] if n else b""
                else:
                    data = await reader.read(_READ_SIZE)
                if not data:
                    return "closed by the caller"
                now = self.now()
                if not conn.opened:
                    conn.opened = True
                    if not self.ua.connected:
                        self.ua.connection_made(now)
                self._conn = conn
                self._next_items(parser, data, now)
                if not parser.buffered():
                    conn.partial_since = None
                elif conn.partial_since is None:
                    conn.partial_since = now
                self._wake.set()
        except SipParseError as e:  # the framing is lost: this connection only
            return "bad framing: %s" % e.reason
        except asyncio.CancelledError:
            raise
        except Exception as e:  # TLS refused (no or a rogue certificate), reset...
            err = _classify_tls_error(e)
            return err.reason if err is not None else "lost: %s" % type(e).__name__

    def _received(self, item, now):
        conn = self._conn
        if item == "ping":
            conn.out.append(_PONG)  # answered here: the UA's flow is not this connection
            return
        if item != "pong":  # (pongs answer our keepalive: they keep no idle connection open)
            conn.last_message = now
            message = getattr(item, "message", item)  # a bad message: what could be read of it
            headers = getattr(message, "headers", None)
            call_id = headers.get("Call-ID") if headers is not None else None
            if call_id:
                self._route(conn, call_id)
            self._last = conn
        self._receive(item, now)
        self._route_out(self.ua.data_to_send(), conn)  # replies to this message go back on its connection

    def _route(self, conn, call_id):
        old = self._routes.get(call_id)
        if old is not None and old is not conn and call_id in old.call_ids:
            old.call_ids.remove(call_id)
        self._routes[call_id] = conn
        if call_id not in conn.call_ids:
            conn.call_ids.append(call_id)
            if len(conn.call_ids) > _ROUTES_PER_CONNECTION:
                gone = conn.call_ids.pop(0)
                if self._routes.get(gone) is conn:
                    del self._routes[gone]

    def _route_out(self, chunks, fallback):
        """The UA's messages onto their connections' queues."""
        for chunk in chunks:
            call_id = _call_id_of(chunk)
            if call_id is None and bytes(chunk[:4]) == b"\r\n\r\n":  # our keepalive ping: to every caller
                for c in self._conns:
                    if c.opened:
                        c.out.append(chunk)
                continue
            conn = self._routes.get(call_id) if call_id is not None else None
            if conn is None:
                conn = fallback
            if conn is not None and conn in self._conns:
                conn.out.append(chunk)
            # else: no caller to send it to (a reply on a connection that is gone)

    async def _release(self, conn, reason):
        """The connection ended (closed, cut, refused TLS): its socket is
        closed and awaited; the UA hears only of a flow that carried a call."""
        if conn in self._conns:
            self._conns.remove(conn)
        writing = conn.writing
        if writing is not None and writing is not asyncio.current_task():
            writing.cancel()
        await close_stream(conn.writer, conn.raw)
        for call_id in conn.call_ids:
            if self._routes.get(call_id) is conn:
                del self._routes[call_id]
        if self._last is conn:
            self._last = None
        if self._conn is conn:
            self._conn = None
        if conn.opened and self.ua.connected:
            now = self.now()
            if self._has_call(conn) or not self.connected:
                try:
                    self.ua.connection_lost(now, reason)
                    if self.connected:
                        self.ua.connection_made(now)
                except Exception as e:
                    self._fault(e, "connection-lost")
                self._deliver_events()
        self._wake.set()

    def _has_call(self, conn):
        if not conn.call_ids:
            return False
        for call in self.ua.calls:
            if call.call_id in conn.call_ids:
                return True
        return False

    # -- the loop's part: output, deadlines --------------------------------------

    async def _flush(self):
        out = self.ua.data_to_send()
        if out and not self.connected:
            # Nobody to send to (a call from a listening handset with no
            # caller connected): the UA fails it (503), as a client would.
            self.last_error = TransportError("no caller is connected")
            try:
                self.ua.connection_lost(self.now(), self.last_error.reason)
            except Exception as e:
                self._fault(e, "connection-lost")
            return
        self._route_out(out, self._last)
        for conn in self._conns:
            if conn.out and conn.writing is None:
                conn.writing = asyncio.create_task(self._write(conn))

    async def _write(self, conn):
        conn.write_since = self.now()
        try:
            while conn.out:
                out, conn.out = conn.out, []
                for chunk in out:
                    conn.writer.write(chunk)
                await conn.writer.drain()
        except asyncio.CancelledError:
            raise
        except Exception:  # the connection broke: its reader sees it and releases it
            self._cut(conn, "write failed")
        finally:
            conn.writing = None
            conn.write_since = None

    def _cut(self, conn, reason):
        conn.reason = reason
        task = conn.task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()

    async def _housekeeping(self, now):
        """Connections past their deadline are cut (the UA's keepalive
        verdict does not apply: each caller has its own deadlines)."""
        self.ua.wants_close()
        for conn in list(self._conns):
            deadline = conn.deadline(self._has_call(conn))
            if deadline is not None and now >= deadline:
                self.cut += 1
                self._cut(conn, "deadline" if conn.opened else "no TLS handshake in time")

    def _next_deadline(self):
        best = None
        for conn in self._conns:
            t = conn.deadline(self._has_call(conn))
            if t is not None and (best is None or t < best):
                best = t
        return best

    async def _close_all(self):
        for conn in list(self._conns):
            self._cut(conn, "stopped")
        for _ in range(50):  # each cancelled task closes its socket (bounded wait)
            if not self._conns:
                break
            await sleep_ms(20)

    async def run(self):
        self._server = await asyncio.start_server(self._accept, self.address, self.port, **self._server_options())
        if self.on_listening is not None:
            try:
                self.on_listening()
            except Exception as e:
                self._fault(e, "listening")
        try:
            await SipTlsTransport.run(self)
        finally:
            self._server.close()
            await self._server.wait_closed()

    def _server_options(self):
        if IS_MICROPYTHON:
            return {}  # plain TCP: _accept starts TLS, within the slot limits
        return {"ssl": self.tls_context, "ssl_handshake_timeout": HANDSHAKE_MS / 1000}
