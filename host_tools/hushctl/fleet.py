"""Pushing a signed update to many handsets at once (`hushctl fleet push`).

Each handset runs the update agent (hushphone.ota.agent): a mutual-TLS
endpoint that accepts a bundle streamed over the connection from a
technician whose certificate the fleet CA issued, installs it through its
own verifier and answers with progress and a result. The technician's side
is asyncio: one connection per handset, at most `parallel` at a time.

Handsets are addressed by IP on site networks, so the handset's certificate
is checked against the fleet CA (chain, validity) but not against a host
name; the handset in turn accepts only fleet-CA client certificates. Push
rights never let anyone install an unsigned image: the handset checks the
signatures itself.

A handset in a call answers "busy" instead of taking the update (an update
never cuts a call); the push tries it again with a bounded exponential
backoff (1, 2, 4 ... 30 s, for at most `busy_wait` seconds) and says how
many busy answers it got. After "updated" the push waits (up to
`wait_boot` seconds) for the handset to come back on the new version and
reports its boot: confirmed after its self-test or not, and whether its
bootloader could have rolled the update back (`rollback`: yes, no, or
unknown), which the handset learns from the otadata state it booted in."""
import asyncio
import csv
import json
import ssl
import time

from hushctl import tls_keys
from hushctl.errors import HushctlError
from hushphone.ota.agent import DEFAULT_PORT
from hushphone.ota.bundle import HEADER_SIZE, parse_bundle_header

OK_STATUSES = ("updated", "already-current")
_CHUNK = 16 * 1024
BUSY_BACKOFF = (1, 2, 4, 8, 16, 30)  # seconds between tries of a busy handset (then 30 s)
_BOOT_POLL_S = 0.5
_MAX_MESSAGES = 100000  # progress lines from one handset: one per 32 KiB is plenty


class Target:
    def __init__(self, host, port=DEFAULT_PORT, name=None):
        self.host = host
        self.port = int(port)
        self.name = name or self.address

    @property
    def address(self):
        return "%s:%d" % ("[%s]" % self.host if ":" in self.host else self.host, self.port)


def parse_target(text):
    """HOST, HOST:PORT or [IPv6]:PORT."""
    text = text.strip()
    try:
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else DEFAULT_PORT
        elif text.count(":") == 1:
            host, port = text.split(":")
            port = int(port)
        else:
            host, port = text, DEFAULT_PORT
    except ValueError:
        raise HushctlError("bad handset address %r (use HOST or HOST:PORT)" % text)
    if not host or not 0 < port < 65536:
        raise HushctlError("bad handset address %r (use HOST or HOST:PORT)" % text)
    return Target(host, port)


def _target_from_row(row, where):
    host = str(row.get("host") or "").strip()
    if not host:
        raise HushctlError("%s has no host" % where)
    port = row.get("port")
    try:
        port = int(port) if port not in (None, "") else DEFAULT_PORT
    except ValueError:
        raise HushctlError("%s has a bad port %r" % (where, port))
    if not 0 < port < 65536:
        raise HushctlError("%s has a bad port %r" % (where, port))
    return Target(host, port, row.get("serial") or None)


def read_inventory(path):
    """Handsets from an inventory file: CSV with a header row, or JSON (a
    list of objects, or {"handsets": [...]}). Needs `host`; `port` and
    `serial` are used when present; other columns (board, chip, ... as
    `hushctl inventory export` writes them) are ignored, and revoked
    handsets are skipped."""
    try:
        with open(path, newline="") as f:
            text = f.read()
    except OSError as e:
        raise HushctlError("cannot read inventory %s: %s" % (path, e.strerror))
    if text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise HushctlError("inventory %s is not valid JSON: %s" % (path, e))
        rows = data.get("handsets") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise HushctlError("inventory %s: expected a list of handset objects" % path)
    else:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or "host" not in [n.strip() for n in reader.fieldnames]:
            raise HushctlError("inventory %s has no 'host' column" % path)
        rows = [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    targets = []
    for i, row in enumerate(rows, start=1):
        if str(row.get("status", "")).strip() == "revoked":
            continue
        where = "inventory %s entry %d%s" % (path, i, " (%s)" % row["serial"] if row.get("serial") else "")
        targets.append(_target_from_row(row, where))
    if not targets:
        raise HushctlError("inventory %s lists no handsets" % path)
    return targets


def client_context(cert, key, ca, passphrase=None):
    """The technician's TLS context: our certificate for the handset, and
    the CA certificates that vouch for the handsets. The key may be
    encrypted, as `hushctl keys technician issue` writes it: `passphrase`
    (a str or a function returning one) is then handed to OpenSSL, which
    decrypts the key in memory (tls_keys.load_cert_chain)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False  # handsets are addressed by IP; the fleet CA vouches for them
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        ctx.load_verify_locations(cafile=ca)
    except (OSError, ssl.SSLError) as e:
        raise HushctlError("cannot load TLS certificate, key or CA: %s" % (getattr(e, "strerror", None) or e))
    tls_keys.load_cert_chain(ctx, cert, key, passphrase, "technician key")
    return ctx


def check_bundle(path):
    """Size of the bundle file after a quick format check (the handsets do
    the real verification)."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER_SIZE)
            f.seek(0, 2)
            size = f.tell()
    except OSError as e:
        raise HushctlError("cannot read bundle %s: %s" % (path, e.strerror))
    from hushphone.ota import OtaRejected

    try:
        parse_bundle_header(head)
    except OtaRejected as e:
        raise HushctlError("%s: %s" % (path, e.message))
    return size


class PushResult:
    def __init__(self, target, status, reason=None, message=None, version=None, seconds=0.0):
        self.target = target
        # updated | already-current | refused | busy | unconfirmed | unreachable | failed
        self.status = status
        self.reason = reason
        self.message = message
        self.version = version
        self.seconds = seconds
        self.busy = 0  # "busy" answers (a call was up) before this result
        self.boot = None  # after an update: the handset's boot report {state, rollback, confirmed, self_test}

    @property
    def ok(self):
        return self.status in OK_STATUSES

    @property
    def rollback(self):
        return self.boot.get("rollback") if self.boot else None

    @property
    def confirmed(self):
        return self.boot.get("confirmed") if self.boot else None

    def as_dict(self):
        return {"handset": self.target.name, "host": self.target.host, "port": self.target.port,
                "status": self.status, "reason": self.reason, "message": self.message, "version": self.version,
                "busy": self.busy, "confirmed": self.confirmed, "rollback": self.rollback, "boot": self.boot,
                "seconds": round(self.seconds, 3)}


async def _send_bundle(writer, path, size):
    writer.write((json.dumps({"op": "push", "size": size}) + "\n").encode())
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()


async def push_one(target, path, size, ctx, on_progress=None, timeout=60.0):
    """Push the bundle to one handset; never raises for a handset's
    failure, returns its PushResult."""
    started = time.monotonic()

    def result(status, **kw):
        return PushResult(target, status, seconds=time.monotonic() - started, **kw)

    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(target.host, target.port, ssl=ctx), timeout)
    except ssl.SSLError as e:
        return result("failed", reason="tls", message=e.reason or str(e))
    except (OSError, asyncio.TimeoutError) as e:
        return result("unreachable", reason="connect", message=str(e) or type(e).__name__)
    sender = asyncio.ensure_future(_send_bundle(writer, path, size))
    final = None
    try:
        for _ in range(_MAX_MESSAGES):
            if final is not None:
                break
            line = await asyncio.wait_for(reader.readline(), timeout)
            if not line:
                break
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if not isinstance(message, dict):
                return result("failed", reason="protocol", message="handset sent something that is not a JSON object")
            if message.get("event") == "progress" and on_progress is not None:
                on_progress(target, message.get("written", 0), message.get("total", 0))
            elif message.get("event") == "result":
                final = message
    except ssl.SSLError as e:  # e.g. the handset rejected our certificate
        return result("failed", reason="tls", message=e.reason or str(e))
    except (OSError, asyncio.TimeoutError) as e:
        return result("failed", reason="connection", message=str(e) or type(e).__name__)
    except ValueError:  # a line longer than the stream reader's limit
        return result("failed", reason="protocol", message="handset sent an overlong line")
    finally:
        sender.cancel()
        try:
            await sender
        except (asyncio.CancelledError, OSError, ssl.SSLError):
            pass
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 5)
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            pass
    if final is None:
        return result("failed", reason="connection", message="handset closed the connection without a result")
    status = final.get("status")
    if status not in ("updated", "already-current", "refused", "busy"):
        return result("failed", reason="protocol", message="unknown result %r" % status)
    return result(status, reason=final.get("reason"), message=final.get("message"), version=final.get("version"))


async def handset_status(target, ctx, timeout=10.0):
    """The handset's status answer (a dict), or None if it does not answer."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(target.host, target.port, ssl=ctx), timeout)
    except (OSError, ssl.SSLError, asyncio.TimeoutError):
        return None
    try:
        writer.write(b'{"op": "status"}\n')
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        message = json.loads(line)
        return message if isinstance(message, dict) and message.get("event") == "status" else None
    except (OSError, ssl.SSLError, asyncio.TimeoutError, ValueError):
        return None
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 5)
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            pass


async def await_boot(result, ctx, wait_boot):
    """After "updated": wait for the handset to answer on the new version
    and take its boot report; "unconfirmed" when it did not confirm the
    update, or did not come back on it within `wait_boot` seconds."""
    deadline = time.monotonic() + wait_boot
    last = None
    while time.monotonic() < deadline:
        status = await handset_status(result.target, ctx, min(10.0, max(1.0, deadline - time.monotonic())))
        if status is not None:
            last = status
            if status.get("version") == result.version and isinstance(status.get("boot"), dict):
                result.boot = status["boot"]
                if not result.boot.get("confirmed"):
                    result.status, result.reason = "unconfirmed", "self-test"
                    result.message = "%s; %s" % (result.boot.get("self_test"), _rollback_text(result.boot))
                return result
        await asyncio.sleep(_BOOT_POLL_S)
    result.status, result.reason = "unconfirmed", "no-boot"
    result.message = "did not come back on %s within %.0f s%s" % (
        result.version, wait_boot, " (still answers on %s)" % last.get("version") if last else "")
    return result


def _rollback_text(boot):
    return {"yes": "the next reset rolls it back", "no": "its bootloader cannot roll back"}.get(
        boot.get("rollback"), "nothing rolls it back")


async def push_all(path, targets, ctx, parallel=8, on_progress=None, on_done=None, timeout=60.0, busy_wait=300.0,
                   wait_boot=0.0, on_busy=None):
    size = check_bundle(path)
    gate = asyncio.Semaphore(max(1, parallel))

    async def one(target):
        # A busy handset waits outside the gate, so it holds no slot.
        started = time.monotonic()
        busy = 0
        while True:
            async with gate:
                r = await push_one(target, path, size, ctx, on_progress, timeout)
            if r.status != "busy":
                break
            busy += 1
            delay = BUSY_BACKOFF[min(busy - 1, len(BUSY_BACKOFF) - 1)]
            if time.monotonic() + delay - started > busy_wait:
                break
            if on_busy is not None:
                on_busy(target, r.reason, delay)
            await asyncio.sleep(delay)
        r.busy = busy
        if r.status == "updated" and wait_boot > 0:
            await await_boot(r, ctx, wait_boot)  # outside the gate: waiting takes no bandwidth
        r.seconds = time.monotonic() - started
        if on_done is not None:
            on_done(r)
        return r

    return await asyncio.gather(*(one(t) for t in targets))


def push(path, targets, ctx, parallel=8, on_progress=None, on_done=None, timeout=60.0, busy_wait=300.0,
         wait_boot=0.0, on_busy=None):
    """Push to every target with the TLS context `ctx` (client_context());
    returns the PushResults in target order. Busy handsets are tried again
    for up to `busy_wait` seconds; with `wait_boot` > 0 each updated handset
    is followed through its reboot (await_boot)."""
    return asyncio.run(push_all(path, targets, ctx, parallel, on_progress, on_done, timeout, busy_wait, wait_boot,
                                on_busy))
