# The two ZRTP key agreements (RFC 6189 §5.1.5): "DH3k", finite-field
# Diffie-Hellman in the 3072-bit MODP group of RFC 3526 §4, and "X255",
# X25519 (RFC 7748). Plain Python big integers: the same code on CPython and
# on MicroPython (whose pow() is not hardware-accelerated, so key pairs are
# made ahead of time by keypool.py). Python integers are not constant-time;
# an attacker would need local timing access to the phone to exploit that.
from hushphone.zrtp.errors import ZrtpDhError, ZrtpLocalError

KA_DH3K = "DH3k"
KA_X255 = "X255"

# RFC 3526 §4: p = 2^3072 - 2^3008 - 1 + 2^64 * ([2^2942 pi] + 1690314), g = 2.
DH3K_P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
DH3K_G = 2
DH3K_LEN = 384  # octets of p, of a public value and of the DH result
# RFC 6189 §5.1.5: the secret exponent is twice the AES key length in bits
# (256 bits for AES-128), which keeps one exponentiation affordable.
DH3K_SECRET_LEN = 32

X255_LEN = 32
_P25519 = (1 << 255) - 19
_A24 = 121665

# Public value sizes, by key agreement name.
PV_LEN = {KA_DH3K: DH3K_LEN, KA_X255: X255_LEN}
# RFC 6189 §4.1.2 ranks agreements from fastest to slowest; X25519 is
# faster than DH-3072.
SPEED_RANK = {KA_X255: 0, KA_DH3K: 1}


# -- DH-3072 ---------------------------------------------------------------


def dh3k_public(secret):
    """pv = g^secret mod p as a 384-octet big-endian string (leading zeros
    kept, RFC 6189 §4.4.1.1)."""
    x = int.from_bytes(secret, "big")
    if x < 2:
        raise ZrtpLocalError("DH secret too small")
    return pow(DH3K_G, x, DH3K_P).to_bytes(DH3K_LEN, "big")


def dh3k_shared(secret, peer_public):
    """DHResult = peer_public^secret mod p, 384 octets. ZrtpDhError for a
    public value that is not in 2..p-2 (1 and p-1 would give a known
    result, RFC 6189 §4.4.1.2)."""
    if len(peer_public) != DH3K_LEN:
        raise ZrtpDhError("DH3k public value must be 384 octets")
    y = int.from_bytes(peer_public, "big")
    if y < 2 or y > DH3K_P - 2:
        raise ZrtpDhError("DH3k public value out of range (0, 1 or p-1)")
    return pow(y, int.from_bytes(secret, "big"), DH3K_P).to_bytes(DH3K_LEN, "big")


# -- X25519 ----------------------------------------------------------------


def _clamp(scalar):
    if len(scalar) != X255_LEN:
        raise ZrtpLocalError("X25519 scalar must be 32 bytes")
    k = bytearray(scalar)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return int.from_bytes(bytes(k), "little")


def x25519(scalar, u_bytes):
    """The X25519 function of RFC 7748 §5: the Montgomery ladder on
    Curve25519, 32-byte little-endian scalar and u-coordinate in and out."""
    if len(u_bytes) != X255_LEN:
        raise ZrtpDhError("X25519 public value must be 32 bytes")
    p = _P25519
    k = _clamp(scalar)
    u = bytearray(u_bytes)
    u[31] &= 127  # the top bit is masked (RFC 7748 §5)
    x1 = int.from_bytes(bytes(u), "little") % p
    x2, z2, x3, z3 = 1, 0, x1, 1
    swap = 0
    for t in range(254, -1, -1):
        bit = (k >> t) & 1
        if swap ^ bit:
            x2, x3 = x3, x2
            z2, z3 = z3, z2
        swap = bit
        a = x2 + z2
        aa = a * a % p
        b = x2 - z2
        bb = b * b % p
        e = aa - bb
        c = x3 + z3
        d = x3 - z3
        da = d * a % p
        cb = c * b % p
        s = da + cb
        x3 = s * s % p
        s = da - cb
        z3 = x1 * (s * s % p) % p
        x2 = aa * bb % p
        z2 = e * (aa + _A24 * e) % p
    if swap:
        x2, x3 = x3, x2
        z2, z3 = z3, z2
    return (x2 * pow(z2, p - 2, p) % p).to_bytes(X255_LEN, "little")


_X25519_BASE = b"\x09" + bytes(31)


def x25519_public(secret):
    return x25519(secret, _X25519_BASE)


def x25519_shared(secret, peer_public):
    """The shared secret; ZrtpDhError if it is all zeros (the peer sent a
    small-order point, RFC 7748 §6.1)."""
    shared = x25519(secret, peer_public)
    if shared == bytes(X255_LEN):
        raise ZrtpDhError("X25519 public value of small order")
    return shared


# -- key pairs ---------------------------------------------------------------


class KeyPair:
    """An ephemeral key pair of one agreement: `public` is the ZRTP pv
    field; shared(peer_pv) gives the DHResult."""

    def __init__(self, agreement, secret, public):
        self.agreement = agreement
        self._secret = secret
        self.public = public

    def __repr__(self):
        return "<KeyPair %s>" % self.agreement  # never the secret

    def shared(self, peer_public):
        if self.agreement == KA_X255:
            return x25519_shared(self._secret, peer_public)
        return dh3k_shared(self._secret, peer_public)


def generate(agreement, random_bytes):
    """A fresh key pair; `random_bytes(n)` is the caller's CSPRNG."""
    if agreement == KA_X255:
        secret = random_bytes(X255_LEN)
        return KeyPair(agreement, secret, x25519_public(secret))
    if agreement == KA_DH3K:
        secret = random_bytes(DH3K_SECRET_LEN)
        if secret[0] == 0:  # keep the exponent a full 256 bits
            secret = b"\x01" + secret[1:]
        return KeyPair(agreement, secret, dh3k_public(secret))
    raise ZrtpLocalError("unknown key agreement %r" % (agreement,))
