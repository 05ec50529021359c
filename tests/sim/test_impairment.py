"""The impairment relay (tests/sim/impair.py) on its own, and a call between
two simulated handsets through it with 5 % loss and 40 ms jitter.

The relay tests check the tool before it is trusted: its decisions are
seeded, its counters agree with what actually arrived, and the proxy
really points both handsets' media at it."""
import asyncio
import math
import socket
import struct
import threading
import time

import pytest

from hushphone import g711
from hushphone.sip import events
from tests.sim.impair import CALLEE_TO_CALLER, CALLER_TO_CALLEE, Impairment, ImpairmentRelay, RelayingKamailio, media_port
from tests.sim.sipphone import Phone, simple_sdp

USERS = {"alice": "alice-secret", "bob": "bob-secret"}


def _udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    return s


def _collect(sock, into, stop):
    while not stop.is_set():
        try:
            data = sock.recv(2048)
        except socket.timeout:
            continue
        except OSError:
            return
        if len(data) == 164:
            into.append(struct.unpack(">I", data[:4])[0])


def _pump(relay, count, gap_s=0.002):
    """A caller and a callee socket exchanging `count` numbered packets
    each way through the relay; returns the numbers each side received,
    in arrival order (read as they come: a socket buffer must not be
    what loses packets here)."""
    caller, callee = _udp(), _udp()
    got = {CALLER_TO_CALLEE: [], CALLEE_TO_CALLER: []}
    stop = threading.Event()
    readers = [threading.Thread(target=_collect, args=(callee, got[CALLER_TO_CALLEE], stop)),
               threading.Thread(target=_collect, args=(caller, got[CALLEE_TO_CALLER], stop))]
    try:
        for r in readers:
            r.start()
        # Latch both ends first (as the handsets' first packets do).
        caller.sendto(b"hello", ("127.0.0.1", relay.callee_port))
        callee.sendto(b"hello", ("127.0.0.1", relay.caller_port))
        deadline = time.monotonic() + 5
        while (relay.caller_address is None or relay.callee_address is None) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert relay.caller_address == caller.getsockname() and relay.callee_address == callee.getsockname()
        for i in range(count):
            caller.sendto(struct.pack(">I", i) + b"x" * 160, ("127.0.0.1", relay.callee_port))
            callee.sendto(struct.pack(">I", i) + b"y" * 160, ("127.0.0.1", relay.caller_port))
            time.sleep(gap_s)
        time.sleep(0.5)  # the last delayed packets
        return got
    finally:
        stop.set()
        for r in readers:
            r.join(timeout=5)
        caller.close()
        callee.close()


def test_relay_counts_match_what_arrives_and_seed_decides():
    impair = Impairment(loss=0.05, jitter_ms=10, duplicate=0.02, seed=7)
    runs = []
    for _ in range(2):
        with ImpairmentRelay(impair) as relay:
            got = _pump(relay, 400)
        assert relay.error is None
        runs.append((got, relay.snapshot()))
    for got, stats in runs:
        out = stats[CALLER_TO_CALLEE]
        arrived = got[CALLER_TO_CALLEE]
        # 400 numbered packets + the caller's first one, which arrived before
        # the callee was known (nowhere to send it: counted, dropped).
        assert out["received"] == 401 and out["unlatched"] == 1
        assert out["forwarded"] == len(arrived)  # all it sent arrived (loopback)
        assert len(arrived) - len(set(arrived)) == out["duplicated"] > 0
        assert 400 - len(set(arrived)) == out["lost"]
        assert 5 <= out["lost"] <= 40, out  # 5 % of 400, loosely
        assert out["reordered"] > 0, out  # 10 ms of jitter on packets 2 ms apart
        out_of_order = sum(1 for a, b in zip(arrived, arrived[1:]) if b < a)
        assert out_of_order > 0
        # The other direction has its own seed: not the same losses.
        assert stats[CALLEE_TO_CALLER]["lost"] > 0
    # The same seed drops the same packets (timing may reorder differently).
    (first, _), (second, _) = runs
    assert set(first[CALLER_TO_CALLEE]) == set(second[CALLER_TO_CALLEE])
    assert set(first[CALLER_TO_CALLEE]) != set(first[CALLEE_TO_CALLER])


def test_relay_without_impairment_is_transparent():
    with ImpairmentRelay() as relay:
        got = _pump(relay, 200, gap_s=0.001)
    stats = relay.snapshot()
    assert got[CALLER_TO_CALLEE] == list(range(200)) and got[CALLEE_TO_CALLER] == list(range(200))
    assert stats[CALLER_TO_CALLEE]["lost"] == stats[CALLER_TO_CALLEE]["reordered"] == 0


def test_relay_reorders_on_request():
    """Without jitter, `reorder` alone holds packets back to be overtaken."""
    with ImpairmentRelay(Impairment(reorder=0.1, reorder_ms=10, seed=3)) as relay:
        got = _pump(relay, 300)
    stats = relay.snapshot()[CALLER_TO_CALLEE]
    arrived = got[CALLER_TO_CALLEE]
    assert sorted(arrived) == list(range(300)) and stats["lost"] == 0  # all there, some out of order
    assert 10 <= stats["reordered"] and sum(1 for a, b in zip(arrived, arrived[1:]) if b < a) >= 10, stats


def test_relay_refuses_nonsense_settings():
    for bad in (dict(loss=1.0), dict(loss=-0.1), dict(duplicate=2), dict(jitter_ms=-1), dict(reorder=1.0)):
        with pytest.raises(ValueError):
            Impairment(**bad)


def test_proxy_points_both_media_streams_at_the_relay(tmp_path, pki):
    """Through RelayingKamailio the callee is offered the relay's
    caller_port (to reach the caller through it) and the caller is answered
    with its callee_port; the SDES key lines and everything else of the SDP
    pass unchanged."""
    relay = ImpairmentRelay()

    async def scenario(proxy):
        alice = Phone(proxy, pki, "alice", USERS["alice"])
        bob = Phone(proxy, pki, "bob", USERS["bob"])
        await alice.__aenter__()
        await bob.__aenter__()
        try:
            assert isinstance(await alice.register(), events.Registered)
            assert isinstance(await bob.register(), events.Registered)
            offer = simple_sdp(40000) + b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:not-a-real-key\r\n"
            alice.act("call", "bob", offer)
            incoming = await bob.expect(events.IncomingCall)
            assert media_port(incoming.body) == relay.caller_port
            assert incoming.body.replace(b"m=audio %d " % relay.caller_port, b"m=audio 40000 ") == offer
            bob.act("answer", incoming.call, simple_sdp(50000))
            answered = await alice.expect(events.CallAnswered)
            assert media_port(answered.body) == relay.callee_port
            bob.act("hangup", incoming.call)
            await alice.expect(events.CallEnded)
        finally:
            await alice.__aexit__()
            await bob.__aexit__()

    with relay, RelayingKamailio(tmp_path / "kamailio", pki, USERS, relay) as proxy:
        asyncio.run(asyncio.wait_for(scenario(proxy), 60))


# --- playout order, read from what the handset played -------------------------
#
# The sender plays a 1001 Hz tone. 160 samples (one 20 ms packet) hold 20.02
# periods, so each packet starts 0.02 of a period (7.2 degrees) later in the
# sine than the one before: the phase of a played frame names its packet
# modulo 50. In order, consecutive played frames advance by +1 (or 0 when
# the jitter buffer repeated the last frame to conceal a gap, or +2.. after
# a gap); a frame played out of order goes backwards. No counter inside the
# handset is needed to see it, and the check cannot be fooled by a counter.

ORDER_TONE_HZ = 1001
_STEPS = 50  # frames until the phase pattern repeats (1 / 0.02)


def frame_phases(pcm, freq=ORDER_TONE_HZ, rate=8000, frame=160, min_level=2000.0):
    """Per 160-sample frame: its packet number modulo 50 from the tone's
    phase, or None for a frame too quiet to tell (silence, fades)."""
    w = 2 * math.pi * freq / rate
    cos_t = [math.cos(w * n) for n in range(frame)]
    sin_t = [math.sin(w * n) for n in range(frame)]
    samples = struct.unpack("<%dh" % (len(pcm) // 2), pcm[: len(pcm) // 2 * 2])
    out = []
    for start in range(0, len(samples) - frame + 1, frame):
        x = samples[start:start + frame]
        re = sum(a * c for a, c in zip(x, cos_t))
        im = sum(a * s for a, s in zip(x, sin_t))
        amplitude = 2 * math.hypot(re, im) / frame
        if amplitude < min_level:
            out.append(None)
            continue
        # x = A sin(w (s + n)) correlates to phase w*s - pi/2.
        phase = (math.atan2(-im, re) + math.pi / 2) % (2 * math.pi)
        cycles = phase / (2 * math.pi)
        out.append((cycles / (freq * frame / rate % 1.0)) % _STEPS)
    return out


def playout_steps(phases):
    """The advance (in packets, rounded) between consecutive audible frames
    at most 10 frames apart; a list of (frame index, step)."""
    steps = []
    prev = None
    for i, p in enumerate(phases):
        if p is None:
            continue
        if prev is not None and i - prev[0] <= 10:
            steps.append((i, round(p - prev[1]) % _STEPS))
        prev = (i, p)
    return steps


def backwards(steps):
    """Steps that went back in the stream (a frame played out of order)."""
    return [(i, s) for i, s in steps if s > _STEPS // 2]


def _tone_frames(order, freq=ORDER_TONE_HZ, amplitude=12000):
    """PCM of the sender's frames in the given order (packet numbers),
    through G.711 mu-law as on the wire."""
    out = bytearray()
    coded = bytearray(160)
    decoded = bytearray(320)
    for k in order:
        pcm = struct.pack("<160h", *(int(amplitude * math.sin(2 * math.pi * freq * (160 * k + n) / 8000))
                                     for n in range(160)))
        g711.ulaw_encode_into(pcm, coded)
        g711.ulaw_decode_into(coded, decoded)
        out += decoded
    return bytes(out)


def test_playout_order_check_sees_a_swapped_frame():
    """The check itself: frames in order pass (repeats and gaps are fine), a
    swapped pair or a late frame played after its successor is caught."""
    in_order = [0, 1, 2, 3, 3, 5, 6, 7, 9, 10, 11] + list(range(12, 70))  # a repeat, gaps, a wrap of 50
    assert backwards(playout_steps(frame_phases(_tone_frames(in_order)))) == []
    assert {s for _, s in playout_steps(frame_phases(_tone_frames(in_order)))} == {0, 1, 2}
    swapped = [0, 1, 2, 4, 3, 5, 6]
    assert backwards(playout_steps(frame_phases(_tone_frames(swapped)))) == [(4, _STEPS - 1)]
    late = [10, 11, 13, 12, 14]
    assert len(backwards(playout_steps(frame_phases(_tone_frames(late))))) == 1


# --- a call through the relay ---------------------------------------------------

CALL_S = 10
WAIT_S = 30.0
# The tone must still be found behind 5 % loss, but not at the 30 dB of a
# clean call: a lost 20 ms frame is concealed by repeating the previous one
# (then fading), which is the right tone with a phase jump, a click. With
# 5 % loss and 40 ms jitter this run measured 22-33 dB per second (median
# about 29.5 dB, printed as "impairment report"); a missing or garbled
# stream is below 0 dB. Bars: the median second >= 20 dB and 80 % of the
# seconds >= 15 dB (on a heavily loaded machine a stalled process, relay
# or handset, can cost a whole second: seen once at -0.1 dB).
MIN_SNR_IMPAIRED_DB = 15.0
MIN_MEDIAN_SNR_IMPAIRED_DB = 20.0


def _speaker(handset):
    from tests.hil.simdut import read_pcm

    rate, pcm = read_pcm(handset.config["speaker_wav"])
    assert rate == 8000
    return pcm


def test_call_through_loss_and_jitter(tmp_path, pki):
    """5 % loss and 40 ms jitter (+1 % duplicates) each way between two
    handsets: the tone is still there, reordered packets are played in
    order, duplicates are refused as SRTP replays."""
    from tests.hil.simdut import tone_seconds
    from tests.sim.relayed_call import relayed_call

    impairment = Impairment(loss=0.05, jitter_ms=40, duplicate=0.01, seed=2024)
    relay = ImpairmentRelay(impairment)
    with relayed_call(tmp_path, pki, USERS, relay, (ORDER_TONE_HZ, ORDER_TONE_HZ), WAIT_S) as (alice, bob, _):
        handsets = [alice, bob]
        time.sleep(CALL_S)
        alice.send("hangup")
        ended = {h.name: h.wait_event("ended", WAIT_S)["stats"] for h in handsets}
    assert relay.error is None, relay.error
    through = relay.snapshot()
    report = {}
    for sender, receiver, direction in (("alice", "bob", CALLER_TO_CALLEE), ("bob", "alice", CALLEE_TO_CALLER)):
        relayed, heard = through[direction], ended[receiver]
        # The impairment really happened, on this call's packets.
        assert relayed["received"] >= 40 * CALL_S, relayed
        assert relayed["lost"] >= 0.02 * relayed["received"] and relayed["reordered"] > 0, relayed
        # Every duplicate is refused as a replay before the jitter buffer
        # (less a few whose original came before the call's media was set
        # up or whose copy came after it closed). The count can be higher:
        # the handsets' ZRTP Hello retransmissions are replays too.
        assert heard["dropped_replay"] >= relayed["duplicated"] - 3, (relayed, heard)
        assert heard["duplicate"] == 0, heard  # no copy got as far as the jitter buffer
        assert heard["dropped_auth"] == 0 and heard["dropped_malformed"] == 0, heard
        # The handset counts no "reordered" of its own: the relay knows how
        # many packets it sent out of order; the jitter buffer dropped only
        # `late` ones, so the others were put back in sequence (and the
        # phase check below shows they were played in order).
        assert heard["late"] < relayed["reordered"] // 2, (relayed, heard)
        # The slack is what the relay forwards that is not this call's audio:
        # the ZRTP handshake (retransmitted more under loss and jitter) and
        # packets before media was set up or after it closed. 10 proved too
        # tight once in CI (452 vs 453); ~470 packets, so 30 still proves
        # that nearly all of them were taken.
        assert heard["received"] >= relayed["forwarded"] - relayed["duplicated"] - heard["late"] - 30, (relayed, heard)

        pcm = _speaker(handsets[0] if receiver == "alice" else handsets[1])
        # Played in order: no played frame goes back in the sender's stream.
        steps = playout_steps(frame_phases(pcm))
        assert len(steps) >= 40 * CALL_S, len(steps)
        assert backwards(steps) == [], backwards(steps)[:10]
        # The tone is still there, every second.
        seconds = tone_seconds(pcm, ORDER_TONE_HZ, skip_s=0.5)
        assert len(seconds) >= CALL_S - 2
        snrs = sorted(round(r.snr_db, 1) for r in seconds)
        assert sum(1 for r in seconds if r.present(min_snr_db=MIN_SNR_IMPAIRED_DB)) >= 0.8 * len(seconds), snrs
        assert snrs[len(snrs) // 2] >= MIN_MEDIAN_SNR_IMPAIRED_DB, snrs
        # Each concealed frame is a repeat (a step of 0) in what was played
        # (a burst of 5+ losses fades to silence instead: rare at 5 %).
        repeats = sum(1 for _, x in steps if x == 0)
        assert abs(repeats - heard["concealed"]) <= max(5, heard["concealed"] // 5), (repeats, heard)
        report["%s>%s" % (sender, receiver)] = {
            "relay": relayed, "handset": heard, "snr_db_per_second": snrs,
            "steps": {s: sum(1 for _, x in steps if x == s) for s in sorted({x for _, x in steps})},
        }
    print("impairment report:", report)
