# Crypto adapters against published vectors (FIPS 197, RFC 2202, RFC 4231).
import unittest

from coretest import unhex
from hushphone.crypto import aes, hmac, random, sha


class AesEcbTest(unittest.TestCase):
    def test_fips197_aes128(self):
        key = unhex("000102030405060708090a0b0c0d0e0f")
        pt = unhex("00112233445566778899aabbccddeeff")
        self.assertEqual(aes.AesEcb(key).encrypt(pt), unhex("69c4e0d86a7b0430d8cdb78070b4c55a"))
        self.assertEqual(aes.AesEcbDecrypt(key).decrypt(unhex("69c4e0d86a7b0430d8cdb78070b4c55a")), pt)

    def test_fips197_aes256(self):
        key = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        pt = unhex("00112233445566778899aabbccddeeff")
        self.assertEqual(aes.AesEcb(key).encrypt(pt), unhex("8ea2b7ca516745bfeafc49904b496089"))

    def test_many_blocks_into_preallocated_buffer(self):
        key = unhex("000102030405060708090a0b0c0d0e0f")
        enc = aes.AesEcb(key)
        block = unhex("00112233445566778899aabbccddeeff")
        out = bytearray(16 * 11)
        enc.encrypt_into(block * 11, out)
        self.assertEqual(bytes(out), unhex("69c4e0d86a7b0430d8cdb78070b4c55a") * 11)

    def test_bad_key_length(self):
        with self.assertRaises(ValueError):
            aes.AesEcb(b"short")


class ShaTest(unittest.TestCase):
    def test_sha1_abc(self):
        self.assertEqual(sha.sha1(b"abc"), unhex("a9993e364706816aba3e25717850c26c9cd0d89d"))

    def test_sha256_abc(self):
        self.assertEqual(
            sha.sha256(b"abc"),
            unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        )

    def test_incremental(self):
        h = sha.new_sha256()
        h.update(b"a")
        h.update(b"bc")
        self.assertEqual(h.digest(), sha.sha256(b"abc"))


class HmacTest(unittest.TestCase):
    def test_rfc2202_sha1_case1(self):
        self.assertEqual(
            hmac.hmac_sha1(b"\x0b" * 20, b"Hi There"), unhex("b617318655057264e28bc0b6fb378c8ef146be00")
        )

    def test_rfc2202_sha1_case6_long_key(self):
        self.assertEqual(
            hmac.hmac_sha1(b"\xaa" * 80, b"Test Using Larger Than Block-Size Key - Hash Key First"),
            unhex("aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        )

    def test_rfc4231_sha256_case2(self):
        self.assertEqual(
            hmac.hmac_sha256(b"Jefe", b"what do ya want for nothing?"),
            unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        )

    def test_parts_equal_concatenation(self):
        mac = hmac.Hmac(b"key", "sha1")
        self.assertEqual(mac.digest(b"ab", b"cd"), hmac.hmac_sha1(b"key", b"abcd"))

    def test_compare_digest(self):
        self.assertTrue(hmac.compare_digest(b"abc", b"abc"))
        self.assertFalse(hmac.compare_digest(b"abc", b"abd"))
        self.assertFalse(hmac.compare_digest(b"abc", b"ab"))


class RandomTest(unittest.TestCase):
    def test_lengths_and_variety(self):
        a = random.random_bytes(32)
        b = random.random_bytes(32)
        self.assertEqual(len(a), 32)
        self.assertNotEqual(a, b)

    def test_random_below_range(self):
        for _ in range(200):
            v = random.random_below(10)
            self.assertTrue(0 <= v < 10)
