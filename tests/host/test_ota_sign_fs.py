"""`hushctl ota sign --fs-image`: a signed update of kind "fs" from the
firmware image `hushctl firmware build` makes, signed with the maker's OTA
key (passphrase-protected, from `hushctl keys init`); `ota verify` runs the
handset's verifier on it, `ota inspect` shows it; bad input is one line."""
import json

import pytest

from tests.host.provision_helpers import hushctl, ok, one_line_error, passphrase_file


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    from hushctl import fsimage

    base = tmp_path_factory.mktemp("fs-sign")
    pw = passphrase_file(base)
    ok(hushctl("keys", "init", base / "k", "--passphrase-file", pw))
    image, _ = fsimage.pack({"main.py": b"print('hi')\n", "lib/x.mpy": b"M\x06" + b"\x00" * 5000}, 64 * 1024)
    (base / "hush.bin").write_bytes(image)
    return base, pw


def sign(base, pw, *extra):
    return hushctl("ota", "sign", "--board", "lyrat-v4.3", "--chip", "esp32", "--key", base / "k" / "ota-signing-0.pem",
                   "--passphrase-file", pw, *extra)


def test_sign_verify_inspect_a_filesystem_image(made):
    base, pw = made
    out = base / "fw.hushota"
    result = ok(sign(base, pw, "--fs-image", base / "hush.bin", "--version", "1.5.0", "--secure-version", "3",
                     "--out", out))
    assert "filesystem image 1.5.0 (secure_version 3)" in result.stdout
    report = json.loads(ok(hushctl("ota", "verify", out, "--trust", base / "k" / "ota-signing-0.pub.pem", "--board",
                                   "lyrat-v4.3", "--chip", "esp32", "--json")).stdout)
    assert report["ok"] is True, report
    names = [c["name"] for c in report["checks"] if c["ok"]]
    assert "image-filesystem" in names and "image-signature" in names and "manifest-signature" in names
    inspect = json.loads(ok(hushctl("ota", "inspect", out, "--json")).stdout)
    assert inspect["manifest"]["kind"] == "fs" and inspect["manifest"]["secure_version"] == 3
    assert inspect["image"]["filesystem"] == "LittleFS2" and inspect["image"]["signature"]["signed"] is True
    assert inspect["image"]["size"] == 64 * 1024 + 4096
    # A handset on another board refuses it like an app update.
    bad = json.loads(hushctl("ota", "verify", out, "--trust", base / "k" / "ota-signing-0.pub.pem", "--board",
                             "audiokit-a1s", "--json").stdout)
    assert bad["ok"] is False and bad["reason"] == "board"


def test_bad_input(made, tmp_path):
    base, pw = made
    (tmp_path / "not-fs.bin").write_bytes(b"\x00" * 8192)
    out = tmp_path / "x.hushota"
    cases = [
        (sign(base, pw, "--fs-image", tmp_path / "not-fs.bin", "--version", "1", "--secure-version", "1", "--out", out),
         "LittleFS2"),
        (sign(base, pw, "--fs-image", base / "hush.bin", "--out", out), "--version and --secure-version"),
        (sign(base, pw, "--fs-image", base / "hush.bin", "--image", base / "hush.bin", "--out", out), "one of --image"),
        (sign(base, pw, "--fs-image", tmp_path / "missing.bin", "--version", "1", "--secure-version", "1",
              "--out", out), "cannot read"),
    ]
    for result, fragment in cases:
        one_line_error(result, fragment)
    assert not out.exists()
