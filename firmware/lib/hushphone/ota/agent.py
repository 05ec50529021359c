# The handset's update endpoint for fleet pushes: a small TLS server that
# only talks to clients whose certificate the fleet CA issued (mutual TLS;
# the board builds the SSL context with CERT_REQUIRED and the fleet CA).
# The technician streams the bundle over the same connection, so a push
# needs no web server and works the same on a site without one; the
# handset answers with JSON lines: progress while it writes, then one
# result ("updated", "already-current" or "refused" with a reason).
# Push rights do not bypass anything: the bundle goes through the same
# Updater and verifier as any other update, so an unsigned or foreign image
# is refused by the handset itself. A technician whose certificate is on the
# handset's revocation list (NVS hush_trust/tech_revoked) is refused right
# after the handshake, before any bundle byte is read.
#
# An update never cuts a call: while one is up (`in_call()`, the phone's
# hook) a push is answered "busy" (reason "in-call") before any bundle byte
# is written, and the pushing tool tries again later. Installing during a
# call would also stall its audio: flash erases stop the ESP32's cache. A
# call that starts while an update is being written does not stop the
# install; the reset into the new firmware then waits for the call to end
# (ota/handset_agent.py).
#
# Protocol (one request per connection):
#   client: {"op": "push", "size": N}\n  then N bytes of .hushota bundle
#           {"op": "status"}\n
#   server: {"event": "progress", "written": k, "total": image_size}\n ...
#           {"event": "result", "status": ..., ...}\n
#   status: "updated", "already-current", "refused" (reason, message) or
#           "busy" (reason "in-call" or "updating", message);
#   a status request answers {"event": "status", version, secure_version,
#           board, chip, slot, boot: {state, rollback, rolled_back,
#           confirmed, self_test}} (how this firmware started, main.py).
import json

try:
    import asyncio
except ImportError:  # older MicroPython builds
    import uasyncio as asyncio

from hushphone.compat import ticks_diff, ticks_us
from hushphone.ota import OtaRejected
from hushphone.ota.bundle import HEADER_SIZE, MAX_SIGNED_MANIFEST
from hushphone.ota.technicians import PeerCertificates
from hushphone.ota.updater import BundleWriter

DEFAULT_PORT = 8470
_MAX_REQUEST_LINE = 512
_CHUNK = 4096
_LINGER_MAX = 16 * 1024 * 1024  # bytes dropped at most after a refusal
_LINGER_SECONDS = 10  # in all
_LINGER_IDLE = 2  # seconds without data: the client has stopped sending


class _AlreadyCurrent(Exception):
    pass


class UpdateAgent:
    """service: an OtaService; on_updated(result) runs after a successful
    install (the board reboots into the new firmware from there);
    in_call() says whether a call is up (then pushes are answered busy);
    boot: a dict about this boot, part of the status answer; on_busy(reason)
    runs when a push was answered busy (the console shows it)."""

    def __init__(self, service, on_updated=None, io_timeout=30, progress_every=32 * 1024, log=None,
                 in_call=None, boot=None, on_busy=None):
        self.service = service
        self.on_updated = on_updated
        self.io_timeout = io_timeout
        self.progress_every = progress_every
        self.log = log
        self.in_call = in_call
        self.boot = boot
        self.on_busy = on_busy
        self.busy = False
        self.server = None
        self.peers = PeerCertificates()

    async def start(self, host, port, ssl_context):
        self.peers.watch(ssl_context)
        self.server = await asyncio.start_server(self.handle, host, port, ssl=ssl_context)
        return self.server

    async def _send(self, writer, message):
        writer.write((json.dumps(message) + "\n").encode())
        await writer.drain()

    async def handle(self, reader, writer):
        try:
            await self._handle(reader, writer)
        except Exception as e:  # a peer that vanished, failed TLS, sent garbage
            if self.log:
                self.log("agent: connection ended: %s: %s" % (type(e).__name__, e))
        finally:
            try:
                writer.close()
                await writer.wait_closed()
            except Exception:
                pass

    async def _handle(self, reader, writer):
        line, peer_cert = await asyncio.wait_for(self.peers.read_first_line(reader, writer), self.io_timeout)
        if not line or len(line) > _MAX_REQUEST_LINE:
            return
        request = _parse_request(line)
        refusal = self._technician_refusal(peer_cert)  # the handshake is over: the peer is known
        if refusal is not None:
            if self.log:
                self.log("agent: technician refused: %s" % refusal)
            await self._send(writer, _refused(refusal))
            await self._linger(reader, _announced_size(request))
            return
        if request is None:
            await self._send(writer, {"event": "result", "status": "refused", "reason": "malformed",
                                      "message": "request is not a JSON object with an op"})
            return
        op = request["op"]
        if op == "status":
            status = self.service.status()
            status["event"] = "status"
            if self.boot is not None:
                status["boot"] = self.boot
            await self._send(writer, status)
        elif op == "push":
            await self._push(request, reader, writer)
        else:
            await self._send(writer, {"event": "result", "status": "refused", "reason": "malformed",
                                      "message": "unknown op"})

    async def _linger(self, reader, limit):
        """Drop what the client sent before it read our answer, until it
        closes or goes quiet (at most `limit` bytes and _LINGER_SECONDS):
        closing a socket with unread data makes the kernel reset the
        connection, and the reset can destroy the answer before the client
        reads it. Nothing read here is looked at (a lingering close, as web
        servers do)."""
        started = ticks_us()
        while limit > 0 and ticks_diff(ticks_us(), started) < _LINGER_SECONDS * 1000000:
            try:
                chunk = await asyncio.wait_for(reader.read(min(_CHUNK, limit)), _LINGER_IDLE)
            except Exception:  # timeout, reset: nothing more to save
                return
            if not chunk:
                return
            limit -= len(chunk)

    def _technician_refusal(self, peer_cert):
        """An OtaRejected if the peer's certificate is revoked here (or
        cannot be checked while the list is not empty), else None."""
        try:
            revoked = self.service.revoked_technicians()
        except ValueError as e:  # a damaged list: refuse rather than guess
            return OtaRejected("revoked-technician", "the revocation list cannot be read: %s" % e)
        if not len(revoked):
            return None
        if peer_cert is None:
            return OtaRejected("revoked-technician", "the technician's certificate cannot be checked "
                                                     "against the revocation list")
        if revoked.is_revoked(peer_cert):
            return OtaRejected("revoked-technician", "this technician's certificate is revoked on this handset")
        return None

    def _busy_reason(self):
        if self.busy:
            return "updating", "another update is in progress"
        if self.in_call is not None and self.in_call():
            return "in-call", "a call is up: this handset takes updates when it has ended"
        return None

    async def _push(self, request, reader, writer):
        busy = self._busy_reason()
        if busy is not None:
            if self.log:
                self.log("agent: push answered busy: %s" % busy[1])
            if self.on_busy is not None:
                self.on_busy(busy[0])
            await self._send(writer, {"event": "result", "status": "busy", "reason": busy[0], "message": busy[1]})
            await self._linger(reader, _announced_size(request))
            return
        self.busy = True
        try:
            message, unread = await self._install(request, reader, writer)
        finally:
            self.busy = False
        await self._send(writer, message)
        if message["status"] == "updated" and self.on_updated is not None:
            self.on_updated(message)
        await self._linger(reader, unread)

    async def _install(self, request, reader, writer):
        """Returns (result message, announced bundle bytes not read)."""
        size = request.get("size")
        updater = self.service.updater()
        if not isinstance(size, int) or size <= 0 or size > HEADER_SIZE + MAX_SIGNED_MANIFEST + updater.slot_size:
            return _refused(OtaRejected("oversized", "bundle size %r does not fit this handset" % (size,))), \
                _announced_size(request)

        def on_manifest(m):
            if self.service.is_current(m):
                raise _AlreadyCurrent(m.version)

        bundle = BundleWriter(updater, on_manifest)
        remaining = size
        next_report = self.progress_every
        try:
            while remaining > 0:
                chunk = await asyncio.wait_for(reader.read(min(_CHUNK, remaining)), self.io_timeout)
                if not chunk:
                    raise OtaRejected("truncated", "connection closed after %d of %d bytes" % (size - remaining, size))
                remaining -= len(chunk)
                bundle.feed(chunk)
                if updater.offset >= next_report:
                    next_report = updater.offset + self.progress_every
                    await self._send(writer, {"event": "progress", "written": updater.offset,
                                              "total": updater.manifest.image_size})
            result = bundle.finish()
            await self._send(writer, {"event": "progress", "written": updater.offset,
                                      "total": updater.manifest.image_size})
        except _AlreadyCurrent as e:
            return {"event": "result", "status": "already-current", "version": e.args[0]}, remaining
        except OtaRejected as e:
            if self.log:
                self.log("agent: update refused: %s" % e)
            return _refused(e), remaining
        return {"event": "result", "status": "updated", "version": result.version,
                "secure_version": result.secure_version}, 0


def _parse_request(line):
    """The request object, or None if the line is not a JSON object with an op."""
    try:
        request = json.loads(line)
        request["op"]
    except Exception:
        return None
    return request if isinstance(request, dict) else None


def _announced_size(request):
    """Bundle bytes a push request says will follow (for lingering)."""
    size = request.get("size") if request is not None and request.get("op") == "push" else None
    return min(size, _LINGER_MAX) if isinstance(size, int) and size > 0 else 0


def _refused(e):
    return {"event": "result", "status": "refused", "reason": e.reason, "message": e.message}
