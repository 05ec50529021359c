"""Regenerates the signed channel documents of tests/core/test_ota_channel.py
(CPython, with hushctl's own publisher and signer):

    .venv/bin/python tests/core/data/ota_channel/regenerate.py

A fresh RSA-3072 release key (and a rogue one) are made on every run and
thrown away: only their digests (trust.json) and the signed documents are
kept, so no private key is in the repository. Documents (channel "stable",
issued RELEASED, valid until EXPIRES unless said otherwise; the release is
1.1.0 / secure_version 2 for lyrat-v4.3, as ota_install's v2.hushota):
  seq5.channel        sequence 5, rollout 100 %
  seq3.channel        sequence 3 (older: a replay once 5 was seen)
  halt6.channel       sequence 6, halted
  expired.channel     sequence 7, expired at RELEASED + 10
  current8.channel    sequence 8, names 1.0.0 / 1 (what the factory image runs)
  rollout0-9.channel  sequence 9, rollout 0 %
  other10.channel     sequence 10, a release for another board only
  rogue11.channel     sequence 11, signed by a key the handset does not trust
  spaces12.channel    sequence 12, non-canonical JSON (signed all the same)
  manifest.channel    an update manifest (signed by the release key) posing as a document
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
sys.path[:0] = [str(ROOT / "host_tools"), str(ROOT / "firmware" / "lib")]

from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from hushctl import ota_publish, ota_sign  # noqa: E402
from hushphone.ota import channel, manifest  # noqa: E402

BOARD = "lyrat-v4.3"
RELEASED = 1790000000
EXPIRES = 4102444800


def fields(sequence, halt=False, expires=EXPIRES, version="1.1.0", secure_version=2, rollout=10000, board=BOARD):
    return {"type": channel.TYPE, "format": channel.FORMAT, "channel": "stable", "sequence": sequence,
            "issued": RELEASED, "expires": expires, "halt": halt,
            "boards": {board: {"version": version, "secure_version": secure_version,
                               "bundle": "bundles/%s.hushota" % version, "sha256": "ab" * 32, "size": 20480,
                               "rollout": rollout}}}


def main():
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    rogue = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    docs = {
        "seq5.channel": ota_publish.sign_document(fields(5), [key]),
        "seq3.channel": ota_publish.sign_document(fields(3), [key]),
        "halt6.channel": ota_publish.sign_document(fields(6, halt=True), [key]),
        "expired.channel": ota_publish.sign_document(fields(7, expires=RELEASED + 10), [key]),
        "current8.channel": ota_publish.sign_document(fields(8, version="1.0.0", secure_version=1), [key]),
        "rollout0-9.channel": ota_publish.sign_document(fields(9, rollout=0), [key]),
        "other10.channel": ota_publish.sign_document(fields(10, board="other-board"), [key]),
        "rogue11.channel": ota_publish.sign_document(fields(11), [rogue]),
        "spaces12.channel": ota_sign.sign_data(json.dumps(fields(12)).encode(), [key]),
        "manifest.channel": ota_sign.sign_data(manifest.encode({
            "format": 1, "boards": [BOARD], "chip": "esp32", "version": "1.1.0", "secure_version": 2,
            "image_size": 8192, "image_sha256": "ab" * 32, "released": RELEASED, "expires": EXPIRES}), [key]),
    }
    for name, data in docs.items():
        (HERE / name).write_bytes(data)
    trust = {"board": BOARD, "released": RELEASED, "expires": EXPIRES,
             "channel_digest": ota_sign.key_digest(key.public_key()).hex(),
             "rogue_digest": ota_sign.key_digest(rogue.public_key()).hex()}
    (HERE / "trust.json").write_text(json.dumps(trust, indent=1, sort_keys=True) + "\n")
    print("wrote", ", ".join(sorted(docs)), "and trust.json to", HERE)


if __name__ == "__main__":
    main()
