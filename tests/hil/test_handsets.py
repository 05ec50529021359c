"""Hardware-in-the-loop: two handsets behind serial ports (real ones with
--port, else simulated ones: tests/hil/conftest.py), driven through their
consoles with pytest-embedded's serial service. The handset on the first
port calls the one on the second."""
import json
import re
import time

import pytest

from tests.hil.simdut import read_pcm, tone_seconds

pytestmark = [pytest.mark.hil, pytest.mark.slow, pytest.mark.parametrize("count", [2], indirect=True)]

WAIT_S = 30.0  # generous: handsets and CI machines are slow
CALL_S = 3
_EVENT = re.compile(rb"@event (\{[^\r\n]*\})\r?\n")


def event(dut, name, timeout=WAIT_S):
    """The next `@event` line called `name` on this handset's console
    (earlier events of other kinds are passed over)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no %s event within %ss" % (name, timeout)
        match = dut.expect(_EVENT, timeout=remaining)
        data = json.loads(match.group(1).decode("utf-8", "replace"))
        if data.get("event") == name:
            return data


def stats(dut):
    dut.write("stats")
    return event(dut, "stats")


def registered(dut):
    """Ask until the handset says it is registered (it may still be
    booting when the port opens)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        s = stats(dut)
        if s["registration"] == "registered" or time.monotonic() > deadline:
            return s
        time.sleep(0.5)


def test_boot_and_register(dut, hil_bench):
    for d in dut:
        s = registered(d)
        assert s["registration"] == "registered", s
        assert s["state"] == "idle" and s["lines"] == [], s
        assert s["screen"][0].startswith("Ready"), s["screen"]
    if hil_bench.simulated:
        # main.py booted the simulated board: its boot log. (On a bench the
        # boot happened before the port was opened, and opening a serial
        # port discards what was waiting in it.)
        for h in hil_bench.handsets:
            assert "hushphone: board sim" in h.text(), h.text()[-2000:]


def test_call_tone_and_security(dut, hil_bench):
    caller, callee = dut
    for d in dut:
        assert registered(d)["registration"] == "registered"
    caller.write("dial %s" % hil_bench.users[1])
    incoming = event(callee, "incoming")
    assert incoming["peer"] == hil_bench.users[0], incoming
    callee.write("answer")
    calls = [event(d, "in_call") for d in dut]
    for c in calls:
        assert c["security"] in ("zrtp", "sdes"), c  # never plain RTP by default
    if calls[0]["security"] == "zrtp":
        # End-to-end keys: both show the same short authentication string.
        secure = [event(d, "secure") for d in dut]
        assert secure[0]["sas"] == secure[1]["sas"] and len(secure[0]["sas"]) == 4, secure
        shown = ("ZRTP", secure[0]["sas"])
    else:
        shown = ("SRTP",)
    time.sleep(CALL_S)
    for d, other in ((caller, hil_bench.users[1]), (callee, hil_bench.users[0])):
        s = stats(d)
        assert s["state"] == "in_call" and len(s["lines"]) == 1, s
        line = s["lines"][0]
        assert line["peer"] == other and all(word in line["security"] for word in shown), line
        # ... and shown to the person at the desk, on the status line.
        assert all(word in s["screen"][0] for word in shown), s["screen"]
        media = line["media"]
        assert media["received"] >= 25 * CALL_S and media["sent"] >= 25 * CALL_S, media
        assert media["dropped_auth"] == 0 and media["dropped_malformed"] == 0, media
        # The handset's heap during the call (after a collection), as it reports it.
        assert s["heap"]["free"] > 0 and s["heap"]["alloc"] > 0, s["heap"]
        print("%s in a call: heap %s, media %s" % (d.serial.port, s["heap"], media))
    caller.write("hangup")
    ended = [event(d, "ended") for d in dut]
    assert ended[0]["kind"] == "out" and ended[1]["kind"] == "in", ended
    assert ended[1]["reason"] == "ended by peer", ended
    if hil_bench.simulated:
        # The tone check: each speaker played the other's microphone tone.
        for listener, talker in ((0, 1), (1, 0)):
            h = hil_bench.handsets[listener]
            rate, heard = read_pcm(h.config["speaker_wav"])
            seconds = tone_seconds(heard, hil_bench.tones[hil_bench.users[talker]], rate, skip_s=0.5)
            assert len(seconds) >= CALL_S - 1, len(heard)
            # Every second has the tone; the median one is clean (a loaded
            # machine may stall a handset's 20 ms tick: a concealed frame).
            snrs = sorted(r.snr_db for r in seconds)
            assert all(r.present() for r in seconds) and snrs[len(snrs) // 2] >= 30.0, (h.name, seconds)


# One line for the handset's REPL (after the app quit): SRTP protect +
# unprotect of a 172-byte G.711 packet with the firmware's own SRTP, timed
# on the device, then its heap. The marker is built at run time so the
# REPL's echo of this line never matches it.
_FIGURES = (
    "import gc, time, json\n"
    "from hushphone.srtp import SrtpContext\n"
    "k = bytes(range(16)); s = bytes(range(14)); suite = 'AES_CM_128_HMAC_SHA1_80'\n"
    "tx = SrtpContext(suite, k, s); rx = SrtpContext(suite, k, s)\n"
    "p = bytearray(172); p[0] = 0x80; n = 200; out = []\n"
    "gc.collect()\n"
    "t0 = time.ticks_us()\n"
    "for i in range(n):\n"
    "    p[2] = i >> 8; p[3] = i & 255; out.append(tx.protect(p))\n"
    "t1 = time.ticks_us()\n"
    "for q in out:\n"
    "    rx.unprotect(q)\n"
    "t2 = time.ticks_us()\n"
    "out = None; gc.collect()\n"
    "print('HIL' + '-FIGURES', json.dumps({'srtp_protect_us': time.ticks_diff(t1, t0) / n,"
    " 'srtp_unprotect_us': time.ticks_diff(t2, t1) / n, 'heap_free': gc.mem_free(),"
    " 'heap_used': gc.mem_alloc()}))\n"
)


def test_on_device_figures(dut, hil_bench):
    """SRTP time per packet measured on the handset with its own SRTP code,
    and its heap, read from its REPL once the app has quit (a handset falls
    back to the REPL; reset it to start the phone again). The heap during
    a call is in test_call_tone_and_security (the console's stats)."""
    figures = []
    for d in dut:
        assert registered(d)["registration"] == "registered"
        d.write("quit")
        event(d, "stopped")
        d.expect(re.compile(rb">>> "), timeout=WAIT_S)
        d.write("exec(%r)" % _FIGURES)
        match = d.expect(re.compile(rb"HIL-FIGURES (\{[^\r\n]*\})"), timeout=WAIT_S)
        figures.append(json.loads(match.group(1)))
    for f in figures:
        # A 20 ms frame period is the hard ceiling for one packet each way.
        assert 0 < f["srtp_protect_us"] + f["srtp_unprotect_us"] < 20000, f
        assert f["heap_free"] > 0 and f["heap_used"] > 0, f
    print("on-device figures:", figures)
