"""Handsets pull signed updates from a static HTTPS host: nginx (Debian's,
started here on loopback with the test PKI) serves what `hushctl ota
publish` wrote; 50 simulated handsets (the firmware's own update code on
the MicroPython unix port, a few processes with a dozen handsets each, in
turn) check the channel document, install, reboot, self-test and confirm.

One fleet goes through a release as a maker would run it:
  1. published at 10 %: about 10 % install (binomial bounds; the handsets'
     rollout seeds are fixed, so the run is repeatable), the rest wait;
  2. a halt at 100 %: nobody installs;
  3. the 10 % document served again (a replay): every handset refuses it;
  4. republished at 100 %: the rest install, one of them after a power cut
     half-way through its download, resuming with an HTTP Range request;
  5. a handset whose link drops mid-download resumes with Range at once.
nginx's access log shows that no request carries anything that tells one
handset from another, and that every handset sent the very same bytes."""
import json
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.sim.nginx import CuttingRelay, Nginx
from tests.sim.ota_sim import RELEASED, Signer, copy_handset, make_handset, run_handset
from tests.sim.pki import TestPki
from tests.support.runtimes import REPO

FLEET = 50
PROCESSES = 4
SEED = 1313  # the fleet's rollout seeds
PUBLISHED_AT = RELEASED + 3600  # handsets' clock: RELEASED + 1 day
CUT_INTO_DOWNLOAD = 16  # flash operations past the reset and self-test: some 8 image blocks in


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pull")
    pki = TestPki(tmp / "pki")
    signer = Signer(tmp / "keys")
    bundle = signer.bundle("v2.hushota", "1.1.0", 2, 64 * 1024)
    base = make_handset(tmp / "base", signer, signer.signed_image("1.0.0", 1, 8 * 1024))
    run_handset(base, "boot")
    rng = random.Random(SEED)
    roots = []
    for i in range(FLEET):
        root = copy_handset(base, tmp / ("h%02d" % i))
        config = json.loads((root / "config.json").read_text())
        config["seed"] = "%032x" % rng.getrandbits(128)
        (root / "config.json").write_text(json.dumps(config))
        roots.append(root)
    www = tmp / "www"
    (www / "ota").mkdir(parents=True)
    server = Nginx(www, pki.server.cert_pem, pki.server.key_pem, tmp / "nginx").start()
    try:
        yield tmp, pki, signer, bundle, roots, server
    finally:
        server.stop()


def publish(lab, *args):
    tmp, _pki, signer, _bundle, _roots, _server = lab
    cmd = [sys.executable, "-m", "hushctl", "ota", "publish", "--to", str(tmp / "www" / "ota"), "--channel",
           "stable", "--key", str(signer.key_path), "--now", str(PUBLISHED_AT), "--json"] + [str(a) for a in args]
    proc = subprocess.run(cmd, cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def pull(lab, roots, *extra):
    """One check on each handset; {root name: result}."""
    _tmp, pki, _signer, _bundle, _all, server = lab
    url = server.url + "/ota/stable.channel"
    groups = [roots[i::PROCESSES] for i in range(PROCESSES)]

    def run(group):
        return run_handset(group[0], "pull", url, pki.ca.cert_der, *(list(group[1:]) + list(extra)), timeout=300)[1]

    with ThreadPoolExecutor(PROCESSES) as pool:
        events = [e for batch in pool.map(run, [g for g in groups if g]) for e in batch]
    results = {e["root"].rsplit("/", 1)[-1]: e for e in events if e.get("event") == "pull"}
    assert len(results) == len(roots), events
    return results


def binomial_bounds(n, p, tail=0.001):
    """The smallest [lo, hi] holding all but `tail` of Binomial(n, p) on each side."""
    from math import comb

    pmf = [comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(n + 1)]
    lo, acc = 0, 0.0
    while acc + pmf[lo] < tail:
        acc += pmf[lo]
        lo += 1
    hi, acc = n, 0.0
    while acc + pmf[hi] < tail:
        acc += pmf[hi]
        hi -= 1
    return lo, hi


def test_fleet_pulls_a_staged_release_from_nginx(lab):
    tmp, pki, signer, bundle, roots, server = lab
    names = [r.name for r in roots]

    # 1. 10 %: roughly a tenth installs, boots the new slot and confirms
    first = publish(lab, bundle, "--rollout", "10%")
    assert first["sequence"] == 1 and first["boards"]["lyrat-v4.3"]["rollout"] == 1000
    first_doc = (tmp / "www" / "ota" / "stable.channel").read_bytes()
    results = pull(lab, roots)
    updated = sorted(n for n, r in results.items() if r["status"] == "updated")
    lo, hi = binomial_bounds(FLEET, 0.10)
    assert lo <= len(updated) <= hi, (len(updated), (lo, hi))
    for n, r in results.items():
        if n in updated:
            assert (r["running"], r["slot"], r["confirmed"]) == ("1.1.0", "ota_1", True), r
        else:
            assert (r["status"], r["running"]) == ("not-selected", "1.0.0"), r
    boot_ops = max(r["ops"] for r in results.values() if r["status"] == "not-selected")  # reset + confirm

    # 2. a halt, even at 100 %: nobody installs
    halted = publish(lab, "--rollout", "100%", "--halt")
    assert (halted["sequence"], halted["halt"]) == (2, True)
    results = pull(lab, roots)
    assert {r["status"] for r in results.values()} == {"halted"}
    assert sorted(n for n, r in results.items() if r["running"] == "1.1.0") == updated

    # 3. the older document replayed (a stale mirror, an attacker): refused
    served = tmp / "www" / "ota" / "stable.channel"
    halt_doc = served.read_bytes()
    served.write_bytes(first_doc)
    results = pull(lab, roots)
    assert {(r["status"], r["reason"]) for r in results.values()} == {("refused", "replayed")}
    served.write_bytes(halt_doc)  # the publisher's directory as it was

    # 4. republished at 100 %: the rest install; one loses power mid-download
    # and resumes with Range after its reset
    third = publish(lab, "--rollout", "100%")
    assert (third["sequence"], third["halt"], third["boards"]["lyrat-v4.3"]["rollout"]) == (3, False, 10000)
    cut = next(r for r in roots if r.name not in updated)
    code, events = run_handset(cut, "pull", server.url + "/ota/stable.channel", pki.ca.cert_der, "--cut-after",
                               boot_ops + CUT_INTO_DOWNLOAD, check=False, timeout=120)
    assert code != 0 and not [e for e in events if e.get("event") == "pull"], events  # killed mid-download
    results = pull(lab, roots)
    for n, r in results.items():
        if n in updated:
            assert (r["status"], r["running"]) == ("current", "1.1.0"), r
        else:
            assert (r["status"], r["running"], r["slot"], r["confirmed"]) == ("updated", "1.1.0", "ota_1", True), r
    resumed = results[cut.name]["requests"]
    assert len(resumed) == 1 and resumed[0] is not None and resumed[0] > 4096, resumed  # straight to a Range

    # every handset boots 1.1.0, confirmed
    _, events = run_handset(roots[0], "check", *roots[1:])
    assert {(e["version"], e["state"]) for e in events} == {("1.1.0", 2)}, events

    # nginx's view: no identifier, identical requests
    log = server.access_log()
    bundle_path = "/ota/" + third["boards"]["lyrat-v4.3"]["bundle"]
    channel_reqs = [e for e in log if e["request"] == "GET /ota/stable.channel HTTP/1.1"]
    assert len(channel_reqs) == 4 * FLEET + 1, len(channel_reqs)
    bundle_reqs = [e for e in log if e["request"] == "GET %s HTTP/1.1" % bundle_path]
    assert len(channel_reqs) + len(bundle_reqs) == len(log), [e["request"] for e in log]
    assert len(bundle_reqs) == FLEET + 1  # one each, and the one cut short
    ranged = [e for e in bundle_reqs if e["range"] != "-"]
    assert [(e["status"], e["range"]) for e in ranged] == [("206", "bytes=%d-" % resumed[0])]
    for e in log:
        for field in ("user_agent", "cookie", "authorization", "forwarded_for", "args", "client_dn"):
            assert e[field] == "-", (field, e)
        assert e["host"] == "localhost:%d" % server.port
    same = {}
    for e in channel_reqs + [e for e in bundle_reqs if e["range"] == "-"]:
        same.setdefault(e["request"], set()).add(tuple(e[f] for f in ("request", "host", "range", "request_length")))
    assert all(len(v) == 1 for v in same.values()), same  # byte for byte the same request from all
    text = (server.run / "access.log").read_text()
    for root in roots:
        config = json.loads((root / "config.json").read_text())
        assert root.name not in text and config["seed"] not in text


def test_a_cut_link_resumes_with_range(lab):
    """A new handset's link drops half-way through the bundle; the same
    check resumes with a Range."""
    tmp, pki, _signer, bundle, roots, server = lab
    publish(lab, bundle, "--rollout", "100%")
    root = copy_handset(tmp / "base", tmp / "late")
    relay = CuttingRelay(server.port, bundle.stat().st_size // 2)
    try:
        _, events = run_handset(root, "pull", "https://localhost:%d/ota/stable.channel" % relay.port,
                                pki.ca.cert_der, timeout=120)
    finally:
        relay.stop()
    r = events[-1]
    assert (r["status"], r["running"], r["confirmed"], relay.cuts) == ("updated", "1.1.0", True, 1), events
    first, second = r["requests"]
    assert first is None and second is not None and second > 4096, r["requests"]
    assert [e for e in server.access_log() if e["range"] == "bytes=%d-" % second and e["status"] == "206"]
    # a channel the host does not have: a failed check, nothing installed
    _, events = run_handset(root, "pull", server.url + "/ota/nope.channel", pki.ca.cert_der, timeout=120)
    assert (events[-1]["status"], events[-1]["reason"], events[-1]["running"]) == ("failed", "network", "1.1.0")
    assert "HTTP status 404" in events[-1]["message"], events[-1]
