"""`hushctl demo` end to end: a real Kamailio over TLS, two handsets on the
MicroPython unix port, ZRTP end-to-end keys (no keys in SIP) and SRTP
media. Both displays must show the same SAS, the second call must show the
peer verified on both, the tone must arrive both ways with an SNR of at
least 30 dB; a muted handset must make the command fail; and nothing the
demo started may outlive it."""
import re
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.runtimes import REPO

pytestmark = pytest.mark.slow


def run_demo(*args):
    return subprocess.run(
        [sys.executable, "-m", "hushctl", "demo", "--json", *args],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=180,
    )


def processes_mentioning(text):
    """Command lines of running processes that mention `text`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line:
            found.append(line)
    return found


def check_cleaned_up(result):
    lab = Path(result["lab_dir"])
    assert lab.name.startswith("hushphone-demo-")
    assert not lab.exists(), "the lab directory (keys, passwords) was left behind"
    assert processes_mentioning(str(lab)) == [], "Kamailio or a handset outlived the demo"


def test_demo_tone_arrives_both_ways_end_to_end_encrypted():
    proc = run_demo("--seconds", "2")
    story = proc.stderr
    assert proc.returncode == 0, story[-3000:]
    result = json.loads(proc.stdout)
    rows = {(r["from"], r["to"]): r for r in result["directions"]}
    assert set(rows) == {("alice", "bob"), ("bob", "alice")}
    for (sender, receiver), r in rows.items():
        assert r["arrived"] is True
        assert r["snr_db"] >= 30.0, r
        assert r["seconds"] >= 1.5, r  # measured over the calls, not one lucky frame
        assert r["packets_received"] >= 100, r  # two calls
        assert r["dropped_auth"] == 0, r
        assert r["mode"] == "ZRTP" and r["second_call_mode"] == "ZRTP", r
    assert rows[("alice", "bob")]["freq"] == 1000
    assert rows[("bob", "alice")]["freq"] == 1500
    # Both displays showed the same SAS in the first call (what the two
    # people read to each other), and "verified" in the second call.
    sas = rows[("alice", "bob")]["sas"]
    assert re.fullmatch(r"[a-z0-9]{4}", sas), sas
    assert rows[("bob", "alice")]["sas"] == sas
    for r in rows.values():
        first, second = r["screens"]
        assert first[0] == "Ready | ZRTP SAS %s" % sas, first
        assert first[-1].split() == ["Confirm", "Reject", "End"], first
        sas2 = r["second_call_sas"]
        assert r["verified_second_call"] is True, r
        assert "ZRTP %s (verified)" % sas2 in second, second
        assert second[-1].split() == ["Hold", "Mute", "End"], second  # nothing left to confirm
    assert rows[("alice", "bob")]["second_call_sas"] == rows[("bob", "alice")]["second_call_sas"]
    assert result["seconds"] < 60
    # What a newcomer reads: registration, the call, its security, the tone.
    for line in (
        "[alice] Registered as alice@localhost",
        "[bob] Registered as bob@localhost",
        "[alice] Calling bob ...",
        "[bob] Incoming call from alice",
        "[alice] In call with bob \u00b7 ZRTP: securing...",
        "[alice] ZRTP secure: ZRTP SAS %s (X25519, AES_CM_128_HMAC_SHA1_" % sas,
        "[bob] ZRTP secure: ZRTP SAS %s (X25519, AES_CM_128_HMAC_SHA1_" % sas,
        "[alice] Confirms the SAS %s" % sas,
        "[bob] Confirms the SAS %s" % sas,
        "[alice] Key continuity: the secret retained from the last call matched",
        "[bob] Call with alice ended (remote)",
        "alice's display",  # both displays, side by side, mid-call
        "|Ready | ZRTP SAS %s   | |Ready | ZRTP SAS %s   |" % (sas, sas),
        "|bob                     | |alice                   |",
        "|Confirm Reject  End     | |Confirm Reject  End     |",
        "(verified)    | |ZRTP ",
    ):
        assert line in story, line
    # Each handset says once what it heard.
    assert story.count("[bob] Receiving 1000 Hz tone, SNR") == 1, story
    assert story.count("[alice] Receiving 1500 Hz tone, SNR") == 1, story
    assert "provider can decrypt" not in story
    # No secrets in the output: no SDES key material, no password field.
    assert "inline:" not in story + proc.stdout
    assert "password" not in (story + proc.stdout).lower()
    check_cleaned_up(result)


def test_demo_fails_when_a_tone_is_missing():
    proc = run_demo("--seconds", "1", "--mute", "bob")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("hushctl: error: the tone did not arrive: bob>alice"), last
    result = json.loads(proc.stdout)
    rows = {(r["from"], r["to"]): r for r in result["directions"]}
    assert rows[("alice", "bob")]["arrived"] is True
    assert rows[("bob", "alice")]["arrived"] is False
    assert "[alice] No 1500 Hz tone (silence)" in proc.stderr
    check_cleaned_up(result)
