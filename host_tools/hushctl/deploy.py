"""`hushctl deploy`: the firmware onto a board that already runs a stock
MicroPython release, over its serial port with mpremote used as a library.

The board is asked which release and native architecture it runs
(sys.implementation), the firmware is compiled for exactly that (fsimage),
copied file by file into its filesystem (modules of an older deploy that
the new one lacks are removed: a stale foo.py would shadow foo.mpy), every
file's SHA-256 is computed *on the board* and compared, and only then is the
board reset into the new firmware."""
import contextlib
import hashlib
import io
import json

from hushctl import fsimage
from hushctl.errors import HushctlError

_CHUNK = 2048
# On the board: which MicroPython (release, .mpy version word, platform).
_PROBE = ("import sys\n"
          "print(repr((tuple(sys.implementation.version[:2]), getattr(sys.implementation, '_mpy', 0), sys.platform)))")
# On the board: SHA-256 of each file in PATHS ("-" when it cannot be read).
_HASH = """import hashlib, binascii
def _h(p):
    d = hashlib.sha256()
    b = bytearray(1024)
    m = memoryview(b)
    try:
        with open(p, 'rb') as f:
            while True:
                n = f.readinto(b)
                if not n:
                    break
                d.update(m[:n])
    except OSError:
        return '-'
    return binascii.hexlify(d.digest()).decode()
for _p in %r:
    print(_p, _h(_p))
"""
# On the board: every file under lib/hushphone (and lib/pins.*), for cleanup.
_LIST = """import os
def _walk(d):
    try:
        items = list(os.ilistdir(d))
    except OSError:
        return
    for it in items:
        p = d + '/' + it[0]
        if it[1] & 0x4000:
            _walk(p)
        else:
            print(p)
_walk('lib/hushphone')
for _n in ('lib/pins.py', 'lib/pins.mpy'):
    try:
        os.stat(_n)
        print(_n)
    except OSError:
        pass
"""
# On the board: block size, free blocks, and the size of each file in PATHS
# that exists (what a deploy frees by overwriting or removing it).
_SPACE = """import os
_s = os.statvfs('.')
print(_s[0], _s[4])
for _p in %r:
    try:
        print(_p, os.stat(_p)[6])
    except OSError:
        pass
"""
_PLATFORM = {"esp32": ("esp32",), "esp32s3": ("esp32",), "sim": ("linux", "darwin")}


class DeployError(HushctlError):
    pass


def _mpy_of(word):
    """The .mpy version text and architecture name of sys.implementation._mpy."""
    major, sub, arch = word & 0xFF, (word >> 8) & 3, (word >> 10) & 0x3F
    names = {code: name for name, code in fsimage.ARCH_CODES.items()}
    return ("%d.%d" % (major, sub) if major >= 6 and sub else "%d" % major), names.get(arch)


class Board:
    """A connected board: mpremote's SerialTransport in raw REPL."""

    def __init__(self, port):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        self._error = TransportError
        quiet = io.StringIO()  # mpremote prints what it read when the raw REPL does not answer
        try:
            with contextlib.redirect_stdout(quiet):
                self.transport = SerialTransport(port, baudrate=115200)
        except TransportError:
            raise DeployError("cannot open %s: no such port, or it is in use" % port)
        try:
            with contextlib.redirect_stdout(quiet):
                self.transport.enter_raw_repl(soft_reset=False)
        except (TransportError, OSError):
            self.transport.close()
            raise DeployError("%s does not answer as a MicroPython board (no raw REPL)" % port)
        self.port = port

    def run(self, code, what):
        try:
            return self.transport.exec(code).decode("utf-8", "replace")
        except self._error as e:
            lines = [l for l in str(e).splitlines() if l.strip()]
            raise DeployError("%s on %s failed: %s" % (what, self.port, lines[-1] if lines else "no answer"))

    def probe(self):
        import ast

        release, word, platform = ast.literal_eval(self.run(_PROBE, "asking the board its version").strip())
        mpy, arch = _mpy_of(word)
        return tuple(release), mpy, arch, platform

    def mkdirs(self, dirs):
        code = "import os\nfor _d in %r:\n    try:\n        os.mkdir(_d)\n    except OSError:\n        pass\n" % sorted(dirs)
        self.run(code, "making directories")

    def write(self, path, data):
        try:
            self.transport.fs_writefile(path, data, chunk_size=_CHUNK)
        except (self._error, OSError) as e:
            raise DeployError("writing %s on %s failed: %s" % (path, self.port, e))

    def remove(self, paths):
        if paths:
            self.run("import os\nfor _p in %r:\n    os.remove(_p)\n" % sorted(paths), "removing old files")

    def listing(self):
        return set(self.run(_LIST, "listing the firmware files").split())

    def space(self, paths):
        """(block size, free blocks, {existing path: size})."""
        lines = self.run(_SPACE % (sorted(paths),), "asking for free space").split("\n")
        block, free = (int(v) for v in lines[0].split())
        sizes = {}
        for line in lines[1:]:
            if " " in line.strip():
                path, size = line.strip().rsplit(" ", 1)
                sizes[path] = int(size)
        return block, free, sizes

    def hashes(self, paths):
        out = {}
        for line in self.run(_HASH % (sorted(paths),), "hashing on the board").splitlines():
            if " " in line:
                path, digest = line.rsplit(" ", 1)
                out[path] = digest
        return out

    def reset(self):
        """machine.reset() where the board has it (True); False otherwise
        (the unix port)."""
        code = "try:\n    import machine\n    print(hasattr(machine, 'reset'))\nexcept ImportError:\n    print(False)"
        has = self.run(code, "reset").strip() == "True"
        if has:
            self.transport.exec_raw_no_follow("import machine\nmachine.reset()")
        return has

    def close(self):
        try:
            self.transport.exit_raw_repl()
        except (self._error, OSError):
            pass
        self.transport.close()


def _blocks(size, block):
    return max(1, -(-size // block))


def _check_space(dev, files, stale):
    """Refuse before touching anything when the firmware cannot fit (each
    file takes whole blocks; what it replaces or removes is freed)."""
    block, free, existing = dev.space(set(files) | stale)
    freed = sum(_blocks(s, block) for s in existing.values())
    need = sum(_blocks(len(d), block) for d in files.values())
    if need > free + freed:
        raise DeployError("the firmware needs %d KiB on %s, its filesystem has %d KiB free (nothing was changed)"
                          % (need * block // 1024, dev.port, (free + freed) * block // 1024))


def deploy(board, port, mpy_cross=None, echo=print, reset=True):
    """Deploy to the board on `port`; returns the image manifest."""
    dev = Board(port)
    try:
        release, mpy, arch, platform = dev.probe()
        if platform not in _PLATFORM[board.chip]:
            raise DeployError("the board on %s runs MicroPython for %s, not for a %s (board %s)"
                              % (port, platform, board.chip, board.name))
        release_text = "%d.%d" % release
        _, want, exe = fsimage.check_target(release_text, mpy_cross)
        if want != mpy or arch is None:
            raise DeployError("the board on %s loads .mpy v%s (%s), not v%s" % (port, mpy, arch, want))
        echo("%s: MicroPython %s (.mpy v%s, %s) on %s" % (port, release_text, mpy, arch, platform))
        fsimage.check_board(board, 0)
        files = fsimage.compile_tree(board, exe, march=arch)
        manifest = fsimage.image_manifest(board, release, mpy, arch, files)
        files[fsimage.MANIFEST_NAME] = json.dumps(manifest, indent=1, sort_keys=True).encode()
        stale = {p for p in dev.listing() if p not in files}
        _check_space(dev, files, stale)
        dev.remove(stale)
        dev.mkdirs({p.rsplit("/", i)[0] for p in files for i in range(1, p.count("/") + 1)})
        for path in sorted(files):
            dev.write(path, files[path])
        echo("copied %d files (%d KiB), removed %d old ones" % (len(files), sum(map(len, files.values())) // 1024,
                                                                len(stale)))
        want_hashes = {p: hashlib.sha256(d).hexdigest() for p, d in files.items()}
        got = dev.hashes(want_hashes)
        bad = sorted(p for p in want_hashes if got.get(p) != want_hashes[p])
        if bad:
            raise DeployError("%d file(s) differ on the board after copying (first: %s): not reset" % (len(bad), bad[0]))
        echo("SHA-256 of all %d files checked on the board" % len(files))
        if reset:
            echo("reset: the board restarts into the new firmware" if dev.reset()
                 else "reset: this board has no machine.reset(); restart it by hand")
        return manifest
    finally:
        dev.close()
