"""Signing and checking Hushphone updates on the host (library functions;
`hushctl ota ...` is a thin layer over them).

Signature sectors are built by espsecure's own Secure Boot V2 code
(`generate_signature_block_using_pre_calculated_signature`, the function
behind `espsecure sign-data --version 2 --pub-key ... --signature ...`).
A local key signs exactly what an external signer or HSM would sign: the
data padded with 0xFF to 4 KiB (RSA-PSS/SHA-256/salt 32, or ECDSA with
SHA-256, SHA-384 for P-384), so both paths produce the same blocks.
Verification and inspection run the handset's own hushphone.ota code."""
import contextlib
import hashlib
import io
import os
import tempfile
import time

import espsecure
import esptool
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hushctl.appimage import load_image
from hushctl.errors import HushctlError
from hushctl.keys import PASSPHRASE_ENV, passphrase_from
from hushphone.ota import OtaRejected, appdesc, bundle, manifest, sbv2
from hushphone.ota.verifier import Checks, SignedImageVerifier, UpdateVerifier

SECTOR = 4096
DEPRECATED_PASSPHRASE_ENV = "HUSHCTL_KEY_PASSPHRASE"  # before all of hushctl used HUSHCTL_PASSPHRASE
DEFAULT_EXPIRES_DAYS = 90

# Secure Boot V2 schemes each chip's ROM accepts, and how many signature
# blocks it reads. From ESP-IDF's soc_caps (SOC_SECURE_BOOT_V2_RSA/_ECC) and
# espefuse's eFuse tables (SECURE_BOOT_SHA384_EN exists on the P-384 chips;
# ESP32-C2 burns an ECDSA key digest). The original ESP32 (ECO3) and the C2
# check only the first block.
CHIP_SCHEMES = {
    "esp32": (("rsa3072",), 1),
    "esp32s2": (("rsa3072",), 3),
    "esp32s3": (("rsa3072",), 3),
    "esp32c3": (("rsa3072",), 3),
    "esp32c2": (("ecdsa192", "ecdsa256"), 1),
    "esp32c6": (("rsa3072", "ecdsa192", "ecdsa256"), 3),
    "esp32h2": (("rsa3072", "ecdsa192", "ecdsa256"), 3),
    "esp32c61": (("ecdsa192", "ecdsa256"), 3),
    "esp32c5": (("rsa3072", "ecdsa192", "ecdsa256", "ecdsa384"), 3),
    "esp32p4": (("rsa3072", "ecdsa192", "ecdsa256", "ecdsa384"), 3),
}


def _quiet_espsecure():
    """espsecure's library functions narrate to stdout; our commands print
    their own results (and --json must stay parseable)."""
    return contextlib.redirect_stdout(io.StringIO())


# --- keys -----------------------------------------------------------------

def read_passphrase(passphrase_file=None, env=None):
    """The key passphrase (bytes) from a file (first line) or $HUSHCTL_PASSPHRASE,
    as everywhere in hushctl; the old $HUSHCTL_KEY_PASSPHRASE still works
    (deprecated). None if none is given."""
    env = os.environ if env is None else env
    value = passphrase_from(passphrase_file, env)
    if value is None:
        value = env.get(DEPRECATED_PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def _read_file(path, what=""):
    """A file's bytes; a file that cannot be read is the user's error."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise HushctlError("cannot read %s%s: %s" % (what, path, e.strerror))


def load_private_key(path, passphrase=None):
    data = _read_file(path, "key ")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except TypeError:
        # The message cryptography gives names the problem without the secret.
        if passphrase:
            raise HushctlError("key %s is not encrypted, but a passphrase was given" % path)
        raise HushctlError("key %s is encrypted: give --passphrase-file or $%s" % (path, PASSPHRASE_ENV))
    except (ValueError, UnsupportedAlgorithm):
        raise HushctlError("cannot load key %s: wrong passphrase or not a PEM private key" % path)
    scheme_of(key.public_key(), path)
    return key


def load_public_key(path):
    """A public key from a PEM public or private key file (unencrypted)."""
    data = _read_file(path, "key ")
    try:
        if b"PRIVATE KEY" in data:
            pub = serialization.load_pem_private_key(data, password=None).public_key()
        else:
            pub = serialization.load_pem_public_key(data)
    except (TypeError, ValueError, UnsupportedAlgorithm):
        raise HushctlError("cannot load public key %s (an encrypted private key? give its public key)" % path)
    scheme_of(pub, path)
    return pub


def scheme_of(public_key, name="key"):
    """The SBV2 scheme name of a public key ("rsa3072", "ecdsa256", ...)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size == 3072:
            return "rsa3072"
        raise HushctlError("%s: RSA keys for Secure Boot V2 are 3072 bits, not %d" % (name, public_key.key_size))
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        names = {"secp192r1": "ecdsa192", "secp256r1": "ecdsa256", "secp384r1": "ecdsa384"}
        if public_key.curve.name in names:
            return names[public_key.curve.name]
        raise HushctlError("%s: curve %s is not usable for Secure Boot V2" % (name, public_key.curve.name))
    raise HushctlError("%s: not an RSA or ECDSA key" % name)


def public_pem(public_key):
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_digest(public_key):
    """The Secure Boot V2 key digest, computed by espsecure itself
    (`espsecure digest-sbv2-public-key`)."""
    with tempfile.TemporaryDirectory() as tmp:
        pem_path = os.path.join(tmp, "key.pem")
        out = os.path.join(tmp, "digest.bin")
        with open(pem_path, "wb") as f:
            f.write(public_pem(public_key))
        with open(pem_path, "rb") as keyfile, _quiet_espsecure():
            espsecure.digest_sbv2_public_key(keyfile, out)
        with open(out, "rb") as f:
            return f.read()


# --- signing --------------------------------------------------------------

def pad_to_sector(data):
    """The data as Secure Boot V2 signs it: padded with 0xFF to 4 KiB."""
    data = bytes(data)
    return data + b"\xff" * (-len(data) % SECTOR)


def sign_padded(private_key, padded):
    """The signature an external signer/HSM would return for `padded`:
    RSA-PSS (MGF1-SHA256, salt 32) over SHA-256, or DER ECDSA over SHA-256
    (SHA-384 for P-384)."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(padded, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                                hashes.SHA256())
    hash_alg = hashes.SHA384() if private_key.curve.name == "secp384r1" else hashes.SHA256()
    return private_key.sign(padded, ec.ECDSA(hash_alg))


def signature_sector(padded, signers):
    """The 4 KiB signature sector for `padded` from (public_key, signature)
    pairs, assembled by espsecure (which also checks each signature)."""
    if not 1 <= len(signers) <= sbv2.MAX_BLOCKS:
        raise HushctlError("Secure Boot V2 takes 1 to 3 signatures, got %d" % len(signers))
    if len(padded) % SECTOR:
        raise HushctlError("data to sign must be padded to 4 KiB")
    try:
        with _quiet_espsecure():
            blocks = espsecure.generate_signature_block_using_pre_calculated_signature(
                [io.BytesIO(sig) for _pub, sig in signers],
                [io.BytesIO(public_pem(pub)) for pub, _sig in signers],
                padded,
            )
    except esptool.FatalError as e:
        raise HushctlError("signature rejected by espsecure: %s" % str(e).splitlines()[0])
    except ValueError as e:  # malformed DER ECDSA signature
        raise HushctlError("signature file is not a valid signature: %s" % e)
    return blocks + b"\xff" * (SECTOR - len(blocks))


def sign_data(data, private_keys=(), external=()):
    """Signed bytes: data padded to 4 KiB plus a signature sector. Signers
    are loaded private keys and/or (public_key, signature) pairs from an
    external signer (the signature over pad_to_sector(data))."""
    padded = pad_to_sector(data)
    signers = [(k.public_key(), sign_padded(k, padded)) for k in private_keys]
    signers += list(external)
    return padded + signature_sector(padded, signers)


def sign_image(image_bytes, key_paths, passphrase=None):
    """Sign an application image with local PEM keys (1 to 3)."""
    keys = [load_private_key(p, passphrase) for p in key_paths]
    return sign_data(image_bytes, keys)


def check_chip_policy(chip, public_keys):
    """Refuse keys the chip's ROM bootloader could not use."""
    if chip not in CHIP_SCHEMES:
        raise HushctlError("unknown chip %r (known: %s)" % (chip, ", ".join(sorted(CHIP_SCHEMES))))
    schemes, max_blocks = CHIP_SCHEMES[chip]
    for pub in public_keys:
        scheme = scheme_of(pub)
        if scheme not in schemes:
            raise HushctlError("%s Secure Boot V2 accepts %s, not %s keys" % (chip, " or ".join(schemes), scheme))
    if len(public_keys) > max_blocks:
        raise HushctlError("%s reads only %d signature block(s); give at most %d key(s)" % (chip, max_blocks, max_blocks))


# --- images, manifests, bundles --------------------------------------------

def app_info(image_bytes):
    """The app header/descriptor of an image (hushphone.ota.appdesc)."""
    try:
        return appdesc.AppInfo(image_bytes[: appdesc.HEAD_SIZE])
    except OtaRejected as e:
        raise HushctlError("image: %s" % e.message)


def split_signed(data):
    """(padded body, signature blocks) if `data` ends in a well-formed SBV2
    signature sector, else None."""
    if len(data) < 2 * SECTOR or len(data) % SECTOR:
        return None
    try:
        return data[:-SECTOR], sbv2.parse_signature_sector(data[-SECTOR:])
    except OtaRejected:
        return None


def manifest_fields(signed_image, boards, chip, version=None, secure_version=None, released=None, expires=None,
                    notes=None):
    """Manifest fields for a signed image; version and secure_version come
    from its app descriptor and must agree with any values given."""
    app = app_info(signed_image)
    if version is not None and version != app.version:
        raise HushctlError("--version %s does not match the image's app descriptor version %s" % (version, app.version))
    if secure_version is not None and int(secure_version) != app.secure_version:
        raise HushctlError("--secure-version %s does not match the image's secure_version %d"
                           % (secure_version, app.secure_version))
    if app.chip != chip:
        raise HushctlError("image is built for %s, not %s" % (app.chip, chip))
    return _fields(signed_image, boards, chip, app.version, app.secure_version, released, expires, notes)


def fs_manifest_fields(signed_image, boards, chip, version, secure_version, released=None, expires=None, notes=None):
    """Manifest fields for a signed filesystem image (kind "fs"): it has no
    app descriptor, so version and secure_version are given."""
    if bytes(signed_image[8:16]) != b"littlefs":
        raise HushctlError("a filesystem update must be a LittleFS2 image (hushctl firmware build)")
    if version is None or secure_version is None:
        raise HushctlError("a filesystem image needs --version and --secure-version")
    if len(version.encode("utf-8")) > 31:
        raise HushctlError("--version is at most 31 bytes")
    return dict(_fields(signed_image, boards, chip, version, int(secure_version), released, expires, notes),
                kind=manifest.KIND_FS)


def _fields(signed_image, boards, chip, version, secure_version, released, expires, notes):
    if not boards:
        raise HushctlError("give at least one --board")
    released = int(time.time()) if released is None else int(released)
    expires = released + DEFAULT_EXPIRES_DAYS * 86400 if expires is None else int(expires)
    if expires <= released:
        raise HushctlError("expiry must be after the release time")
    fields = {
        "format": manifest.FORMAT, "boards": list(boards), "chip": chip, "version": version,
        "secure_version": secure_version, "image_size": len(signed_image),
        "image_sha256": hashlib.sha256(signed_image).hexdigest(), "released": released, "expires": expires,
    }
    if notes:
        fields["notes"] = notes
    return fields


def manifest_from_tbs(tbs, signed_image, chip):
    """The manifest JSON inside a --emit-tbs manifest file, checked against
    the signed image it must describe."""
    text = manifest.strip_padding(tbs)
    try:
        m = manifest.decode(text)
    except OtaRejected as e:
        raise HushctlError("manifest file: %s" % e.message)
    if m.image_size != len(signed_image) or m.image_sha256 != hashlib.sha256(signed_image).hexdigest():
        raise HushctlError("manifest file describes a different signed image")
    if m.chip != chip:
        raise HushctlError("manifest file is for %s, not %s" % (m.chip, chip))
    return text


def assemble_bundle(signed_manifest, signed_image):
    return bundle.bundle_header(len(signed_manifest)) + bytes(signed_manifest) + bytes(signed_image)


def build_bundle(image_bytes, key_paths, boards, chip, version=None, secure_version=None, released=None,
                 expires=None, notes=None, passphrase=None):
    """Sign an unsigned app image and its manifest with local keys and return
    the .hushota bundle bytes."""
    keys = [load_private_key(p, passphrase) for p in key_paths]
    check_chip_policy(chip, [k.public_key() for k in keys])
    signed_image = sign_data(image_bytes, keys)
    fields = manifest_fields(signed_image, boards, chip, version, secure_version, released, expires, notes)
    signed_manifest = sign_data(manifest.encode(fields), keys)
    return assemble_bundle(signed_manifest, signed_image)


def build_fs_bundle(fs_image, key_paths, boards, chip, version, secure_version, released=None, expires=None,
                    notes=None, passphrase=None):
    """Sign a filesystem image (kind "fs") and its manifest with local keys
    and return the .hushota bundle bytes."""
    keys = [load_private_key(p, passphrase) for p in key_paths]
    check_chip_policy(chip, [k.public_key() for k in keys])
    signed_image = sign_data(fs_image, keys)
    fields = fs_manifest_fields(signed_image, boards, chip, version, secure_version, released, expires, notes)
    signed_manifest = sign_data(manifest.encode(fields), keys)
    return assemble_bundle(signed_manifest, signed_image)


def split_bundle(data):
    """(signed manifest, signed image) of bundle bytes."""
    try:
        length = bundle.parse_bundle_header(data[: bundle.HEADER_SIZE])
    except OtaRejected as e:
        raise HushctlError("bundle: %s" % e.message)
    end = bundle.HEADER_SIZE + length
    if len(data) < end:
        raise HushctlError("bundle: truncated inside the signed manifest")
    return data[bundle.HEADER_SIZE : end], data[end:]


# --- verify and inspect -----------------------------------------------------

BUNDLE_CHECKS = (
    "bundle-header", "manifest-signature", "manifest-format", "chip", "board", "expiry", "secure-version",
    "image-size", "image-sha256", "app-descriptor", "image-header", "image-chip", "image-secure-version",
    "image-signature",
)
IMAGE_CHECKS = ("image-header", "image-chip", "image-secure-version", "image-signature")
CHUNK_SIZE = 4096  # what the handset reads per flash-sector write


def parse_digest_hex(text):
    try:
        digest = bytes.fromhex(text.strip())
    except ValueError:
        raise HushctlError("key digest %r is not hex" % text)
    if len(digest) != 32:
        raise HushctlError("key digest %r is not 32 bytes" % text)
    return digest


def trust_anchors(trust_keys=(), trust_digests=(), revoke=(), revoked_digests=()):
    """(digests, revoked_mask) from public key files and hex digests. Slots
    are numbered in that order: --trust keys first, then --trust-digest."""
    digests = [key_digest(load_public_key(p)) for p in trust_keys]
    digests += [parse_digest_hex(h) for h in trust_digests]
    if not digests:
        raise HushctlError("give at least one trusted key: --trust PUBKEY.pem or --trust-digest HEX")
    if len(digests) > sbv2.MAX_BLOCKS:
        raise HushctlError("at most 3 trusted keys (there are 3 key digest slots)")
    mask = 0
    for slot in revoke:
        if not 0 <= slot < len(digests):
            raise HushctlError("--revoke %d: there is no trusted key slot %d" % (slot, slot))
        mask |= 1 << slot
    for h in revoked_digests:
        d = parse_digest_hex(h)
        for i, t in enumerate(digests):
            if t == d:
                mask |= 1 << i
    return digests, mask


def _is_bundle(path):
    with open(path, "rb") as f:
        return f.read(len(bundle.MAGIC)) == bundle.MAGIC


def verify_file(path, digests, revoked_mask=0, board=None, chip=None, min_secure_version=0, now=None):
    """Verify a bundle (everything) or a bare signed image (image checks
    only) with the handset's verifier, streaming the file in 4 KiB chunks.
    Returns a report dict: ok, kind, checks [{name, ok, detail}], reason,
    message."""
    now = int(time.time()) if now is None else now
    try:
        kind = "bundle" if _is_bundle(path) else "image"
        size = os.path.getsize(path)
    except OSError as e:
        raise HushctlError("cannot read %s: %s" % (path, e.strerror))
    if kind == "bundle":
        verifier = UpdateVerifier(digests, revoked_mask, board=board, chip=chip,
                                  secure_version_floor=min_secure_version, now=now, kind=None)
        checks, expected = verifier.checks, BUNDLE_CHECKS
    else:
        checks, expected = Checks(), IMAGE_CHECKS
    failure = None
    try:
        with open(path, "rb") as f:
            if kind == "bundle":
                bundle.verify_bundle(verifier, f.read, CHUNK_SIZE)
            else:
                image = SignedImageVerifier(sbv2.TrustAnchors(digests, revoked_mask), size, chip=chip,
                                            secure_version_floor=min_secure_version, want_sha384=True, checks=checks)
                for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
                    image.update(chunk)
                image.finish()
    except OtaRejected as e:
        failure = e
    passed = checks.passed
    skipped = set()
    if board is None:
        skipped.add("board")
    if chip is None:
        skipped.update(("chip", "image-chip") if kind == "image" else ("chip",))
    rows = [{"name": n, "ok": True, "detail": d} for n, d in passed]
    done = set(n for n, _d in passed)
    # The verifier runs its checks in `expected` order and stops at the first
    # failure, so the first check that neither passed nor was skipped failed.
    failed_named = False
    for name in expected:
        if name in done:
            continue
        if name in skipped:
            rows.append({"name": name, "ok": None, "detail": "not checked (no --%s given)" % name.split("-")[-1]})
        elif failure is not None and not failed_named:
            rows.append({"name": name, "ok": False, "detail": "%s: %s" % (failure.reason, failure.message)})
            failed_named = True
        elif failure is not None:
            rows.append({"name": name, "ok": None, "detail": "not run"})
    order = {n: i for i, n in enumerate(expected)}
    rows.sort(key=lambda c: order.get(c["name"], len(order)))
    report = {"file": str(path), "kind": kind, "ok": failure is None, "checks": rows}
    if failure is not None:
        report["reason"] = failure.reason
        report["message"] = failure.message
    return report


def _block_report(blocks, body):
    digests = {"sha256": hashlib.sha256(body).digest(), "sha384": hashlib.sha384(body).digest()}
    out = []
    for b in blocks:
        out.append({
            "index": b.index, "scheme": b.scheme, "key_digest": b.key_digest.hex(),
            "digest_matches": b.digest == digests[b.hash_name], "verifies": b.verify(digests[b.hash_name]),
        })
    return out


def _signature_report(data):
    """Signature blocks of signed data, or the reason it has none."""
    if len(data) < 2 * SECTOR or len(data) % SECTOR:
        return {"signed": False, "detail": "size is not whole 4 KiB sectors: no signature sector"}
    try:
        blocks = sbv2.parse_signature_sector(data[-SECTOR:])
    except OtaRejected as e:
        return {"signed": False, "detail": e.message}
    return {"signed": True, "blocks": _block_report(blocks, data[:-SECTOR])}


def inspect_image(data):
    """Everything about an app image (signed or not): esptool's view of the
    header and segments, the app descriptor, and the signature blocks."""
    app = app_info(data)
    report = {"size": len(data), "app": app.as_dict()}
    image = load_image(app.chip, data)
    report["header"] = {
        "chip": app.chip, "chip_id": image.chip_id, "entry": "0x%08x" % image.entrypoint,
        "segments": [{"addr": "0x%08x" % s.addr, "length": len(s.data)} for s in image.segments],
    }
    report["signature"] = _signature_report(data)
    return report


def inspect_file(path):
    data = _read_file(path)
    if not data.startswith(bundle.MAGIC):
        return {"file": str(path), "kind": "image", "image": inspect_image(data)}
    signed_manifest, signed_image = split_bundle(data)
    body = signed_manifest[:-SECTOR]
    text = manifest.strip_padding(body)
    try:
        fields = manifest.decode(text).fields
        problem = None
    except OtaRejected as e:
        fields, problem = None, e.message
    report = {
        "file": str(path), "kind": "bundle", "signed_manifest_size": len(signed_manifest),
        "manifest": fields, "manifest_signature": _signature_report(signed_manifest),
    }
    if fields is not None and fields.get("kind") == manifest.KIND_FS:
        report["image"] = {"size": len(signed_image), "filesystem": "LittleFS2" if signed_image[8:16] == b"littlefs"
                           else "not LittleFS2", "signature": _signature_report(signed_image)}
    else:
        report["image"] = inspect_image(signed_image)
    if problem:
        report["manifest_problem"] = problem
    return report

