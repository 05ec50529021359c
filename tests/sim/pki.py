"""A throw-away PKI for the SIP/TLS tests, made with `cryptography`.

`TestPki(dir)` writes a CA, a server certificate for "localhost" (+127.0.0.1
and ::1 SANs), client certificates, an expired server certificate and a
server certificate from another CA, each as PEM and DER files (Kamailio and
CPython want PEM, the MicroPython unix port parses DER only)."""
import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAY = datetime.timedelta(days=1)


class KeyPair:
    """A certificate and its key on disk: .cert_pem .key_pem .cert_der .key_der (Paths)."""

    def __init__(self, directory, name, cert, key):
        self.name = name
        self.cert = cert
        self.key = key
        self.cert_pem = directory / (name + ".crt.pem")
        self.key_pem = directory / (name + ".key.pem")
        self.cert_der = directory / (name + ".crt.der")
        self.key_der = directory / (name + ".key.der")
        self.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.cert_der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        nopass = serialization.NoEncryption()
        self.key_pem.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, nopass)
        )
        self.key_der.write_bytes(
            key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, nopass)
        )


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _make_ca(directory, name, now):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + 3650 * _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(directory, name, cert, key)


def _issue(directory, ca, name, now, hosts=(), client=False, not_before=None, not_after=None):
    key = ec.generate_private_key(ec.SECP256R1())
    sans = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0] if hosts else name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - _DAY)
        .not_valid_after(not_after or now + 365 * _DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return KeyPair(directory, name, builder.sign(ca.key, hashes.SHA256()), key)


class TestPki:
    __test__ = False  # not a pytest class

    def __init__(self, directory):
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        now = datetime.datetime.now(datetime.timezone.utc)
        self.ca = _make_ca(directory, "hushphone-test-ca", now)
        self.other_ca = _make_ca(directory, "unrelated-ca", now)
        hosts = ("localhost", "127.0.0.1", "::1")
        self.server = _issue(directory, self.ca, "server", now, hosts)
        # Same host names, but signed by a CA the phone does not trust.
        self.server_other_ca = _issue(directory, self.other_ca, "server-other-ca", now, hosts)
        # Valid chain and names, but its validity ended yesterday.
        self.server_expired = _issue(
            directory, self.ca, "server-expired", now, hosts, not_before=now - 30 * _DAY, not_after=now - _DAY
        )
        # Valid chain, names that are not the proxy's.
        self.server_wrong_name = _issue(directory, self.ca, "server-wrong-name", now, ("sip.example.net",))
        self._now = now

    def client(self, name):
        """A client certificate signed by the test CA (for mutual TLS)."""
        return _issue(self.dir, self.ca, name, self._now, client=True)
