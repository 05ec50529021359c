# ZRTP key derivation and SAS checked against the RFC 6189 formulas
# written out again here with hashlib alone (a local HMAC, not the
# project's): a fixed-input KDF, SAS renderings, and a whole handshake whose
# s0, SAS and SRTP keys are recomputed from the captured messages.
import hashlib
import struct
import unittest

from coretest import unhex
from zrtp_fakelink import FakeLink, Party

from hushphone.zrtp import dh, kdf, packets, sas
from hushphone.zrtp.engine import ZrtpConfig
from hushphone.zrtp.events import ZrtpSecure

B32_RFC = "ybndrfg8ejkmcpqxot1uwisza345h769"  # RFC 6189 §5.1.6


def h(data):
    return hashlib.sha256(data).digest()


def hmac_sha256(key, data):
    if len(key) > 64:
        key = h(key)
    key = key + bytes(64 - len(key))
    inner = h(bytes(b ^ 0x36 for b in key) + data)
    return h(bytes(b ^ 0x5C for b in key) + inner)


def zrtp_kdf(ki, label, context, bits):
    return hmac_sha256(ki, struct.pack(">I", 1) + label + b"\x00" + context + struct.pack(">I", bits))[: bits // 8]


def b32(sas_value):
    v = struct.unpack(">I", sas_value)[0] >> 12  # leftmost 20 bits
    return "".join(B32_RFC[(v >> s) & 31] for s in (15, 10, 5, 0))


class TestKdf(unittest.TestCase):
    def test_kdf_formula(self):
        ki = bytes(range(32))
        context = b"I" * 12 + b"R" * 12 + h(b"total")
        for label, bits in ((b"SAS", 256), (b"Initiator SRTP master key", 128), (b"Responder SRTP master salt", 112)):
            self.assertEqual(kdf.kdf(ki, label, context, bits), zrtp_kdf(ki, label, context, bits))
        self.assertEqual(len(kdf.kdf(ki, b"x", context, 112)), 14)

    def test_hmac_against_rfc4231_case_2(self):
        self.assertEqual(
            hmac_sha256(b"Jefe", b"what do ya want for nothing?"),
            unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        )

    def test_s0_formula(self):
        dhr, zi, zr, th = b"d" * 32, b"i" * 12, b"r" * 12, h(b"t")
        rs1 = b"s" * 32
        expected = h(struct.pack(">I", 1) + dhr + b"ZRTP-HMAC-KDF" + zi + zr + th + struct.pack(">I", 32) + rs1 + bytes(8))
        self.assertEqual(kdf.s0_dh(dhr, zi, zr, th, rs1), expected)
        expected_null = h(struct.pack(">I", 1) + dhr + b"ZRTP-HMAC-KDF" + zi + zr + th + bytes(12))
        self.assertEqual(kdf.s0_dh(dhr, zi, zr, th), expected_null)

    def test_secret_ids(self):
        rs1 = b"k" * 32
        self.assertEqual(kdf.secret_id(rs1, b"Responder"), hmac_sha256(rs1, b"Responder")[:8])
        self.assertEqual(kdf.hash_chain(b"0" * 32)[3], h(h(h(b"0" * 32))))


class TestSas(unittest.TestCase):
    def test_b32(self):
        for value in (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x12\x34\x56\x78", b"\xa5\x5a\x0f\xf0"):
            self.assertEqual(sas.render_b32(value), b32(value))
        self.assertEqual(sas.render_b32(b"\x00\x00\x00\x00"), "yyyy")
        self.assertEqual(sas.render_b32(b"\x12\x34\x56\x78"), "ne4f")
        self.assertEqual(sas.B32_ALPHABET, B32_RFC)

    def test_b256_pgp_words(self):
        # Published PGP word list: byte 0 from the even (two-syllable)
        # list, byte 1 from the odd (three-syllable) list; E582 is the
        # start of the list's own example "topmost Istanbul ...".
        self.assertEqual(sas.render_b256(b"\xe5\x82\x00\x00"), "topmost Istanbul")
        self.assertEqual(sas.render_b256(b"\x00\x00\x00\x00"), "aardvark adroitness")
        self.assertEqual(sas.render_b256(b"\xff\xff\x00\x00"), "Zulu Yucatan")
        self.assertEqual(sas.render_b256(b"\x94\xf2\x00\x00"), "Pluto vagabond")
        from hushphone.zrtp.pgpwords import EVEN_WORDS, ODD_WORDS

        self.assertEqual(len(EVEN_WORDS), 256)
        self.assertEqual(len(ODD_WORDS), 256)
        self.assertEqual(len(set(EVEN_WORDS + ODD_WORDS)), 512)


class TestHandshakeKeys(unittest.TestCase):
    def recompute(self, config):
        captured = []

        def keep(datagram, direction):
            captured.append(packets.parse_packet(datagram)[2])
            return datagram

        alice, bob = Party("alice"), Party("bob")
        a = alice.engine(config)
        b = bob.engine(ZrtpConfig(agreements=config.agreements, sas_types=config.sas_types, passive=True))
        link = FakeLink(a, b, tamper=keep)
        link.start()
        link.run()
        ea = link.events_of(a, ZrtpSecure)[0]
        eb = link.events_of(b, ZrtpSecure)[0]

        def first(kind):
            return [m for m in captured if packets.message_type(m) == kind][0]

        hello_r = b._hello  # the responder's Hello, as B sent it
        self.assertIn(hello_r, captured)
        commit, dh1, dh2 = first(packets.COMMIT), first(packets.DHPART1), first(packets.DHPART2)
        # The commitment: hvi = hash(DHPart2 || responder's Hello).
        self.assertEqual(commit[76:108], h(dh2 + hello_r))
        # DHResult from the initiator's secret and the responder's pv.
        pvr = dh1[76:-8]
        pair = a._keypair
        dh_result = pair.shared(pvr)
        self.assertEqual(dh_result, b._keypair.shared(dh2[76:-8]))
        zidi, zidr = alice.cache.zid, bob.cache.zid
        total = h(hello_r + commit + dh1 + dh2)
        context = zidi + zidr + total
        s0 = h(struct.pack(">I", 1) + dh_result + b"ZRTP-HMAC-KDF" + zidi + zidr + total + bytes(12))
        sas_value = zrtp_kdf(s0, b"SAS", context, 256)[:4]
        if config.sas_types[0].startswith("B32"):
            self.assertEqual(ea.sas, b32(sas_value))
        self.assertEqual(ea.sas, eb.sas)
        self.assertEqual(ea.tx_key, zrtp_kdf(s0, b"Initiator SRTP master key", context, 128))
        self.assertEqual(ea.tx_salt, zrtp_kdf(s0, b"Initiator SRTP master salt", context, 112))
        self.assertEqual(ea.rx_key, zrtp_kdf(s0, b"Responder SRTP master key", context, 128))
        self.assertEqual(ea.rx_salt, zrtp_kdf(s0, b"Responder SRTP master salt", context, 112))
        # Confirm1 is AES-CFB under zrtpkeyr with confirm_mac under mackeyr.
        confirm1 = first(packets.CONFIRM1)
        mackeyr = zrtp_kdf(s0, b"Responder HMAC key", context, 256)
        self.assertEqual(confirm1[12:20], hmac_sha256(mackeyr, confirm1[36:])[:8])
        # The new retained secret both sides stored.
        rs1 = zrtp_kdf(s0, b"retained secret", context, 256)
        self.assertEqual(alice.cache.lookup(zidr).rs1, rs1)
        self.assertEqual(bob.cache.lookup(zidi).rs1, rs1)
        return ea

    def test_x25519_keys(self):
        self.recompute(ZrtpConfig(agreements=(dh.KA_X255,)))

    def test_dh3k_keys(self):
        ea = self.recompute(ZrtpConfig(agreements=(dh.KA_DH3K,)))
        self.assertEqual(ea.agreement, "DH3k")


if __name__ == "__main__":
    unittest.main()
