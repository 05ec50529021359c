# Every @micropython.viper function of the firmware against its plain-Python
# twin on random inputs (deterministic, so a failure replays): the same
# return value and the same bytes written. On MicroPython the viper code
# runs; on CPython (no viper) the twins are checked against independent
# references where one is at hand. tests/host/test_viper_rules.py fails
# when a viper function is missing from CASES or takes more than four
# arguments (viper has written wrong values on the ESP32 beyond four).
import unittest

from coretest import IS_MICROPYTHON, Rng
from hushphone import g711
from hushphone.audio import pcm
from hushphone.crypto import sha1_hmac, sha1_hmac_twin
from hushphone.crypto.sha1_hmac import HmacSha1
from hushphone.hal.esp32 import audio as esp32_audio
from hushphone.srtp import cipher, fastpath, fastpath_twin

ROUNDS = 60


def _view(buf, skew):
    # a buffer starting `skew` bytes in: unaligned starts for the word loops
    return memoryview(buf)[skew:]


# name -> (module, twin module, make(rng) -> (args, buffer indexes written))
def _direction(r, tag_len, max_packet, label=0):
    # an SRTP (label 0) or SRTCP (3) direction from random keys; its twin
    # (_copy) is made the same way
    made_with = (r.bytes(16), r.bytes(14), label, 16, tag_len, max_packet, HmacSha1)
    d = cipher.Direction(*made_with)
    d.made_with = made_with
    return d


def _copy(a):
    if isinstance(a, cipher.Direction):
        twin = cipher.Direction(*a.made_with)
        twin.st[:] = a.st
        return twin
    return bytearray(a) if isinstance(a, (bytearray, memoryview)) else a


def _srtp_packet(r):
    # a direction (SRTP, sometimes SRTCP), mirroring a stream or not, and a
    # packet to protect or unprotect: mostly the stream's next one (the
    # fast path), or forced (as the slow path sets it up), or neither (-1);
    # unprotecting, its tag right or wrong (-2)
    tag_len = (4, 10)[r.below(2)]
    max_packet = 64 + r.below(64)
    d = _direction(r, tag_len, max_packet)
    rtcp = r.below(4) == 0
    d.st[fastpath.ST_RTCP] = rtcp
    ssrc = r.bytes(4)
    top = r.below(1 << 24) if r.below(4) else 0xFFFF  # (0xFFFF: the ROC changes)
    if r.below(5) and not rtcp:  # (SRTCP has no fast path)
        stream = cipher.Stream(ssrc, 64)
        stream.top = top
        d.mirror(stream)
    m = r.below(max_packet + 8)
    pkt = r.bytes(m + tag_len + 8)
    pkt[0] = (0x80, 0xA0, 0x90, 0x81, 0x40)[r.below(5)] if r.below(3) == 0 else 0x80
    if r.below(6):
        pkt[8:12] = ssrc
    seq = (top + 1) & 0xFFFF if r.below(6) else r.below(65536)
    pkt[2] = seq >> 8
    pkt[3] = seq & 0xFF
    unprotect = r.below(2)
    if unprotect and r.below(2):  # the right tag, mostly: the MAC of what packet authenticates
        auth = bytearray(pkt[:m]) + (b"" if rtcp else d.st[fastpath.ST_ROC : fastpath.ST_ROC + 4])
        mac = bytearray(20)
        d.mac(d.mac_key, auth, len(auth), mac)
        pkt[m : m + tag_len] = mac[:tag_len]
    room = m + tag_len + 4 - (r.below(6) if r.below(4) == 0 else 0)  # sometimes too small
    if r.below(3) == 0 and m >= 12:  # forced, as the slow path sets it up
        hlen = 12 + r.below(m - 11)
        d.force(hlen, min(m - hlen, max_packet), (4, 8)[r.below(2)], r.below(1 << 30))
        room = m + tag_len + 4
    if r.below(3) == 0:
        out = pkt  # in place
    else:
        out = _view(r.bytes(room + 4), r.below(4))[:room]  # and unaligned
    return [d, pkt, out, -(m + tag_len) if unprotect else m], (0, 2)


def _copy_into_fast(r):
    n = r.below(48)
    return [_view(r.bytes(80), r.below(4)), r.below(24), _view(r.bytes(60), r.below(4)), n], (0,)


def _same4(r):
    buf = r.bytes(24)
    at = r.below(20)
    key = bytearray(buf[at : at + 4])
    if r.below(2):
        key[r.below(4)] ^= 1 << r.below(8)
    return [buf, at, key], ()


def _encode(r):
    n = r.below(200)
    pcm_in = r.bytes(2 * n)
    if n and r.below(2):  # the extremes
        pcm_in[0:2] = (b"\x00\x80", b"\xff\x7f", b"\xff\xff", b"\x00\x00")[r.below(4)]
    return [pcm_in, bytearray(n + 4), n], (1,)


def _decode(r):
    n = r.below(200)
    table = g711._ULAW16 if r.below(2) else g711._ALAW16
    # aligned and unaligned outputs
    return [r.bytes(n), _view(bytearray(2 * n + 8), r.below(4)), n, table], (1,)


def _pcm_copy(r):
    n = r.below(64)
    return [bytearray(n + 8), r.bytes(n + 40), r.below(40), n], (0,)


def _scale_into(r):
    n = 2 * r.below(40)
    return [bytearray(n + 8), r.bytes(n), n, r.below(257)], (0,)


def _fill_zero(r):
    n = r.below(64)
    return [r.bytes(n + 8), n], (0,)


def _widen(r):
    n = r.below(40)
    return [bytearray(4 * n + 8), r.bytes(2 * n), n], (0,)


def _upsample(r):
    n = r.below(40)
    return [bytearray(8 * n + 8), r.bytes(2 * n), n, r.below(65536) - 32768], (0,)


def _decimate(r):
    n = r.below(40)
    return [bytearray(2 * n + 8), r.bytes(4 * n), n, r.below(65536) - 32768], (0,)


def _sha1_state(r):
    return sha1_hmac.new_state(r.bytes(r.below(80)), sha1_hmac_twin.hmac_sha1_py)


def _hmac(r):
    n = r.below(300) if r.below(8) else -1  # -1: the raw-block mode
    # compare H (st[0:20]: the result in raw-block mode) and the MAC; the
    # twin keeps its message schedule in a list, not in st
    data = r.bytes(max(n, 64) + 3)
    at = r.below(4)  # the data at any alignment: word copies only where aligned
    return [_sha1_state(r), memoryview(data)[at:], n, bytearray(20)], ((0, 0, 20), 3)


CASES = {
    "packet": (fastpath, fastpath_twin, _srtp_packet),
    "copy_into": (fastpath, fastpath, _copy_into_fast),
    "same4": (fastpath, fastpath, _same4),
    "_ulaw_encode": (g711, g711, _encode),
    "_alaw_encode": (g711, g711, _encode),
    "_decode": (g711, g711, _decode),
    "pcm.copy_into": (pcm, pcm, _pcm_copy),
    "scale_into": (pcm, pcm, _scale_into),
    "fill_zero": (pcm, pcm, _fill_zero),
    "widen_16_to_32": (esp32_audio, esp32_audio, _widen),
    "upsample_widen": (esp32_audio, esp32_audio, _upsample),
    "decimate_2": (esp32_audio, esp32_audio, _decimate),
    "hmac_sha1": (sha1_hmac, sha1_hmac_twin, _hmac),
}


class ViperTwinTest(unittest.TestCase):
    def _compare(self, key, rounds=ROUNDS):
        module, twin_module, make = CASES[key]
        name = key.split(".")[-1]
        twin = getattr(twin_module, name + "_py")
        rng = Rng(0x9E3779B9 ^ len(key) * 2654435761 & 0xFFFFFFFF or 1)
        for i in range(rounds):
            args, written = make(rng)
            twin_args = [_copy(a) for a in args]
            want = twin(*twin_args)
            if IS_MICROPYTHON:
                viper = getattr(module, name + "_viper")
                got = viper(*args)
                self.assertEqual(bool(got) if name == "same4" else got,
                                 bool(want) if name == "same4" else want, "%s round %d" % (key, i))
                for w in written:
                    if isinstance(w, tuple):
                        w, start, end = w
                    else:
                        start, end = 0, None
                    got_w, want_w = args[w], twin_args[w]
                    if isinstance(got_w, cipher.Direction):  # what it holds: its packet state
                        got_w, want_w = got_w.st, want_w.st
                    end = len(got_w) if end is None else end
                    self.assertEqual(bytes(got_w[start:end]), bytes(want_w[start:end]), "%s round %d arg %d" % (key, i, w))
            else:
                self._reference(key, args, twin_args, want)

    def _reference(self, key, args, twin_args, want):
        # CPython: the twins against independent references
        if key == "copy_into":
            dst, at, src, n = args
            self.assertEqual(bytes(twin_args[0][at : at + n]), bytes(src[:n]))
        elif key == "same4":
            buf, at, key4 = args
            self.assertEqual(want, bytes(buf[at : at + 4]) == bytes(key4))

    # one test per viper function (tests/host/test_viper_rules.py checks
    # that every one in the firmware is here)

    def test_srtp_packet(self):
        self._compare("packet", 400)  # (its paths: fast, forced, refused, forged; SRTP and SRTCP)

    def test_copy_into(self):
        self._compare("copy_into")

    def test_same4(self):
        self._compare("same4")

    def test_ulaw_encode(self):
        self._compare("_ulaw_encode")

    def test_alaw_encode(self):
        self._compare("_alaw_encode")

    def test_decode(self):
        self._compare("_decode")

    def test_pcm_copy_into(self):
        self._compare("pcm.copy_into")

    def test_scale_into(self):
        self._compare("scale_into")

    def test_fill_zero(self):
        self._compare("fill_zero")

    def test_widen_16_to_32(self):
        self._compare("widen_16_to_32")

    def test_upsample_widen(self):
        self._compare("upsample_widen")

    def test_decimate_2(self):
        self._compare("decimate_2")

    def test_hmac_sha1(self):
        self._compare("hmac_sha1")


class HmacTwinReferenceTest(unittest.TestCase):
    def test_the_twin_and_this_runtime_match_hmac_sha1(self):
        # RFC 2202 test case 2 and packet-sized messages around block edges
        from hushphone.crypto.hmac import Hmac

        key = b"Jefe"
        st = sha1_hmac.new_state(key, sha1_hmac_twin.hmac_sha1_py)
        out = bytearray(20)
        data = b"what do ya want for nothing?"
        sha1_hmac_twin.hmac_sha1_py(st, data, len(data), out)
        self.assertEqual(bytes(out).hex(), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        fast = sha1_hmac.HmacSha1(key)
        rng = Rng(7)
        for n in (0, 1, 55, 56, 63, 64, 119, 120, 176, 186, 250):
            msg = rng.bytes(n + 3)
            want = Hmac(key, "sha1").digest(bytes(msg[:n]))
            sha1_hmac_twin.hmac_sha1_py(st, msg, n, out)
            self.assertEqual(bytes(out), want, n)
            self.assertEqual(bytes(fast.digest_into(msg, n)), want, n)


if __name__ == "__main__":
    unittest.main()
