"""The firmware as a filesystem image for stock MicroPython (`hushctl
firmware build`): the LittleFS2 image read back with littlefs-python holds
byte for byte what was compiled, and the MicroPython unix port mounts that
same image (vfs.VfsLfs2 over a file-backed block device, as a stock ESP32
build mounts its vfs partition), imports nothing from anywhere else, and
boots the phone from it to a registered state with Kamailio."""
import hashlib
import json
import subprocess

import pytest

from hushctl import boards, fsimage
from tests.host.provision_helpers import hushctl, ok
from tests.sim.phone_lab import WAIT_S
from tests.support.runtimes import REPO, micropython_exe


def unix_port_release():
    out = subprocess.run([micropython_exe(), "-c", "import sys; print('%d.%d' % sys.implementation.version[:2])"],
                         capture_output=True, text=True, timeout=30, env={"MICROPYPATH": ""})
    return out.stdout.strip()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("fw")
    ok(hushctl("firmware", "build", "--board", "sim", "--micropython", unix_port_release(), "--out", out))
    return out


def test_images_read_back_byte_for_byte(built, tmp_path):
    layout = fsimage.stock_layout(boards.get_board("sim"))
    image = (built / "hush.bin").read_bytes()
    assert len(image) == layout.partition("hush_0").size - 4096  # a code slot less its signature sector
    files = fsimage.read_image(image)
    manifest = json.loads(files.pop(fsimage.MANIFEST_NAME))
    assert manifest == json.loads((built / fsimage.MANIFEST_NAME).read_text())
    assert manifest["board"] == "sim" and manifest["arch"] == "x64" and manifest["mpy"] == "6.3"
    # Every file the manifest lists is there, with its hash, and nothing else.
    assert sorted(files) == sorted(manifest["files"])
    for path, data in files.items():
        assert hashlib.sha256(data).hexdigest() == manifest["files"][path], path
    # The entry point is the source; a module is what mpy-cross makes of it.
    assert files["main.py"] == (REPO / "firmware" / "main.py").read_bytes()
    src = REPO / "firmware" / "lib" / "hushphone" / "g711.py"
    subprocess.run([fsimage.external.exe("mpy-cross"), "-march=x64", "-s", "lib/hushphone/g711.py",
                    "-o", str(tmp_path / "g711.mpy"), str(src)], check=True, timeout=60)
    assert files["lib/hushphone/g711.mpy"] == (tmp_path / "g711.mpy").read_bytes()
    assert files["lib/pins.mpy"].startswith(b"M\x06")  # .mpy v6 header
    sources = {p.relative_to(REPO / "firmware").as_posix()[:-3] + ".mpy"
               for p in (REPO / "firmware" / "lib" / "hushphone").rglob("*.py")}
    assert sources <= set(files) and "lib/hushboot.mpy" not in files
    # The root filesystem: the loader and what it imports, boot.py, main.py.
    root_image = (built / "vfs.bin").read_bytes()
    assert len(root_image) == layout.partition("vfs").size
    root = fsimage.read_image(root_image)
    assert sorted(root) == sorted(fsimage.LOADER_MODULES + ("boot.py", "main.py"))
    assert root["boot.py"] == (REPO / "firmware" / "boot.py").read_bytes() and b"hushboot.run()" in root["main.py"]
    assert all(root[p] == files[p] for p in fsimage.LOADER_MODULES if p in files)


def test_unix_port_boots_the_phone_from_the_images(built, lab, tmp_path):
    """The flash a factory image holds (root filesystem, hush_0 selected,
    hush_1 blank): the loader mounts hush_0 and the phone registers."""
    from hushphone.ota import fsslots, otadata

    layout = fsimage.stock_layout(boards.get_board("sim"))
    parts = fsimage.factory_partitions((built / "vfs.bin").read_bytes(), (built / "hush.bin").read_bytes(), layout)
    flash = fsimage.write_sim_flash(parts, layout, tmp_path / "flash")
    h = lab.handset("alice", boot={"flash": flash})
    assert h.wait_event("registered", WAIT_S)["event"] == "registered"
    assert "hushboot: firmware image from hush_0" in h.lines and "hushphone: board sim" in h.lines
    h.stop()
    entry = otadata.OtaEntry.from_bytes((flash / "hushsel.bin").read_bytes()[:32])
    assert (entry.seq, otadata.STATE_NAMES[entry.state]) == (1, "VALID")
    assert fsslots.parse_label(entry.label)[0] == hashlib.sha256((flash / "hush_0.bin").read_bytes()).digest()[:12]
    assert (flash / "hush_0.bin").read_bytes() == parts["hush_0"]  # mounted read-only: not a byte changed


def test_deploy_to_a_board_on_a_pty_then_it_boots(lab, tmp_path):
    """`hushctl deploy` to the unix port on a pseudo-terminal (its working
    directory is the board's filesystem): it learns the release and
    architecture from the board, copies, checks every SHA-256 on the board,
    removes a stale module that would shadow the new one; the handset then
    boots from what was deployed, and nothing else, to a registered state."""
    from tests.support.pty_board import micropython_on_a_pty

    flash = tmp_path / "board-fs"
    stale = flash / "lib" / "hushphone" / "old_module.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("raise ImportError('stale')\n")
    (flash / "contacts.vcf").write_text("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Kept\r\nEND:VCARD\r\n")
    with micropython_on_a_pty(flash, {"MICROPYPATH": ".frozen"}) as port:
        result = ok(hushctl("deploy", "--port", port, "--board", "sim"))
    assert "SHA-256 of all" in result.stdout and "removed 1 old" in result.stdout, result.stdout
    manifest = json.loads((flash / fsimage.MANIFEST_NAME).read_text())
    for path, digest in manifest["files"].items():
        assert hashlib.sha256((flash / path).read_bytes()).hexdigest() == digest, path
    assert not stale.exists() and (flash / "contacts.vcf").exists()  # the handset's data stays
    assert manifest["arch"] == "x64" and manifest["micropython"] == unix_port_release()
    h = lab.handset("bob", boot={"firmware_dir": flash})
    assert h.wait_event("registered", WAIT_S)["event"] == "registered"
    assert "hushphone: board sim" in h.lines


def test_deploy_bad_input_is_one_line_and_writes_nothing(tmp_path):
    from tests.host.provision_helpers import one_line_error
    from tests.support.pty_board import micropython_on_a_pty

    one_line_error(hushctl("deploy", "--port", tmp_path / "no-such-port", "--board", "sim"), "cannot open")
    flash = tmp_path / "board-fs"
    flash.mkdir()
    with micropython_on_a_pty(flash, {"MICROPYPATH": ".frozen"}) as port:
        # An ESP32 board's firmware is not for the unix port.
        one_line_error(hushctl("deploy", "--port", port, "--board", "lyrat-v4.3"), "runs MicroPython for linux")
        one_line_error(hushctl("deploy", "--port", port, "--board", "no-such-board"), "unknown board")
    assert list(flash.iterdir()) == []


def test_signed_update_of_the_firmware_image_then_it_boots(built, lab, tmp_path):
    """A signed `fs` bundle of a new firmware image goes into hush_1 through
    the firmware's own updater on the unix port (tests/sim/fs_ota_handset.py:
    verify, write, reset, mount, confirm); the loader then mounts hush_1 and
    the phone registers from it."""
    from hushctl import ota_sign
    from tests.sim.ota_sim import CHIP, EXPIRES, RELEASED, Signer, parse_events, provision_trust
    from tests.support.runtimes import micropython_env

    layout = fsimage.stock_layout(boards.get_board("sim"))
    code = (built / "hush.bin").read_bytes()
    parts = fsimage.factory_partitions((built / "vfs.bin").read_bytes(), code, layout)
    root = tmp_path / "handset"
    flash = fsimage.write_sim_flash(parts, layout, root / "flash")
    signer = Signer(tmp_path / "keys")
    (root / "config.json").write_text(json.dumps({"board": "sim", "chip": CHIP, "now": RELEASED + 86400}))
    provision_trust(root, signer)
    files = fsimage.read_image(code)
    files["release.txt"] = b"2.0.0\n"
    new_image, _ = fsimage.pack(files, len(code))
    bundle = tmp_path / "fw-2.hushota"
    bundle.write_bytes(ota_sign.build_fs_bundle(new_image, [str(signer.key_path)], ["sim"], CHIP, "2.0.0", 1,
                                                released=RELEASED, expires=EXPIRES))
    proc = subprocess.run([micropython_exe(), str(REPO / "tests" / "sim" / "fs_ota_handset.py"), str(root), "install",
                           str(bundle)], env=micropython_env(), cwd=str(REPO), capture_output=True, text=True,
                          timeout=300)
    done = parse_events(proc.stdout)[-1]
    assert (done["status"], done["slot"], done["installed"], done["confirmed"]) == ("updated", 1, "2.0.0", True), \
        proc.stdout + proc.stderr
    _, signed = ota_sign.split_bundle(bundle.read_bytes())
    assert (flash / "hush_1.bin").read_bytes() == signed  # the signed image, byte for byte
    h = lab.handset("carol", boot={"flash": flash})
    assert h.wait_event("registered", WAIT_S)["event"] == "registered"
    assert "hushboot: firmware image from hush_1" in h.lines


def test_fleet_push_updates_a_stock_handset_through_its_code_slots(built, tmp_path):
    """A handset on stock MicroPython (the factory app below, the firmware
    booted by the hushboot loader from a code slot of the built image) runs
    the update agent from its own main.py. Refused without a byte in the
    running slot or the selection changed: an app bundle (wrong kind) and
    an fs bundle signed by a key the handset does not trust. Then `hushctl
    fleet push` of a signed fs bundle installs it into hush_1; the handset
    resets (the launcher starts main.py through the loader again), boots
    hush_1, passes its self-test and confirms the image (not the factory
    app, which ESP-IDF refuses to mark), and the push reports it confirmed,
    on the new version, with the loader's rollback."""
    import sys

    from hushctl import fleet, ota_sign
    from hushctl.lab import free_tcp_port
    from hushctl.sim import SimHandset, write_config
    from hushphone.ota import fsslots, otadata
    from tests.sim.ota_sim import CHIP, EXPIRES, RELEASED, Signer, provision_trust
    from tests.sim.pki import TestPki

    layout = fsimage.stock_layout(boards.get_board("sim"))
    code = (built / "hush.bin").read_bytes()
    root = tmp_path / "handset"
    flash = fsimage.write_sim_flash(fsimage.factory_partitions((built / "vfs.bin").read_bytes(), code, layout),
                                    layout, root / "flash")
    signer, stranger = Signer(tmp_path / "keys"), Signer(tmp_path / "stranger")
    provision_trust(root, signer)
    files = fsimage.read_image(code)
    files["release.txt"] = b"2.0.0\n"
    new_image, _ = fsimage.pack(files, len(code))

    def fs_bundle(name, key):
        path = tmp_path / name
        path.write_bytes(ota_sign.build_fs_bundle(new_image, [str(key.key_path)], ["sim"], CHIP, "2.0.0", 1,
                                                  released=RELEASED, expires=EXPIRES))
        return path

    good, untrusted = fs_bundle("fw-2.hushota", signer), fs_bundle("stranger.hushota", stranger)
    app_bundle = signer.bundle("app.hushota", "2.0.0", 1, 8 * 1024, boards=("sim",))
    pki = TestPki(tmp_path / "fleet-pki")
    port = free_tcp_port()
    config = write_config(tmp_path / "phone.json", {
        "name": "stock", "root": str(root), "account": {"registrar": "sip:nobody.invalid", "user": "stock"},
        "proxy_host": "127.0.0.1", "proxy_port": free_tcp_port(), "ca_der": [],  # no registrar: not needed here
        "tls_cert_der": str(pki.server.cert_der), "tls_key_der": str(pki.server.key_der),
        "fleet_ca_der": str(pki.ca.cert_der), "ota_port": port, "ota_board": "sim", "chip": CHIP})
    h = SimHandset(config, flash=flash)
    try:
        boot = h.wait_event("boot", WAIT_S)
        assert (boot["image"], boot["state"], boot["confirmed"], boot["slot"]) == ("fs", "VALID", True, "hush_0"), boot
        assert h.wait_event("ota_agent", WAIT_S)["listening"] is True
        tech = pki.client("technician")
        ctx = fleet.client_context(str(tech.cert_pem), str(tech.key_pem), str(pki.ca.cert_pem))
        target = fleet.parse_target("127.0.0.1:%d" % port)
        before = {n: (flash / (n + ".bin")).read_bytes() for n in ("hushsel", "hush_0")}
        refused = [fleet.push(str(b), [target], ctx)[0] for b in (app_bundle, untrusted)]
        assert [(r.status, r.reason) for r in refused] == [("refused", "kind"), ("refused", "untrusted-key")], \
            [r.as_dict() for r in refused]
        assert "this handset installs fs images" in refused[0].message
        assert {n: (flash / (n + ".bin")).read_bytes() for n in before} == before  # the running slot untouched
        assert h.resets == 0 and not h.find_events("ota_installed")

        push = subprocess.run([sys.executable, "-m", "hushctl", "fleet", "push", str(good), "--to", target.address,
                               "--cert", str(tech.cert_pem), "--key", str(tech.key_pem), "--ca", str(pki.ca.cert_pem),
                               "--json", "--wait-boot", "60"], cwd=str(REPO), capture_output=True, text=True,
                              timeout=180)
        assert push.returncode == 0, push.stdout + push.stderr
        (r,) = json.loads(push.stdout)
        assert (r["status"], r["version"], r["confirmed"], r["rollback"]) == ("updated", "2.0.0", True, "yes"), r
        assert (r["boot"]["image"], r["boot"]["state"], r["boot"]["self_test"]) == ("fs", "PENDING_VERIFY", "passed")
        new_boot = h.wait_event("boot", WAIT_S, count=2)
        assert (new_boot["version"], new_boot["slot"], new_boot["confirmed"]) == ("2.0.0", "hush_1", True), new_boot
        assert h.resets == 1 and "hushboot: firmware image from hush_1" in h.lines
        assert any("firmware image confirmed" in line for line in h.lines)
    finally:
        h.stop()
    _, signed = ota_sign.split_bundle(good.read_bytes())
    assert (flash / "hush_1.bin").read_bytes()[:len(signed)] == signed
    assert (flash / "hush_0.bin").read_bytes() == before["hush_0"]  # the old image stays for a rollback
    # The selection as the loader reads it at the next reset: hush_1, confirmed.
    entries = [otadata.OtaEntry.from_bytes((flash / "hushsel.bin").read_bytes()[i * 4096:i * 4096 + 32])
               for i in (0, 1)]
    active = entries[otadata.active_index(entries)]
    assert (active.slot(len(fsslots.SLOT_LABELS)), otadata.STATE_NAMES[active.state]) == (1, "VALID")


# A board whose filesystem is small: a 256 KiB LittleFS2 in RAM, made the
# working directory before the REPL starts (as a stock ESP32 with a small
# vfs partition), holding one file of the handset's.
_SMALL_BOARD = """import os, vfs
class RamBlocks:
    def __init__(self, n):
        self.data = bytearray(n * 4096)
    def readblocks(self, b, buf, off=0):
        buf[:] = self.data[b * 4096 + off:b * 4096 + off + len(buf)]
    def writeblocks(self, b, buf, off=0):
        self.data[b * 4096 + off:b * 4096 + off + len(buf)] = buf
    def ioctl(self, op, arg):
        return 64 if op == 4 else 4096 if op == 5 else 0
_dev = RamBlocks(64)
vfs.VfsLfs2.mkfs(_dev)
vfs.mount(vfs.VfsLfs2(_dev), '/ram')
os.chdir('/ram')
with open('contacts.vcf', 'w') as f:
    f.write('kept')
"""


def test_deploy_refuses_a_filesystem_too_small_and_changes_nothing(tmp_path):
    import ast

    from mpremote.transport_serial import SerialTransport

    from tests.host.provision_helpers import one_line_error
    from tests.support.pty_board import micropython_on_a_pty

    (tmp_path / "small.py").write_text(_SMALL_BOARD)
    with micropython_on_a_pty(tmp_path, {"MICROPYPATH": ".frozen"}, ["-i", str(tmp_path / "small.py")]) as port:
        one_line_error(hushctl("deploy", "--port", port, "--board", "sim"), "filesystem has", "nothing was changed")
        t = SerialTransport(port)
        try:
            t.enter_raw_repl(soft_reset=False)
            listing = ast.literal_eval(t.exec("import os\nprint(sorted(os.listdir('.')))").decode())
        finally:
            t.close()
    assert listing == ["contacts.vcf"]


def test_the_heap_of_an_esp32_without_psram_cannot_boot_it(built, lab, tmp_path):
    """Why such a board is refused: code imported from a filesystem lives in
    the heap, and with the 110 KiB an ESP32 without PSRAM has free the
    firmware does not even get through its imports (the unix port is
    64-bit, so this overstates the need; tools/stock_heap.py measures it)."""
    from hushctl.sim import SimError

    layout = fsimage.stock_layout(boards.get_board("sim"))
    parts = fsimage.factory_partitions((built / "vfs.bin").read_bytes(), (built / "hush.bin").read_bytes(), layout)
    flash = fsimage.write_sim_flash(parts, layout, tmp_path / "flash")
    h = lab.handset("dave", register=False, boot={"flash": flash, "heapsize": "110K"})
    with pytest.raises(SimError, match="exited"):
        h.wait_event("registered", WAIT_S)
    assert any("MemoryError" in line for line in h.lines), h.lines[-10:]
