"""Signed updates of a filesystem image (manifest kind "fs", the stock
MicroPython path) on the MicroPython unix port: the handset process is
killed (SIGKILL, no cleanup) at every flash operation of install + reset +
mount + confirm; the next reset always mounts a complete signed image, the
old or the new one, byte for byte what was signed. Wrong kind, board,
expiry and downgrade are refused before a byte is written."""
import hashlib
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hushctl import fsimage, ota_sign
from tests.sim.ota_sim import BOARD, CHIP, EXPIRES, RELEASED, Signer, parse_events, provision_trust
from tests.support.runtimes import REPO, micropython_env, micropython_exe

HANDSET = REPO / "tests" / "sim" / "fs_ota_handset.py"
SLOT = 48 * 1024


def fs_image(version):
    """A LittleFS2 image that fills a slot with its signature sector."""
    image, _ = fsimage.pack({"version.txt": version.encode(), "lib/x.py": b"# " + b"x" * 9000},
                            SLOT - 4096)
    return image


def run(root, *args, check=True):
    proc = subprocess.run([micropython_exe(), str(HANDSET), str(root), *map(str, args)], env=micropython_env(),
                          cwd=str(REPO), capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.returncode, parse_events(proc.stdout)


@pytest.fixture(scope="module")
def handset(tmp_path_factory):
    from hushphone.ota import fsslots, otadata

    tmp = tmp_path_factory.mktemp("fs-ota")
    signer = Signer(tmp / "keys")
    key = ota_sign.load_private_key(str(signer.key_path))
    old = ota_sign.sign_data(fs_image("1.0.0"), [key])
    assert len(old) == SLOT
    root = tmp / "base"
    (root / "flash").mkdir(parents=True)
    (root / "flash" / "hush_0.bin").write_bytes(old)  # the factory image, confirmed
    (root / "flash" / "hush_1.bin").write_bytes(b"\xff" * SLOT)
    entry = otadata.OtaEntry(1, otadata.STATE_VALID, label=fsslots.image_label(hashlib.sha256(old).digest(),
                                                                                 SLOT // 4096, 1))
    (root / "flash" / "hushsel.bin").write_bytes(bytes(fsslots.entry_sector(entry, "1.0.0")) + b"\xff" * 4096)
    (root / "config.json").write_text(json.dumps({"board": BOARD, "chip": CHIP, "now": RELEASED + 86400}))
    provision_trust(root, signer)

    def bundle(name, version, secure_version, **kw):
        data = ota_sign.build_fs_bundle(fs_image(version), [str(signer.key_path)], kw.pop("boards", [BOARD]), CHIP,
                                        version, secure_version, released=RELEASED, expires=kw.pop("expires", EXPIRES))
        (tmp / name).write_bytes(data)
        return tmp / name

    return tmp, root, old, bundle


def copy(root, dst):
    import shutil

    shutil.copytree(root, dst)
    return Path(dst)


def test_power_cut_at_every_flash_operation(handset):
    tmp, base, old, bundle = handset
    new_bundle = bundle("v2.hushota", "1.1.0", 2)
    _, signed_new = ota_sign.split_bundle(new_bundle.read_bytes())
    want = {hashlib.sha256(old).hexdigest(): "1.0.0", hashlib.sha256(signed_new).hexdigest(): "1.1.0"}

    _, events = run(copy(base, tmp / "probe"), "install", new_bundle)
    done = events[-1]
    assert (done["status"], done["slot"], done["version"], done["confirmed"]) == ("updated", 1, "1.1.0", True), done
    assert done["installed"] == "1.1.0" and done["state"] == "PENDING_VERIFY"  # as mounted, before confirm
    assert done["recorded"] == "1.1.0"  # the version the entry's sector records
    assert done["service"] == {"version": "1.1.0", "secure_version": 2, "board": BOARD, "chip": CHIP, "kind": "fs",
                               "slot": "hush_1"}
    total = done["ops"]
    assert total >= 12, done

    def cut(n):
        root = copy(base, tmp / ("cut%03d" % n))
        rc, _ = run(root, "install", new_bundle, "--cut-after", n, check=False)
        assert rc == -9, "not killed at its power cut %d: rc %s" % (n, rc)
        return run(root, "check")[1][-1]

    with ThreadPoolExecutor(2) as pool:
        booted = list(pool.map(cut, range(1, total + 1)))
    for n, b in enumerate(booted, 1):
        # A complete signed image, its files readable from the mount.
        assert b["slot"] in (0, 1) and want.get(b["sha256"]) == b["version"], (n, b)
    versions = [b["version"] for b in booted]
    assert versions[0] == "1.0.0" and versions[-1] == "1.1.0", versions  # both outcomes happen


def test_refusals_write_nothing(handset):
    tmp, base, _, bundle = handset
    app_bundle = Signer(tmp / "other").bundle("app.hushota", "1.1.0", 2, 8 * 1024)
    cases = {
        "board": bundle("board.hushota", "1.1.0", 2, boards=["audiokit-a1s"]),
        "expired": bundle("expired.hushota", "1.1.0", 2, expires=RELEASED + 3600),
        "downgrade": bundle("down.hushota", "0.9.0", 0),
        "already-current": bundle("same.hushota", "1.0.0", 1),
        "untrusted-key": app_bundle,
    }
    for reason, path in cases.items():
        root = copy(base, tmp / ("refused-" + reason))
        before = [(root / "flash" / n).read_bytes() for n in ("hushsel.bin", "hush_1.bin")]
        _, events = run(root, "install", path)
        assert (events[-1]["status"], events[-1]["reason"]) == ("refused", reason), events
        assert [(root / "flash" / n).read_bytes() for n in ("hushsel.bin", "hush_1.bin")] == before


def test_an_app_bundle_is_not_a_filesystem_update(handset, tmp_path):
    """Signed by a trusted key but of the wrong kind: refused by kind."""
    from hushctl import appimage

    tmp, base, _, _ = handset
    key = tmp / "keys" / "signing.pem"
    data = ota_sign.build_bundle(appimage.build_app_image(CHIP, "1.1.0", 2, "hushphone", 8 * 1024), [str(key)],
                                 [BOARD], CHIP, released=RELEASED, expires=EXPIRES)
    (tmp_path / "app.hushota").write_bytes(data)
    root = copy(base, tmp_path / "h")
    _, events = run(root, "install", tmp_path / "app.hushota")
    assert (events[-1]["status"], events[-1]["reason"]) == ("refused", "kind"), events
