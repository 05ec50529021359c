"""`hushctl ota sign|verify|inspect` and the ota_sign library: signing with
local, passphrase-protected and external (openssl as the HSM) keys, refusals
with their reasons and exit codes, and no secrets in the output."""
import json
import subprocess

import pytest

from hushctl import appimage, ota_sign
from hushctl.cli import main
from tests.host.fixtures.ota_fixtures import espsecure, ota_keys  # noqa: F401

BOARD = "lyrat-v4.3"
CHIP = "esp32s3"
RELEASED = 1790000000


def run(capsys, *args):
    """hushctl in-process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "app.bin"
    path.write_bytes(appimage.build_app_image(CHIP, "2.3.0", 5, "hushphone", 6000))
    return path


@pytest.fixture
def release(app, ota_keys, tmp_path, capsys):
    out = tmp_path / "release.hushota"
    code, _o, err = run(capsys, "ota", "sign", "--image", app, "--board", BOARD, "--chip", CHIP, "--key",
                        ota_keys.private("rsa1"), "--released", RELEASED, "--expires-days", 30, "--out", out)
    assert code == 0, err
    return out


def verify_args(path, ota_keys, *extra):
    return ("ota", "verify", path, "--trust", ota_keys.public("rsa1"), "--board", BOARD, "--chip", CHIP,
            "--now", RELEASED + 60, *extra)


def test_sign_then_verify_reads_versions_from_the_image(release, ota_keys, capsys):
    code, out, err = run(capsys, *verify_args(release, ota_keys, "--json"))
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] and report["kind"] == "bundle"
    assert all(c["ok"] for c in report["checks"])
    fields = ota_sign.inspect_file(release)["manifest"]
    assert (fields["version"], fields["secure_version"], fields["boards"]) == ("2.3.0", 5, [BOARD])
    assert fields["expires"] - fields["released"] == 30 * 86400


@pytest.mark.parametrize("args, reason", [
    (("--trust", "OTHER"), "untrusted-key"),
    (("--revoke", "0"), "revoked-key"),
    (("--min-secure-version", "6"), "downgrade"),
    (("--board", "other-board"), "board"),
    (("--chip", "esp32"), "chip"),
    (("--now", str(RELEASED + 31 * 86400)), "expired"),
])
def test_verify_refusals_name_their_reason(release, ota_keys, capsys, args, reason):
    args = tuple(str(ota_keys.public("rsa2")) if a == "OTHER" else a for a in args)
    base = list(verify_args(release, ota_keys))
    if args[0] in base:  # replace the default value of that option
        i = base.index(args[0])
        base[i + 1] = args[1]
        args = ()
    code, out, err = run(capsys, *base, *args)
    assert code == 1
    assert "REJECTED (%s)" % reason in out
    assert err.strip().startswith("hushctl: error: update rejected (%s)" % reason) and err.count("\n") == 1
    failed = [line for line in out.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and reason in failed[0]


def test_truncated_oversized_and_bad_header(release, ota_keys, capsys, tmp_path):
    data = release.read_bytes()
    cases = {"truncated": data[:-1000], "oversized": data + b"\x00" * 10,
             "malformed": b"HUSHOTA9" + data[8:]}
    for reason, content in cases.items():
        path = tmp_path / ("%s.hushota" % reason)
        path.write_bytes(content)
        code, out, _err = run(capsys, *verify_args(path, ota_keys))
        assert code == 1 and "REJECTED (%s)" % reason in out, out


def test_flipped_bits_across_the_bundle_are_refused(release, ota_keys):
    # Through the library the CLI uses (200 positions; the CLI adds only printing).
    data = release.read_bytes()
    digests, mask = ota_sign.trust_anchors([str(ota_keys.public("rsa1"))])
    step = len(data) // 200
    reasons = set()
    path = release.with_suffix(".flipped")
    for i in range(200):
        pos = i * step + (i * 7919) % step
        flipped = bytearray(data)
        flipped[pos] ^= 1 << (i % 8)
        path.write_bytes(flipped)
        report = ota_sign.verify_file(path, digests, mask, board=BOARD, chip=CHIP, now=RELEASED + 60)
        assert not report["ok"], "flip at %d accepted" % pos
        reasons.add(report["reason"])
    assert {"digest", "signature"} <= reasons


def test_bare_signed_image_checks(app, ota_keys, capsys, tmp_path):
    signed = tmp_path / "app.signed.bin"
    assert run(capsys, "ota", "sign", "--image", app, "--key", ota_keys.private("rsa1"), "--out-image", signed)[0] == 0
    code, out, _e = run(capsys, "ota", "verify", signed, "--trust", ota_keys.public("rsa1"), "--chip", CHIP)
    assert code == 0 and "VERIFIED" in out
    code, out, _e = run(capsys, "ota", "verify", signed, "--trust", ota_keys.public("rsa1"), "--min-secure-version", 9)
    assert code == 1 and "REJECTED (downgrade)" in out
    code, out, _e = run(capsys, "ota", "verify", app, "--trust", ota_keys.public("rsa1"))
    assert code == 1 and "REJECTED" in out  # an unsigned image


def test_sign_refuses_mismatched_versions_and_chip_policy(app, ota_keys, capsys, tmp_path):
    base = ("ota", "sign", "--image", app, "--board", BOARD, "--out", tmp_path / "x.hushota")
    rsa = ("--key", ota_keys.private("rsa1"))
    cases = [
        (("--chip", CHIP, "--version", "9.9.9") + rsa, "does not match the image's app descriptor version 2.3.0"),
        (("--chip", CHIP, "--secure-version", "4") + rsa, "does not match the image's secure_version 5"),
        (("--chip", "esp32c6") + rsa, "image is built for esp32s3, not esp32c6"),
        (("--chip", CHIP, "--key", ota_keys.private("p256_1")), "esp32s3 Secure Boot V2 accepts rsa3072, not ecdsa256"),
        (("--chip", "esp32") + rsa + ("--key", ota_keys.private("rsa2")), "esp32 reads only 1 signature block"),
        (("--chip", CHIP) + rsa * 4, "esp32s3 reads only 3 signature block(s)"),
        (("--chip", CHIP, "--key", "/nonexistent.pem"), "cannot read key /nonexistent.pem"),
    ]
    for extra, message in cases:
        code, _out, err = run(capsys, *base, *extra)
        assert code == 1 and message in err, (extra, err)
        assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.hushota").exists()


def _encrypted_key(ota_keys, tmp_path, passphrase):
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(ota_keys.private("rsa1").read_bytes(), None)
    path = tmp_path / "enc.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(passphrase.encode())))
    return path


def test_passphrase_protected_key(app, ota_keys, capsys, tmp_path, monkeypatch):
    secret = "correct horse battery staple"
    key = _encrypted_key(ota_keys, tmp_path, secret)
    pass_file = tmp_path / "pass.txt"
    pass_file.write_text(secret + "\n")
    out = tmp_path / "r.hushota"
    args = ("ota", "sign", "--image", app, "--board", BOARD, "--chip", CHIP, "--key", key, "--out", out)
    code, o, e = run(capsys, *args)
    assert code == 1 and "is encrypted: give --passphrase-file" in e
    code, o, e = run(capsys, *args, "--passphrase-file", pass_file)
    assert code == 0, e
    assert secret not in o + e
    code, o, e = run(capsys, *verify_args(out, ota_keys))
    assert code == 0
    # The passphrase convention of every hushctl command: HUSHCTL_PASSPHRASE.
    monkeypatch.setenv("HUSHCTL_PASSPHRASE", "wrong passphrase")
    code, o, e = run(capsys, *args)
    assert code == 1 and "wrong passphrase or not a PEM private key" in e and "wrong passphrase\n" not in o
    monkeypatch.setenv("HUSHCTL_PASSPHRASE", secret)
    assert run(capsys, *args)[0] == 0
    # The old variable still works (deprecated), but never wins over the new one.
    monkeypatch.delenv("HUSHCTL_PASSPHRASE")
    monkeypatch.setenv("HUSHCTL_KEY_PASSPHRASE", secret)
    assert run(capsys, *args)[0] == 0
    monkeypatch.setenv("HUSHCTL_PASSPHRASE", "wrong passphrase")
    assert run(capsys, *args)[0] == 1
    binary = tmp_path / "binary-pass"
    binary.write_bytes(b"\xff\xfe\x00secret\n")
    code, o, e = run(capsys, *args, "--passphrase-file", binary)
    assert code == 1 and e.strip() == "hushctl: error: the passphrase file is not UTF-8 text"


def _openssl_sign(key, scheme, data_file, sig_file):
    """The documented HSM-side command (openssl stands in for the HSM)."""
    if scheme == "rsa":
        cmd = ["openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]
    else:
        cmd = ["openssl", "dgst", "-sha256"]
    subprocess.run(cmd + ["-sign", str(key), "-out", str(sig_file), str(data_file)], check=True, timeout=60)


@pytest.mark.parametrize("key_name, scheme, chip", [("rsa1", "rsa", "esp32s3"), ("p256_1", "ec", "esp32c6")])
def test_external_signer_flow(ota_keys, capsys, tmp_path, key_name, scheme, chip):
    app = tmp_path / "app.bin"
    app.write_bytes(appimage.build_app_image(chip, "4.0.0", 1, "hushphone", 3000))
    pub, priv = ota_keys.public(key_name), ota_keys.private(key_name)
    # 1. the data to sign, signed by the "HSM"
    tbs = tmp_path / "app.tbs"
    code, out, err = run(capsys, "ota", "sign", "--image", app, "--emit-tbs", tbs)
    assert code == 0, err
    assert "openssl dgst" in out
    _openssl_sign(priv, scheme, tbs, tmp_path / "img.sig")
    signed = tmp_path / "app.signed.bin"
    code, _o, err = run(capsys, "ota", "sign", "--image", app, "--pub-key", pub, "--signature", tmp_path / "img.sig",
                        "--out-image", signed)
    assert code == 0, err
    # espsecure's own external-signature command makes the very same bytes.
    es_signed = tmp_path / "app.es.bin"
    espsecure("sign-data", "--version", "2", "--pub-key", pub, "--signature", tmp_path / "img.sig",
              "--output", es_signed, tbs)
    assert es_signed.read_bytes() == signed.read_bytes()
    # 2. the manifest to sign, signed by the "HSM"
    mtbs = tmp_path / "manifest.tbs"
    code, _o, err = run(capsys, "ota", "sign", "--image", signed, "--board", BOARD, "--chip", chip, "--emit-tbs", mtbs)
    assert code == 0, err
    _openssl_sign(priv, scheme, mtbs, tmp_path / "man.sig")
    out = tmp_path / "release.hushota"
    code, _o, err = run(capsys, "ota", "sign", "--image", signed, "--manifest", mtbs, "--chip", chip, "--pub-key", pub,
                        "--signature", tmp_path / "man.sig", "--out", out)
    assert code == 0, err
    code, o, err = run(capsys, "ota", "verify", out, "--trust", pub, "--board", BOARD, "--chip", chip)
    assert code == 0 and "VERIFIED" in o, o + err
    # A signature over the wrong data is refused before anything is written.
    code, _o, err = run(capsys, "ota", "sign", "--image", app, "--pub-key", pub, "--signature", tmp_path / "man.sig",
                        "--out-image", tmp_path / "bad.bin")
    assert code == 1 and "signature rejected by espsecure" in err
    assert not (tmp_path / "bad.bin").exists()


def test_inspect_shows_everything(release, capsys):
    code, out, _e = run(capsys, "ota", "inspect", release)
    assert code == 0
    for text in ("manifest (8192 bytes signed)", "lyrat-v4.3", "app descriptor: hushphone 2.3.0, secure_version 5",
                 "chip esp32s3 (id 9)", "rsa3072, key digest", "verifies"):
        assert text in out
    code, out, _e = run(capsys, "ota", "inspect", release, "--json")
    report = json.loads(out)
    assert report["image"]["app"]["idf_version"] == "v5.2.2"
    assert report["manifest_signature"]["blocks"][0]["verifies"] is True


def test_bad_inputs_give_one_line(capsys, tmp_path, ota_keys):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 100)
    for args in (("ota", "inspect", junk), ("ota", "inspect", tmp_path / "missing"),
                 ("ota", "verify", junk, "--trust-digest", "zz"), ("ota", "verify", junk),
                 ("ota", "verify", junk, "--trust-digest", "00" * 32, "--revoke", "3")):
        code, _o, err = run(capsys, *args)
        assert code != 0 and err.startswith("hushctl: error:") and err.count("\n") == 1, (args, err)
