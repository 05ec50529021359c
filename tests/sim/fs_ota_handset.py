# A handset that runs its firmware from a filesystem image (the stock
# MicroPython path), run on the MicroPython unix port: two code slots and
# the select partition as simulated flash files under ROOT/flash
# (hushsel.bin, hush_0.bin, hush_1.bin), the firmware's own fsslots,
# update service (FsOtaService: verifier, updater) and trust store in NVS.
#
#   micropython fs_ota_handset.py ROOT check
#       a reset: the loader picks a slot and mounts its image read-only
#       (vfs.VfsLfs2); prints JSON: slot, state, the signed image's SHA-256,
#       and the version file read from the mounted filesystem
#   micropython fs_ota_handset.py ROOT install BUNDLE [--cut-after N]
#       reset, confirm, stream the bundle into the other slot, reset, mount,
#       confirm; --cut-after N pulls the plug (SIGKILL) at the N-th flash op
#
# ROOT/config.json: {"board", "chip", "now"}; ROOT/nvs: the trust store.
import binascii
import json
import sys

import vfs

from hushphone.crypto.sha import new_sha256
from hushphone.hal.unix.flash import BlockRegion, FlashRegion, PowerSupply
from hushphone.hal.unix.nvs import Nvs
from hushphone.ota import OtaRejected, fsslots, otadata
from hushphone.ota.fsservice import FsOtaService
from hushphone.ota.truststore import NAMESPACE
from hushphone.ota.updater import BundleWriter

MOUNT = "/hush"


def emit(**fields):
    print(json.dumps(fields))


def open_slots(root, power):
    def region(name):
        path = root + "/flash/" + name + ".bin"
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
        return BlockRegion(FlashRegion(path, size, power))

    return fsslots.FsSlots(region(fsslots.SELECT_LABEL), [region(n) for n in fsslots.SLOT_LABELS])


def reset(slots):
    """The loader: pick, check and mount the image; what booted."""
    try:
        vfs.umount(MOUNT)
    except OSError:
        pass
    slot, entry = slots.boot()
    if slot is None:
        return {"slot": None}
    prefix, blocks, secure_version = fsslots.parse_label(entry.label)
    h = new_sha256()
    buf = bytearray(fsslots.BLOCK)
    for b in range(blocks):
        slots.slots[slot].readblocks(b, buf)
        h.update(buf)
    vfs.mount(vfs.VfsLfs2(fsslots.ImageDevice(slots.slots[slot], blocks)), MOUNT, readonly=True)
    try:
        with open(MOUNT + "/version.txt") as f:
            version = f.read().strip()
    except OSError:  # a firmware image from hushctl firmware build
        version = None
    return {"slot": slot, "state": otadata.STATE_NAMES[entry.state], "sha256": binascii.hexlify(h.digest()).decode(),
            "version": version, "secure_version": secure_version, "recorded": slots.running_version()}


def main(argv):
    root, command = argv[1], argv[2]
    with open(root + "/config.json") as f:
        config = json.load(f)
    cut = int(argv[argv.index("--cut-after") + 1]) if "--cut-after" in argv else 0
    power = PowerSupply(cut_after=cut, hard=True)
    slots = open_slots(root, power)
    booted = reset(slots)
    if command == "check":
        emit(event="check", **booted)
        return 0
    slots.confirm()
    service = FsOtaService(slots, Nvs(root, NAMESPACE), config["board"], config["chip"], lambda: config["now"])

    def not_current(m):
        if service.is_current(m):
            raise OtaRejected("already-current", "version %s is running" % m.version)

    writer = BundleWriter(service.updater(), on_manifest=not_current)
    try:
        with open(argv[3], "rb") as f:
            while True:
                chunk = f.read(3000)  # not block-aligned on purpose
                if not chunk:
                    break
                writer.feed(chunk)
        result = writer.finish()
    except OtaRejected as e:
        emit(event="install", status="refused", reason=e.reason, message=e.message, ops=power.ops)
        return 0
    booted = reset(slots)
    confirmed = slots.confirm()
    emit(event="install", status="updated", installed=result.version, confirmed=confirmed, ops=power.ops,
         service=service.status(), **booted)
    return 0


sys.exit(main(sys.argv))
