# The loader of a handset that runs a stock MicroPython release: what the
# bootloader is for app slots, for the firmware's filesystem images. Stock
# MicroPython mounts the root filesystem (partition `vfs`) and runs its
# main.py, which runs this. It picks the code slot (hush_0/hush_1) with
# hushphone.ota.fsslots (a NEW image becomes PENDING_VERIFY, one that never
# confirmed itself is aborted and the other slot boots, one whose bytes
# differ from its entry's hash is not mounted), mounts that image read-only
# at /hush and runs the firmware's main.py from it.
#
# This module and the few it imports live on the root filesystem, outside
# the images an update replaces (hushctl provision/deploy write them): the
# loader must not depend on the image it chooses. After mounting, those
# modules are forgotten so that the firmware imports its own from /hush/lib.
import sys

import vfs

MOUNT = "/hush"
slots = None  # the FsSlots of this boot (fsslots.mounted(): main.py confirms and updates through it)


def _find_partition(label):
    import esp32

    found = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=label)
    if not found:
        raise OSError(2, "no partition " + label)
    return found[0]


def mount():
    """Choose and mount the firmware image; the slot, or None."""
    global slots
    from hushphone.ota import fsslots

    slots = fsslots.FsSlots(_find_partition(fsslots.SELECT_LABEL),
                            [_find_partition(label) for label in fsslots.SLOT_LABELS])
    slot, entry = slots.boot()
    if slot is None:
        return None
    blocks = fsslots.parse_label(entry.label)[1]
    vfs.mount(vfs.VfsLfs2(fsslots.ImageDevice(slots.slots[slot], blocks)), MOUNT, readonly=True)
    return slot


def run():
    slot = mount()
    if slot is None:
        print("hushboot: no firmware image in hush_0 or hush_1")
        return
    print("hushboot: firmware image from hush_%d" % slot)
    for name in list(sys.modules):
        if name == "hushphone" or name.startswith("hushphone."):
            del sys.modules[name]
    sys.path.insert(0, MOUNT + "/lib")
    with open(MOUNT + "/main.py") as f:
        source = f.read()
    exec(source, {"__name__": "__main__"})
