# A reset of a handset that runs a stock MicroPython release, on the
# MicroPython unix port:
#
#   micropython stock_boot.py FLASH_DIR ARGS...
#
# FLASH_DIR holds one file per partition (vfs.bin, hushsel.bin, hush_0.bin,
# hush_1.bin; hushctl.fsimage.write_sim_flash). As a stock ESP32 build's
# frozen _boot.py does, the root filesystem `vfs` is mounted (LittleFS2,
# here at /flash through a file-backed block device), the import path is the
# frozen modules and its /lib only, and its main.py runs (the Hushphone
# loader: it picks a code slot, mounts that image at /hush and runs the
# firmware's main.py with ARGS). An `esp32` module with Partition.find gives
# the loader the partition files, as the ESP32 port gives it flash.
import sys
import vfs

BLOCK_SIZE = 4096
MOUNT = "/flash"


class FilePartition:
    """esp32.Partition's block-device protocol over one partition file."""

    def __init__(self, path):
        self.f = open(path, "r+b")
        self.f.seek(0, 2)
        self.count = self.f.tell() // BLOCK_SIZE

    def readblocks(self, block, buf, offset=0):
        self.f.seek(block * BLOCK_SIZE + offset)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, offset=None):
        self.f.seek(block * BLOCK_SIZE + (offset or 0))
        self.f.write(buf)  # a file needs no erase
        self.f.flush()

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.count
        if op == 5:  # block size
            return BLOCK_SIZE
        return 0  # init, deinit, sync, erase


class Partition:
    TYPE_APP = 0
    TYPE_DATA = 1
    directory = None

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None):
        try:
            return [FilePartition(Partition.directory + "/" + label + ".bin")]
        except OSError:
            return []


class Esp32Module:
    Partition = Partition


def main():
    Partition.directory = sys.argv[1]
    sys.modules["esp32"] = Esp32Module
    vfs.mount(vfs.VfsLfs2(FilePartition(sys.argv[1] + "/vfs.bin")), MOUNT)
    sys.path[:] = [".frozen", MOUNT + "/lib"]  # as on an ESP32: frozen modules (asyncio), then /lib
    sys.argv[:] = [MOUNT + "/main.py"] + sys.argv[2:]
    with open(MOUNT + "/main.py") as f:
        source = f.read()
    exec(source, {"__name__": "__main__"})


main()
