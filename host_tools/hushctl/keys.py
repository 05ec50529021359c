"""The maker's key hierarchy, kept in one directory:

    root-ca.pem / root-ca.key.pem          root CA (keep the key offline)
    issuing-ca.pem / issuing-ca.key.pem    signs handset certificates
    fleet-ca.pem / fleet-ca.key.pem        signs technician certificates
    ota-signing-N.pem / .pub.pem           Secure Boot V2 release keys (N = 0..2)
    technicians/NAME.pem / NAME.key.pem    technician client certificates
    revocation/                            CRLs and the handset's revocation list
    hierarchy.json                         what is where, fingerprints, digests

Every private key is PKCS#8 PEM encrypted with the maker's passphrase. An OTA
key held by an external signer (HSM) is imported as a public key only."""
import datetime
import json
import os
import shutil
from pathlib import Path

from hushctl import atomic_files, pki
from hushctl.errors import HushctlError

HIERARCHY_FILE = "hierarchy.json"
ROOT, ISSUING, FLEET = "root-ca", "issuing-ca", "fleet-ca"
OTA_SCHEMES = ("rsa3072", "ecdsa256", "ecdsa384")
# The original ESP32 (ECO3) holds one Secure Boot V2 digest, the S3 three.
MAX_OTA_KEYS = 3
CHIP_OTA_SCHEMES = {"esp32": ("rsa3072",), "esp32s3": ("rsa3072",)}

ROOT_DAYS = 20 * 365
CA_DAYS = 10 * 365
TECHNICIAN_DAYS = 7

OFFLINE_ADVICE = (
    "Move %s.key.pem to offline storage (an encrypted USB stick in a safe); it is "
    "only needed to renew the issuing and fleet CAs. Keep the passphrase apart from it." % ROOT
)


PASSPHRASE_ENV = "HUSHCTL_PASSPHRASE"


def passphrase_from(passphrase_file=None, env=None):
    """The passphrase from a file (first line) or HUSHCTL_PASSPHRASE; None if
    neither. Every hushctl command that opens an encrypted key reads it so."""
    env = os.environ if env is None else env
    if passphrase_file:
        try:
            text = Path(passphrase_file).read_text(encoding="utf-8")
        except OSError as e:
            raise HushctlError("cannot read the passphrase file: %s" % e.strerror)
        except UnicodeDecodeError:
            raise HushctlError("the passphrase file is not UTF-8 text")
        return text.splitlines()[0] if text else ""
    return env.get(PASSPHRASE_ENV)


def _ota_key(scheme):
    if scheme == "rsa3072":
        return pki.new_rsa_key(3072)
    return pki.new_ec_key("P-256" if scheme == "ecdsa256" else "P-384")


def _scheme_of(public_key):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 3072:
        return "rsa3072"
    if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name in ("secp256r1", "secp384r1"):
        return "ecdsa256" if public_key.curve.name == "secp256r1" else "ecdsa384"
    return None


class Hierarchy:
    """A key hierarchy directory, loaded from hierarchy.json."""

    def __init__(self, directory):
        self.dir = Path(directory)
        path = self.dir / HIERARCHY_FILE
        try:
            self.meta = json.loads(path.read_text())
        except FileNotFoundError:
            raise HushctlError("no key hierarchy in %s (create one with `hushctl keys init`)" % self.dir)
        except ValueError as e:
            raise HushctlError("%s is damaged: %s" % (path, e))

    def path(self, name):
        return self.dir / name

    def cert(self, ca):
        return pki.load_cert_pem(self.path(ca + ".pem").read_bytes(), ca + ".pem")

    def key(self, ca, passphrase):
        path = self.path(ca + ".key.pem")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise HushctlError("%s is not here (kept offline?)" % path.name)
        return pki.load_private_key_pem(data, passphrase, path.name)

    @property
    def ota_keys(self):
        """[{index, scheme, public, private (or None), sbv2_digest (hex)}]"""
        return list(self.meta["ota_keys"])

    def ota_digests(self):
        return [bytes.fromhex(k["sbv2_digest"]) for k in self.ota_keys]

    def ota_public_key_path(self, index):
        return self.path(self.ota_keys[index]["public"])

    def ota_signing_key(self, index, passphrase):
        """The decrypted private OTA key (for `hushctl ota sign`); refuses
        when the key lives with an external signer."""
        entry = self.ota_keys[index]
        if not entry.get("private"):
            raise HushctlError("OTA key %d is held by an external signer; sign with it there" % index)
        return pki.load_private_key_pem(self.path(entry["private"]).read_bytes(), passphrase, entry["private"])


def init_hierarchy(directory, passphrase, ota_scheme="rsa3072", ota_keys=1, external_ota_pubkeys=(), organization=None):
    """Create the hierarchy; returns the Hierarchy. Refuses to touch a
    directory that already holds one (or any of its files)."""
    directory = Path(directory)
    pki.check_passphrase(passphrase)
    if ota_scheme not in OTA_SCHEMES:
        raise HushctlError("unknown OTA scheme %r (one of %s)" % (ota_scheme, ", ".join(OTA_SCHEMES)))
    if external_ota_pubkeys:
        ota_keys = len(external_ota_pubkeys)
    if not 1 <= ota_keys <= MAX_OTA_KEYS:
        raise HushctlError("--ota-keys must be 1 to %d" % MAX_OTA_KEYS)
    if directory.exists() and any(directory.iterdir()):
        raise HushctlError("%s is not empty: refusing to overwrite an existing key hierarchy" % directory)

    external = []
    for i, pub_path in enumerate(external_ota_pubkeys):
        try:
            data = Path(pub_path).read_bytes()
        except OSError as e:
            raise HushctlError("cannot read external OTA public key %s: %s" % (pub_path, e.strerror))
        public_key = pki.load_public_key_pem(data, str(pub_path))
        if _scheme_of(public_key) != ota_scheme:
            raise HushctlError("external OTA key %s is not a %s key" % (pub_path, ota_scheme))
        external.append(public_key)

    # Build everything in memory first, then write a staging directory and
    # rename it into place: a failure leaves no half hierarchy behind.
    files = {}
    root_key = pki.new_ec_key("P-384")
    root = pki.make_ca("Hushphone Root CA", root_key, ROOT_DAYS, path_length=1)
    issuing_key = pki.new_ec_key("P-256")
    issuing = pki.make_ca("Hushphone Handset Issuing CA", issuing_key, CA_DAYS, 0, root, root_key)
    fleet_key = pki.new_ec_key("P-256")
    fleet = pki.make_ca("Hushphone Fleet CA", fleet_key, CA_DAYS, 0, root, root_key)
    for label, cert, key in ((ROOT, root, root_key), (ISSUING, issuing, issuing_key), (FLEET, fleet, fleet_key)):
        files[label + ".pem"] = (pki.cert_pem(cert), False)
        files[label + ".key.pem"] = (pki.private_key_pem(key, passphrase), True)

    ota_entries = []
    for i in range(ota_keys):
        entry = {"index": i, "scheme": ota_scheme, "public": "ota-signing-%d.pub.pem" % i, "private": None}
        if external:
            public_key = external[i]
        else:
            key = _ota_key(ota_scheme)
            public_key = key.public_key()
            entry["private"] = "ota-signing-%d.pem" % i
            files[entry["private"]] = (pki.private_key_pem(key, passphrase), True)
        files[entry["public"]] = (pki.public_key_pem(public_key), False)
        entry["sbv2_digest"] = pki.sbv2_key_digest(public_key).hex()
        entry["fingerprint"] = pki.public_key_fingerprint(public_key)
        ota_entries.append(entry)

    meta = {
        "format": "hushphone-key-hierarchy",
        "version": 1,
        "created": pki.utcnow().isoformat(),
        "ota_scheme": ota_scheme,
        "ota_keys": ota_entries,
        "external_ota_signer": bool(external),
        "certificates": {label: pki.cert_fingerprint(c) for label, c in ((ROOT, root), (ISSUING, issuing), (FLEET, fleet))},
    }
    files[HIERARCHY_FILE] = ((json.dumps(meta, indent=2, sort_keys=True) + "\n").encode(), False)
    # While the root key is at hand: its first (empty) CRL, which verifiers
    # that check the whole chain (CRL_CHECK_ALL) need for the two CAs.
    files[REVOCATION_DIR + "/" + ROOT_CRL] = (pki.crl_pem(pki.make_crl(root, root_key, [], days=ROOT_CRL_DAYS)), False)

    staging = directory.parent / (".%s.staging-%s" % (directory.name, os.urandom(4).hex()))
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir(mode=0o700)
    except OSError as e:
        raise HushctlError("cannot create %s: %s" % (directory, e.strerror))
    try:
        for name, (data, secret) in files.items():
            (atomic_files.write_secret if secret else atomic_files.write_bytes)(staging / name, data)
        if directory.exists():
            directory.rmdir()  # empty, checked above
        os.rename(staging, directory)
    except BaseException:
        shutil.rmtree(staging)
        raise
    return Hierarchy(directory)


def summary(hierarchy):
    """Lines a person can read: fingerprints and Secure Boot V2 digests."""
    meta = hierarchy.meta
    lines = ["Key hierarchy in %s" % hierarchy.dir]
    for label in (ROOT, ISSUING, FLEET):
        lines.append("  %-11s SHA-256 %s" % (label, meta["certificates"][label]))
    for k in meta["ota_keys"]:
        where = "external signer" if not k.get("private") else k["private"]
        lines.append("  ota key %d   %s (%s)" % (k["index"], k["scheme"], where))
        lines.append("              Secure Boot V2 key digest %s" % k["sbv2_digest"])
    return lines


# --- technicians -----------------------------------------------------------

TECH_DIR = "technicians"
REVOCATION_DIR = "revocation"
TECH_REVOKED_JSON = "technicians-revoked.json"
FLEET_CRL = "fleet-ca.crl.pem"
TECH_REVOKED_BIN = "technicians-revoked.bin"  # for NVS hush_trust/tech_revoked
DEVICE_CRL = "issuing-ca.crl.pem"
ROOT_CRL = "root-ca.crl.pem"
ROOT_CRL_DAYS = 365


def renew_root_crl(hierarchy, passphrase, days=ROOT_CRL_DAYS):
    """Re-sign the root CA's CRL (no CA is revoked: the list stays empty).
    Needs the offline root key for a moment; returns the CRL path."""
    if not 1 <= days <= 3 * 365:
        raise HushctlError("the root CRL is valid for 1 to 1095 days")
    crl = pki.make_crl(hierarchy.cert(ROOT), hierarchy.key(ROOT, passphrase), [], days=days)
    path = hierarchy.path(REVOCATION_DIR) / ROOT_CRL
    atomic_files.write_bytes(path, pki.crl_pem(crl))
    return path


def _check_tech_name(name):
    ok = name and len(name) <= 64 and all(c.isalnum() or c in "-_." for c in name) and not name.startswith(".")
    if not ok:
        raise HushctlError("technician name must be 1-64 letters, digits, '-', '_' or '.'")


def issue_technician(hierarchy, name, passphrase, days=TECHNICIAN_DAYS):
    """A short-lived client certificate for fleet pushes; returns (cert, key path)."""
    _check_tech_name(name)
    if not 1 <= days <= 90:
        raise HushctlError("technician certificates are short-lived: 1 to 90 days")
    cert_path = hierarchy.path(TECH_DIR) / (name + ".pem")
    if cert_path.exists():
        raise HushctlError("technician %r already has a certificate; revoke it first" % name)
    fleet_key = hierarchy.key(FLEET, passphrase)
    key = pki.new_ec_key("P-256")
    cert = pki.make_client_cert(name, key.public_key(), days, hierarchy.cert(FLEET), fleet_key,
                                san_uri="urn:hushphone:technician:%s" % name)
    key_path = hierarchy.path(TECH_DIR) / (name + ".key.pem")
    atomic_files.write_secret(key_path, pki.private_key_pem(key, passphrase))
    atomic_files.write_bytes(cert_path, pki.cert_pem(cert))
    return cert, key_path


def _revoked_technicians(hierarchy):
    path = hierarchy.path(REVOCATION_DIR) / TECH_REVOKED_JSON
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return []


def revoke_technician(hierarchy, name, passphrase):
    """Revoke a technician certificate: re-sign the fleet CRL and rewrite the
    fingerprint list handsets carry. Returns the revoked certificate."""
    _check_tech_name(name)
    cert_path = hierarchy.path(TECH_DIR) / (name + ".pem")
    if not cert_path.exists():
        raise HushctlError("no certificate for technician %r" % name)
    cert = pki.load_cert_pem(cert_path.read_bytes())
    fleet_key = hierarchy.key(FLEET, passphrase)
    revoked = _revoked_technicians(hierarchy)
    revoked.append({
        "name": name,
        "serial": "%x" % cert.serial_number,
        "fingerprint": pki.cert_fingerprint(cert),
        "revoked_at": pki.utcnow().isoformat(),
    })
    crl = pki.make_crl(hierarchy.cert(FLEET), fleet_key,
                       [(int(r["serial"], 16), datetime.datetime.fromisoformat(r["revoked_at"])) for r in revoked])
    rdir = hierarchy.path(REVOCATION_DIR)
    atomic_files.write_bytes(rdir / FLEET_CRL, pki.crl_pem(crl))
    atomic_files.write_bytes(rdir / TECH_REVOKED_BIN, technician_revocation_list(revoked))
    atomic_files.write_text(rdir / TECH_REVOKED_JSON, json.dumps(revoked, indent=2) + "\n")
    # The certificate moves aside so that the name can be issued again.
    os.replace(cert_path, rdir / ("%s-%x.pem" % (name, cert.serial_number)))
    key_path = hierarchy.path(TECH_DIR) / (name + ".key.pem")
    if key_path.exists():
        key_path.unlink()
    return cert


def technician_revocation_list(revoked=None, hierarchy=None):
    """The blob for NVS hush_trust/tech_revoked: 32-byte SHA-256 fingerprints."""
    if revoked is None:
        revoked = _revoked_technicians(hierarchy)
    return b"".join(bytes.fromhex(r["fingerprint"]) for r in revoked)
