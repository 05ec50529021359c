"""Secure Boot V2 compatibility with the real `espsecure` both ways: what
hushctl signs passes `espsecure verify-signature --version 2`, what espsecure
signs passes `hushctl ota verify`, and the key digests agree. Generated
images and a real MicroPython ESP32 application image."""
import json

import pytest

from hushctl import appimage, ota_sign
from tests.host.fixtures.ota_fixtures import espsecure, hushctl, ota_keys, real_app_image  # noqa: F401
from tests.support.runtimes import run_micropython

# chip -> keys to sign with; esp32c5 accepts RSA-3072, P-256 and P-384.
CASES = {
    "rsa-1": ("esp32s3", ["rsa1"]),
    "rsa-3": ("esp32s3", ["rsa1", "rsa2", "rsa3"]),
    "p256-1": ("esp32c6", ["p256_1"]),
    "p256-3": ("esp32c6", ["p256_1", "p256_2", "p256_3"]),
    "p384-1": ("esp32c5", ["p384_1"]),
    "mixed-3": ("esp32c5", ["rsa1", "p256_1", "p384_1"]),
}


# A key of the same scheme that did not sign, for the single-key cases.
STRANGERS = {"rsa-1": "rsa2", "p256-1": "p256_2"}


def _espsecure_verifies(key_file, data_file):
    result = espsecure("verify-signature", "--version", "2", "--keyfile", key_file, data_file, check=False)
    return result.returncode == 0 and "verification successful" in result.stdout


@pytest.mark.parametrize("case", sorted(CASES))
def test_hushctl_signatures_pass_espsecure(case, ota_keys, tmp_path):
    chip, names = CASES[case]
    app = tmp_path / "app.bin"
    app.write_bytes(appimage.build_app_image(chip, "3.1.0", 2, "hushphone", 20000))
    bundle, signed = tmp_path / "r.hushota", tmp_path / "app.signed.bin"
    keys = [a for n in names for a in ("--key", ota_keys.private(n))]
    res = hushctl("ota", "sign", "--image", app, "--chip", chip, "--board", "b1", *keys, "--out", bundle,
                  "--out-image", signed)
    assert res.returncode == 0, res.stderr
    signed_manifest, image = ota_sign.split_bundle(bundle.read_bytes())
    assert image == signed.read_bytes()
    manifest_file = tmp_path / "manifest.signed"
    manifest_file.write_bytes(signed_manifest)
    # espsecure reads the same key digests out of the blocks (and checks
    # each block's image digest, SHA-384 for P-384).
    for data_file in (signed, manifest_file):
        info = espsecure("signature-info-v2", data_file).stdout.replace(" ", "")
        for n in names:
            assert ota_keys.digest(n).hex() in info
    if case.startswith("mixed"):
        # espsecure verify-signature cannot check mixed-scheme sectors: it
        # applies the given key's scheme to every block and crashes
        # (ValueError/AssertionError) on the others. signature-info-v2 above
        # and `hushctl ota verify` below still cover them.
        res = hushctl("ota", "verify", bundle, *[a for n in names for a in ("--trust", ota_keys.public(n))],
                      "--chip", chip, "--board", "b1")
        assert res.returncode == 0, res.stdout + res.stderr
        return
    for n in names:
        assert _espsecure_verifies(ota_keys.public(n), signed), n
    assert _espsecure_verifies(ota_keys.public(names[-1]), manifest_file)
    # A key that did not sign is refused by espsecure too (the check can fail).
    stranger = STRANGERS.get(case)
    if stranger:
        assert not _espsecure_verifies(ota_keys.public(stranger), signed)


@pytest.mark.parametrize("case", sorted(CASES))
def test_espsecure_signatures_pass_hushctl(case, ota_keys, tmp_path):
    chip, names = CASES[case]
    app = tmp_path / "app.bin"
    app.write_bytes(appimage.build_app_image(chip, "3.1.0", 2, "hushphone", 20000))
    signed = tmp_path / "app.signed.bin"
    keyfiles = [str(ota_keys.private(n)) for n in names]
    espsecure("sign-data", "--version", "2", "--keyfile", *keyfiles, "--output", signed, app)
    trust = [a for n in names for a in ("--trust", ota_keys.public(n))]
    res = hushctl("ota", "verify", signed, *trust, "--chip", chip, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["ok"] and report["kind"] == "image"
    # Trusting by espsecure's digest alone works the same...
    res = hushctl("ota", "verify", signed, "--trust-digest", ota_keys.digest(names[-1]).hex(), "--chip", chip)
    assert res.returncode == 0, res.stdout + res.stderr
    # ...and revoking that only trusted key refuses the image.
    res = hushctl("ota", "verify", signed, "--trust-digest", ota_keys.digest(names[-1]).hex(), "--revoke", "0")
    assert res.returncode == 1 and "revoked-key" in res.stderr


def test_key_digests_agree_with_espsecure(ota_keys, tmp_path):
    app = tmp_path / "app.bin"
    app.write_bytes(appimage.build_app_image("esp32c5", "1.0", 1, "hushphone", 1000))
    names = ["rsa1", "p256_1", "p384_1"]
    keys = [a for n in names for a in ("--key", ota_keys.private(n))]
    signed = tmp_path / "s.bin"
    assert hushctl("ota", "sign", "--image", app, *keys, "--out-image", signed).returncode == 0
    report = json.loads(hushctl("ota", "inspect", signed, "--json").stdout)
    blocks = report["image"]["signature"]["blocks"]
    for n, block in zip(names, blocks):
        expected = ota_keys.digest(n)
        assert block["key_digest"] == expected.hex()
        assert block["verifies"] is True
        assert ota_sign.key_digest(ota_sign.load_public_key(str(ota_keys.public(n)))) == expected
    assert [b["scheme"] for b in blocks] == ["rsa3072", "ecdsa256", "ecdsa384"]


def test_real_micropython_app_both_ways(ota_keys, real_app_image, tmp_path):
    app = tmp_path / "micropython.bin"
    app.write_bytes(real_app_image)
    info = json.loads(hushctl("ota", "inspect", app, "--json").stdout)["image"]
    assert info["app"]["idf_version"] == "v4.2" and info["header"]["chip"] == "esp32"
    assert len(info["header"]["segments"]) == 8 and not info["signature"]["signed"]
    # hushctl signs -> espsecure verifies
    bundle, signed = tmp_path / "mp.hushota", tmp_path / "mp.signed.bin"
    res = hushctl("ota", "sign", "--image", app, "--chip", "esp32", "--board", "etboard", "--key",
                  ota_keys.private("rsa1"), "--out", bundle, "--out-image", signed, in_process=False)
    assert res.returncode == 0, res.stderr
    assert _espsecure_verifies(ota_keys.public("rsa1"), signed)
    assert not _espsecure_verifies(ota_keys.public("rsa2"), signed)
    # espsecure signs -> hushctl verifies
    es_signed = tmp_path / "mp.es.bin"
    espsecure("sign-data", "--version", "2", "--keyfile", ota_keys.private("rsa2"), "--output", es_signed, app)
    res = hushctl("ota", "verify", es_signed, "--trust", ota_keys.public("rsa2"), "--chip", "esp32", in_process=False)
    assert res.returncode == 0, res.stdout + res.stderr
    res = hushctl("ota", "verify", bundle, "--trust", ota_keys.public("rsa1"), "--chip", "esp32", "--board", "etboard")
    assert res.returncode == 0 and "VERIFIED" in res.stdout, res.stdout + res.stderr


def test_handset_verifier_on_micropython_accepts_real_app_bundle(ota_keys, real_app_image, tmp_path):
    """The MicroPython unix port runs the handset's verifier over a bundle of
    the real 1.4 MB application, streamed in 4 KiB reads."""
    bundle = tmp_path / "mp.hushota"
    bundle.write_bytes(ota_sign.build_bundle(real_app_image, [str(ota_keys.private("rsa1"))], ["etboard"], "esp32"))
    tampered = bytearray(bundle.read_bytes())
    tampered[len(tampered) // 2] ^= 0x10
    (tmp_path / "bad.hushota").write_bytes(tampered)
    script = tmp_path / "verify_on_handset.py"
    script.write_text(
        "import binascii, time\n"
        "from hushphone.ota import OtaRejected, bundle\n"
        "from hushphone.ota.verifier import UpdateVerifier\n"
        "for name in ('mp.hushota', 'bad.hushota'):\n"
        "    v = UpdateVerifier([binascii.unhexlify('%s')], board='etboard', chip='esp32', now=time.time())\n"
        "    with open('%s/' + name, 'rb') as f:\n"
        "        try:\n"
        "            r = bundle.verify_bundle(v, f.read, 4096)\n"
        "            print(name, 'OK', r.image_sha256)\n"
        "        except OtaRejected as e:\n"
        "            print(name, 'REJECTED', e.reason)\n" % (ota_keys.digest("rsa1").hex(), tmp_path)
    )
    result = run_micropython([str(script)], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    image = ota_sign.split_bundle(bundle.read_bytes())[1]
    import hashlib

    assert "mp.hushota OK %s" % hashlib.sha256(image).hexdigest() in result.stdout
    assert "bad.hushota REJECTED digest" in result.stdout
