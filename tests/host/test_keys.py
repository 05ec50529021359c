"""`hushctl keys`: the hierarchy verifies with openssl, keys are encrypted,
Secure Boot V2 digests equal espsecure's, OTA keys work with espsecure, and
technician certificates can be revoked (CRL checked by openssl)."""
import hashlib
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, utils
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.host.provision_helpers import (PASSPHRASE, espsecure_digest, hushctl, ok, one_line_error, openssl,
                                          passphrase_file, sim_namespace, tool, tree_snapshot)


@pytest.fixture(scope="module")
def hierarchy(tmp_path_factory):
    base = tmp_path_factory.mktemp("keys")
    pw = passphrase_file(base)
    result = ok(hushctl("keys", "init", base / "k", "--passphrase-file", pw))
    return base / "k", pw, result.stdout


def _cert(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_summary_prints_fingerprints_and_espsecure_digest(hierarchy, tmp_path):
    keys_dir, _, stdout = hierarchy
    digest = espsecure_digest(keys_dir / "ota-signing-0.pub.pem", tmp_path)
    assert ("Secure Boot V2 key digest %s" % digest.hex()) in stdout
    meta = json.loads((keys_dir / "hierarchy.json").read_text())
    assert meta["ota_keys"][0]["sbv2_digest"] == digest.hex()
    # The private key file gives the same digest to espsecure once decrypted.
    for label in ("root-ca", "issuing-ca", "fleet-ca"):
        fp = _cert(keys_dir / (label + ".pem")).fingerprint(hashes.SHA256()).hex()
        assert fp in stdout
    assert "offline" in stdout and PASSPHRASE not in stdout


def test_chain_verifies_with_openssl_and_has_ca_extensions(hierarchy):
    keys_dir, _, _ = hierarchy
    for ca in ("issuing-ca.pem", "fleet-ca.pem"):
        assert "OK" in openssl("verify", "-CAfile", keys_dir / "root-ca.pem", keys_dir / ca).stdout
    root = _cert(keys_dir / "root-ca.pem")
    issuing = _cert(keys_dir / "issuing-ca.pem")
    bc = issuing.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
    ku = issuing.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    aki = issuing.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert aki == ski


def test_private_keys_are_encrypted_and_match_their_certificates(hierarchy, tmp_path):
    keys_dir, pw, _ = hierarchy
    for label in ("root-ca", "issuing-ca", "fleet-ca"):
        key_path = keys_dir / (label + ".key.pem")
        assert b"BEGIN ENCRYPTED PRIVATE KEY" in key_path.read_bytes()
        assert key_path.stat().st_mode & 0o077 == 0
        # PBES2: PBKDF2-HMAC-SHA256 with 600,000 rounds (0x0927C0), AES-256-CBC.
        structure = openssl("asn1parse", "-in", key_path).stdout
        assert ":PBKDF2" in structure and "INTEGER           :0927C0" in structure
        assert ":hmacWithSHA256" in structure and ":aes-256-cbc" in structure
        assert openssl("pkey", "-in", key_path, "-passin", "pass:wrong passphrase", "-noout", check=False).returncode != 0
        assert openssl("pkey", "-in", key_path, "-passin", "pass:", "-noout", check=False).returncode != 0
        key_pub = openssl("pkey", "-in", key_path, "-passin", "file:%s" % pw, "-pubout").stdout
        cert_pub = openssl("x509", "-in", keys_dir / (label + ".pem"), "-pubkey", "-noout").stdout
        assert key_pub == cert_pub
    ota = keys_dir / "ota-signing-0.pem"
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in ota.read_bytes()
    assert "3072 bit" in openssl("pkey", "-in", ota, "-passin", "file:%s" % pw, "-text", "-noout").stdout


def test_ota_key_signs_an_image_that_espsecure_verifies(hierarchy, tmp_path):
    """The release key works with espsecure's external-signature flow: sign
    with the decrypted key, espsecure builds and verifies the block."""
    from hushctl.keys import Hierarchy

    keys_dir, _, _ = hierarchy
    key = Hierarchy(keys_dir).ota_signing_key(0, PASSPHRASE)
    data = bytes(range(256)) * 32  # 8 KiB: sector aligned
    digest = hashlib.sha256(data).digest()
    signature = key.sign(digest, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                         utils.Prehashed(hashes.SHA256()))
    (tmp_path / "image.bin").write_bytes(data)
    (tmp_path / "sig.bin").write_bytes(signature)
    pub = keys_dir / "ota-signing-0.pub.pem"
    tool("espsecure", "sign-data", "--version", "2", "--pub-key", pub, "--signature", tmp_path / "sig.bin",
         "--output", tmp_path / "signed.bin", tmp_path / "image.bin")
    assert "verification successful" in tool("espsecure", "verify-signature", "--version", "2", "--keyfile", pub,
                                              tmp_path / "signed.bin").stdout.lower()
    with pytest.raises(Exception):
        Hierarchy(keys_dir).ota_signing_key(0, "wrong passphrase!")


def test_refuses_to_overwrite_an_existing_hierarchy(hierarchy):
    keys_dir, pw, _ = hierarchy
    before = tree_snapshot(keys_dir)
    one_line_error(hushctl("keys", "init", keys_dir, "--passphrase-file", pw), "refusing to overwrite")
    assert tree_snapshot(keys_dir) == before


def test_missing_or_short_passphrase_writes_nothing(tmp_path):
    # As its own process: the real entry point's exit code and stderr.
    one_line_error(hushctl("keys", "init", tmp_path / "k", process=True), "passphrase")
    one_line_error(hushctl("keys", "init", tmp_path / "k", "--passphrase-file", passphrase_file(tmp_path, "short"),
                           process=True), "at least")
    one_line_error(hushctl("keys", "init", tmp_path / "k", "--passphrase-file", tmp_path / "absent.txt"),
                   "passphrase file")
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize("scheme", ["ecdsa256", "ecdsa384"])
def test_ecdsa_schemes_and_several_keys_match_espsecure(tmp_path, scheme):
    result = ok(hushctl("keys", "init", tmp_path / "k", "--ota-scheme", scheme, "--ota-keys", "2",
                        env={"HUSHCTL_PASSPHRASE": PASSPHRASE}))
    for i in range(2):
        digest = espsecure_digest(tmp_path / "k" / ("ota-signing-%d.pub.pem" % i), tmp_path)
        assert digest.hex() in result.stdout
    assert not (tmp_path / "k" / "ota-signing-2.pub.pem").exists()


def test_external_ota_signer_imports_only_public_keys(tmp_path):
    tool("espsecure", "generate-signing-key", "--version", "2", "--scheme", "rsa3072", tmp_path / "hsm.pem")
    private = serialization.load_pem_private_key((tmp_path / "hsm.pem").read_bytes(), None)
    (tmp_path / "hsm.pub.pem").write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    result = ok(hushctl("keys", "init", tmp_path / "k", "--external-ota-signer", tmp_path / "hsm.pub.pem",
                        env={"HUSHCTL_PASSPHRASE": PASSPHRASE}))
    assert espsecure_digest(tmp_path / "hsm.pem", tmp_path).hex() in result.stdout
    assert "external signer" in result.stdout
    assert not (tmp_path / "k" / "ota-signing-0.pem").exists()
    assert not any(b"PRIVATE" in p.read_bytes() for p in (tmp_path / "k").glob("ota-*"))
    # A key of the wrong scheme is refused.
    one_line_error(hushctl("keys", "init", tmp_path / "k2", "--ota-scheme", "ecdsa256", "--external-ota-signer",
                           tmp_path / "hsm.pub.pem", env={"HUSHCTL_PASSPHRASE": PASSPHRASE}), "not a ecdsa256 key")
    assert not (tmp_path / "k2").exists()


def test_technician_certificate_issue_and_revoke(hierarchy, tmp_path):
    keys_dir, pw, _ = hierarchy
    ok(hushctl("keys", "technician", "issue", "dana", "--keys", keys_dir, "--days", "3", "--passphrase-file", pw))
    cert_path = keys_dir / "technicians" / "dana.pem"
    (tmp_path / "dana.pem").write_bytes(cert_path.read_bytes())
    cert = _cert(cert_path)
    assert "OK" in openssl("verify", "-CAfile", keys_dir / "root-ca.pem", "-untrusted", keys_dir / "fleet-ca.pem",
                           "-purpose", "sslclient", cert_path).stdout
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime.days <= 3
    assert b"ENCRYPTED" in (keys_dir / "technicians" / "dana.key.pem").read_bytes()
    one_line_error(hushctl("keys", "technician", "issue", "dana", "--keys", keys_dir, "--passphrase-file", pw),
                   "already has a certificate")
    one_line_error(hushctl("keys", "technician", "issue", "../evil", "--keys", keys_dir, "--passphrase-file", pw),
                   "technician name")

    ok(hushctl("keys", "technician", "revoke", "dana", "--keys", keys_dir, "--passphrase-file", pw))
    crl = keys_dir / "revocation" / "fleet-ca.crl.pem"
    openssl("crl", "-in", crl, "-CAfile", keys_dir / "fleet-ca.pem", "-noout")  # signature checks out
    bundle = tmp_path / "cas.pem"
    bundle.write_bytes((keys_dir / "root-ca.pem").read_bytes() + (keys_dir / "fleet-ca.pem").read_bytes())
    refused = openssl("verify", "-crl_check", "-CRLfile", crl, "-CAfile", bundle, tmp_path / "dana.pem", check=False)
    assert refused.returncode != 0 and "revoked" in (refused.stdout + refused.stderr)
    listed = (keys_dir / "revocation" / "technicians-revoked.bin").read_bytes()
    assert listed == hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    assert not cert_path.exists()
    # Handsets provisioned from now on carry the revocation list in NVS.
    ok(hushctl("provision", "--keys", keys_dir, "--passphrase-file", pw, "--board", "sim", "--sim", tmp_path / "h"))
    assert sim_namespace(tmp_path / "h", "hush_trust")["tech_revoked"] == listed
    one_line_error(hushctl("keys", "technician", "revoke", "dana", "--keys", keys_dir, "--passphrase-file", pw),
                   "no certificate")


def test_root_crl_is_made_at_init_and_renewed_with_the_root_key(hierarchy, tmp_path):
    keys_dir, pw, _ = hierarchy
    crl = keys_dir / "revocation" / "root-ca.crl.pem"
    first = crl.read_bytes()
    checked = openssl("crl", "-in", crl, "-CAfile", keys_dir / "root-ca.pem", "-noout")
    assert "verify OK" in checked.stdout + checked.stderr
    # With the root CRL, a full-chain CRL check of the issuing CA passes.
    assert "OK" in openssl("verify", "-crl_check_all", "-CRLfile", crl, "-CAfile", keys_dir / "root-ca.pem",
                           keys_dir / "issuing-ca.pem").stdout
    one_line_error(hushctl("keys", "root-crl", "--keys", keys_dir, "--passphrase-file",
                           passphrase_file(tmp_path, "not the passphrase")), "wrong passphrase for root-ca.key.pem")
    assert crl.read_bytes() == first
    ok(hushctl("keys", "root-crl", "--keys", keys_dir, "--days", "30", "--passphrase-file", pw))
    assert crl.read_bytes() != first
    checked = openssl("crl", "-in", crl, "-CAfile", keys_dir / "root-ca.pem", "-noout")
    assert "verify OK" in checked.stdout + checked.stderr


def test_hushctl_ota_sign_uses_the_hierarchy_release_key(hierarchy, tmp_path):
    """`hushctl ota sign` takes the encrypted release key as it is; the
    signed image verifies with espsecure against the public key."""
    from hushctl.appimage import build_app_image

    keys_dir, pw, _ = hierarchy
    (tmp_path / "app.bin").write_bytes(build_app_image("esp32", "2.0.0", 1, "hushphone", 3000))
    ok(hushctl("ota", "sign", "--image", tmp_path / "app.bin", "--board", "lyrat-v4.3", "--chip", "esp32",
               "--key", keys_dir / "ota-signing-0.pem", "--passphrase-file", pw, "--out-image", tmp_path / "signed.bin"))
    verified = tool("espsecure", "verify-signature", "--version", "2", "--keyfile", keys_dir / "ota-signing-0.pub.pem",
                    tmp_path / "signed.bin")
    assert "verification successful" in verified.stdout.lower()
