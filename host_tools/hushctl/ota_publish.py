"""Publishing updates for handsets to pull (`hushctl ota publish`).

The output is plain static files for any HTTPS host (nginx, a CDN, object
storage), nothing to run:

    DIR/CHANNEL.channel          the signed channel document (hushphone.ota.channel)
    DIR/bundles/VERSION-SHA.hushota   the bundles it names

The channel document is signed with the release keys, exactly like a
manifest, so handsets verify it with the trust store they already have.
Each publish raises the sequence by one (handsets refuse a lower one: an
old document replayed by a mirror or an attacker does nothing), keeps the
other boards' entries, and sets the rollout share (basis points) and the
halt flag. Before a bundle is published it is verified with the handset's
own verifier under the keys that sign the channel, so the fleet is never
pointed at a bundle it would refuse."""
import hashlib
import os
import time
from pathlib import Path

from hushctl import atomic_files, ota_sign
from hushctl.errors import HushctlError
from hushphone.ota import OtaRejected, channel, manifest

DEFAULT_EXPIRES_DAYS = 30
BUNDLE_DIR = "bundles"


def parse_rollout(text):
    """'10%', '10', '2.5%' -> basis points (1000, 1000, 250)."""
    value = str(text).strip().rstrip("%").strip()
    try:
        percent = float(value)
    except ValueError:
        raise HushctlError("rollout %r is not a percentage (e.g. 10%%)" % text)
    if not 0 <= percent <= 100:
        raise HushctlError("rollout must be 0%% to 100%%, not %s" % text)
    return int(round(percent * 100))


def channel_path(directory, name):
    if not channel.name_ok(name):
        raise HushctlError("channel name %r: use letters, digits, '-', '_' or '.'" % name)
    return Path(directory) / ("%s.channel" % name)


def read_document(path):
    """The fields of the channel document at `path` (not verified: it is
    our own output, read back for its sequence and entries), or None."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise HushctlError("cannot read %s: %s" % (path, e.strerror))
    if len(data) < 2 * ota_sign.SECTOR:
        raise HushctlError("%s is not a signed channel document" % path)
    try:
        return channel.decode(manifest.strip_padding(data[: -ota_sign.SECTOR])).fields
    except OtaRejected as e:
        raise HushctlError("%s: %s" % (path, e.message))


def _check_bundle(data, keys, now):
    """(manifest, bundle sha256): the bundle verified as a handset would,
    trusting exactly the keys that sign the channel."""
    signed_manifest, signed_image = ota_sign.split_bundle(data)
    from hushphone.ota.verifier import UpdateVerifier

    digests = [ota_sign.key_digest(k.public_key()) for k in keys]
    verifier = UpdateVerifier(digests, now=now)
    try:
        m = verifier.check_manifest(signed_manifest)
        for i in range(0, len(signed_image), ota_sign.CHUNK_SIZE):
            verifier.update(signed_image[i : i + ota_sign.CHUNK_SIZE])
        verifier.finish()
    except OtaRejected as e:
        raise HushctlError("bundle refused under the publishing keys (%s): %s" % (e.reason, e.message))
    return m, hashlib.sha256(data).hexdigest()


def publish(directory, channel_name, keys, bundle_path=None, rollout=None, halt=False,
            expires_days=DEFAULT_EXPIRES_DAYS, now=None, sequence=None):
    """Write the bundle (if any) and a newly signed channel document into
    `directory`. keys: loaded private OTA keys (1 to 3). rollout: basis
    points for the published bundle (default all), or for every entry when
    no bundle is given (default: unchanged). Returns the document's fields."""
    now = int(time.time()) if now is None else int(now)
    if not keys:
        raise HushctlError("give the release keys: --keys DIR (key hierarchy) or --key PEM")
    if not 1 <= expires_days <= 366:
        raise HushctlError("--expires-days must be 1 to 366")
    directory = Path(directory)
    path = channel_path(directory, channel_name)
    previous = read_document(path)
    boards = dict(previous["boards"]) if previous else {}
    last = previous["sequence"] if previous else 0
    if sequence is None:
        sequence = last + 1
    elif sequence <= last:
        raise HushctlError("--sequence %d is not above the published %d (handsets would refuse it)" % (sequence, last))
    if sequence > 0x7FFFFFFF:
        raise HushctlError("channel sequence exhausted")

    if bundle_path is not None:
        data = ota_sign._read_file(bundle_path, "bundle ")
        m, digest = _check_bundle(data, keys, now)
        name = "%s/%s-%s.hushota" % (BUNDLE_DIR, m.version or "unversioned", digest[:12])
        if not channel.path_ok(name):
            raise HushctlError("the bundle's version %r cannot be part of a file name" % m.version)
        atomic_files.write_bytes(directory / name, data)
        share = channel.ROLLOUT_ALL if rollout is None else rollout
        for board in m.boards:
            if not channel.name_ok(board):
                raise HushctlError("board name %r cannot be published" % board)
            boards[board] = {"version": m.version, "secure_version": m.secure_version, "bundle": name,
                             "sha256": digest, "size": len(data), "rollout": share}
    elif rollout is not None:
        if not boards:
            raise HushctlError("channel %s has nothing published yet: give a BUNDLE" % channel_name)
        for board in boards:
            boards[board] = dict(boards[board], rollout=rollout)
    elif not halt and previous is None:
        raise HushctlError("give a BUNDLE (the channel %s is new)" % channel_name)

    fields = {"type": channel.TYPE, "format": channel.FORMAT, "channel": channel_name, "sequence": sequence,
              "issued": now, "expires": now + expires_days * 86400, "halt": bool(halt), "boards": boards}
    atomic_files.write_bytes(path, sign_document(fields, keys))
    return fields


def sign_document(fields, keys):
    """The signed channel document: canonical JSON, padded, signature sector."""
    text = manifest.encode(fields)
    try:
        channel.decode(text)  # what the handsets will parse: refuse to publish anything else
    except OtaRejected as e:
        raise HushctlError("channel document: %s" % e.message)
    signed = ota_sign.sign_data(text, keys)
    if len(signed) > channel.MAX_SIGNED_SIZE:
        raise HushctlError("channel document too large (%d bytes): too many boards" % len(signed))
    return signed


def load_keys(keys_dir=None, key_paths=(), passphrase=None):
    """Private OTA release keys: every local key of a hierarchy and/or PEM files."""
    keys = []
    if keys_dir:
        from hushctl.keys import Hierarchy

        hierarchy = Hierarchy(keys_dir)
        for entry in hierarchy.ota_keys:
            if entry.get("private"):
                keys.append(hierarchy.ota_signing_key(entry["index"], passphrase))
        if not keys:
            raise HushctlError("the key hierarchy's OTA keys are held by an external signer")
    pw = passphrase.encode("utf-8") if isinstance(passphrase, str) and passphrase else passphrase
    keys += [ota_sign.load_private_key(p, pw) for p in key_paths]
    if len(keys) > 3:
        raise HushctlError("at most 3 signing keys")
    return keys


def describe(fields):
    """Lines a person can read about a published document."""
    lines = ["channel %s, sequence %d, expires %s%s" % (
        fields["channel"], fields["sequence"], time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(fields["expires"])),
        ", HALTED: handsets install nothing" if fields["halt"] else "")]
    for board, e in sorted(fields["boards"].items()):
        lines.append("  %-16s %s (secure_version %d), rollout %s%%, %s (%d bytes)" % (
            board, e["version"], e["secure_version"], ("%.2f" % (e["rollout"] / 100)).rstrip("0").rstrip("."),
            e["bundle"], e["size"]))
    return lines


def ensure_dir(directory):
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise HushctlError("cannot create %s: %s" % (directory, e.strerror))
