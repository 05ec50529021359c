# ECDSA signature verification over the NIST prime curves P-192, P-256 and
# P-384 (FIPS 186-4 section 6.4), in plain Python so it runs unchanged on
# MicroPython: Jacobian coordinates for a = -3, Shamir's trick for
# u1*G + u2*Q, inversion by Fermat (pow(x, p - 2, p)). Verification handles
# public data only, so it needs no constant-time care.


class Curve:
    def __init__(self, name, p, b, n, gx, gy, size):
        self.name = name
        self.p = p
        self.b = b
        self.n = n
        self.g = (gx, gy)
        self.size = size  # bytes per coordinate

    def on_curve(self, x, y):
        p = self.p
        if not (0 <= x < p and 0 <= y < p):
            return False
        return (y * y - (x * x * x - 3 * x + self.b)) % p == 0


P192 = Curve(
    "P-192",
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFF,
    0x64210519E59C80E70FA7E9AB72243049FEB8DEECC146B9B1,
    0xFFFFFFFFFFFFFFFFFFFFFFFF99DEF836146BC9B1B4D22831,
    0x188DA80EB03090F67CBF20EB43A18800F4FF0AFD82FF1012,
    0x07192B95FFC8DA78631011ED6B24CDD573F977A11E794811,
    24,
)
P256 = Curve(
    "P-256",
    0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
    0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    32,
)
P384 = Curve(
    "P-384",
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFF,
    0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
    0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7,
    0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F,
    48,
)

# A point in Jacobian coordinates (X, Y, Z) stands for (X/Z^2, Y/Z^3);
# Z == 0 is the point at infinity.
_INFINITY = (1, 1, 0)


def _double(pt, p):
    x, y, z = pt
    if z == 0 or y == 0:
        return _INFINITY
    # dbl-2001-b for a = -3
    delta = z * z % p
    gamma = y * y % p
    beta = x * gamma % p
    alpha = 3 * (x - delta) * (x + delta) % p
    x3 = (alpha * alpha - 8 * beta) % p
    z3 = ((y + z) * (y + z) - gamma - delta) % p
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % p
    return (x3, y3, z3)


def _add(a, b, p):
    x1, y1, z1 = a
    x2, y2, z2 = b
    if z1 == 0:
        return b
    if z2 == 0:
        return a
    z1z1 = z1 * z1 % p
    z2z2 = z2 * z2 % p
    u1 = x1 * z2z2 % p
    u2 = x2 * z1z1 % p
    s1 = y1 * z2 * z2z2 % p
    s2 = y2 * z1 * z1z1 % p
    h = (u2 - u1) % p
    r = (s2 - s1) % p
    if h == 0:
        if r == 0:
            return _double(a, p)
        return _INFINITY
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    y3 = (r * (v - x3) - s1 * hhh) % p
    z3 = z1 * z2 * h % p
    return (x3, y3, z3)


def _bits_high_first(k):
    bits = []
    while k:
        bits.append(k & 1)
        k >>= 1
    bits.reverse()
    return bits


def _shamir(u1, g, u2, q, p):
    """u1*G + u2*Q in one double-and-add pass (Shamir's trick)."""
    gj = (g[0], g[1], 1)
    qj = (q[0], q[1], 1)
    table = (None, gj, qj, _add(gj, qj, p))
    b1 = _bits_high_first(u1)
    b2 = _bits_high_first(u2)
    width = max(len(b1), len(b2))
    b1 = [0] * (width - len(b1)) + b1
    b2 = [0] * (width - len(b2)) + b2
    acc = _INFINITY
    for i in range(width):
        acc = _double(acc, p)
        sel = b1[i] | (b2[i] << 1)
        if sel:
            acc = _add(acc, table[sel], p)
    return acc


def verify(curve, qx, qy, r, s, digest):
    """Verify the ECDSA signature (r, s) over `digest` (the message hash,
    truncated to the curve order's size as FIPS 186-4 says) with the public
    point (qx, qy). Returns True or False."""
    n = curve.n
    p = curve.p
    if not (0 < r < n and 0 < s < n):
        return False
    if not curve.on_curve(qx, qy):
        return False
    z = int.from_bytes(bytes(digest[: curve.size]), "big")
    w = pow(s, n - 2, n)
    u1 = z * w % n
    u2 = r * w % n
    x, _y, zz = _shamir(u1, curve.g, u2, (qx, qy), p)
    if zz == 0:
        return False
    zinv = pow(zz, p - 2, p)
    affine_x = x * zinv * zinv % p
    return affine_x % n == r
