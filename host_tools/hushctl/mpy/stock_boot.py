# What a stock MicroPython ESP32 build does at reset (its frozen _boot.py
# mounts the `vfs` partition as LittleFS2; then main.py runs), done by the
# MicroPython unix port over a filesystem image file:
#
#   micropython stock_boot.py IMAGE ARGS...
#
# mounts IMAGE at /flash through a file-backed block device, makes
# the frozen modules and /flash/lib the only import path (as on the ESP32), and runs
# /flash/main.py as __main__ with ARGS. Runs on MicroPython only.
import sys
import vfs

BLOCK_SIZE = 4096
MOUNT = "/flash"


class FileBlockDevice:
    """The block-device protocol (extended: offsets) over a file, 4 KiB
    blocks, like esp32.Partition over the vfs partition."""

    def __init__(self, path):
        self.f = open(path, "r+b")
        self.f.seek(0, 2)
        self.count = self.f.tell() // BLOCK_SIZE

    def readblocks(self, block, buf, offset=0):
        self.f.seek(block * BLOCK_SIZE + offset)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, offset=0):
        self.f.seek(block * BLOCK_SIZE + offset)
        self.f.write(buf)
        self.f.flush()

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.count
        if op == 5:  # block size
            return BLOCK_SIZE
        return 0  # init, deinit, sync, erase: nothing to do for a file


def main():
    vfs.mount(vfs.VfsLfs2(FileBlockDevice(sys.argv[1])), MOUNT)
    sys.path[:] = [".frozen", MOUNT + "/lib"]  # as on an ESP32: frozen modules (asyncio), then /lib
    sys.argv[:] = [MOUNT + "/main.py"] + sys.argv[2:]
    with open(MOUNT + "/main.py") as f:
        source = f.read()
    exec(source, {"__name__": "__main__"})


main()
