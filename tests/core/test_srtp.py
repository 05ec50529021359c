# SRTP/SRTCP (RFC 3711, RFC 6188) on both runtimes: RFC vectors, known-answer
# packets made once with libsrtp 2 (pylibsrtp; tests/host re-derives them),
# ROC rollover, replay window, per-SSRC state, rejection of forged,
# replayed and malformed packets with counters.
import unittest

from coretest import Rng
from coretest import unhex
from hushphone.crypto.aes import AesEcb
from hushphone.srtp import (
    SUITES,
    SrtpAuthError,
    SrtpContext,
    SrtpError,
    SrtpLocalError,
    SrtpMalformedError,
    SrtpReplayError,
    SrtpStreamLimitError,
)
from hushphone.srtp import kdf
from hushphone.crypto.sha1_hmac import HmacSha1
from hushphone.srtp import cipher, fastpath

# RFC 3711 Appendix B.3 master key and salt; the AES-256 suites use the
# RFC 6188 §7.2 master key with the same salt.
KEY_128 = unhex("E1F97A0D3E018BE0D64FA32C06DE4139")
KEY_256 = unhex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6")
SALT = unhex("0EC675AD498AFEEBB6960B3AABE6")

# Plaintexts of the known-answer packets (KAT below, in this order).
P1 = unhex("800f1234decafbadcafebabe") + b"\xab" * 16
P2 = unhex("910f1235decafbadcafebabf12345678bede000101020304") + bytes(range(40))  # CSRC + extension
R1 = unhex("8000fffedecafbad00000000") + bytes(range(100, 120))
R2 = unhex("8000ffffdecafbad000000a0") + bytes(range(120, 140))
R3 = unhex("80000000decafbad00000140") + bytes(range(140, 160))  # ROC 1
C1 = unhex("80c80006decafbad") + bytes(range(200, 220))
PLAIN = (P1, P2, R1, R2, R3, C1)

# libsrtp 2.x output (pylibsrtp 1.0) for each suite: P1 and P2 from one
# sender; R1, R2, R3 from a second sender (sequence number wraps: ROC 1);
# C1 as libsrtp's first SRTCP packet (SRTCP index 1).
KAT = {
    "AES_CM_128_HMAC_SHA1_80": (
        "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb",
        "910f1235decafbadcafebabf12345678bede000101020304f24bb847545f203c4637d7236d7515f8ec9bcb2a 5840a1ac12093bb04c59654c8cffc946459b572846f7073991b023173a83",
        "8000fffedecafbad0000000074303679be4b213fb5de4348c875743465c67e880e4ccc514dd73c534d18",
        "8000ffffdecafbad000000a027acca8fd608be445638a2b48885a0d097ec08b5a9267ee094235a1a0067",
        "80000000decafbad00000140fdca58732f6d80924af81b1311c377e92841133ebdc987076ce34b235dc6",
        "80c80006decafbadfad4f160c1774eac9630f09392ec114b089989f1800000010e5da3a04b9af81e7c35",
    ),
    "AES_CM_128_HMAC_SHA1_32": (
        "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc",
        "910f1235decafbadcafebabf12345678bede000101020304f24bb847545f203c4637d7236d7515f8ec9bcb2a 5840a1ac12093bb04c59654c8cffc946459b572846f70739",
        "8000fffedecafbad0000000074303679be4b213fb5de4348c875743465c67e880e4ccc51",
        "8000ffffdecafbad000000a027acca8fd608be445638a2b48885a0d097ec08b5a9267ee0",
        "80000000decafbad00000140fdca58732f6d80924af81b1311c377e92841133ebdc98707",
        "80c80006decafbadfad4f160c1774eac9630f09392ec114b089989f1800000010e5da3a04b9af81e7c35",
    ),
    "AES_256_CM_HMAC_SHA1_80": (
        "800f1234decafbadcafebabe341969bfa230f3ec641a3e67509812a55c8cc6a1af9284df14b8",
        "910f1235decafbadcafebabf12345678bede000101020304a5cf5090a95977774ca98e4d36b948a78152fe28 60b1043ddb49bdbb9c801e884138c1851b8a30cedf9102abec0b58c22535",
        "8000fffedecafbad00000000d8c11f8c01ce4f1d4e9b6d34e9b7d30294e9074a018dfa5f23beb7874b03",
        "8000ffffdecafbad000000a095796591f79b6309f19752ff52ee5d933e3ee2867c4b194edb4891ca22fd",
        "80000000decafbad000001409b59aeaedd107085e524b6492cdd92044ad276f5da4f11efac368c608c8c",
        "80c80006decafbada2615ef76dc1e50ac244f27744551acc00afb4d580000001773a6be91bc2a13c73d5",
    ),
    "AES_256_CM_HMAC_SHA1_32": (
        "800f1234decafbadcafebabe341969bfa230f3ec641a3e67509812a55c8cc6a1",
        "910f1235decafbadcafebabf12345678bede000101020304a5cf5090a95977774ca98e4d36b948a78152fe28 60b1043ddb49bdbb9c801e884138c1851b8a30cedf9102ab",
        "8000fffedecafbad00000000d8c11f8c01ce4f1d4e9b6d34e9b7d30294e9074a018dfa5f",
        "8000ffffdecafbad000000a095796591f79b6309f19752ff52ee5d933e3ee2867c4b194e",
        "80000000decafbad000001409b59aeaedd107085e524b6492cdd92044ad276f5da4f11ef",
        "80c80006decafbada2615ef76dc1e50ac244f27744551acc00afb4d580000001773a6be91bc2a13c73d5",
    ),
}


ALL_SUITES = sorted(KAT)


def master_key(suite):
    return KEY_128 if SUITES[suite][0] == 16 else KEY_256


def pair(suite, **kwargs):
    key = master_key(suite)
    return SrtpContext(suite, key, SALT, **kwargs), SrtpContext(suite, key, SALT, **kwargs)


def rtp_packet(seq, ssrc=0x11223344, payload=b"\x55" * 160, b0=0x80):
    return bytes((b0, 0, seq >> 8, seq & 0xFF, 0, 0, 0, seq & 0xFF, ssrc >> 24, (ssrc >> 16) & 0xFF,
                  (ssrc >> 8) & 0xFF, ssrc & 0xFF)) + payload


def flip(data, i, bit=1):
    b = bytearray(data)
    b[i] ^= bit
    return bytes(b)


class Rfc3711KeystreamTest(unittest.TestCase):
    # RFC 3711 Appendix B.2: AES-CM keystream for session key 2B7E..., salt
    # F0F1...FD, SSRC 0, ROC 0, SEQ 0.
    KEY = unhex("2B7E151628AED2A6ABF7158809CF4F3C")
    SALT = unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD")
    FIRST = unhex("E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0")
    AT_FEFF = unhex("EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE 6A2CC3787889374FBEB4C81B17BA6C44")

    def test_counter_blocks_0_to_2_and_feff_to_ff01(self):
        aes = AesEcb(self.KEY)
        iv = self.SALT + b"\x00\x00"
        self.assertEqual(kdf.keystream(aes, iv, 0, 3), self.FIRST)
        self.assertEqual(kdf.keystream(aes, iv, 0xFEFF, 3), self.AT_FEFF)

    def test_packet_path_makes_the_same_keystream(self):
        # the per-packet path (srtp/fastpath's packet: one in-place AES
        # call), set up as the slow path does it: zeros XOR keystream
        def crypt(buf, at, n):
            d = cipher.Direction(bytes(16), bytes(14), 0, 16, 10, 256, HmacSha1)
            d.st[fastpath.ST_SALT : fastpath.ST_SALT + 14] = self.SALT  # this session's
            d.aes = AesEcb(self.KEY).encrypt_into
            d.force(at, n, 0, 0)  # SSRC at 0, index 0
            length = len(buf) - 10  # (then the tag)
            self.assertEqual(fastpath.packet(d, buf, buf, length), len(buf))
            return buf[:length]

        out = crypt(bytearray(52 + 10), 4, 48)  # SSRC 0 at offset 0
        self.assertEqual(bytes(out[4:]), self.FIRST)
        self.assertEqual(bytes(out[:4]), bytes(4))
        self.assertEqual(bytes(crypt(bytearray(13 + 10), 0, 13)), self.FIRST[:13])  # a partial block
        out = crypt(bytearray(52 + 10), 1, 35)  # unaligned start
        self.assertEqual(bytes(out[1:36]), self.FIRST[:35])
        self.assertEqual(bytes(out[36:]), bytes(16))


class KeyDerivationTest(unittest.TestCase):
    def test_rfc3711_b3(self):
        key, salt = KEY_128, SALT
        self.assertEqual(kdf.derive(key, salt, kdf.LABEL_RTP_ENCRYPTION, 16), unhex("C61E7A93744F39EE10734AFE3FF7A087"))
        self.assertEqual(kdf.derive(key, salt, kdf.LABEL_RTP_SALT, 14), unhex("30CBBC08863D8C85D49DB34A9AE1"))
        self.assertEqual(
            kdf.derive(key, salt, kdf.LABEL_RTP_AUTH, 94),
            unhex(
                "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE"
                "E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25"
                "6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"
            ),
        )

    def test_rfc6188_aes256_prf(self):
        key = KEY_256
        salt = unhex("3b04803de51ee7c96423ab5b78d2")
        self.assertEqual(
            kdf.derive(key, salt, kdf.LABEL_RTP_ENCRYPTION, 32),
            unhex("5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4"),
        )
        self.assertEqual(kdf.derive(key, salt, kdf.LABEL_RTP_SALT, 14), unhex("fa31791685ca444a9e07c6c64e93"))
        self.assertEqual(kdf.derive(key, salt, kdf.LABEL_RTP_AUTH, 20), unhex("fd9c32d39ed5fbb5a9dc96b30818454d1313dc05"))


class KnownAnswerTest(unittest.TestCase):
    """Bit-exact against packets libsrtp produced."""

    def test_protect_matches_libsrtp(self):
        for suite in ALL_SUITES:
            with self.subTest(suite=suite):
                want = [unhex(h) for h in KAT[suite]]
                a, b = pair(suite)
                self.assertEqual(a.protect(P1), want[0])
                self.assertEqual(a.protect(P2), want[1])
                self.assertEqual(b.protect(R1), want[2])
                self.assertEqual(b.protect(R2), want[3])
                self.assertEqual(b.protect(R3), want[4])  # ROC 1 after the wrap
                # our SRTCP index starts at 0 (RFC 3711 §3.4), libsrtp's at 1:
                # our second packet is libsrtp's first
                first = a.protect_rtcp(C1)
                self.assertEqual(first[-14:-10], b"\x80\x00\x00\x00")  # E=1, index 0
                self.assertEqual(a.protect_rtcp(C1), want[5])

    def test_unprotect_libsrtp_packets(self):
        for suite in ALL_SUITES:
            with self.subTest(suite=suite):
                want = [unhex(h) for h in KAT[suite]]
                rx1 = SrtpContext(suite, master_key(suite), SALT)
                self.assertEqual(rx1.unprotect(want[0]), P1)
                self.assertEqual(rx1.unprotect(want[1]), P2)
                self.assertEqual(rx1.unprotect_rtcp(want[5]), C1)
                rx2 = SrtpContext(suite, master_key(suite), SALT)
                for srtp, rtp in zip(want[2:5], (R1, R2, R3)):
                    self.assertEqual(rx2.unprotect(srtp), rtp)

    def test_tag_lengths(self):
        for suite in ALL_SUITES:
            tx, _ = pair(suite)
            tag = 4 if suite.endswith("_32") else 10
            self.assertEqual(len(tx.protect(P1)) - len(P1), tag)
            self.assertEqual(len(tx.protect_rtcp(C1)) - len(C1), 4 + 10)  # SRTCP: always 80-bit tag


class RoundTripTest(unittest.TestCase):
    def test_rollover_reordering_and_multiple_ssrcs(self):
        rand = Rng(12345)
        for suite in ALL_SUITES:
            tx, rx = pair(suite)
            seqs = [(65300 + i) & 0xFFFF for i in range(400)]  # wraps at 65535
            sent = []
            for seq in seqs:
                for ssrc in (0x01020304, 0xF0E0D0C0):
                    rtp = rtp_packet(seq, ssrc, rand.bytes(1 + rand.next() % 200))
                    sent.append((rtp, tx.protect(rtp)))
            # deliver in an order shuffled inside windows of 40 packets (20 per SSRC)
            order = list(range(len(sent)))
            for start in range(0, len(order), 40):
                chunk = order[start : start + 40]
                for i in range(len(chunk) - 1, 0, -1):
                    j = rand.next() % (i + 1)
                    chunk[i], chunk[j] = chunk[j], chunk[i]
                order[start : start + 40] = chunk
            for i in order:
                rtp, srtp = sent[i]
                self.assertEqual(rx.unprotect(srtp), rtp)
            self.assertEqual(rx.stats, {"auth_fail": 0, "replay": 0, "malformed": 0, "ssrc_limit": 0})

    def test_packet_from_before_the_wrap_arrives_late(self):
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80")
        rx.unprotect(tx.protect(rtp_packet(65534)))  # the receiver meets the stream before the wrap
        early = tx.protect(rtp_packet(65535))
        after = [tx.protect(rtp_packet(s)) for s in (0, 1, 2)]  # ROC 1
        for p in after:
            rx.unprotect(p)
        self.assertEqual(rx.unprotect(early), rtp_packet(65535))  # ROC - 1 guessed
        with self.assertRaises(SrtpReplayError):
            rx.unprotect(early)

    def test_csrc_extension_and_padding_headers_stay_clear(self):
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80")
        header = unhex("b208fffe 00000001 11223344 aaaaaaaa bbbbbbbb bede0002 01020304 05060708")
        rtp = header + b"secret audio" + unhex("00000004")
        srtp = tx.protect(rtp)
        self.assertEqual(srtp[: len(header)], header)
        self.assertNotIn(b"secret", srtp)
        self.assertEqual(rx.unprotect(srtp), rtp)

    def test_empty_payload(self):
        tx, rx = pair("AES_256_CM_HMAC_SHA1_32")
        self.assertEqual(rx.unprotect(tx.protect(rtp_packet(7, payload=b""))), rtp_packet(7, payload=b""))

    def test_accepts_bytearray_and_memoryview(self):
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80")
        rtp = rtp_packet(9)
        srtp = tx.protect(bytearray(rtp))
        self.assertIsInstance(srtp, bytes)
        self.assertEqual(rx.unprotect(memoryview(srtp)), rtp)


def _slow_only(ctx):
    # the context's fast path off until its next packet: what the slow path
    # alone (RFC 3711 in Python on the stream objects) would do
    ctx._rtp.st[fastpath.ST_VALID] = 0
    return ctx


def _outcome(unprotect, packet):
    try:
        return bytes(unprotect(packet))
    except SrtpError as e:
        return type(e).__name__


class FastPathTest(unittest.TestCase):
    """The fast path (the next packet of the previous packet's stream: in
    viper on MicroPython) against the slow path alone, packet by packet:
    the same SRTP bytes, the same RTP or the same error, the same stats,
    over in-order runs broken by ROC wraps, jumps, late and replayed
    packets (inside the window and beyond it), forgeries, a second SSRC,
    CSRC headers and reused sequence numbers."""

    def _sender(self, rand, suite, count):
        # yields each SRTP packet made by both senders (checked equal)
        tx, tx_slow = pair(suite)
        ssrcs = (0x11223344, 0xA1B2C3D4)
        seqs = [65536 - 700, 40000]
        fast_out = bytearray(300)
        slow_out = bytearray(300)
        for i in range(count):
            which = 1 if rand.below(25) == 0 else 0
            roll = rand.below(100)
            if roll == 0:
                seqs[which] += 1 + rand.below(300)  # a jump (lost packets)
            elif roll == 1 and i:
                seqs[which] -= 1 + rand.below(3)  # the sender reuses a number
            seq = seqs[which] & 0xFFFF
            seqs[which] += 1
            b0 = 0x81 if rand.below(40) == 0 else 0x80  # one CSRC: the slow path
            csrc = b"\x01\x02\x03\x04" if b0 == 0x81 else b""
            rtp = rtp_packet(seq, ssrcs[which], csrc + rand.bytes(rand.below(200)), b0)
            try:
                n = tx.protect_into(rtp, fast_out)
            except SrtpLocalError:
                with self.assertRaises(SrtpLocalError):
                    _slow_only(tx_slow).protect_into(rtp, slow_out)
                continue
            self.assertEqual(_slow_only(tx_slow).protect_into(rtp, slow_out), n)
            self.assertEqual(bytes(fast_out[:n]), bytes(slow_out[:n]), "packet %d" % i)
            yield bytes(fast_out[:n])

    def test_fast_path_does_what_the_slow_path_does(self):
        rand = Rng(2024)
        for suite in ("AES_CM_128_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_32"):
            rx, rx_slow = pair(suite)
            buf = bytearray(300)
            recent = [None] * 320  # a ring of the packets sent so far
            held = []
            decided = i = 0
            for i, srtp in enumerate(self._sender(rand, suite, 1500)):
                recent[i % 320] = srtp
                deliveries = []
                if rand.below(30) == 0 and len(held) < 20:
                    held.append(srtp)  # arrives later
                else:
                    deliveries.append(srtp)
                if held and rand.below(8) == 0:
                    deliveries.append(held.pop(rand.below(len(held))))
                roll = rand.below(40)
                if roll == 0:  # a replay, recent or beyond the window
                    deliveries.append(recent[(i - rand.below(min(i + 1, 300))) % 320])
                elif roll == 1:  # a forgery, before the packet it copies
                    deliveries.insert(0, flip(srtp, 12 + rand.below(len(srtp) - 12)))
                for p in deliveries:
                    if rand.below(2):  # in place
                        buf[: len(p)] = p
                        got = _outcome(lambda q: buf[: rx.unprotect_into(buf, buf, len(q))], p)
                    else:
                        got = _outcome(rx.unprotect, p)
                    self.assertEqual(got, _outcome(_slow_only(rx_slow).unprotect, p), "delivery %d" % i)
                    decided += 1
            self.assertEqual(rx.stats, rx_slow.stats)
            self.assertTrue(rx.stats["replay"] > 10 and rx.stats["auth_fail"] > 10, rx.stats)
            self.assertTrue(decided > i)


class IntoBufferTest(unittest.TestCase):
    """protect_into/unprotect_into: the same packets as protect/unprotect,
    into a caller's buffer or in place."""

    def test_same_packets_as_protect_and_unprotect_in_place_too(self):
        rand = Rng(777)
        for suite in ALL_SUITES:
            tx, rx = pair(suite)
            tx2, rx2 = pair(suite)
            tag = SUITES[suite][1]
            for seq in range(65530, 65546):  # across a ROC change
                rtp = rtp_packet(seq & 0xFFFF, 0x11223344, rand.bytes(1 + rand.next() % 160))
                want = tx.protect(rtp)
                buf = bytearray(len(rtp) + 16)
                buf[: len(rtp)] = rtp
                n = tx2.protect_into(buf, buf, len(rtp))  # in place
                self.assertEqual(n, len(rtp) + tag)
                self.assertEqual(bytes(buf[:n]), want)
                out = bytearray(300)
                m = rx.unprotect_into(want, out)
                self.assertEqual(bytes(out[:m]), rtp)
                m = rx2.unprotect_into(buf, buf, n)  # in place
                self.assertEqual(bytes(buf[:m]), rtp)

    def test_tampered_in_place_is_refused_and_counted(self):
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80")
        rtp = rtp_packet(1, 5, bytes(160))
        buf = bytearray(200)
        n = tx.protect_into(rtp, buf)
        buf[20] ^= 1
        with self.assertRaises(SrtpAuthError):
            rx.unprotect_into(buf, buf, n)
        self.assertEqual(rx.stats["auth_fail"], 1)

    def test_output_too_small_is_a_local_error(self):
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80")
        rtp = rtp_packet(1, 5, bytes(160))
        with self.assertRaises(SrtpLocalError):
            tx.protect_into(rtp, bytearray(len(rtp) + 9))
        srtp = tx.protect(rtp)
        with self.assertRaises(SrtpLocalError):
            rx.unprotect_into(srtp, bytearray(len(srtp) - 1))

    def test_a_length_beyond_the_packet_is_a_local_error(self):
        # the per-packet code reads the packet without bounds checks
        # (viper): a length past the buffer's end must never reach it
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80")
        rtp = rtp_packet(1, 5, bytes(160))
        with self.assertRaises(SrtpLocalError):
            tx.protect_into(rtp, bytearray(400), len(rtp) + 1)
        srtp = tx.protect(rtp)
        with self.assertRaises(SrtpLocalError):
            rx.unprotect_into(srtp, bytearray(400), len(srtp) + 1)
        self.assertEqual(rx.unprotect(srtp), rtp)  # nothing was spoilt


class ReplayTest(unittest.TestCase):
    def test_window_of_128(self):
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80")
        packets = [tx.protect(rtp_packet(s)) for s in range(300)]
        rx.unprotect(packets[299])
        self.assertEqual(rx.unprotect(packets[299 - 127]), rtp_packet(299 - 127))  # oldest in the window
        for old in (299 - 128, 0):
            with self.assertRaises(SrtpReplayError):
                rx.unprotect(packets[old])
        for again in (299, 299 - 127):
            with self.assertRaises(SrtpReplayError):
                rx.unprotect(packets[again])
        self.assertEqual(rx.stats["replay"], 4)
        # everything unseen inside the window is still welcome
        for s in range(299 - 126, 299):
            rx.unprotect(packets[s])

    def test_larger_window(self):
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80", window=1024)
        packets = [tx.protect(rtp_packet(s)) for s in range(1100)]
        rx.unprotect(packets[1099])
        self.assertEqual(rx.unprotect(packets[1099 - 1000]), rtp_packet(1099 - 1000))
        with self.assertRaises(SrtpReplayError):
            rx.unprotect(packets[1099 - 1024])

    def test_jump_clears_skipped_slots(self):
        # after a jump forward, slots reused by new indices must not carry
        # the seen-bits of the indices they stood for before
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80")
        packets = [tx.protect(rtp_packet(s)) for s in range(400)]
        for s in range(100):
            rx.unprotect(packets[s])
        rx.unprotect(packets[300])
        for s in range(173, 300):  # 173..299 are inside the window and unseen
            self.assertEqual(rx.unprotect(packets[s]), rtp_packet(s))
        rx2 = SrtpContext("AES_CM_128_HMAC_SHA1_80", KEY_128, SALT)
        for s in range(100):
            rx2.unprotect(packets[s])
        rx2.unprotect(packets[150])  # a jump of 51: slots 100..149 cleared
        for s in range(100, 150):
            rx2.unprotect(packets[s])

    def test_sender_refuses_to_reuse_a_sequence_number(self):
        tx, _ = pair("AES_CM_128_HMAC_SHA1_80")
        tx.protect(rtp_packet(10))
        tx.protect(rtp_packet(12))
        tx.protect(rtp_packet(11))  # late but never used: fine
        with self.assertRaises(SrtpLocalError):
            tx.protect(rtp_packet(11))


class RejectionTest(unittest.TestCase):
    def test_tampered_packets_are_rejected_and_counted(self):
        for suite in ALL_SUITES:
            tx, rx = pair(suite)
            srtp = tx.protect(rtp_packet(1))
            tampered = [flip(srtp, 3), flip(srtp, 9), flip(srtp, 20), flip(srtp, len(srtp) - 1, 0x80), srtp[:-1] + b"\x00"]
            for bad in tampered:
                with self.assertRaises(SrtpAuthError):
                    rx.unprotect(bad)
            self.assertEqual(rx.stats["auth_fail"], len(tampered))
            self.assertEqual(rx.unprotect(srtp), rtp_packet(1))  # the genuine one still passes

    def test_forgery_does_not_move_the_window(self):
        # had the forged index 1000 been recorded, index 2 would be too old
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80")
        tx_far = SrtpContext("AES_CM_128_HMAC_SHA1_80", KEY_128, SALT)
        rx.unprotect(tx.protect(rtp_packet(1)))
        genuine = tx_far.protect(rtp_packet(1000))
        with self.assertRaises(SrtpAuthError):
            rx.unprotect(flip(genuine, 30))
        self.assertEqual(rx.unprotect(tx.protect(rtp_packet(2))), rtp_packet(2))
        self.assertEqual(rx.unprotect(genuine), rtp_packet(1000))
        with self.assertRaises(SrtpReplayError):
            rx.unprotect(tx.protect(rtp_packet(3)))  # now it is too old

    def test_wrong_key_fails_authentication(self):
        tx = SrtpContext("AES_CM_128_HMAC_SHA1_80", KEY_128, SALT)
        rx = SrtpContext("AES_CM_128_HMAC_SHA1_80", bytes(16), SALT)
        with self.assertRaises(SrtpAuthError):
            rx.unprotect(tx.protect(rtp_packet(1)))
        with self.assertRaises(SrtpAuthError):
            rx.unprotect_rtcp(tx.protect_rtcp(C1))
        self.assertEqual(rx.stats["auth_fail"], 2)

    def test_malformed_packets(self):
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80")
        good = tx.protect(rtp_packet(1, payload=b"x" * 10))
        bad = [
            b"",
            good[:5],
            good[:21],  # 12-byte header needs 22 bytes with the tag
            b"\x40" + good[1:],  # version 1
            b"\x8f" + good[1:],  # 15 CSRCs do not fit
            b"\x90" + good[1:12] + unhex("bede00ff") + good[16:],  # extension longer than the packet
            bytes(2000),
        ]
        for packet in bad:
            with self.assertRaises(SrtpMalformedError):
                rx.unprotect(packet)
        self.assertEqual(rx.stats["malformed"], len(bad))
        for packet in (b"", b"\x80\xc8\x00\x01", bytes(21), b"\x00" * 30):
            with self.assertRaises(SrtpMalformedError):
                rx.unprotect_rtcp(packet)

    def test_random_garbage_only_raises_srtp_errors(self):
        rand = Rng(99)
        _, rx = pair("AES_CM_128_HMAC_SHA1_32")
        for i in range(300):
            data = rand.bytes(rand.next() % 80)
            if i % 2 and data:
                data = b"\x80" + data[1:]  # make some look like RTP
            for f in (rx.unprotect, rx.unprotect_rtcp):
                try:
                    f(data)
                except SrtpError:
                    pass
                else:
                    self.fail("garbage accepted: %r" % (data,))
        s = rx.stats
        self.assertEqual(s["auth_fail"] + s["replay"] + s["malformed"], 600)


class SrtcpTest(unittest.TestCase):
    def test_index_e_flag_and_round_trip(self):
        for suite in ALL_SUITES:
            tx, rx = pair(suite)
            for i in range(5):
                srtcp = tx.protect_rtcp(C1)
                self.assertEqual(srtcp[:8], C1[:8])  # header and SSRC stay clear
                self.assertNotEqual(srtcp[8:28], C1[8:])
                self.assertEqual(srtcp[28:32], bytes((0x80, 0, 0, i)))  # E=1, index i
                self.assertEqual(rx.unprotect_rtcp(srtcp), C1)

    def test_unencrypted_srtcp_is_accepted(self):
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80")
        srtcp = tx.protect_rtcp(C1, encrypt=False)
        self.assertEqual(srtcp[: len(C1)], C1)  # E=0: authenticated only
        self.assertEqual(srtcp[len(C1) : len(C1) + 4], b"\x00\x00\x00\x00")
        self.assertEqual(rx.unprotect_rtcp(srtcp), C1)
        with self.assertRaises(SrtpAuthError):
            rx.unprotect_rtcp(flip(srtcp, len(C1)))  # setting E after the fact breaks the tag

    def test_replay_and_tamper(self):
        tx, rx = pair("AES_256_CM_HMAC_SHA1_80")
        packets = [tx.protect_rtcp(C1) for _ in range(200)]
        rx.unprotect_rtcp(packets[199])
        rx.unprotect_rtcp(packets[199 - 127])
        for p in (packets[199], packets[199 - 127], packets[199 - 128]):
            with self.assertRaises(SrtpReplayError):
                rx.unprotect_rtcp(p)
        with self.assertRaises(SrtpAuthError):
            rx.unprotect_rtcp(flip(packets[150], 12))
        self.assertEqual(rx.unprotect_rtcp(packets[150]), C1)
        self.assertEqual(rx.stats["replay"], 3)
        self.assertEqual(rx.stats["auth_fail"], 1)


class StreamTest(unittest.TestCase):
    def test_streams_keep_their_own_roc(self):
        tx, rx = pair("AES_CM_128_HMAC_SHA1_80")
        a = [tx.protect(rtp_packet(s & 0xFFFF, 0xAAAA0001)) for s in range(65530, 65540)]  # wraps
        b = [tx.protect(rtp_packet(s, 0xBBBB0002)) for s in range(10)]
        for pa, pb in zip(a, b):
            rx.unprotect(pb)
            rx.unprotect(pa)

    def test_bounded_number_of_ssrcs(self):
        tx = SrtpContext("AES_CM_128_HMAC_SHA1_80", KEY_128, SALT)
        rx = SrtpContext("AES_CM_128_HMAC_SHA1_80", KEY_128, SALT, max_streams=2)
        forged = rtp_packet(1, 0x99999999) + bytes(10)
        for _ in range(5):  # forgeries from new SSRCs take no slot
            with self.assertRaises(SrtpAuthError):
                rx.unprotect(forged)
        rx.unprotect(tx.protect(rtp_packet(1, 1)))
        rx.unprotect(tx.protect(rtp_packet(1, 2)))
        third = tx.protect(rtp_packet(1, 3))
        with self.assertRaises(SrtpStreamLimitError):
            rx.unprotect(third)
        self.assertEqual(rx.stats["ssrc_limit"], 1)
        tx_small = SrtpContext("AES_CM_128_HMAC_SHA1_80", KEY_128, SALT, max_streams=1)
        tx_small.protect(rtp_packet(1, 1))
        with self.assertRaises(SrtpLocalError):
            tx_small.protect(rtp_packet(1, 2))  # the sender is bounded too


class LocalErrorTest(unittest.TestCase):
    def test_bad_configuration(self):
        with self.assertRaises(SrtpLocalError):
            SrtpContext("AES_CM_192_HMAC_SHA1_80", bytes(24), SALT)
        with self.assertRaises(SrtpLocalError):
            SrtpContext("AES_CM_128_HMAC_SHA1_80", bytes(32), SALT)
        with self.assertRaises(SrtpLocalError):
            SrtpContext("AES_256_CM_HMAC_SHA1_80", bytes(16), SALT)
        with self.assertRaises(SrtpLocalError):
            SrtpContext("AES_CM_128_HMAC_SHA1_80", bytes(16), bytes(12))
        with self.assertRaises(SrtpLocalError):
            SrtpContext("AES_CM_128_HMAC_SHA1_80", bytes(16), SALT, window=100)

    def test_protect_rejects_malformed_input(self):
        tx, _ = pair("AES_CM_128_HMAC_SHA1_80")
        for bad in (b"", bytes(11), b"\x40" + bytes(20), b"\x8f" + bytes(20), bytes(1501)):
            with self.assertRaises(SrtpLocalError):
                tx.protect(bad)
        for bad in (b"", bytes(7), b"\x00" * 12):
            with self.assertRaises(SrtpLocalError):
                tx.protect_rtcp(bad)

    def test_repr_hides_keys(self):
        tx, _ = pair("AES_CM_128_HMAC_SHA1_80")
        self.assertNotIn("e1f97a", repr(tx).lower())
        self.assertIn("AES_CM_128_HMAC_SHA1_80", repr(tx))
