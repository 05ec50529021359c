# Technicians a handset refuses. NVS hush_trust/tech_revoked holds the
# SHA-256 fingerprints (32 bytes each) of revoked technician certificates,
# written by `hushctl provision` from `hushctl keys technician revoke`. The
# fleet CA still vouches for such a certificate until it expires, so the
# update agent checks the TLS peer's certificate against this list after the
# mutual-TLS handshake, before it reads any bundle byte.
#
# How the agent learns the peer's certificate depends on the runtime:
#  - CPython: the transport's ssl_object.getpeercert(binary_form=True);
#  - MicroPython built with MBEDTLS_SSL_KEEP_PEER_CERTIFICATE (ESP-IDF's
#    default, so the ESP32 port): SSLSocket.getpeercert(True);
#  - MicroPython without it (the unix port the simulation runs on):
#    SSLContext.verify_callback sees each certificate of the chain during the
#    handshake, which MicroPython's asyncio runs inside the connection's own
#    task (on its first read); depth 0 is the peer's own certificate.
try:
    import asyncio
except ImportError:  # older MicroPython builds
    import uasyncio as asyncio

from hushphone.compat import const
from hushphone.crypto.sha import sha256
from hushphone.storage_layout import FINGERPRINT_LEN, KEY_TECH_REVOKED, is_missing

# Buffer sizes tried in turn for the list (16, 128, 1024 fingerprints): NVS
# get_blob needs a buffer at least as long as the blob.
_BUFFER_SIZES = (16 * FINGERPRINT_LEN, 128 * FINGERPRINT_LEN, 1024 * FINGERPRINT_LEN)
_ESP_ERR_NVS_INVALID_LENGTH = const(0x110C)


def fingerprint(cert_der):
    """The SHA-256 of a certificate's DER encoding (what the list holds)."""
    return sha256(bytes(cert_der))


class RevokedTechnicians:
    def __init__(self, blob=b""):
        if len(blob) % FINGERPRINT_LEN:
            raise ValueError("technician revocation list is not a multiple of %d bytes" % FINGERPRINT_LEN)
        self._fingerprints = set(bytes(blob[i : i + FINGERPRINT_LEN]) for i in range(0, len(blob), FINGERPRINT_LEN))

    @classmethod
    def load(cls, nvs):
        """The list from the trust namespace (empty when the key is missing)."""
        for size in _BUFFER_SIZES:
            buf = bytearray(size)
            try:
                n = nvs.get_blob(KEY_TECH_REVOKED, buf)
            except OSError as e:
                if is_missing(e):
                    return cls()
                if e.args and e.args[0] == -_ESP_ERR_NVS_INVALID_LENGTH:
                    continue  # a longer list: try a bigger buffer
                raise
            return cls(memoryview(buf)[:n])
        raise ValueError("technician revocation list is longer than %d entries" % (_BUFFER_SIZES[-1] // FINGERPRINT_LEN))

    def __len__(self):
        return len(self._fingerprints)

    def is_revoked(self, cert_der):
        return fingerprint(cert_der) in self._fingerprints


class PeerCertificates:
    """The DER certificate of each connection's TLS peer: `watch(ctx)` once
    on the server context, then `read_first_line(reader, writer)` as the
    connection's first read."""

    def __init__(self):
        self._seen = {}  # id(task in its handshake) -> leaf DER, from the verify callback

    def watch(self, ssl_context):
        inner = getattr(ssl_context, "_context", None)  # MicroPython's ssl wrapper around tls.SSLContext
        if inner is None:
            return False  # CPython: getpeercert() is always there
        try:
            inner.verify_callback = self._verify
        except AttributeError:
            return False
        return True

    def _verify(self, cert, depth):
        if depth == 0:
            self._seen[id(asyncio.current_task())] = bytes(cert)  # `cert` is only valid during the call
        return 0  # 0 keeps mbedTLS's own verdict (chain, validity)

    async def read_first_line(self, reader, writer):
        """The connection's first line and the peer's certificate (DER, or
        None if this runtime cannot tell). On MicroPython the handshake runs
        inside this read, in the task running this coroutine (which may be
        a wait_for task, not the handler's)."""
        key = id(asyncio.current_task())
        try:
            line = await reader.readline()
            return line, self._peer_certificate(writer, key)
        finally:
            self._seen.pop(key, None)  # also after a failed handshake or a timeout

    def _peer_certificate(self, writer, key):
        get_extra_info = getattr(writer, "get_extra_info", None)
        try:
            ssl_object = get_extra_info("ssl_object") if get_extra_info else None
        except KeyError:  # MicroPython's streams know only "peername"
            ssl_object = None
        if ssl_object is None:
            ssl_object = getattr(writer, "s", None)  # MicroPython: the SSLSocket itself
        if ssl_object is not None and hasattr(ssl_object, "getpeercert"):
            der = ssl_object.getpeercert(True)
            if der:
                return bytes(der)
        return self._seen.get(key)
