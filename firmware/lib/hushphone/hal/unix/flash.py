# Simulated SPI flash for the unix HAL: one file per partition, with the
# semantics that make flash code hard to get right on the device:
#   - erase works on whole 4 KiB sectors and sets every bit to 1;
#   - a write can only clear bits (new = old AND data), so writing without
#     erasing first corrupts the data exactly as the chip would;
#   - writes must be 16-byte aligned in offset and length (the rule for
#     partitions under flash encryption, which Hushphone handsets use).
# A PowerSupply counts every erase and write and can cut the power at a
# chosen operation: the interrupted operation is torn (only its first half
# lands), then nothing more reaches the flash.
import errno
import os

from hushphone.compat import IS_MICROPYTHON, const

SECTOR_SIZE = const(4096)
WRITE_ALIGN = const(16)
_CHUNK = const(4096)
_BLANK = b"\xff" * _CHUNK

# Exit status of a simulated handset whose power was cut (kill -9 on the
# unix port reports 137 through the shell; we use our own code on CPython).
POWER_CUT_EXIT = 86


class PowerCut(BaseException):
    """Raised in place of the operation that lost power. A BaseException, so
    that `except Exception` in firmware code cannot swallow it."""


class PowerSupply:
    """Counts flash operations; `cut_after` = N cuts the power during the
    N-th operation (1-based). `hard=True` ends the process at once without
    any cleanup (os._exit on CPython, SIGKILL on the unix port), as pulling
    the plug would; otherwise PowerCut is raised and the flash stays dead."""

    def __init__(self, cut_after=0, hard=False):
        self.ops = 0
        self.cut_after = cut_after
        self.hard = hard
        self.dead = False

    def operation(self):
        """Called before each flash operation; True if this is the one that
        the power cut tears."""
        if self.dead:
            raise PowerCut("flash has no power")
        self.ops += 1
        return self.cut_after > 0 and self.ops == self.cut_after

    def cut(self):
        self.dead = True
        if self.hard:
            _hard_exit()
        raise PowerCut("power cut at flash operation %d" % self.ops)


def _hard_exit():
    if IS_MICROPYTHON:
        # The unix port has no os._exit: let the shell kill us (no atexit,
        # no finally blocks, no buffered file data).
        os.system("kill -9 $PPID")
        import time

        time.sleep(10)  # SIGKILL arrives long before this ends
        raise PowerCut("the power cut did not end the process")
    os._exit(POWER_CUT_EXIT)


def _einval(what):
    return OSError(errno.EINVAL, what)


class FlashRegion:
    """One partition's bytes in the file `path` (created erased by
    `create`). Offsets are relative to the partition."""

    def __init__(self, path, size, power=None):
        self.path = path
        self.size = size
        self.power = power if power is not None else PowerSupply()

    @staticmethod
    def create(path, size):
        if size % SECTOR_SIZE:
            raise _einval("partition size must be a multiple of 4 KiB")
        with open(path, "wb") as f:
            for _ in range(size // _CHUNK):
                f.write(_BLANK)

    def _check_range(self, offset, length):
        if offset < 0 or length < 0 or offset + length > self.size:
            raise _einval("flash access outside the partition")

    def read_into(self, offset, buf):
        self._check_range(offset, len(buf))
        with open(self.path, "rb") as f:
            f.seek(offset)
            data = f.read(len(buf))
        buf[: len(data)] = data

    def read(self, offset, length):
        buf = bytearray(length)
        self.read_into(offset, buf)
        return bytes(buf)

    def erase(self, offset, length):
        if offset % SECTOR_SIZE or length % SECTOR_SIZE:
            raise _einval("erase must cover whole 4 KiB sectors")
        self._check_range(offset, length)
        torn = self.power.operation()
        if torn:
            length = (length // 2 // WRITE_ALIGN) * WRITE_ALIGN
        with open(self.path, "r+b") as f:
            f.seek(offset)
            done = 0
            while done < length:
                n = min(_CHUNK, length - done)
                f.write(_BLANK[:n])
                done += n
        if torn:
            self.power.cut()

    def write(self, offset, data):
        n = len(data)
        if offset % WRITE_ALIGN or n % WRITE_ALIGN:
            raise _einval("flash writes must be 16-byte aligned")
        self._check_range(offset, n)
        torn = self.power.operation()
        if torn:
            n = (n // 2 // WRITE_ALIGN) * WRITE_ALIGN
        if n:
            old = self.read(offset, n)
            if old == b"\xff" * n:
                new = data[:n]  # the usual case: programming erased flash
            else:
                new = bytearray(n)
                for i in range(n):  # flash programming only clears bits
                    new[i] = old[i] & data[i]
            with open(self.path, "r+b") as f:
                f.seek(offset)
                f.write(new)
        if torn:
            self.power.cut()


class BlockRegion:
    """The block-device methods of esp32.Partition over a FlashRegion
    (self._region): readblocks(block, buf[, offset]), writeblocks(block,
    buf) erases first, writeblocks(block, buf, offset) programs only,
    ioctl(4)=block count, ioctl(5)=block size, ioctl(6, block)=erase."""

    def __init__(self, region):
        self._region = region

    def readblocks(self, block_num, buf, offset=0):
        self._region.read_into(block_num * SECTOR_SIZE + offset, buf)

    def writeblocks(self, block_num, buf, offset=None):
        start = block_num * SECTOR_SIZE
        if offset is None:
            self._region.erase(start, len(buf))  # the simple block-device write erases first
        else:
            start += offset
        self._region.write(start, buf)

    def ioctl(self, op, arg):
        if op in (1, 2, 3):  # init, deinit, sync
            return 0
        if op == 4:
            return self._region.size // SECTOR_SIZE
        if op == 5:
            return SECTOR_SIZE
        if op == 6:
            self._region.erase(arg * SECTOR_SIZE, SECTOR_SIZE)
            return 0
        return None
