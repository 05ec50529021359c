# A simulated handset's update side, run on the MicroPython unix port with
# firmware/lib on MICROPYPATH: the same firmware modules as on a device, with
# hal.unix (partition files, NVS files, simulated bootloader) underneath,
# set up as the OTA core tests set up theirs (ota_sim_support.HandsetRoot).
#
#   micropython ota_handset.py ROOT boot
#       reset: bootloader picks a slot, self-test, confirm; prints JSON
#   micropython ota_handset.py ROOT check ROOT2 ...
#       reset each handset (no confirmation) and print what booted
#   micropython ota_handset.py ROOT install BUNDLE [--cut-after N] [--fail-selftest]
#       boot, stream the bundle file into the updater, reboot, self-test,
#       confirm; --cut-after N pulls the plug at the N-th flash operation
#   micropython ota_handset.py ROOT fetch URL CA_DER
#       boot, download and install the bundle over HTTPS with resume
#   micropython ota_handset.py ROOT pull URL CA_DER [ROOT2 ...] [--cut-after N]
#       for each root in turn (one process, several handsets): reset,
#       self-test and confirm, check the channel document at URL once
#       (hushphone.ota.pull); after an install reset, self-test, confirm;
#       prints one JSON line per handset. ROOT/config.json "seed" (hex) is
#       the handset's rollout seed if its NVS has none yet (a fixed fleet)
#   micropython ota_handset.py ROOT agent PORT CERT_DER KEY_DER CA_DER
#       boot, then serve fleet pushes over mutual TLS with the firmware's
#       agent runner; after an update it prints REBOOT and exits with
#       status 3 (the test "resets" it)
#
# ROOT/config.json: {"board": ..., "chip": ..., "now": UNIX seconds or null}
import json
import sys

import asyncio
import ssl
import time

from hushphone.hal.unix import bootloader
from hushphone.hal.unix.flash import PowerSupply
from hushphone.hal.unix.partition import Partition
from hushphone.ota import OtaRejected, confirm, selftest
from hushphone.ota.updater import BundleWriter
from ota_sim_support import HandsetRoot  # tests/core (on MICROPYPATH)

EXIT_REBOOT = 3


def emit(**fields):
    print(json.dumps(fields))


class Handset(HandsetRoot):
    """The firmware objects over ROOT (tests/core/ota_sim_support), set up
    from ROOT/config.json, booted with `power` (a PowerSupply or None)."""

    def __init__(self, root, power=None):
        with open(root + "/config.json") as f:
            self.config = json.load(f)
        now = self.config.get("now")
        clock = (lambda: int(time.time())) if now is None else (lambda: now)
        HandsetRoot.__init__(self, root, self.config["board"], self.config["chip"], clock,
                             self.config.get("save_every", 4))
        self.power = power

    def boot(self):
        return HandsetRoot.boot(self, self.power)

    def checks(self, fail=False):
        checks = [selftest.storage_check(Partition), selftest.nvs_check(self.nvs()), selftest.loopback_network_check()]
        if fail:
            checks.append(("network", lambda: "simulated link failure"))
        return checks

    def boot_and_confirm(self, fail=False):
        info = self.boot()
        result = confirm.confirm_boot(Partition, self.checks(fail))
        return info, result.ok


def describe(info, **extra):
    fields = {"slot": info.label, "secure_version": info.secure_version, "rolled_back": info.rolled_back,
              "state": info.state}
    fields.update(extra)
    return fields


def cmd_boot(h, args):
    info, ok = h.boot_and_confirm()
    emit(event="boot", version=h.service().running_app().version, confirmed=ok, **describe(info))


def cmd_check(h, args):
    for root in [h.root] + args:
        other = Handset(root)
        try:
            info = other.boot()
            emit(event="check", root=root, ok=True, version=other.service().running_app().version, **describe(info))
        except bootloader.NoBootableFirmware as e:
            emit(event="check", root=root, ok=False, error=str(e))


def cmd_install(h, args):
    path = args[0]
    cut = int(args[args.index("--cut-after") + 1]) if "--cut-after" in args else 0
    h.power = PowerSupply(cut_after=cut, hard=True)
    h.boot()
    writer = BundleWriter(h.service().updater())
    try:
        with open(path, "rb") as f:
            while True:
                chunk = f.read(3000)
                if not chunk:
                    break
                writer.feed(chunk)
        result = writer.finish()
    except OtaRejected as e:
        emit(event="install", status="refused", reason=e.reason, message=e.message, ops=h.power.ops)
        return
    info, ok = h.boot_and_confirm(fail="--fail-selftest" in args)
    emit(event="install", status="updated", version=result.version, confirmed=ok, ops=h.power.ops, **describe(info))


def _client_context(ca_der):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED  # the unix port's wrapper starts at CERT_NONE
    with open(ca_der, "rb") as f:
        ctx.load_verify_locations(cadata=f.read())
    return ctx


def cmd_fetch(h, args):
    from hushphone.ota.http_client import BundleDownload, DownloadError

    url, ca = args[0], args[1]
    h.boot()
    download = BundleDownload(h.service(), url, _client_context(ca), attempts=4, timeout=20,
                              log=lambda m: emit(event="log", message=m))
    try:
        result = asyncio.run(download.run())
    except OtaRejected as e:
        emit(event="fetch", status="refused", reason=e.reason, requests=download.requests)
        return
    except DownloadError as e:
        emit(event="fetch", status="failed", message=str(e), requests=download.requests)
        return
    info, ok = h.boot_and_confirm()
    emit(event="fetch", status="updated", version=result.version, confirmed=ok, requests=download.requests,
         **describe(info))


def cmd_pull(h, args):
    import binascii

    from hushphone.crypto.random import random_bytes
    from hushphone.hal.unix.nvs import Nvs
    from hushphone.ota.pull import PullClient
    from hushphone.storage_layout import NS_PULL

    cut = 0
    if "--cut-after" in args:
        i = args.index("--cut-after")
        cut = int(args[i + 1])
        args = args[:i] + args[i + 2 :]
    url, ca = args[0], args[1]
    ctx = _client_context(ca)
    for root in [h.root] + args[2:]:
        handset = Handset(root, PowerSupply(cut_after=cut, hard=True))
        seed = handset.config.get("seed")
        draw = (lambda n, s=binascii.unhexlify(seed): s[:n]) if seed else random_bytes
        handset.boot_and_confirm()
        client = PullClient(handset.service(), Nvs(root, NS_PULL), url, ctx, timeout=20, random_bytes=draw)
        result = asyncio.run(client.check())
        if result["status"] == "updated":
            info, ok = handset.boot_and_confirm()
            result["confirmed"] = ok
            result.update(describe(info))
        result["running"] = handset.service().running_app().version
        result["ops"] = handset.power.ops
        if client.download is not None:
            result["requests"] = client.download.requests
        emit(event="pull", root=root, **result)


class _NoApp:
    """A handset without the phone app: nothing to wait for before a reset."""

    app = None


def cmd_agent(h, args):
    """The firmware's own agent runner (hushphone.ota.handset_agent, as
    main.py runs it), with no app beside it."""
    from hushphone.ota.handset_agent import AgentSetup, HandsetAgent

    port, files = int(args[0]), []
    for path in args[1:4]:
        with open(path, "rb") as f:
            files.append(f.read())
    h.boot_and_confirm()
    setup = AgentSetup("127.0.0.1", port, files[0], files[1], files[2])
    agent = HandsetAgent(_NoApp(), h.service(), setup, log=lambda m: emit(event="log", message=m))

    async def idle():
        emit(event="ready", port=port, version=h.service().running_app().version)
        await asyncio.Event().wait()  # until the agent resets the handset

    if asyncio.run(agent.run(idle())):
        emit(event="reboot")
        sys.exit(EXIT_REBOOT)


COMMANDS = {"boot": cmd_boot, "check": cmd_check, "install": cmd_install, "fetch": cmd_fetch, "agent": cmd_agent,
            "pull": cmd_pull}


def main(argv):
    root, command, args = argv[0], argv[1], argv[2:]
    COMMANDS[command](Handset(root), args)


if __name__ == "__main__":
    main(sys.argv[1:])
