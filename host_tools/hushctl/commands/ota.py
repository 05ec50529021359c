"""`hushctl ota`: sign, verify and inspect signed updates (.hushota bundles
and Secure Boot V2 signed app images). Other OTA commands (serve) attach
themselves to the `ota` group defined here."""
import hashlib
import json
import time

import click

from hushctl import ota_sign
from hushctl.cli import cli
from hushctl.errors import HushctlError


@cli.group()
def ota():
    """Signed over-the-air updates."""


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise HushctlError("cannot read %s: %s" % (path, e.strerror))


def _write(path, data):
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise HushctlError("cannot write %s: %s" % (path, e.strerror))


def _external_signers(pub_keys, signatures):
    if len(pub_keys) != len(signatures):
        raise HushctlError("give one --signature per --pub-key (%d keys, %d signatures)" % (len(pub_keys), len(signatures)))
    return [(ota_sign.load_public_key(p), _read(s)) for p, s in zip(pub_keys, signatures)]


def _emit_tbs(path, data, what):
    """Write the padded data an external signer signs, and say how."""
    padded = ota_sign.pad_to_sector(data)
    _write(path, padded)
    click.echo("%s to sign written to %s (%d bytes)" % (what, path, len(padded)))
    click.echo("  sha256 %s" % hashlib.sha256(padded).hexdigest())
    click.echo("  sha384 %s" % hashlib.sha384(padded).hexdigest())
    click.echo("Sign that file with each key, e.g.")
    click.echo("  RSA-3072: openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sign KEY -out SIG %s" % path)
    click.echo("  P-256:    openssl dgst -sha256 -sign KEY -out SIG %s   (P-384: -sha384)" % path)
    click.echo("then run the same command again with --pub-key PUB.pem --signature SIG for each key.")


@ota.command()
@click.option("--image", "image_path", type=click.Path(dir_okay=False),
              help="App image: unsigned (first step) or already signed (manifest step).")
@click.option("--fs-image", "fs_image_path", type=click.Path(dir_okay=False),
              help="Instead of --image: a filesystem image (hushctl firmware build --slot-image) for handsets on "
                   "stock MicroPython; needs --version and --secure-version and local --key.")
@click.option("--board", "boards", multiple=True, help="Board the update is for (repeatable).")
@click.option("--chip", help="Chip the image is for (esp32, esp32s3, esp32c6, ...).")
@click.option("--version", "version", help="Must match the image's app descriptor (read from it if omitted).")
@click.option("--secure-version", type=int, help="Must match the image's app descriptor (read from it if omitted).")
@click.option("--expires-days", type=int, default=ota_sign.DEFAULT_EXPIRES_DAYS, show_default=True)
@click.option("--released", type=int, help="Release time, UNIX seconds (default: now).")
@click.option("--notes", help="Release notes stored in the manifest.")
@click.option("--key", "keys", multiple=True, type=click.Path(dir_okay=False),
              help="Local PEM signing key (repeatable, up to 3).")
@click.option("--passphrase-file", type=click.Path(dir_okay=False),
              help="File holding the keys' passphrase (or set $%s)." % ota_sign.PASSPHRASE_ENV)
@click.option("--pub-key", "pub_keys", multiple=True, type=click.Path(dir_okay=False),
              help="External signer: public key of a signature given with --signature (repeatable).")
@click.option("--signature", "signatures", multiple=True, type=click.Path(dir_okay=False),
              help="External signer: signature over the --emit-tbs file, in --pub-key order.")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False),
              help="External signer, manifest step: the manifest file written by --emit-tbs.")
@click.option("--emit-tbs", type=click.Path(dir_okay=False),
              help="Write the data to be signed in this step (padded image or manifest) and stop.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the .hushota bundle here.")
@click.option("--out-image", type=click.Path(dir_okay=False), help="Write the signed image here.")
def sign(image_path, fs_image_path, boards, chip, version, secure_version, expires_days, released, notes, keys,
         passphrase_file, pub_keys, signatures, manifest_path, emit_tbs, out, out_image):
    """Sign an app image and its manifest into a .hushota bundle.

    Local keys do it in one step. An external signer (HSM) works in steps,
    each first run with --emit-tbs FILE to get the data to sign:
    (1) --image app.bin --pub-key P --signature S --out-image app.signed.bin;
    (2) --image app.signed.bin --board ... --chip ... --emit-tbs manifest.tbs;
    (3) --image app.signed.bin --manifest manifest.tbs --pub-key P --signature S --out release.hushota.
    """
    if bool(image_path) == bool(fs_image_path):
        raise HushctlError("give one of --image (an app) or --fs-image (a filesystem image)")
    if fs_image_path:
        return _sign_fs(fs_image_path, boards, chip, version, secure_version, expires_days, released, notes, keys,
                        passphrase_file, out)
    image = _read(image_path)
    already_signed = ota_sign.split_signed(image) is not None
    if not (keys or pub_keys or emit_tbs):
        raise HushctlError("give signing keys (--key) or external signatures (--pub-key/--signature)")
    passphrase = ota_sign.read_passphrase(passphrase_file) if keys else None
    private_keys = [ota_sign.load_private_key(k, passphrase) for k in keys]
    external = _external_signers(pub_keys, signatures)
    public_keys = [k.public_key() for k in private_keys] + [p for p, _s in external]
    # Keys must suit the chip the update is for (or, signing an image
    # alone, the chip its header names).
    ota_sign.check_chip_policy(chip or ota_sign.app_info(image).chip, public_keys)

    if not already_signed:
        if emit_tbs:
            return _emit_tbs(emit_tbs, image, "Image")
        signed_image = ota_sign.sign_data(image, private_keys, external)
        if out_image:
            _write(out_image, signed_image)
            click.echo("signed image written to %s (%d bytes)" % (out_image, len(signed_image)))
        if not out:
            if not out_image:
                raise HushctlError("give --out (bundle) and/or --out-image (signed image)")
            return _report_keys(public_keys)
        if external:
            raise HushctlError("external signatures sign the image only; sign the manifest in a second step "
                               "(see `hushctl ota sign --help`)")
        keys_for_manifest = (private_keys, [])
    else:
        signed_image = image
        keys_for_manifest = (private_keys, external)

    if not chip:
        raise HushctlError("give --chip for the manifest")
    if manifest_path:
        text = ota_sign.manifest_from_tbs(_read(manifest_path), signed_image, chip)
    else:
        now = int(time.time()) if released is None else released
        fields = ota_sign.manifest_fields(signed_image, boards, chip, version, secure_version, now,
                                          now + expires_days * 86400, notes)
        text = ota_sign.manifest.encode(fields)
    if emit_tbs:
        return _emit_tbs(emit_tbs, text, "Manifest")
    if not out:
        raise HushctlError("give --out for the bundle")
    signed_manifest = ota_sign.sign_data(text, *keys_for_manifest)
    _write(out, ota_sign.assemble_bundle(signed_manifest, signed_image))
    app = ota_sign.app_info(signed_image)
    click.echo("bundle written to %s: %s %s (secure_version %d) for %s, image %d bytes"
               % (out, app.project_name, app.version, app.secure_version, chip, len(signed_image)))
    _report_keys(public_keys)


def _sign_fs(path, boards, chip, version, secure_version, expires_days, released, notes, keys, passphrase_file, out):
    if not keys or not out or not chip:
        raise HushctlError("a filesystem image is signed with local --key, for a --chip, into --out")
    now = int(time.time()) if released is None else released
    data = ota_sign.build_fs_bundle(_read(path), keys, boards, chip, version, secure_version, now,
                                    now + expires_days * 86400, notes, ota_sign.read_passphrase(passphrase_file))
    _write(out, data)
    click.echo("bundle written to %s: filesystem image %s (secure_version %d) for %s, %d bytes"
               % (out, version, secure_version, chip, len(data)))


def _report_keys(public_keys):
    for i, pub in enumerate(public_keys):
        click.echo("  signature %d: %s key digest %s" % (i, ota_sign.scheme_of(pub), ota_sign.key_digest(pub).hex()))


@ota.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--trust", "trust_keys", multiple=True, type=click.Path(dir_okay=False),
              help="Trusted public key (PEM), repeatable; takes key slots first.")
@click.option("--trust-digest", "trust_digests", multiple=True,
              help="Trusted SBV2 key digest (hex, as espsecure digest-sbv2-public-key writes it), repeatable.")
@click.option("--revoke", "revoke", multiple=True, type=int, help="Revoke trusted key slot N (repeatable).")
@click.option("--revoked-digest", "revoked_digests", multiple=True, help="Revoke this key digest (hex).")
@click.option("--board", help="This handset's board.")
@click.option("--chip", help="This handset's chip.")
@click.option("--min-secure-version", type=int, default=0, show_default=True,
              help="The handset's secure version floor (eFuse / running app).")
@click.option("--now", type=int, help="Current time, UNIX seconds (default: the clock).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify(file, trust_keys, trust_digests, revoke, revoked_digests, board, chip, min_secure_version, now, as_json):
    """Verify a .hushota bundle or a signed image exactly as a handset would."""
    digests, mask = ota_sign.trust_anchors(trust_keys, trust_digests, revoke, revoked_digests)
    report = ota_sign.verify_file(file, digests, mask, board=board, chip=chip,
                                  min_secure_version=min_secure_version, now=now)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo("%s (%s)" % (file, report["kind"]))
        for c in report["checks"]:
            mark = "ok" if c["ok"] else ("FAILED" if c["ok"] is False else "-")
            click.echo("  %-7s %-21s %s" % (mark, c["name"], c["detail"]))
        click.echo("VERIFIED" if report["ok"] else "REJECTED (%s): %s" % (report["reason"], report["message"]))
    if not report["ok"]:
        raise HushctlError("update rejected (%s): %s" % (report["reason"], report["message"]))


@ota.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect(file, as_json):
    """Show what a bundle or app image contains (nothing is trusted here)."""
    report = ota_sign.inspect_file(file)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo("%s (%s)" % (file, report["kind"]))
    if report["kind"] == "bundle":
        click.echo("manifest (%d bytes signed):" % report["signed_manifest_size"])
        if report["manifest"] is None:
            click.echo("  unreadable: %s" % report["manifest_problem"])
        else:
            for k, v in sorted(report["manifest"].items()):
                click.echo("  %-15s %s" % (k, ", ".join(v) if isinstance(v, list) else v))
        _print_signature("manifest signature", report["manifest_signature"])
    img = report["image"]
    app, hdr = img["app"], img["header"]
    click.echo("image: %d bytes, chip %s (id %d), entry %s, %d segment(s)"
               % (img["size"], hdr["chip"], hdr["chip_id"], hdr["entry"], len(hdr["segments"])))
    for i, s in enumerate(hdr["segments"]):
        click.echo("  segment %d: addr %s, %d bytes" % (i, s["addr"], s["length"]))
    click.echo("app descriptor: %s %s, secure_version %d, IDF %s, built %s %s"
               % (app["project_name"], app["version"], app["secure_version"], app["idf_version"], app["date"], app["time"]))
    _print_signature("image signature", img["signature"])


def _print_signature(title, sig):
    if not sig["signed"]:
        click.echo("%s: none (%s)" % (title, sig["detail"]))
        return
    click.echo("%s: %d block(s)" % (title, len(sig["blocks"])))
    for b in sig["blocks"]:
        click.echo("  block %d: %s, key digest %s, %s" % (b["index"], b["scheme"], b["key_digest"],
                                                         "verifies" if b["verifies"] else "DOES NOT VERIFY"))
