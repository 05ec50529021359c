"""Bad packets at a handset's media port during a call: garbage, forged and
replayed SRTP, STUN-looking packets and a flood, sent from another socket
(an attacker on the path or anywhere that can reach the port). Each kind
must be dropped and counted exactly where the handset reports it (the
console's `stats`), and the call must go on: the caller's 1000 Hz tone is
still in the callee's speaker afterwards.

The call runs through the relay of tests/sim/impair.py without impairment:
it tells the test where the callee's media port is (latching) and hands
over real packets of the call to forge from."""
import os
import socket
import time

import pytest

from hushphone.app import media
from tests.hil.simdut import read_pcm, tone_seconds
from tests.sim.impair import CALLER_TO_CALLEE, ImpairmentRelay
from tests.sim.relayed_call import relayed_call

pytestmark = pytest.mark.slow

USERS = {"alice": "alice-secret", "bob": "bob-secret"}
# The longest SRTP packet (less its tag) a handset's media path accepts.
MAX_MEDIA_PACKET = getattr(media, "MAX_MEDIA_PACKET", 1500)
_TAG = 10  # HMAC-SHA1-80, the suite both handsets use (SDES's first, ZRTP's default)
WAIT_S = 30.0


def _media_stats(handset):
    lines = handset.stats()["lines"]
    assert len(lines) == 1 and lines[0]["state"] == "in_call", lines
    return lines[0]["media"]


def _srtp_packets(relay, count):
    """The last `count` SRTP packets the caller sent (as they were on the wire)."""
    packets = [p for p in relay.recent_packets(CALLER_TO_CALLEE) if len(p) > 12 and (p[0] & 0xC0) == 0x80]
    assert len(packets) >= count, len(packets)
    return packets[-count:]


def _with_seq(packet, seq):
    p = bytearray(packet)
    p[2], p[3] = (seq >> 8) & 0xFF, seq & 0xFF
    return bytes(p)


def _bad_packets(relay):
    """{counter: [datagrams]}: what each kind must add to which counter."""
    real = _srtp_packets(relay, 20)
    top = (real[-1][2] << 8) | real[-1][3]
    forged = []
    for i, p in enumerate(real):
        # A sequence number ahead of the stream (fresh for the replay
        # window), the tag of another packet: not authentic.
        forged.append(_with_seq(p, (top + 300 + i) & 0xFFFF))
        # A flipped payload bit and a flipped tag bit, ahead of the stream too.
        q = bytearray(_with_seq(p, (top + 400 + i) & 0xFFFF))
        q[20] ^= 0x01
        q[-1] ^= 0x80
        forged.append(bytes(q))
    # Random bytes behind a plain RTP first byte (version 2, no CSRC, no
    # extension): a tag mismatch if the size is one the handset takes,
    # malformed if it is longer than any media packet it accepts.
    randoms = [b"\x80" + os.urandom(n) for n in range(60, 1400, 134)]
    forged += [p for p in randoms if len(p) - _TAG <= MAX_MEDIA_PACKET]
    malformed = [p for p in randoms if len(p) - _TAG > MAX_MEDIA_PACKET]
    malformed += [b"", b"\x80", b"\x80\x00\x00", b"\x90" + os.urandom(8)]  # empty, too short
    malformed += [bytes([0x40 | (b & 0x0F)]) + os.urandom(170) for b in os.urandom(8)]  # RTP version 1
    malformed += [bytes([0xC0]) + os.urandom(181) for _ in range(4)]  # version 3
    stun = [b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12), b"\x01\x01" + os.urandom(30), b"\x02", b"\x03" * 40]
    replayed = _srtp_packets(relay, 10)  # exact copies of packets the callee already took
    return {"dropped_auth": forged, "dropped_malformed": malformed, "stun": stun, "dropped_replay": replayed}


def _wait_counters(handset, before, expected, timeout=WAIT_S):
    """Poll stats until every counter has grown by what was sent (the
    handset takes at most 32 datagrams per call per 20 ms tick)."""
    deadline = time.monotonic() + timeout
    while True:
        now = _media_stats(handset)
        grown = {k: now[k] - before[k] for k in expected}
        if grown == expected or time.monotonic() > deadline:
            return now, grown
        time.sleep(0.3)


def test_garbage_forged_and_replayed_packets_are_dropped_and_counted(tmp_path, pki):
    relay = ImpairmentRelay()
    with relayed_call(tmp_path, pki, USERS, relay, (1000, 1500), WAIT_S) as (alice, bob, answered):
        if answered["security"] == "zrtp":
            bob.wait_event("secure", WAIT_S)  # SRTP keyed: what arrives now is judged as SRTP
        time.sleep(1.0)  # audio flowing
        target = relay.callee_address
        assert target is not None and target[0] == "127.0.0.1"

        attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        attacker.bind(("127.0.0.1", 0))
        try:
            # 1. Each kind once, counted exactly.
            before = _media_stats(bob)
            bad = _bad_packets(relay)
            for counter, packets in bad.items():
                for p in packets:
                    attacker.sendto(p, target)
                    time.sleep(0.002)
            expected = {k: len(v) for k, v in bad.items()}
            after, grown = _wait_counters(bob, before, expected)
            assert grown == expected, (grown, expected)
            assert after["received"] > before["received"]  # the real stream kept coming

            # 2. A flood of forged packets (5000, as fast as we can send):
            # the handset keeps up with bounded work per tick; what the
            # kernel's socket buffer could not hold is lost before it.
            flood_from = _srtp_packets(relay, 1)[0]
            top = (flood_from[2] << 8) | flood_from[3]
            for i in range(5000):
                attacker.sendto(_with_seq(flood_from, (top + 1000 + i) & 0xFFFF), target)
            time.sleep(1.0)
            flooded = _media_stats(bob)
            assert flooded["dropped_auth"] > after["dropped_auth"] + 100, flooded
            assert flooded["dropped_replay"] == after["dropped_replay"], flooded  # none taken as anything else
        finally:
            attacker.close()

        # 3. The call goes on: seconds of the caller's tone after all that.
        tone_from = os.path.getsize(bob.config["speaker_wav"])
        time.sleep(3.0)
        assert _media_stats(bob)["received"] > flooded["received"] + 100
        bob.send("hangup")
        ended = alice.wait_event("ended", WAIT_S)
        assert ended["reason"] == "ended by peer", ended
        bob.wait_event("ended", WAIT_S)
    rate, heard = read_pcm(bob.config["speaker_wav"])
    after_attack = heard[tone_from - 44:]  # the WAV header is 44 bytes
    seconds = tone_seconds(after_attack, 1000, rate)
    assert len(seconds) >= 2, len(after_attack)
    assert all(r.present() and r.snr_db >= 30.0 for r in seconds), seconds
