"""What each handset runs (`hushctl fleet status`): asks the update agent
of every handset over mutual TLS ({"op": "status"}, the same connection
rules as `fleet push`) for its version, slot, how its firmware booted
(slot state, rollback, self-test) and so the result of its last update,
and records it in the inventory (table handset_status, by the serial in
the handset's certificate, with the address it answered at, so the next
run can find it without a host list)."""
import asyncio
import json
import ssl
import time

from hushctl import inventory as inventory_lib
from hushctl import pki
from hushctl.errors import HushctlError
from hushctl.fleet import Target, parse_target, read_inventory

_MAX_LINE = 64 * 1024


class StatusResult:
    def __init__(self, target, status, serial=None, reply=None, message=None, seconds=0.0):
        self.target = target
        self.status = status  # ok | unreachable | failed
        self.serial = serial  # the CN of the handset's certificate
        self.reply = reply or {}
        self.message = message
        self.seconds = seconds
        self.note = None  # e.g. not in the inventory

    @property
    def ok(self):
        return self.status == "ok"

    def _boot(self):
        boot = self.reply.get("boot")
        return boot if isinstance(boot, dict) else {}

    @property
    def slot_state(self):
        return self.reply.get("slot_state") or self._boot().get("state")

    @property
    def last_result(self):
        """The last update's outcome: what the handset reads back from its
        otadata (last_update, hushphone.ota.history: rolled-back, pending or
        confirmed, with the version), else what its boot says (rolled back,
        confirmed or not-confirmed)."""
        last = self.reply.get("last_update") or self._boot().get("last_update")
        if isinstance(last, dict) and last.get("result"):
            return ("%s %s" % (last["result"], last.get("version") or "")).strip()
        boot = self._boot()
        if boot.get("rolled_back") is True:
            return "rolled-back"
        if boot.get("confirmed") is True:
            return "confirmed"
        if boot.get("confirmed") is False:
            return "not-confirmed"
        return None

    def as_dict(self):
        r = self.reply
        return {"handset": self.target.name, "address": self.target.address, "serial": self.serial,
                "status": self.status, "version": r.get("version"), "secure_version": r.get("secure_version"),
                "board": r.get("board"), "slot": r.get("slot"), "slot_state": self.slot_state,
                "last_result": self.last_result, "message": self.message, "note": self.note,
                "seconds": round(self.seconds, 3)}


def _common_name(peercert):
    for rdn in (peercert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


async def query_one(target, ctx, timeout=10.0):
    started = time.monotonic()

    def result(status, **kw):
        return StatusResult(target, status, seconds=time.monotonic() - started, **kw)

    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(target.host, target.port, ssl=ctx, limit=_MAX_LINE), timeout)
    except ssl.SSLError as e:
        return result("failed", message="tls: %s" % (e.reason or e))
    except (OSError, asyncio.TimeoutError) as e:
        return result("unreachable", message=str(e) or type(e).__name__)
    serial = _common_name(writer.get_extra_info("peercert"))
    try:
        writer.write(b'{"op": "status"}\n')
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    except ssl.SSLError as e:
        return result("failed", serial=serial, message="tls: %s" % (e.reason or e))
    except (OSError, asyncio.TimeoutError, ValueError) as e:
        return result("failed", serial=serial, message="connection: %s" % (str(e) or type(e).__name__))
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 5)
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            pass
    try:
        reply = json.loads(line)
    except ValueError:
        reply = None
    if not isinstance(reply, dict) or reply.get("event") != "status":
        detail = reply.get("message") if isinstance(reply, dict) else None
        return result("failed", serial=serial, message="no status answer%s" % (": %s" % detail if detail else ""))
    return result("ok", serial=serial, reply=reply)


async def _query_all(targets, ctx, parallel, timeout):
    gate = asyncio.Semaphore(max(1, parallel))

    async def one(t):
        async with gate:
            return await query_one(t, ctx, timeout)

    return await asyncio.gather(*(one(t) for t in targets))


def query(targets, ctx, parallel=16, timeout=10.0):
    """StatusResults in target order."""
    return asyncio.run(_query_all(targets, ctx, parallel, timeout))


def is_database(spec):
    """A postgresql:// URL or a SQLite file (not a CSV/JSON host list)."""
    if inventory_lib.is_url(spec):
        return True
    try:
        with open(spec, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def targets_from_database(inv):
    """Where each handset's agent last answered (earlier status runs)."""
    revoked = {r["serial"] for r in inv.rows("revoked")}
    return [parse_target_named(s["address"], s["serial"]) for s in inv.statuses()
            if s["address"] and s["serial"] not in revoked]


def parse_target_named(address, name):
    t = parse_target(address)
    return Target(t.host, t.port, name)


def gather_targets(addresses=(), hosts_file=None, inventory=None):
    targets = [parse_target(a) for a in addresses]
    if hosts_file:
        targets += read_inventory(hosts_file)
    if inventory is not None and not targets:
        targets = targets_from_database(inventory)
    if not targets:
        raise HushctlError("give handsets with --to HOST[:PORT] or --hosts FILE (the inventory knows no "
                           "addresses yet: they are recorded by the first status run)")
    return targets


def record(inv, results, now=None):
    """Record what answered handsets reported; notes those the inventory
    does not know (nothing is recorded for them). Returns the count recorded."""
    now = now or pki.utcnow().isoformat()
    known = {r["serial"]: r for r in inv.rows()}
    count = 0
    for r in results:
        if not r.ok:
            continue
        if r.serial not in known:
            r.note = "not in the inventory"
            continue
        if known[r.serial]["status"] == "revoked":
            r.note = "revoked in the inventory"
        reply = r.reply
        secure_version = reply.get("secure_version") if isinstance(reply.get("secure_version"), int) else None
        inv.record_status(r.serial, str(reply.get("version") or ""), secure_version, reply.get("slot"),
                          r.slot_state, r.last_result, r.target.address, now)
        count += 1
    return count
