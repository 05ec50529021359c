"""Signing and verifying an update, RSA-3072 and ECDSA P-256.

Host (CPython), measured in this run on the same 1 MiB app image:
  - hushctl's library (ota_sign.sign_data from the key file; and
    SignedImageVerifier, the handset's plain-Python verifier streaming
    4 KiB chunks, trusting a key digest) next to
  - espsecure's library functions sign_data (private key file) and
    verify_signature (public key file): in-process calls, so no process
    start; both sides read the image and key files inside the timing.
Handset (the MicroPython unix port): the same verifier on the same image,
and the signature check alone (one block, hashing excluded).

Run: .venv/bin/python bench/bench_ota_sign.py   (or `make bench`)"""
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import espsecure  # noqa: E402

from hushctl import appimage, ota_sign  # noqa: E402
from hushphone.ota import sbv2  # noqa: E402
from hushphone.ota.verifier import SignedImageVerifier  # noqa: E402
from tests.support.runtimes import run_micropython  # noqa: E402

IMAGE_PAYLOAD = 1024 * 1024
SCHEMES = (("rsa3072", "RSA-3072"), ("ecdsa256", "P-256"))


def best_ms(func, repeat):
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        dt = (time.perf_counter() - t0) * 1000
        best = dt if best is None or dt < best else best
    return best


def quiet():
    return contextlib.redirect_stdout(io.StringIO())


def host_rows(tmp, image_path, key_path):
    image = image_path.read_bytes()
    key = ota_sign.load_private_key(str(key_path))
    digest = ota_sign.key_digest(key.public_key())
    signed = ota_sign.sign_data(image, [key])
    signed_path = tmp / "signed.bin"
    signed_path.write_bytes(signed)
    pub_path = tmp / "pub.pem"
    pub_path.write_bytes(ota_sign.public_pem(key.public_key()))

    def hush_sign():  # from the key file, as espsecure does
        ota_sign.sign_data(image_path.read_bytes(), [ota_sign.load_private_key(str(key_path))])

    def hush_verify():
        v = SignedImageVerifier(sbv2.TrustAnchors([digest]), len(signed))
        mv = memoryview(signed)
        for i in range(0, len(signed), 4096):
            v.update(mv[i : i + 4096])
        v.finish()

    def es_sign():
        with open(key_path, "rb") as k, open(image_path, "rb") as d, quiet():
            espsecure.sign_data("2", [k], str(tmp / "es.bin"), False, False, None, None, None, d)

    def es_verify():
        with open(pub_path, "rb") as k, open(signed_path, "rb") as d, quiet():
            espsecure.verify_signature("2", False, None, k, d)

    return (
        best_ms(hush_sign, 5),
        best_ms(es_sign, 5),
        best_ms(hush_verify, 5),
        best_ms(es_verify, 5),
    ), signed, digest


MPY_SCRIPT = """
import sys, time, binascii
from hushphone.ota import sbv2
from hushphone.ota.verifier import SignedImageVerifier
def best_us(func, repeat):
    best = None
    for _ in range(repeat):
        t0 = time.ticks_us()
        func()
        dt = time.ticks_diff(time.ticks_us(), t0)
        best = dt if best is None or dt < best else best
    return best
buf = bytearray(4096)  # the handset streams through one sector buffer
for path, hexdigest, size in ((sys.argv[1], sys.argv[2], int(sys.argv[3])), (sys.argv[4], sys.argv[5], int(sys.argv[6]))):
    digest = binascii.unhexlify(hexdigest)
    def whole():
        v = SignedImageVerifier(sbv2.TrustAnchors([digest]), size)
        with open(path, "rb") as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                v.update(memoryview(buf)[:n])
        v.finish()
    with open(path, "rb") as f:
        f.seek(size - 4096)
        blocks = sbv2.parse_signature_sector(f.read(4096))
    body_digest = blocks[0].digest
    def sig_only():
        if not blocks[0].verify(body_digest):
            raise SystemExit("signature does not verify")
    print(blocks[0].scheme, best_us(sig_only, 10), best_us(whole, 3))
"""


def main():
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        image_path = tmp / "app.bin"
        image_path.write_bytes(appimage.build_app_image("esp32c6", "1.0.0", 1, "hushphone", IMAGE_PAYLOAD))
        print("image: %d bytes (esp32c6 app), best of 5 runs, milliseconds" % image_path.stat().st_size)
        print("%-9s %12s %12s %12s %12s" % ("", "hushctl sign", "espsecure", "hushctl vfy", "espsecure"))
        mpy_args = []
        for scheme, label in SCHEMES:
            key_path = tmp / ("%s.pem" % scheme)
            with quiet():
                espsecure.generate_signing_key("2", scheme, str(key_path))
            (hs, es, hv, ev), signed, digest = host_rows(tmp, image_path, key_path)
            print("%-9s %12.2f %12.2f %12.2f %12.2f" % (label, hs, es, hv, ev))
            signed_path = tmp / ("%s.signed.bin" % scheme)
            signed_path.write_bytes(signed)
            mpy_args += [str(signed_path), digest.hex(), str(len(signed))]
        print("(hushctl verify = the handset's plain-Python verifier running on CPython;"
              " espsecure's uses OpenSSL through `cryptography`)")
        script = tmp / "mpy_bench.py"
        script.write_text(MPY_SCRIPT)
        result = run_micropython([str(script)] + mpy_args, timeout=600)
        if result.returncode:
            raise SystemExit("MicroPython run failed:\n" + result.stdout + result.stderr)
        print()
        print("MicroPython unix port, same signed image: signature check alone (us, best of 10),"
              " whole streamed verify (ms, best of 3)")
        for line in result.stdout.split("\n"):
            if line.strip():
                scheme, sig_us, whole_us = line.split()
                print("  %-9s signature %8d us   whole image %8.1f ms" % (scheme, int(sig_us), int(whole_us) / 1000))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
