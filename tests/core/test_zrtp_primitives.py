# Known-answer tests of the ZRTP building blocks, on both runtimes:
# CRC-32C (RFC 3720 B.4), X25519 (RFC 7748 §5.2, §6.1), the DH-3072 group
# (RFC 3526 §4, rebuilt from its defining formula) and an exponentiation
# checked against OpenSSL, AES-CFB (NIST SP 800-38A F.3.13), packet
# framing and the RTP/ZRTP demultiplexing test, the key pool.
import unittest

from coretest import unhex

from hushphone.crypto.aes_cfb import cfb_decrypt, cfb_encrypt
from hushphone.crypto.sha import sha256
from hushphone.zrtp import dh, packets
from hushphone.zrtp.crc32c import crc32c
from hushphone.zrtp.errors import ZrtpCrcError, ZrtpDhError, ZrtpParseError
from hushphone.zrtp.keypool import KeyPool


class TestCrc32c(unittest.TestCase):
    def test_rfc3720_vectors(self):
        self.assertEqual(crc32c(bytes(32)), 0x8A9136AA)
        self.assertEqual(crc32c(b"\xff" * 32), 0x62A8AB43)
        self.assertEqual(crc32c(bytes(range(32))), 0x46DD794E)
        self.assertEqual(crc32c(bytes(range(31, -1, -1))), 0x113FDB5C)

    def test_check_value_and_continuation(self):
        self.assertEqual(crc32c(b"123456789"), 0xE3069283)
        self.assertEqual(crc32c(b"6789", crc32c(b"12345")), 0xE3069283)


class TestX25519(unittest.TestCase):
    def test_rfc7748_section_5_2(self):
        self.assertEqual(
            dh.x25519(
                unhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                unhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
            ),
            unhex("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
        )
        self.assertEqual(
            dh.x25519(
                unhex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
                unhex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"),
            ),
            unhex("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"),
        )

    def test_rfc7748_iterated_once(self):
        k = u = b"\x09" + bytes(31)
        k, u = dh.x25519(k, u), k
        self.assertEqual(k, unhex("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"))

    def test_rfc7748_section_6_1(self):
        a = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
        b = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
        a_pub = dh.x25519_public(a)
        b_pub = dh.x25519_public(b)
        self.assertEqual(a_pub, unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
        self.assertEqual(b_pub, unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
        shared = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        self.assertEqual(dh.x25519_shared(a, b_pub), shared)
        self.assertEqual(dh.x25519_shared(b, a_pub), shared)

    def test_small_order_point_refused(self):
        with self.assertRaises(ZrtpDhError):
            dh.x25519_shared(bytes(range(32)), bytes(32))
        with self.assertRaises(ZrtpDhError):
            dh.x25519_shared(bytes(range(32)), b"\x01" + bytes(31))
        with self.assertRaises(ZrtpDhError):
            dh.x25519_shared(bytes(range(32)), bytes(31))


def _arctan_inv(x, one):
    total = term = one // x
    x2 = x * x
    n = 1
    sign = -1
    while term:
        term //= x2
        total += sign * (term // (2 * n + 1))
        sign = -sign
        n += 1
    return total


class TestDh3k(unittest.TestCase):
    def test_prime_is_rfc3526_formula(self):
        # p = 2^3072 - 2^3008 - 1 + 2^64 * ([2^2942 pi] + 1690314), with pi
        # from Machin's formula in fixed point (64 guard bits).
        one = 1 << (2942 + 64)
        pi = (16 * _arctan_inv(5, one) - 4 * _arctan_inv(239, one)) >> 64
        self.assertEqual(dh.DH3K_P, (1 << 3072) - (1 << 3008) - 1 + (1 << 64) * (pi + 1690314))

    def test_known_exponent_against_openssl(self):
        # g^x for x = 0x0123456789abcdef repeated 4 times; the SHA-256 of
        # the 384-octet result was computed by OpenSSL (pyca/cryptography
        # DH exchange with peer value g).
        x = unhex("0123456789abcdef" * 4)
        pv = dh.dh3k_public(x)
        self.assertEqual(len(pv), 384)
        self.assertEqual(sha256(pv), unhex("5a689c2cab86dbf2b8917cc2d69698019ccf7f99f69cbbdb414ec6265bf08840"))

    def test_small_exponents_and_agreement(self):
        self.assertEqual(dh.dh3k_public(b"\x02"), bytes(383) + b"\x04")
        self.assertEqual(dh.dh3k_public(b"\x01\x00"), (1 << 256).to_bytes(384, "big"))
        # (g^a)^b == (g^b)^a
        a, b = b"\x05" * 32, b"\x07" * 32
        self.assertEqual(dh.dh3k_shared(a, dh.dh3k_public(b)), dh.dh3k_shared(b, dh.dh3k_public(a)))

    def test_bad_public_values(self):
        p = dh.DH3K_P
        for bad in (0, 1, p - 1, p, p + 1):
            with self.assertRaises(ZrtpDhError):
                dh.dh3k_shared(b"\x05" * 32, (bad % (1 << 3072)).to_bytes(384, "big"))
        with self.assertRaises(ZrtpDhError):
            dh.dh3k_shared(b"\x05" * 32, bytes(383) + b"\x02" + b"\x00")


class TestAesCfb(unittest.TestCase):
    KEY = unhex("2b7e151628aed2a6abf7158809cf4f3c")
    IV = unhex("000102030405060708090a0b0c0d0e0f")
    PLAIN = unhex(
        "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710"
    )
    CIPHER = unhex(
        "3b3fd92eb72dad20333449f8e83cfb4a c8a64537a0b3a93fcde3cdad9f1ce58b"
        "26751f67a3cbb140b1808cf187a4f4df c04b05357c5d1c0eeac4c66f9ff7f2e6"
    )

    def test_sp800_38a_cfb128(self):
        self.assertEqual(cfb_encrypt(self.KEY, self.IV, self.PLAIN), self.CIPHER)
        self.assertEqual(cfb_decrypt(self.KEY, self.IV, self.CIPHER), self.PLAIN)

    def test_partial_last_block(self):
        # A Confirm body is 40 bytes: 2.5 blocks; CFB is a prefix property.
        self.assertEqual(cfb_encrypt(self.KEY, self.IV, self.PLAIN[:40]), self.CIPHER[:40])
        self.assertEqual(cfb_decrypt(self.KEY, self.IV, self.CIPHER[:40]), self.PLAIN[:40])
        self.assertEqual(cfb_decrypt(self.KEY, self.IV, b""), b"")


class TestPackets(unittest.TestCase):
    def test_frame_round_trip_and_demux(self):
        message = packets.build_simple(packets.HELLO_ACK)
        datagram = packets.build_packet(0x1234, 0xCAFEBABE, message)
        self.assertEqual(datagram[:4], b"\x10\x00\x12\x34")
        self.assertEqual(datagram[4:8], b"\x5a\x52\x54\x50")
        self.assertEqual(datagram[-4:], crc32c(datagram[:-4]).to_bytes(4, "little"))  # SCTP byte order
        self.assertTrue(packets.is_zrtp(datagram))
        self.assertEqual(packets.parse_packet(datagram), (0x1234, 0xCAFEBABE, message))
        rtp = bytes([0x80, 0, 0, 1]) + b"ZRTP" + bytes(20)
        self.assertFalse(packets.is_zrtp(rtp))  # RTP version 2, even with the cookie
        self.assertFalse(packets.is_zrtp(b"\x10\x00\x00\x01ZRT"))

    def test_bad_packets(self):
        datagram = packets.build_packet(1, 2, packets.build_simple(packets.CONF2ACK))
        with self.assertRaises(ZrtpCrcError):
            packets.parse_packet(datagram[:-1] + b"\x00")
        with self.assertRaises(ZrtpParseError):
            packets.parse_packet(datagram[:-4] + b"\x00" * 3)
        with self.assertRaises(ZrtpParseError):
            packets.parse_packet(packets.build_packet(1, 2, b"\x50\x5a\x00\x09" + b"Conf2ACK"))

    def test_hello_round_trip(self):
        h0, h1, h2, h3 = b"0" * 32, b"1" * 32, b"2" * 32, b"3" * 32
        raw = packets.build_hello(b"x" * 16, h3, b"z" * 12, ("S256",), ("AES1",), ("HS80", "HS32"), ("X255", "DH3k"), ("B32 ", "B256"), h2)
        self.assertEqual(len(raw), (22 + 8) * 4)  # 8 algorithms listed
        m = packets.parse_message(raw)
        self.assertEqual(m.version, b"1.10")
        self.assertEqual(m.h3, h3)
        self.assertEqual(m.zid, b"z" * 12)
        self.assertEqual(m.agreements, ("X255", "DH3k"))
        self.assertEqual(m.auth_tags, ("HS80", "HS32"))
        self.assertEqual(m.sas_types, ("B32 ", "B256"))
        self.assertTrue(packets.mac_ok(raw, h2))
        self.assertFalse(packets.mac_ok(raw, h1))
        with self.assertRaises(ZrtpParseError):
            packets.parse_message(raw[:-4])

    def test_confirm_plaintext(self):
        plain = packets.confirm_plaintext(b"h" * 32, packets.FLAG_V, 0xFFFFFFFF)
        self.assertEqual(len(plain), 40)
        self.assertEqual(packets.parse_confirm_plaintext(plain), (b"h" * 32, packets.FLAG_V, 0xFFFFFFFF))
        with self.assertRaises(ZrtpParseError):
            packets.parse_confirm_plaintext(plain[:36] + b"\x00\x00\x01\x00" + plain[36:])


class TestKeyPool(unittest.TestCase):
    def test_pairs_are_made_ahead_and_used_once(self):
        from hushphone.crypto.random import random_bytes

        pool = KeyPool(random_bytes, {dh.KA_X255: 2, dh.KA_DH3K: 1})
        self.assertFalse(pool.full())
        pool.fill()
        self.assertTrue(pool.full())
        self.assertFalse(pool.refill_one())
        first = pool.take(dh.KA_X255)
        second = pool.take(dh.KA_X255)
        self.assertNotEqual(first.public, second.public)
        self.assertEqual(pool.made_on_demand, 0)
        pool.take(dh.KA_X255)
        self.assertEqual(pool.made_on_demand, 1)
        self.assertTrue(pool.refill_one())  # X25519 first: it is the fastest
        self.assertEqual(pool.ready(dh.KA_X255), 1)
        pair = pool.take(dh.KA_DH3K)
        self.assertEqual(len(pair.public), 384)
        self.assertNotIn("secret", repr(pair))


if __name__ == "__main__":
    unittest.main()
