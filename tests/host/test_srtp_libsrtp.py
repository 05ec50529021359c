"""hushphone.srtp against libsrtp 2 (PyPI pylibsrtp, libsrtp bundled).

Each suite: 10,000 random RTP packets each way (ours protects -> libsrtp
unprotects, libsrtp protects -> ours unprotects), two SSRCs whose sequence
numbers wrap (ROC rollover), delivered reordered inside the replay window,
with tampered and replayed copies that both implementations must reject;
SRTCP both ways, including authenticated-only (E=0) SRTCP.

pylibsrtp only names the AES-128 profiles. For AES_256_CM_HMAC_SHA1_80/32
the policy is set with libsrtp's own srtp_crypto_policy_set_aes_cm_256_*
functions, called through ctypes on the library pylibsrtp bundles (this
reaches into pylibsrtp's private `_policy` struct: pinned by pyproject's
pylibsrtp<2)."""
import ctypes
import random

import pytest
from pylibsrtp import Error as LibsrtpError
from pylibsrtp import Policy, Session, _binding

import test_srtp as core  # tests/core/test_srtp.py: the known-answer table
from hushphone.srtp import SrtpAuthError, SrtpContext, SrtpError, SrtpReplayError

SUITES = ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_32"]
PACKETS = 10_000
_LIB = ctypes.CDLL(_binding.__file__)


def _set_crypto_policy(policy, field, function_name):
    address = int(_binding.ffi.cast("uintptr_t", _binding.ffi.addressof(policy._policy, field)))
    getattr(_LIB, function_name)(ctypes.c_void_p(address))


def libsrtp_session(suite, key, salt, outbound, rtcp_encrypted=True):
    direction = Policy.SSRC_ANY_OUTBOUND if outbound else Policy.SSRC_ANY_INBOUND
    if suite.startswith("AES_CM_128"):
        profile = Policy.SRTP_PROFILE_AES128_CM_SHA1_80 if suite.endswith("_80") else Policy.SRTP_PROFILE_AES128_CM_SHA1_32
        policy = Policy(key=key + salt, ssrc_type=direction, srtp_profile=profile)
    else:
        policy = Policy(key=key + salt, ssrc_type=direction)
        _set_crypto_policy(policy, "rtp", "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_" + suite[-2:])
        # RFC 6188 §4.2 / RFC 4568: SRTCP keeps the 80-bit tag in the _32 suites
        _set_crypto_policy(policy, "rtcp", "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80")
    if not rtcp_encrypted:
        _set_crypto_policy(policy, "rtcp", "srtp_crypto_policy_set_null_cipher_hmac_sha1_80")
    return Session(policy)


def keys(suite, rng):
    return rng.randbytes(core.SUITES[suite][0]), rng.randbytes(14)


def random_rtp(rng, seq, ssrc):
    b0 = 0x80
    header = b""
    if rng.random() < 0.1:  # some with CSRCs and a header extension
        csrcs = rng.randrange(1, 4)
        b0 |= 0x10 | csrcs
        header = rng.randbytes(4 * csrcs) + b"\xbe\xde\x00\x01" + rng.randbytes(4)
    payload = rng.randbytes(rng.choice((0, 1, 15, 16, 17, 160, rng.randrange(1, 1200))))
    return (
        bytes((b0, rng.randrange(256), seq >> 8, seq & 0xFF))
        + rng.randbytes(4)
        + ssrc.to_bytes(4, "big")
        + header
        + payload
    )


def traffic(rng, count):
    """`count` RTP packets from two SSRCs, each starting 2,000 packets before
    its sequence number wraps."""
    ssrcs = [rng.getrandbits(32), rng.getrandbits(32)]
    return [random_rtp(rng, (63535 + i // 2) & 0xFFFF, ssrcs[i % 2]) for i in range(count)]


def delivery_order(rng, count, span=64):
    """Indices 0..count-1 shuffled inside consecutive blocks of `span`
    (reordering well inside a 128-packet window)."""
    order = []
    for start in range(0, count, span):
        block = list(range(start, min(start + span, count)))
        rng.shuffle(block)
        order += block
    return order


def tamper(rng, packet, positions=None):
    """`packet` with one bit flipped (anywhere, or at one of `positions`)."""
    b = bytearray(packet)
    i = rng.choice(positions) if positions else rng.randrange(len(b))
    b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def srtcp_body_or_tag(packet):
    """Byte positions of an SRTCP packet's encrypted part and tag (not the
    header nor the index: a forgery there must fail on the tag alone)."""
    n = len(packet)
    return list(range(8, n - 14)) + list(range(n - 10, n))


def run_one_way(rng, protect, unprotect, rejected):
    """Protect PACKETS packets, deliver them reordered with a tampered copy
    before every 50th and a replay of an earlier one after every 50th; return
    (tampered rejected, replays rejected). A flipped bit may also land in the
    header (malformed) or the sequence number (replay): any rejection counts."""
    plain = traffic(rng, PACKETS)
    protected = [protect(p) for p in plain]
    forged = replayed = 0
    delivered = []
    for n, i in enumerate(delivery_order(rng, PACKETS)):
        if n % 50 == 0:
            with pytest.raises(rejected):
                unprotect(tamper(rng, protected[i]))
            forged += 1
        assert unprotect(protected[i]) == plain[i]
        delivered.append(i)
        if n % 50 == 25:
            with pytest.raises(rejected):
                unprotect(protected[rng.choice(delivered[-100:])])
            replayed += 1
    return forged, replayed


@pytest.mark.parametrize("suite", SUITES)
def test_known_answers_are_libsrtp_output(suite):
    key = core.master_key(suite)
    first = libsrtp_session(suite, key, core.SALT, True)
    second = libsrtp_session(suite, key, core.SALT, True)
    made = [
        first.protect(core.P1),
        first.protect(core.P2),
        second.protect(core.R1),
        second.protect(core.R2),
        second.protect(core.R3),
        first.protect_rtcp(core.C1),
    ]
    assert [m.hex() for m in made] == ["".join(h.split()) for h in core.KAT[suite]]


@pytest.mark.parametrize("suite", SUITES)
def test_ours_protect_libsrtp_unprotects(suite):
    rng = random.Random("ours->libsrtp " + suite)
    key, salt = keys(suite, rng)
    ours = SrtpContext(suite, key, salt)
    theirs = libsrtp_session(suite, key, salt, outbound=False)
    forged, replayed = run_one_way(rng, ours.protect, theirs.unprotect, LibsrtpError)
    assert forged == PACKETS // 50 and replayed == PACKETS // 50


@pytest.mark.parametrize("suite", SUITES)
def test_libsrtp_protects_ours_unprotects(suite):
    rng = random.Random("libsrtp->ours " + suite)
    key, salt = keys(suite, rng)
    theirs = libsrtp_session(suite, key, salt, outbound=True)
    ours = SrtpContext(suite, key, salt)
    forged, replayed = run_one_way(rng, theirs.protect, ours.unprotect, SrtpError)
    stats = ours.stats
    assert stats["auth_fail"] + stats["malformed"] + stats["replay"] == forged + replayed
    assert stats["replay"] >= replayed and stats["auth_fail"] > forged // 2 and stats["ssrc_limit"] == 0


def random_rtcp(rng, ssrc):
    body = rng.randbytes(4 * rng.randrange(0, 40))
    words = 1 + len(body) // 4
    return bytes((0x80, rng.choice((200, 201, 202, 203)), words >> 8, words & 0xFF)) + ssrc.to_bytes(4, "big") + body


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("encrypted", [True, False], ids=["E=1", "E=0"])
def test_srtcp_both_ways(suite, encrypted):
    rng = random.Random("srtcp %s %s" % (suite, encrypted))
    key, salt = keys(suite, rng)
    ssrc = rng.getrandbits(32)
    ours_tx, ours_rx = SrtpContext(suite, key, salt), SrtpContext(suite, key, salt)
    lib_tx = libsrtp_session(suite, key, salt, True, rtcp_encrypted=encrypted)
    lib_rx = libsrtp_session(suite, key, salt, False, rtcp_encrypted=encrypted)
    for i in range(500):
        rtcp = random_rtcp(rng, ssrc)
        ours_packet = ours_tx.protect_rtcp(rtcp, encrypt=encrypted)
        lib_packet = lib_tx.protect_rtcp(rtcp)
        if i % 25 == 0:  # forged copies of packets not seen yet: the tag rejects them
            with pytest.raises(LibsrtpError):
                lib_rx.unprotect_rtcp(tamper(rng, ours_packet, srtcp_body_or_tag(ours_packet)))
            with pytest.raises(SrtpAuthError):
                ours_rx.unprotect_rtcp(tamper(rng, lib_packet, srtcp_body_or_tag(lib_packet)))
        assert bool(ours_packet[-14] & 0x80) == encrypted  # the E flag
        assert bool(lib_packet[-14] & 0x80) == encrypted
        assert lib_rx.unprotect_rtcp(ours_packet) == rtcp
        assert ours_rx.unprotect_rtcp(lib_packet) == rtcp
        if i % 25 == 0:  # and replays
            with pytest.raises(LibsrtpError):
                lib_rx.unprotect_rtcp(ours_packet)
            with pytest.raises(SrtpReplayError):
                ours_rx.unprotect_rtcp(lib_packet)
    assert ours_rx.stats["auth_fail"] == 20 and ours_rx.stats["replay"] == 20


@pytest.mark.parametrize("suite", SUITES)
def test_one_stream_in_order_is_libsrtp_byte_for_byte(suite):
    # the fast path (the next packet of the previous packet's stream) most
    # of the time, across a ROC wrap: our SRTP packets are libsrtp's, and
    # libsrtp's decrypt, in place and into another buffer
    rng = random.Random("in order " + suite)
    key, salt = keys(suite, rng)
    ours_tx, ours_rx = SrtpContext(suite, key, salt), SrtpContext(suite, key, salt)
    lib_tx = libsrtp_session(suite, key, salt, outbound=True)
    lib_rx = libsrtp_session(suite, key, salt, outbound=False)
    ssrc = rng.getrandbits(32)
    out = bytearray(1600)
    for i in range(2000):
        rtp = random_rtp(rng, (64535 + i) & 0xFFFF, ssrc)
        theirs = lib_tx.protect(rtp)
        buf = bytearray(rtp) + bytes(10)
        n = ours_tx.protect_into(buf, buf, len(rtp))
        assert bytes(buf[:n]) == theirs, i
        assert lib_rx.unprotect(bytes(buf[:n])) == rtp
        if i % 2:
            assert bytes(out[: ours_rx.unprotect_into(theirs, out)]) == rtp
        else:
            packet = bytearray(theirs)
            assert bytes(packet[: ours_rx.unprotect_into(packet, packet)]) == rtp
    assert ours_rx.stats == {"auth_fail": 0, "replay": 0, "malformed": 0, "ssrc_limit": 0}
