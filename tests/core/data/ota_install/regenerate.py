"""Regenerates the signed OTA fixtures of tests/core/test_ota_*.py (CPython,
with the project's own image builder and espsecure-based signer):

    .venv/bin/python tests/core/data/ota_install/regenerate.py

Fresh RSA-3072 keys are made on every run and thrown away: only the key
digests (trust.json) and the signed files are kept, so no private key is in
the repository. Fixtures (board lyrat-v4.3, chip esp32, released
RELEASED, valid until EXPIRES unless said otherwise):
  factory_v1.bin      signed app 1.0.0, secure_version 1 (flashed in ota_0)
  v2.hushota          1.1.0 / secure_version 2, signed by the trusted key
  v3.hushota          1.2.0 / secure_version 3 (a second update in a row)
  v2_wrong_key.hushota    signed by a key the handset does not trust
  v0_downgrade.hushota    0.9.0 / secure_version 0
  v2_wrong_board.hushota  for board "other-board" only
  v2_expired.hushota      expired at RELEASED + 1
  v2_big.hushota          1.1.0 with a 28 KiB signed image (for a 24 KiB slot)
"""
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
sys.path[:0] = [str(ROOT / "host_tools"), str(ROOT / "firmware" / "lib")]

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from hushctl import ota_sign  # noqa: E402
from hushctl.appimage import build_app_image  # noqa: E402

BOARD = "lyrat-v4.3"
CHIP = "esp32"
RELEASED = 1790000000
EXPIRES = 4102444800  # 2100-01-01
PAYLOAD = 8 * 1024


def write_key(directory, name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    path = Path(directory) / (name + ".pem")
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return key, str(path)


def bundle(key_path, version, secure_version, boards=(BOARD,), released=RELEASED, expires=EXPIRES, payload=PAYLOAD):
    image = build_app_image(CHIP, version, secure_version, "hushphone", payload)
    return ota_sign.build_bundle(image, [key_path], list(boards), CHIP, released=released, expires=expires)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        trusted, trusted_path = write_key(tmp, "trusted")
        rogue, rogue_path = write_key(tmp, "rogue")
        files = {
            "factory_v1.bin": ota_sign.sign_image(build_app_image(CHIP, "1.0.0", 1, "hushphone", PAYLOAD),
                                                  [trusted_path]),
            "v2.hushota": bundle(trusted_path, "1.1.0", 2),
            "v3.hushota": bundle(trusted_path, "1.2.0", 3),
            "v2_wrong_key.hushota": bundle(rogue_path, "1.1.0", 2),
            "v0_downgrade.hushota": bundle(trusted_path, "0.9.0", 0),
            "v2_wrong_board.hushota": bundle(trusted_path, "1.1.0", 2, boards=("other-board",)),
            "v2_expired.hushota": bundle(trusted_path, "1.1.0", 2, expires=RELEASED + 1),
            "v2_big.hushota": bundle(trusted_path, "1.1.0", 2, payload=3 * PAYLOAD),
        }
        for name, data in files.items():
            (HERE / name).write_bytes(data)
        trust = {
            "board": BOARD, "chip": CHIP, "released": RELEASED, "expires": EXPIRES,
            "trusted_digest": ota_sign.key_digest(trusted.public_key()).hex(),
            "rogue_digest": ota_sign.key_digest(rogue.public_key()).hex(),
        }
        (HERE / "trust.json").write_text(json.dumps(trust, indent=1, sort_keys=True) + "\n")
    print("wrote", ", ".join(sorted(files)), "and trust.json to", HERE)


if __name__ == "__main__":
    main()
