# SDP (RFC 4566), SDES crypto attributes (RFC 4568/6188) and offer/answer
# (RFC 3264) on both runtimes. The offers are written the way linphone 5 and
# baresip 1.0 send them (same attribute set and order, keys replaced by
# fixed test keys).
import unittest

from coretest import read_data
from hushphone import sdp
from hushphone.sdp import Crypto, SdpError, SessionDescription, answer, answer_direction, build_offer, process_answer

K128_1 = "ERgfJi00O0JJUFdeZWxzeoGIj5adpKuyucDHztXc"
K128_2 = "IikwNz5FTFNaYWhvdn2Ei5KZoKeutbzDytHY3+bt"
K256_3 = "MzpBSE9WXWRrcnmAh46VnKOqsbi/xs3U2+Lp8Pf+BQwTGiEoLzY9REtSWWBnbg=="
K256_4 = "REtSWWBnbnV8g4qRmJ+mrbS7wsnQ197l7PP6AQgPFh0kKzI5QEdOVVxjanF4fw=="
ZRTP_HASH = "1.10 " + "a1b2c3d4e5f60718" * 4


def key_bytes(seed, n):
    return bytes([(seed * 17 + i * 7) % 256 for i in range(n)])


LINPHONE_OFFER = (
    "v=0\r\n"
    "o=- 3220 1873 IN IP4 192.0.2.20\r\n"
    "s=Talk\r\n"
    "c=IN IP4 192.0.2.20\r\n"
    "t=0 0\r\n"
    "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n"
    "a=record:off\r\n"
    "m=audio 7078 RTP/SAVP 96 97 98 0 8 18 101 99 100\r\n"
    "a=rtpmap:96 opus/48000/2\r\n"
    "a=fmtp:96 useinbandfec=1\r\n"
    "a=rtpmap:97 speex/16000\r\n"
    "a=fmtp:97 vbr=on\r\n"
    "a=rtpmap:98 speex/8000\r\n"
    "a=fmtp:98 vbr=on\r\n"
    "a=fmtp:18 annexb=yes\r\n"
    "a=rtpmap:101 telephone-event/48000\r\n"
    "a=rtpmap:99 telephone-event/16000\r\n"
    "a=rtpmap:100 telephone-event/8000\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + K128_1 + "\r\n"
    "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" + K128_2 + "\r\n"
    "a=crypto:3 AES_256_CM_HMAC_SHA1_80 inline:" + K256_3 + "\r\n"
    "a=crypto:4 AES_256_CM_HMAC_SHA1_32 inline:" + K256_4 + "\r\n"
    "a=zrtp-hash:" + ZRTP_HASH + "\r\n"
    "a=rtcp-fb:* trr-int 1000\r\n"
    "a=rtcp-fb:* ccm tmmbr\r\n"
).encode()

BARESIP_OFFER = (
    "v=0\r\n"
    "o=- 1394206893 3220417587 IN IP4 192.0.2.30\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.30\r\n"
    "t=0 0\r\n"
    "m=audio 10000 RTP/SAVP 96 0 8 101\r\n"
    "b=AS:128\r\n"
    "a=rtpmap:96 opus/48000/2\r\n"
    "a=fmtp:96 stereo=1;sprop-stereo=1\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=rtcp-mux\r\n"
    "a=sendrecv\r\n"
    "a=label:1\r\n"
    "a=ssrc:3735928559 cname:8f4a1d2c-57e3-4b1f-a1c2-0d9e8f7a6b5c\r\n"
    "a=rtcp-rsize\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" + K128_1 + "\r\n"
    "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" + K128_2 + "\r\n"
    "a=crypto:3 AES_256_CM_HMAC_SHA1_32 inline:" + K256_3 + "\r\n"
    "a=crypto:4 AES_256_CM_HMAC_SHA1_80 inline:" + K256_4 + "\r\n"
    "a=ptime:20\r\n"
).encode()

# linphone with media encryption "zrtp": plain profile plus the Hello hash.
LINPHONE_ZRTP_OFFER = (
    "v=0\r\n"
    "o=- 1107 3432 IN IP6 2001:db8::20\r\n"
    "s=Talk\r\n"
    "c=IN IP6 2001:db8::20\r\n"
    "t=0 0\r\n"
    "m=audio 7078 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=zrtp-hash:" + ZRTP_HASH + "\r\n"
    "a=rtcp:7079\r\n"
).encode()


class FakeRandom:
    """Deterministic bytes standing in for the phone's RNG in these tests."""

    def __init__(self):
        self.calls = 0

    def __call__(self, n):
        self.calls += 1
        return bytes([(self.calls * 53 + i * 11) % 256 for i in range(n)])


class ParseSerialiseTest(unittest.TestCase):
    def test_linphone_round_trip_and_values(self):
        sd = SessionDescription.parse(LINPHONE_OFFER)
        self.assertEqual(sd.to_bytes(), LINPHONE_OFFER)
        self.assertEqual((sd.origin.username, sd.origin.session_id, sd.origin.session_version), ("-", 3220, 1873))
        self.assertEqual((sd.name, sd.connection.address, sd.times), ("Talk", "192.0.2.20", [(0, 0)]))
        m = sd.audio()
        self.assertEqual((m.port, m.proto, m.formats), (7078, "RTP/SAVP", ["96", "97", "98", "0", "8", "18", "101", "99", "100"]))
        maps = m.rtpmaps()
        self.assertEqual(maps[96], ("opus", 48000, 2))
        self.assertEqual(maps[100], ("telephone-event", 8000, 1))
        self.assertEqual(m.codec_of("0"), ("PCMU", 8000))  # static, no rtpmap
        self.assertEqual(m.codec_of("18"), ("G729", 8000))
        cryptos = m.cryptos()
        self.assertEqual([(c.tag, c.suite) for c in cryptos], [
            (1, "AES_CM_128_HMAC_SHA1_80"), (2, "AES_CM_128_HMAC_SHA1_32"),
            (3, "AES_256_CM_HMAC_SHA1_80"), (4, "AES_256_CM_HMAC_SHA1_32"),
        ])
        self.assertEqual([c.key for c in cryptos], [key_bytes(1, 30), key_bytes(2, 30), key_bytes(3, 46), key_bytes(4, 46)])
        self.assertEqual(m.zrtp_hash(), ("1.10", ZRTP_HASH[5:]))
        self.assertEqual(m.direction(), "sendrecv")
        self.assertEqual(sd.attributes[0], ["rtcp-xr", "rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics"])

    def test_baresip_round_trip_and_values(self):
        sd = SessionDescription.parse(BARESIP_OFFER)
        self.assertEqual(sd.to_bytes(), BARESIP_OFFER)
        m = sd.audio()
        self.assertEqual(m.info, [("b", "AS:128")])
        self.assertTrue(m.has("rtcp-mux"))
        self.assertEqual(m.ptime(), 20)
        self.assertEqual(m.get("fmtp"), "96 stereo=1;sprop-stereo=1")

    def test_rfc5118_sdp_bodies(self):
        def body(name):
            data = read_data("sip-torture", "rfc5118", name).replace(b"\n", b"\r\n")
            return data[data.find(b"\r\n\r\n") + 4 :]

        sd = SessionDescription.parse(body("ipv6-in-sdp.dat"))
        self.assertEqual((sd.origin.connection.addrtype, sd.origin.connection.address), ("IP6", "2001:db8::20"))
        self.assertEqual((sd.connection.addrtype, sd.connection.address), ("IP6", "2001:db8::20"))
        self.assertEqual([m.media for m in sd.media], ["audio", "video"])
        sd = SessionDescription.parse(body("mult-ip-in-sdp.dat"))
        self.assertIsNone(sd.connection)
        self.assertEqual([str(m.connection) for m in sd.media], ["IN IP4 192.0.2.1", "IN IP6 2001:db8::1"])
        self.assertEqual(sd.name, "")
        sd = SessionDescription.parse(body("ipv4-mapped-ipv6.dat"))
        self.assertEqual(sd.connection.address, "::ffff:192.0.2.2")

    def test_malformed_rtpmap_is_ignored(self):
        sd = SessionDescription.parse(BARESIP_OFFER.replace(b"a=rtpmap:0 PCMU/8000", b"a=rtpmap:0 PCMU").replace(
            b"a=rtpmap:96 opus/48000/2", b"a=rtpmap:x opus/48000"))
        maps = sd.audio().rtpmaps()
        self.assertNotIn(96, maps)
        self.assertNotIn(0, maps)
        self.assertEqual(sd.audio().codec_of("0"), ("PCMU", 8000))  # static type still known
        self.assertEqual(sd.audio().codec_of("96"), None)

    def test_every_session_line_kind_round_trips(self):
        text = (
            b"v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=x\r\ni=info\r\nu=http://example.com/\r\n"
            b"e=a@example.com\r\np=+1 555\r\nc=IN IP4 192.0.2.1\r\nb=CT:64\r\nt=1 2\r\nr=7d 1h 0 25h\r\n"
            b"t=3 4\r\nr=1d 1h 0\r\nz=2882844526 -1h\r\nk=prompt\r\na=tool:x\r\n"
            b"m=audio 4000/2 RTP/AVP 0\r\ni=voice\r\nc=IN IP6 2001:db8::1\r\nb=AS:64\r\nk=prompt\r\na=recvonly\r\n"
        )
        sd = SessionDescription.parse(text)
        self.assertEqual(sd.to_bytes(), text)
        self.assertEqual((sd.times, sd.repeats), ([(1, 2), (3, 4)], [(0, "7d 1h 0 25h"), (1, "1d 1h 0")]))
        self.assertEqual((sd.audio().port_count, sd.audio().direction()), (2, "recvonly"))
        with self.assertRaises(SdpError):
            SessionDescription.parse(text.replace(b"t=1 2\r\n", b""))

    def test_lf_only_and_session_level_direction(self):
        sd = SessionDescription.parse(b"v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\na=sendonly\nm=audio 4000 RTP/AVP 0\n")
        self.assertEqual(sd.audio().direction(sd.direction()), "sendonly")

    def test_malformed(self):
        good = LINPHONE_OFFER
        cases = (
            b"", b"v=1\r\n", b"v=0\r\ns=-\r\n", b"v=0\r\no=- 1 1 IN IP4\r\ns=-\r\n",
            good.replace(b"o=- 3220", b"o=- x3220"),
            good.replace(b"c=IN IP4 192.0.2.20", b"c=IN IPX 192.0.2.20"),
            good.replace(b"m=audio 7078", b"m=audio 70780"),
            good.replace(b"m=audio 7078", b"m=audio -1"),
            good.replace(b"m=audio 7078 RTP/SAVP 96 97 98 0 8 18 101 99 100", b"m=audio 7078 RTP/SAVP"),
            good.replace(b"s=Talk", b"s=T\xffalk"),
            good.replace(b"a=record:off", b"a record:off"),
            good.replace(b"a=record:off", b"A=record:off"),
            good.replace(b"a=record:off", b"a=rec ord:off"),
            good.replace(b"a=record:off", b"a="),
            good.replace(b"a=record:off", b""),
            good + b"t=0 0\r\n",
            good.replace(b"c=IN IP4 192.0.2.20\r\n", b""),
            good.replace(b"t=0 0", b"t=0"),
            good.replace(b"\r\ns=Talk", b"\r\ns=Talk\rx"),
            b"v=0\r\n" + b"a=x\r\n" * 300,
            good * 8,
        )
        for data in cases:
            with self.assertRaises(SdpError, msg=repr(data[:50])):
                SessionDescription.parse(data)
        with self.assertRaises(SdpError):
            SessionDescription.parse("v=0")
        with self.assertRaises(SdpError):
            SessionDescription.parse(good.replace(b"zrtp-hash:1.10 a1", b"zrtp-hash:1.10 z1")).audio().zrtp_hash()
        with self.assertRaises(SdpError):
            SessionDescription.parse(good.replace(b"a=record:off", b"m=audio 1 RTP/AVP 0\r\na=ptime:x")).media[0].ptime()


class CryptoTest(unittest.TestCase):
    def test_key_lengths_by_suite(self):
        for suite, length in (
            ("AES_CM_128_HMAC_SHA1_80", 30), ("AES_CM_128_HMAC_SHA1_32", 30),
            ("AES_256_CM_HMAC_SHA1_80", 46), ("AES_256_CM_HMAC_SHA1_32", 46),
        ):
            good = K128_1 if length == 30 else K256_3
            wrong = K256_3 if length == 30 else K128_1
            c = Crypto.parse("7 %s inline:%s" % (suite, good))
            self.assertEqual((c.tag, c.suite, len(c.key)), (7, suite, length))
            self.assertEqual(str(c), "7 %s inline:%s" % (suite, good))
            with self.assertRaises(SdpError, msg=suite):
                Crypto.parse("7 %s inline:%s" % (suite, wrong))

    def test_lifetime_mki_and_unpadded_base64(self):
        c = Crypto.parse("1 AES_256_CM_HMAC_SHA1_80 inline:%s|2^20|1:4" % K256_3.rstrip("="))
        self.assertEqual((c.key, c.lifetime, c.mki), (key_bytes(3, 46), "2^20", (1, 4)))
        self.assertEqual(str(c), "1 AES_256_CM_HMAC_SHA1_80 inline:%s|2^20|1:4" % K256_3)
        c = Crypto.parse("2 AES_CM_128_HMAC_SHA1_32 inline:%s|1048576 UNENCRYPTED_SRTCP" % K128_1)
        self.assertEqual((c.lifetime, c.mki, c.session_params), ("1048576", None, ["UNENCRYPTED_SRTCP"]))
        unknown = Crypto.parse("3 FUTURE_SUITE inline:whatever|x")
        self.assertFalse(unknown.known())
        self.assertEqual(str(unknown), "3 FUTURE_SUITE inline:whatever|x")

    def test_key_never_in_repr(self):
        c = Crypto.parse("1 AES_CM_128_HMAC_SHA1_80 inline:" + K128_1)
        self.assertNotIn(K128_1[:8], repr(c))
        offer = SessionDescription.parse(LINPHONE_OFFER)
        _, neg = answer(offer, "192.0.2.1", 4000, ["PCMU"], sdp.DEFAULT_SUITES, FakeRandom())
        self.assertNotIn(K128_1[:8], repr(neg))
        self.assertNotIn(repr(neg.local_key), repr(neg))

    def test_bad_crypto(self):
        for value in (
            "", "1", "1 AES_CM_128_HMAC_SHA1_80", "x AES_CM_128_HMAC_SHA1_80 inline:" + K128_1,
            "1 AES_CM_128_HMAC_SHA1_80 key:" + K128_1, "1 AES_CM_128_HMAC_SHA1_80 inline:" + K128_1[:-4],
            "1 AES_CM_128_HMAC_SHA1_80 inline:" + K128_1 + "AAAA", "1 AES_CM_128_HMAC_SHA1_80 inline:" + "!" * 40,
            "1 AES_CM_128_HMAC_SHA1_80 inline:" + K128_1 + "===", "1 AES_CM_128_HMAC_SHA1_80 inline:",
            "1 AES_CM_128_HMAC_SHA1_80 inline:" + K128_1 + "|2^99", "1 AES_CM_128_HMAC_SHA1_80 inline:" + K128_1 + "|1:0",
            "1 AES_CM_128_HMAC_SHA1_80 inline:" + K128_1 + "|1:4|2^20", "1 AES_CM_128_HMAC_SHA1_80 inline:" + K128_1 + "|x:4",
            "1 AES_CM_128_HMAC_SHA1_80 inline:" + K128_1 + ";inline:" + K128_2, "1000000000 AES_CM_128_HMAC_SHA1_80 inline:" + K128_1,
        ):
            with self.assertRaises(SdpError, msg=value):
                Crypto.parse(value)


class OfferAnswerTest(unittest.TestCase):
    def test_answer_linphone_sdes(self):
        rnd = FakeRandom()
        ans, neg = answer(LINPHONE_OFFER, "192.0.2.1", 4000, ["PCMA", "PCMU"], sdp.DEFAULT_SUITES, rnd, zrtp_hash=ZRTP_HASH)
        self.assertFalse(neg.rejected)
        # The offerer's order decides: 0 (PCMU) comes before 8 in its m= line.
        self.assertEqual((neg.codec, neg.payload_type, neg.dtmf_payload_type), ("PCMU", 0, 100))
        self.assertEqual((neg.remote_addr, neg.remote_port), ("192.0.2.20", 7078))
        self.assertEqual((neg.crypto_suite, neg.crypto_tag), ("AES_CM_128_HMAC_SHA1_80", 1))
        self.assertEqual(neg.remote_key, key_bytes(1, 30))
        self.assertEqual(len(neg.local_key), 30)
        self.assertEqual(neg.zrtp_hash, ("1.10", ZRTP_HASH[5:]))
        self.assertEqual((neg.direction, neg.ptime, neg.rtcp_mux, neg.encrypted_by), ("sendrecv", 20, False, "sdes"))
        m = SessionDescription.parse(ans.to_bytes()).audio()
        self.assertEqual((m.port, m.proto, m.formats), (4000, "RTP/SAVP", ["0", "8", "100"]))
        self.assertEqual([(c.tag, c.suite, c.key) for c in m.cryptos()], [(1, "AES_CM_128_HMAC_SHA1_80", neg.local_key)])
        self.assertEqual(m.get("zrtp-hash"), ZRTP_HASH)
        self.assertTrue(ans.to_bytes().startswith(b"v=0\r\no=- "))
        self.assertIn(b"\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n", ans.to_bytes())

    def test_suite_choice_follows_offer_order_within_our_set(self):
        _, neg = answer(LINPHONE_OFFER, "192.0.2.1", 4000, ["PCMU"], ["AES_256_CM_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_80"], FakeRandom())
        self.assertEqual((neg.crypto_tag, neg.crypto_suite, len(neg.local_key)), (3, "AES_256_CM_HMAC_SHA1_80", 46))
        self.assertEqual(neg.remote_key, key_bytes(3, 46))
        _, neg = answer(BARESIP_OFFER, "192.0.2.1", 4000, ["PCMA", "PCMU"], sdp.DEFAULT_SUITES, FakeRandom())
        self.assertEqual((neg.crypto_tag, neg.crypto_suite), (1, "AES_CM_128_HMAC_SHA1_32"))
        self.assertEqual((neg.codec, neg.dtmf_payload_type, neg.rtcp_mux), ("PCMU", 101, True))

    def test_payload_order_of_offerer(self):
        offer = BARESIP_OFFER.replace(b"RTP/SAVP 96 0 8 101", b"RTP/SAVP 96 8 0 101")
        _, neg = answer(offer, "192.0.2.1", 4000, ["PCMU", "PCMA"], sdp.DEFAULT_SUITES, FakeRandom())
        self.assertEqual((neg.codec, neg.payload_type), ("PCMA", 8))

    def test_rejections_keep_m_line_count(self):
        cases = (
            (LINPHONE_OFFER.replace(b"96 97 98 0 8 18 101 99 100", b"96 97 98 18 101 99 100"), ["PCMU", "PCMA"], sdp.DEFAULT_SUITES, "no common codec"),
            (LINPHONE_OFFER, ["PCMU"], ["AES_192_CM_HMAC_SHA1_80"], "no acceptable crypto"),
            (BARESIP_OFFER.replace(b"a=crypto", b"a=x-crypto"), ["PCMU"], sdp.DEFAULT_SUITES, "no acceptable crypto"),
            (LINPHONE_ZRTP_OFFER.replace(b"a=zrtp-hash", b"a=x-zrtp-hash"), ["PCMU"], sdp.DEFAULT_SUITES, "unencrypted media refused"),
            (BARESIP_OFFER.replace(b"RTP/SAVP", b"UDP/TLS/RTP/SAVPF"), ["PCMU"], sdp.DEFAULT_SUITES, "unsupported transport UDP/TLS/RTP/SAVPF"),
        )
        for offer, codecs, suites, reason in cases:
            ans, neg = answer(offer, "192.0.2.1", 4000, codecs, suites, FakeRandom())
            self.assertTrue(neg.rejected, reason)
            self.assertEqual(neg.reason, reason)
            m = SessionDescription.parse(ans.to_bytes()).media
            self.assertEqual(len(m), 1)
            self.assertEqual(m[0].port, 0)
            self.assertTrue(m[0].formats)  # RFC 3264 §6: formats stay listed
            self.assertEqual(m[0].get_all("crypto"), [])

    def test_zrtp_only_and_plain_policy(self):
        ans, neg = answer(LINPHONE_ZRTP_OFFER, "2001:db8::1", 4000, ["PCMU"], sdp.DEFAULT_SUITES, FakeRandom(), zrtp_hash=ZRTP_HASH)
        self.assertEqual((neg.rejected, neg.encrypted_by, neg.remote_addr), (False, "zrtp", "2001:db8::20"))
        self.assertIn(b"c=IN IP6 2001:db8::1\r\n", ans.to_bytes())
        self.assertIn(b"m=audio 4000 RTP/AVP 0 101\r\n", ans.to_bytes())
        _, neg = answer(LINPHONE_ZRTP_OFFER, "192.0.2.1", 4000, ["PCMU"], sdp.DEFAULT_SUITES, FakeRandom())
        self.assertTrue(neg.rejected)  # we have no ZRTP to key the plain profile
        _, neg = answer(LINPHONE_ZRTP_OFFER, "192.0.2.1", 4000, ["PCMU"], (), FakeRandom(), allow_plain=True)
        self.assertEqual((neg.rejected, neg.encrypted_by), (False, None))

    def test_extra_streams_rejected(self):
        offer = BARESIP_OFFER + b"m=video 10002 RTP/SAVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 10004 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + K128_1.encode() + b"\r\n"
        ans, neg = answer(offer, "192.0.2.1", 4000, ["PCMU"], sdp.DEFAULT_SUITES, FakeRandom())
        self.assertEqual([(m.media, m.port) for m in ans.media], [("audio", 4000), ("video", 0), ("audio", 0)])
        self.assertEqual(neg.remote_port, 10000)

    def test_direction_rules(self):
        self.assertEqual(answer_direction("sendonly"), "recvonly")
        self.assertEqual(answer_direction("recvonly"), "sendonly")
        self.assertEqual(answer_direction("inactive"), "inactive")
        self.assertEqual(answer_direction("sendrecv"), "sendrecv")
        self.assertEqual(answer_direction("sendrecv", "sendonly"), "sendonly")  # we hold
        self.assertEqual(answer_direction("sendonly", "sendonly"), "inactive")  # both hold
        self.assertEqual(answer_direction("recvonly", "recvonly"), "inactive")
        for offered, expected in (("sendonly", "recvonly"), ("inactive", "inactive"), ("recvonly", "sendonly")):
            offer = BARESIP_OFFER.replace(b"a=sendrecv", b"a=" + offered.encode())
            ans, neg = answer(offer, "192.0.2.1", 4000, ["PCMU"], sdp.DEFAULT_SUITES, FakeRandom())
            self.assertEqual(neg.direction, expected)
            self.assertEqual(SessionDescription.parse(ans.to_bytes()).audio().direction(), expected)

    def test_sdes_answer_with_empty_zrtp_hash(self):
        # linphone (media_encryption=srtp) answers a ZRTP+SDES offer with an
        # empty "a=zrtp-hash:": that is no hash, and SDES goes on.
        rnd = FakeRandom()
        offer = build_offer("192.0.2.10", 4000, ["PCMU"], sdp.DEFAULT_SUITES, rnd, zrtp_hash=ZRTP_HASH, session_id=7)
        ans, theirs = answer(offer.to_bytes(), "192.0.2.20", 5000, ["PCMU"], ["AES_CM_128_HMAC_SHA1_80"], rnd)
        wire = ans.to_bytes().replace(b"a=crypto:", b"a=zrtp-hash:\r\na=crypto:", 1)
        self.assertIn(b"a=zrtp-hash:\r\n", wire)
        self.assertIsNone(SessionDescription.parse(wire).audio().zrtp_hash())
        ours = process_answer(offer, wire)
        self.assertIsNone(ours.zrtp_hash)
        self.assertEqual(ours.crypto_suite, "AES_CM_128_HMAC_SHA1_80")
        self.assertEqual(ours.remote_key, theirs.local_key)

    def test_full_exchange_with_hold_and_resume(self):
        rnd = FakeRandom()
        offer = build_offer("192.0.2.10", 4000, ["PCMU", "PCMA"], sdp.DEFAULT_SUITES, rnd, zrtp_hash=ZRTP_HASH, session_id=42)
        wire = offer.to_bytes()
        self.assertTrue(wire.startswith(b"v=0\r\no=- 42 42 IN IP4 192.0.2.10\r\ns=-\r\n"))
        self.assertEqual(len(offer.audio().cryptos()), 4)
        ans, theirs = answer(wire, "192.0.2.20", 5000, ["PCMA", "PCMU"], ["AES_256_CM_HMAC_SHA1_80"], rnd)
        ours = process_answer(offer, ans.to_bytes())
        self.assertEqual((ours.codec, ours.remote_addr, ours.remote_port, ours.dtmf_payload_type), ("PCMU", "192.0.2.20", 5000, 101))
        self.assertEqual((ours.crypto_suite, theirs.crypto_suite), ("AES_256_CM_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_80"))
        self.assertEqual((ours.local_key, ours.remote_key), (theirs.remote_key, theirs.local_key))
        self.assertNotEqual(ours.local_key, ours.remote_key)
        self.assertEqual(ours.direction, "sendrecv")
        # Hold: re-offer sendonly with a higher version; the peer answers recvonly.
        hold = build_offer("192.0.2.10", 4000, ["PCMU"], sdp.DEFAULT_SUITES, rnd, direction="sendonly", session_id=42, session_version=43)
        self.assertIn(b"o=- 42 43 ", hold.to_bytes())
        ans, theirs = answer(hold.to_bytes(), "192.0.2.20", 5000, ["PCMU"], sdp.DEFAULT_SUITES, rnd)
        self.assertEqual((theirs.direction, process_answer(hold, ans).direction), ("recvonly", "sendonly"))
        # Resume.
        resume = build_offer("192.0.2.10", 4000, ["PCMU"], sdp.DEFAULT_SUITES, rnd, session_id=42, session_version=44)
        ans, theirs = answer(resume, "192.0.2.20", 5000, ["PCMU"], sdp.DEFAULT_SUITES, rnd)
        self.assertEqual((theirs.direction, process_answer(resume, ans).direction), ("sendrecv", "sendrecv"))

    def test_offer_is_private_and_random(self):
        rnd = FakeRandom()
        a = build_offer("192.0.2.10", 4000, ["PCMU"], ["AES_CM_128_HMAC_SHA1_80"], rnd)
        b = build_offer("192.0.2.10", 4000, ["PCMU"], ["AES_CM_128_HMAC_SHA1_80"], rnd)
        self.assertEqual((a.origin.username, a.name), ("-", "-"))
        self.assertNotEqual(a.origin.session_id, b.origin.session_id)
        self.assertNotEqual(a.audio().cryptos()[0].key, b.audio().cryptos()[0].key)
        with self.assertRaises(SdpError):
            build_offer("192.0.2.10", 4000, ["OPUS"], (), rnd)
        with self.assertRaises(SdpError):
            build_offer("192.0.2.10", 4000, ["PCMU"], ["NO_SUCH_SUITE"], rnd)

    def test_process_answer_violations(self):
        rnd = FakeRandom()
        offer = build_offer("192.0.2.10", 4000, ["PCMU"], ["AES_CM_128_HMAC_SHA1_80"], rnd)
        ans, _ = answer(offer, "192.0.2.20", 5000, ["PCMU"], sdp.DEFAULT_SUITES, rnd)
        good = ans.to_bytes()
        for bad in (
            good.replace(b"RTP/SAVP 0 101", b"RTP/SAVP 8 101"),
            good.replace(b"a=crypto:1 ", b"a=crypto:2 "),
            good.replace(b"a=crypto:1 AES_CM_128_HMAC_SHA1_80", b"a=crypto:1 AES_CM_128_HMAC_SHA1_32"),
            good.replace(b"RTP/SAVP", b"RTP/AVP"),
            good + b"m=video 0 RTP/AVP 31\r\n",
        ):
            with self.assertRaises(SdpError, msg=repr(bad)):
                process_answer(offer, bad)
        rejected = good.replace(b"m=audio 5000", b"m=audio 0")
        self.assertTrue(process_answer(offer, rejected).rejected)
