"""Regenerates the signed OTA fixtures the tests/core OTA tests read (on
both runtimes; MicroPython cannot run espsecure, so they are committed).

Run from the repository root: .venv/bin/python tests/core/data/ota/regenerate.py
Fresh throw-away keys are made by `espsecure generate-signing-key` on every
run and deleted afterwards (the tests need only their key digests, which
`espsecure digest-sbv2-public-key` computes and fixtures.json records).
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
KEYS = {"rsa_a": "rsa3072", "rsa_b": "rsa3072", "p256_a": "ecdsa256", "p384_a": "ecdsa384"}
BOARD = "lyrat-v4.3"
RELEASED = 1790000000
EXPIRES = RELEASED + 90 * 86400
PAYLOAD = 5000  # a 12 KiB signed image: 8 KiB padded app + 4 KiB signature sector

# name: (chip, version, secure_version, signing keys, manifest overrides)
BUNDLES = {
    "rsa": ("esp32s3", "1.4.0", 3, ["rsa_a"], {}),
    "p256": ("esp32c6", "1.4.0", 3, ["p256_a"], {}),
    "p384": ("esp32c5", "1.4.0", 3, ["p384_a"], {}),
    "three": ("esp32c6", "1.5.0", 4, ["rsa_a", "p256_a", "rsa_b"], {}),
    # Correctly signed manifests that lie about the image they carry.
    "chip-lie": ("esp32c6", "1.4.0", 3, ["rsa_a"], {"chip": "esp32s3"}),
    "version-lie": ("esp32s3", "1.4.0", 3, ["rsa_a"], {"secure_version": 5}),
}


KEY_DIR = None  # a temporary directory while main() runs


def key_path(name):
    return KEY_DIR / ("%s.pem" % name)


def make_keys():
    for name, scheme in KEYS.items():
        subprocess.run([str(BIN / "espsecure"), "generate-signing-key", "--version", "2", "--scheme", scheme,
                        str(key_path(name))], check=True, capture_output=True)


def espsecure_digest(name):
    out = KEY_DIR / ("%s.digest" % name)
    subprocess.run([str(BIN / "espsecure"), "digest-sbv2-public-key", "--keyfile", str(key_path(name)),
                    "--output", str(out)], check=True, capture_output=True)
    return out.read_bytes().hex()


def make_bundle(chip, version, secure_version, key_names, overrides):
    from hushctl import appimage, ota_sign
    from hushphone.ota import manifest

    keys = [ota_sign.load_private_key(str(key_path(k))) for k in key_names]
    image = appimage.build_app_image(chip, version, secure_version, "hushphone", PAYLOAD)
    signed_image = ota_sign.sign_data(image, keys)
    fields = ota_sign.manifest_fields(signed_image, [BOARD], chip, released=RELEASED, expires=EXPIRES)
    fields.update(overrides)
    signed_manifest = ota_sign.sign_data(manifest.encode(fields), keys)
    return ota_sign.assemble_bundle(signed_manifest, signed_image), fields


def main():
    global KEY_DIR
    with tempfile.TemporaryDirectory() as tmp:
        KEY_DIR = Path(tmp)
        make_keys()
        write_fixtures()


def write_fixtures():
    meta = {"board": BOARD, "released": RELEASED, "expires": EXPIRES,
            "key_digests": {name: espsecure_digest(name) for name in KEYS}, "bundles": {}}
    for name, (chip, version, sv, key_names, overrides) in BUNDLES.items():
        data, fields = make_bundle(chip, version, sv, key_names, overrides)
        (HERE / ("%s.hushota" % name)).write_bytes(data)
        meta["bundles"][name] = {"keys": key_names, "chip": chip, "version": version, "secure_version": sv,
                                 "image_size": fields["image_size"], "size": len(data)}
    (HERE / "fixtures.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
