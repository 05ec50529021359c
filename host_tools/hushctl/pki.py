"""Keys and X.509 certificates for the Hushphone hierarchy, with `cryptography`.

Every certificate carries the extensions a verifier expects: basicConstraints
(CA with a path length, or end entity), keyUsage, subject/authority key
identifiers, and an extended key usage for end entities (clientAuth)."""
import base64
import datetime
import hashlib
import os
import struct

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hushctl.errors import HushctlError

MIN_PASSPHRASE = 8


class PassphraseError(HushctlError):
    pass


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def random_serial():
    """A random positive 128-bit certificate serial number."""
    return int.from_bytes(os.urandom(16), "big") or 1


# --- keys -----------------------------------------------------------------

def new_ec_key(curve="P-256"):
    return ec.generate_private_key({"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}[curve])


def new_rsa_key(bits=3072):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def check_passphrase(passphrase):
    if passphrase is None:
        raise PassphraseError("a passphrase is needed: use --passphrase-file or set HUSHCTL_PASSPHRASE")
    if len(passphrase) < MIN_PASSPHRASE:
        raise PassphraseError("the passphrase must have at least %d characters" % MIN_PASSPHRASE)
    return passphrase


# Encrypted PKCS#8 (RFC 5958/8018): PBES2 with PBKDF2-HMAC-SHA256 and
# AES-256-CBC. `cryptography`'s BestAvailableEncryption uses 2,048 PBKDF2
# rounds; a stolen offline key file deserves far more (OWASP: 600,000).
PBKDF2_ROUNDS = 600000
_OID_PBES2 = "1.2.840.113549.1.5.13"
_OID_PBKDF2 = "1.2.840.113549.1.5.12"
_OID_HMAC_SHA256 = "1.2.840.113549.2.9"
_OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"


def _der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _der_oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        while p > 0x7F:
            p >>= 7
            chunk.append(0x80 | (p & 0x7F))
        body += bytes(reversed(chunk))
    return _der(0x06, body)


def _der_int(value):
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def private_key_pem(key, passphrase, rounds=PBKDF2_ROUNDS):
    """PKCS#8 PEM ("ENCRYPTED PRIVATE KEY") under the passphrase; openssl,
    `cryptography` and hushctl read it."""
    secret = check_passphrase(passphrase).encode("utf-8")
    salt, iv = os.urandom(16), os.urandom(16)
    kek = hashlib.pbkdf2_hmac("sha256", secret, salt, rounds, 32)
    padder = sym_padding.PKCS7(128).padder()
    plain = padder.update(key_der_pkcs8(key)) + padder.finalize()
    encryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(plain) + encryptor.finalize()
    kdf = _der(0x30, _der_oid(_OID_PBKDF2) + _der(0x30, _der(0x04, salt) + _der_int(rounds)
                                                     + _der(0x30, _der_oid(_OID_HMAC_SHA256) + b"\x05\x00")))
    scheme = _der(0x30, _der_oid(_OID_AES256_CBC) + _der(0x04, iv))
    algorithm = _der(0x30, _der_oid(_OID_PBES2) + _der(0x30, kdf + scheme))
    der = _der(0x30, algorithm + _der(0x04, encrypted))
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN ENCRYPTED PRIVATE KEY-----\n%s\n-----END ENCRYPTED PRIVATE KEY-----\n"
            % "\n".join(lines)).encode()


def load_private_key_pem(data, passphrase, what="private key"):
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in data:
        raise PassphraseError("%s is not an encrypted private key; refusing to use it" % what)
    if not passphrase:
        raise PassphraseError("%s is encrypted: a passphrase is needed (--passphrase-file or HUSHCTL_PASSPHRASE)" % what)
    try:
        return serialization.load_pem_private_key(data, passphrase.encode("utf-8"))
    except (TypeError, ValueError, UnsupportedAlgorithm):
        raise PassphraseError("wrong passphrase for %s (or the file is not a private key)" % what)


def public_key_pem(public_key):
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key_pem(data, what="public key"):
    try:
        if b"PRIVATE KEY" in data:
            raise HushctlError("%s: expected a public key, got a private key" % what)
        return serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise HushctlError("%s is not a PEM public key" % what)


def key_der_pkcs8(key):
    """Unencrypted DER PKCS#8: only for the handset's own key, on its way into
    NVS (which flash/NVS encryption protects)."""
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def public_key_fingerprint(public_key):
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


# --- Secure Boot V2 key digest --------------------------------------------

_CURVE_IDS = {"secp192r1": (1, 192), "secp256r1": (2, 256), "secp384r1": (3, 384)}


def sbv2_key_digest(public_key):
    """SHA-256 of the public key as the signature block stores it: what the
    ROM compares with the eFuse (espsecure digest-sbv2-public-key)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size != 3072:
            raise HushctlError("Secure Boot V2 RSA keys are 3072 bits, not %d" % public_key.key_size)
        numbers = public_key.public_numbers()
        n, e = numbers.n, numbers.e
        # Montgomery constants for the RSA peripheral: R^2 mod n and -n^-1 mod 2^32.
        rinv = pow(1 << 3072, 2, n)
        m_prime = (-pow(n, -1, 1 << 32)) & 0xFFFFFFFF
        blob = struct.pack("<384sI384sI", n.to_bytes(384, "little"), e, rinv.to_bytes(384, "little"), m_prime)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in _CURVE_IDS:
            raise HushctlError("Secure Boot V2 does not support curve %s" % public_key.curve.name)
        curve_id, bits = _CURVE_IDS[public_key.curve.name]
        numbers = public_key.public_numbers()
        size = bits // 8
        blob = bytes([curve_id]) + numbers.x.to_bytes(size, "little") + numbers.y.to_bytes(size, "little")
    else:
        raise HushctlError("unsupported Secure Boot V2 key type")
    return hashlib.sha256(blob).digest()


# --- certificates ---------------------------------------------------------

def name(common_name, organization="Hushphone"):
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _signing_hash(issuer_key):
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey) and issuer_key.curve.key_size > 256:
        return hashes.SHA384()
    return hashes.SHA256()


def _builder(subject, public_key, issuer_name, issuer_public_key, days):
    now = utcnow()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(random_serial())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate clock skew
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False)
    )
    return builder


def _key_usage(digital_signature=False, cert_sign=False):
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
        encipher_only=False, decipher_only=False,
    )


def make_ca(common_name, key, days, path_length, issuer_cert=None, issuer_key=None):
    """A CA certificate: self-signed (root) when no issuer is given."""
    subject = name(common_name)
    issuer_name = issuer_cert.subject if issuer_cert is not None else subject
    signer = issuer_key if issuer_key is not None else key
    builder = (
        _builder(subject, key.public_key(), issuer_name, signer.public_key(), days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
    )
    return builder.sign(signer, _signing_hash(signer))


def make_client_cert(common_name, public_key, days, issuer_cert, issuer_key, san_uri=None, server_auth=False):
    """An end-entity certificate for TLS client authentication (handsets,
    technicians): digitalSignature, clientAuth; with server_auth also
    serverAuth (a handset serves fleet pushes with the same identity, and
    mbedTLS will not serve a certificate whose EKU lacks serverAuth)."""
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if server_auth else [])
    builder = (
        _builder(name(common_name), public_key, issuer_cert.subject, issuer_key.public_key(), days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    if san_uri:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(san_uri)]), critical=False)
    return builder.sign(issuer_key, _signing_hash(issuer_key))


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def load_cert_pem(data, what="certificate"):
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise HushctlError("%s is not a PEM certificate" % what)


def cert_fingerprint(cert):
    """SHA-256 over the DER certificate, lower-case hex."""
    return cert.fingerprint(hashes.SHA256()).hex()


def make_crl(issuer_cert, issuer_key, revoked, days=30):
    """A CRL signed by the issuer; revoked is [(serial_number, datetime)]."""
    now = utcnow()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(now)
        .next_update(now + datetime.timedelta(days=days))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(issuer_key, _signing_hash(issuer_key))


def crl_pem(crl):
    return crl.public_bytes(serialization.Encoding.PEM)
