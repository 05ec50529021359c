"""ZRTP interop with linphonec (Debian linphone-cli, whose ZRTP is bzrtp)
through Kamailio over TLS: a call in each direction, with X25519 and with
DH-3072 forced on linphone's side. Our side is the firmware's SIP user
agent, SDP, ZRTP engine and media session (on CPython here). Each call
must complete ZRTP with the forced key agreement, the SAS we would show
must equal the one linphone prints ("auth token is XXXX"), and a tone must
cross both ways over the resulting SRTP: linphone plays a 1000 Hz WAV we
measure, and records our 1500 Hz tone to a WAV we measure."""
import asyncio
import os
import re
import shutil
import wave

import pytest

from tests.hil.simdut import write_tone_wav
from tests.sim.kamailio import Kamailio
from tests.sim.linphone import LINPHONEC, Linphone
from tests.sim.sipphone import Phone

from hushphone import sdp  # noqa: E402  (sipphone put firmware/lib on sys.path)
from hushphone.app.media import bind_random_port, sockaddr  # noqa: E402
from hushphone.audio.tone import ToneDetector, ToneGenerator, measure  # noqa: E402
from hushphone.crypto.random import random_below  # noqa: E402
from hushphone.sip import events  # noqa: E402
from hushphone.zrtp.cache import MemoryStorage, ZidCache  # noqa: E402
from hushphone.zrtp.engine import ZrtpConfig, ZrtpEngine  # noqa: E402
from hushphone.zrtp.events import ZrtpCacheMismatch, ZrtpSecure  # noqa: E402
from hushphone.app.zrtpmedia import ZrtpMediaSession  # noqa: E402
from tests.core.media_drivers import ZrtpUdpDriver  # noqa: E402

pytestmark = pytest.mark.slow

USERS = {"zed": os.urandom(9).hex(), "lin": os.urandom(9).hex()}
CALL_MS = 5000
WAIT_S = 30.0  # generous: CI machines are loaded
LINPHONE_SUITES = {"X255": "MS_ZRTP_KEY_AGREEMENT_X255", "DH3k": "MS_ZRTP_KEY_AGREEMENT_DH3K"}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, pki):
    assert shutil.which(LINPHONEC), "linphonec is not installed (see system-packages.txt)"
    k = Kamailio(tmp_path_factory.mktemp("kamailio-zrtp"), pki, USERS)
    k.start()
    yield k
    k.stop()


def start_linphone(tmp_path, proxy, pki, agreement, sas="B32"):
    tone = tmp_path / "tone-1000.wav"
    write_tone_wav(tone, 1000, CALL_MS // 1000 + 20, amplitude=16000)
    recording = tmp_path / "linphone-heard.wav"
    lin = Linphone(tmp_path / "linphone-home", proxy, pki, "lin", USERS["lin"], media_encryption="zrtp")
    # Only the agreement and SAS type under test.
    rc = lin.rc.read_text().replace(
        "[sip]\n",
        "[sip]\nzrtp_key_agreements_suites=%s\nzrtp_sas_suites=MS_ZRTP_SAS_%s\n" % (LINPHONE_SUITES[agreement], sas),
        1,
    )
    lin.rc.write_text(rc)
    lin.start()
    lin.command("play %s" % tone)
    lin.command("record %s" % recording)
    lin.wait_registered(timeout=60)
    return lin, recording


class OurSide:
    """The handset's media for one call: ZRTP engine and media session on
    a fresh UDP port, sending a 1500 Hz tone, listening for 1000 Hz."""

    def __init__(self, agreement, passive, cache=None, sas_types=("B32", "B256")):
        cache = cache if cache is not None else ZidCache(MemoryStorage(), os.urandom)
        config = ZrtpConfig(agreements=(agreement,), passive=passive, sas_types=sas_types)
        self.engine = ZrtpEngine(cache, os.urandom, config, wall_time_s=1)
        self.sock, self.port = bind_random_port("127.0.0.1", random_below)
        self.tone = ToneGenerator(1500, 0.5)
        self.heard = ToneDetector(1000)
        self.events = []
        self.session = None
        self.driver = None
        self._secure_at = None

    def start_media(self, neg):
        assert neg.encrypted_by == "zrtp", neg
        assert self.engine.set_peer_hello_hash("%s %s" % neg.zrtp_hash), neg.zrtp_hash
        self.session = ZrtpMediaSession(self.engine, neg.codec, os.urandom, payload_type=neg.payload_type)
        self.driver = ZrtpUdpDriver(self.session, self.sock, sockaddr(neg.remote_addr, neg.remote_port),
                                    self.events.append)
        return asyncio.create_task(self.driver.run(self.tone.fill, self._sink, duration_ms=CALL_MS))

    def _sink(self, frame, now_ms):
        if self.session.media is not None and self._secure_at is None:
            self._secure_at = now_ms
        if self._secure_at is not None and now_ms >= self._secure_at + 500:
            self.heard.add(frame)


async def we_call(zed, lin, ours):
    offer = sdp.build_offer("127.0.0.1", ours.port, ["PCMU", "PCMA"], [], os.urandom,
                            zrtp_hash=ours.engine.hello_hash())
    assert offer.audio().proto == "RTP/AVP"
    call = zed.act("call", "lin", offer.to_bytes())
    answered = await zed.expect(events.CallAnswered, timeout=WAIT_S)
    neg = sdp.process_answer(offer, answered.body)
    await ours.start_media(neg)
    return call


async def linphone_calls(zed, lin, ours):
    lin.command("call sip:zed@%s" % zed.kamailio.host)
    incoming = await zed.expect(events.IncomingCall, timeout=WAIT_S)
    offer = sdp.SessionDescription.parse(incoming.body)
    answer, neg = sdp.answer(offer, "127.0.0.1", ours.port, ["PCMU", "PCMA"], [], os.urandom,
                             zrtp_hash=ours.engine.hello_hash())
    assert not neg.rejected, neg
    zed.act("ringing", incoming.call)
    zed.act("answer", incoming.call, answer.to_bytes())
    media = ours.start_media(neg)
    await zed.expect(events.CallConfirmed, timeout=WAIT_S)
    await media
    return incoming.call


@pytest.mark.parametrize("agreement", ["X255", "DH3k"])
@pytest.mark.parametrize("direction", ["we_call", "linphone_calls"])
def test_zrtp_call_with_linphone(tmp_path, proxy, pki, direction, agreement):
    lin, recording = start_linphone(tmp_path, proxy, pki, agreement)
    # Called by linphone we wait for its Commit (we are the responder);
    # calling it we commit too, and contention (§4.2) picks the initiator.
    ours = OurSide(agreement, passive=direction == "linphone_calls")
    try:
        async def scenario():
            async with Phone(proxy, pki, "zed", USERS["zed"]) as zed:
                assert isinstance(await zed.register(), events.Registered)
                call = await (we_call if direction == "we_call" else linphone_calls)(zed, lin, ours)
                zed.act("hangup", call)
                await zed.expect(events.CallEnded, timeout=WAIT_S)

        asyncio.run(asyncio.wait_for(scenario(), 120))
        sas_line = lin.wait_for(r"auth token is", timeout=WAIT_S)
        lin.wait_for(r"[Cc]all \d+ .*ended", timeout=WAIT_S)
    finally:
        lin.stop()
        ours.sock.close()

    secure = [e for e in ours.events if isinstance(e, ZrtpSecure)]
    assert secure, "no ZRTP: %r, engine stats %r" % (ours.events, ours.engine.stats)
    assert secure[0].agreement == agreement
    if direction == "linphone_calls":
        assert ours.engine.role == "responder"
    their_sas = re.search(r"auth token is ([^\s.]+)", sas_line).group(1)
    assert secure[0].sas == their_sas, (secure[0].sas, sas_line)

    # Linphone -> us: its 1000 Hz WAV over SRTP keyed by ZRTP.
    stats = ours.session.media.stats
    assert stats.received >= 50, stats.as_dict()
    heard = ours.heard.result()
    assert heard.present(min_snr_db=20), heard

    # Us -> linphone: what bzrtp's SRTP decrypted and linphone recorded.
    with wave.open(str(recording)) as w:
        rate = w.getframerate()
        pcm = w.readframes(w.getnframes())
    second = 2 * rate
    assert len(pcm) >= 2 * second, "linphone recorded only %d bytes" % len(pcm)
    windows = [measure(pcm[i : i + second], 1500, rate) for i in range(second, len(pcm) - second + 1, second)]
    assert any(r.present(min_snr_db=20) for r in windows), windows


def test_second_call_uses_the_retained_secret(tmp_path, proxy, pki):
    # Key continuity with bzrtp: the rs1 both sides kept from the first
    # call matches in the second (same ZID cache on our side, same HOME on
    # linphone's), and both still derive the same SAS from s0 with s1.
    lin, _ = start_linphone(tmp_path, proxy, pki, "X255")
    cache = ZidCache(MemoryStorage(), os.urandom)
    calls = []
    try:
        for _ in range(2):
            ours = OurSide("X255", passive=False, cache=cache)
            calls.append(ours)

            async def scenario():
                async with Phone(proxy, pki, "zed", USERS["zed"]) as zed:
                    assert isinstance(await zed.register(), events.Registered)
                    call = await we_call(zed, lin, ours)
                    zed.act("hangup", call)
                    await zed.expect(events.CallEnded, timeout=WAIT_S)

            try:
                asyncio.run(asyncio.wait_for(scenario(), 120))
            finally:
                ours.sock.close()
            ours.their_sas = re.search(r"auth token is ([^\s.]+)", lin.wait_for(r"auth token is", timeout=WAIT_S)).group(1)
            lin.wait_for(r"[Cc]all \d+ .*ended", timeout=WAIT_S)
    finally:
        lin.stop()
    first, second = [[e for e in c.events if isinstance(e, ZrtpSecure)][0] for c in calls]
    assert not first.cache_matched
    assert second.cache_matched, "the retained secret did not match in the second call"
    assert not [e for e in calls[1].events if isinstance(e, ZrtpCacheMismatch)]
    assert first.sas == calls[0].their_sas and second.sas == calls[1].their_sas
    assert cache.lookup(first.peer_zid).rs2 is not None  # rotated twice


# The handset itself: the firmware on the MicroPython unix port registers,
# calls linphone with a=zrtp-hash, keys SRTP by ZRTP and plays a tone,
# then prints what it saw as one JSON line.
HANDSET = """
import asyncio, json, sys
from hushphone import sdp
from hushphone.app.media import bind_random_port, sockaddr
from hushphone.audio.tone import ToneDetector, ToneGenerator
from hushphone.crypto.random import random_below, random_bytes
from hushphone.sip import events
from hushphone.sip.transport import SipTlsTransport, make_tls_context
from hushphone.sip.useragent import UaConfig, UserAgent
from hushphone.zrtp.cache import MemoryStorage, ZidCache
from hushphone.zrtp.engine import ZrtpConfig, ZrtpEngine
from hushphone.zrtp.events import ZrtpSecure
from hushphone.app.zrtpmedia import ZrtpMediaSession
from media_drivers import ZrtpUdpDriver  # tests/core is on MICROPYPATH

cfg = json.loads(sys.argv[1])
with open(cfg["ca_der"], "rb") as f:
    ca = f.read()
seen = []
answered = asyncio.Event()
ended = asyncio.Event()
def on_sip(ev):
    seen.append(ev)
    if isinstance(ev, (events.CallAnswered, events.CallFailed)):
        answered.set()
    if isinstance(ev, events.CallEnded):
        ended.set()
ua = UserAgent(UaConfig(cfg["aor"], cfg["user"], cfg["password"]), random_bytes)
transport = SipTlsTransport(ua, "127.0.0.1", cfg["port"], make_tls_context([ca]), cfg["host"], on_event=on_sip)
engine = ZrtpEngine(ZidCache(MemoryStorage(), random_bytes), random_bytes, ZrtpConfig(agreements=(cfg["agreement"],)))
sock, port = bind_random_port("127.0.0.1", random_below)
heard = ToneDetector(1000)
state = {"secure_at": None}

async def main():
    task = asyncio.create_task(transport.run())
    ua.register(transport.now())
    transport.wakeup()
    for _ in range(200):
        if ua.registration is not None and any(isinstance(e, events.Registered) for e in seen):
            break
        await asyncio.sleep(0.05)
    offer = sdp.build_offer("127.0.0.1", port, ["PCMU", "PCMA"], [], random_bytes, zrtp_hash=engine.hello_hash())
    call = ua.call("lin", offer.to_bytes(), transport.now())
    transport.wakeup()
    await asyncio.wait_for(answered.wait(), 30)
    ev = [e for e in seen if isinstance(e, events.CallAnswered)][0]
    neg = sdp.process_answer(offer, ev.body)
    engine.set_peer_hello_hash("%s %s" % neg.zrtp_hash)
    session = ZrtpMediaSession(engine, neg.codec, random_bytes, payload_type=neg.payload_type)
    zevents = []
    driver = ZrtpUdpDriver(session, sock, sockaddr(neg.remote_addr, neg.remote_port), zevents.append)
    def sink(frame, now):
        if session.media is not None and state["secure_at"] is None:
            state["secure_at"] = now
        if state["secure_at"] is not None and now >= state["secure_at"] + 500:
            heard.add(frame)
    await driver.run(ToneGenerator(1500, 0.5).fill, sink, duration_ms=cfg["call_ms"])
    ua.hangup(call, transport.now())
    transport.wakeup()
    await asyncio.wait_for(ended.wait(), 30)
    transport.stop()
    await task
    secure = [e for e in zevents if isinstance(e, ZrtpSecure)]
    r = heard.result()
    print("@" + json.dumps({
        "sas": secure[0].sas if secure else None,
        "agreement": secure[0].agreement if secure else None,
        "role": engine.role,
        "received": session.media.stats.received if session.media else 0,
        "tone_present": r.present(min_snr_db=20),
        "tone_snr": r.snr_db,
    }))

asyncio.run(main())
"""


def test_micropython_handset_zrtp_call_with_linphone(tmp_path, proxy, pki):
    import json
    import subprocess

    from tests.support.runtimes import micropython_env, micropython_exe

    lin, recording = start_linphone(tmp_path, proxy, pki, "X255")
    script = tmp_path / "handset.py"
    script.write_text(HANDSET)
    cfg = {"aor": "sip:zed@%s" % proxy.host, "user": "zed", "password": USERS["zed"], "host": proxy.host,
           "port": proxy.port, "ca_der": str(pki.ca.cert_der), "agreement": "X255", "call_ms": CALL_MS}
    try:
        result = subprocess.run([micropython_exe(), str(script), json.dumps(cfg)], env=micropython_env(),
                                capture_output=True, text=True, timeout=120)
        sas_line = lin.wait_for(r"auth token is", timeout=WAIT_S)
    finally:
        lin.stop()
    lines = [line for line in result.stdout.splitlines() if line.startswith("@")]
    assert result.returncode == 0 and lines, result.stdout + result.stderr
    got = json.loads(lines[-1][1:])
    assert got["agreement"] == "X255", got
    assert got["sas"] == re.search(r"auth token is ([^\s.]+)", sas_line).group(1), (got, sas_line)
    assert got["received"] >= 50 and got["tone_present"], got
    with wave.open(str(recording)) as w:
        rate = w.getframerate()
        pcm = w.readframes(w.getnframes())
    second = 2 * rate
    windows = [measure(pcm[i : i + second], 1500, rate) for i in range(second, len(pcm) - second + 1, second)]
    assert any(r.present(min_snr_db=20) for r in windows), windows


def test_b256_sas_matches_linphone(tmp_path, proxy, pki):
    # Two PGP words instead of four characters: the same sashash bits must
    # give the same words on both sides.
    lin, _ = start_linphone(tmp_path, proxy, pki, "X255", sas="B256")
    ours = OurSide("X255", passive=False, sas_types=("B256",))
    try:
        async def scenario():
            async with Phone(proxy, pki, "zed", USERS["zed"]) as zed:
                assert isinstance(await zed.register(), events.Registered)
                call = await we_call(zed, lin, ours)
                zed.act("hangup", call)
                await zed.expect(events.CallEnded, timeout=WAIT_S)

        asyncio.run(asyncio.wait_for(scenario(), 120))
        sas_line = lin.wait_for(r"auth token is", timeout=WAIT_S)
    finally:
        lin.stop()
        ours.sock.close()
    secure = [e for e in ours.events if isinstance(e, ZrtpSecure)][0]
    assert secure.sas_type == "B256"
    # linphone prints "auth token is word:word."; we show "word word".
    theirs = re.findall(r"[A-Za-z]+", sas_line.split("auth token is", 1)[1])
    assert secure.sas.split(" ") == theirs, (secure.sas, sas_line)
