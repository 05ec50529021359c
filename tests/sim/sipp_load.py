"""Load with a standard tool: SIPp (Debian `sip-tester`) registers and
calls simulated handsets through Kamailio, the handsets answering.

    with SippLab(directory, handsets=3) as lab:
        lab.register(count=5, rate=5)
        result = lab.calls(count=20, rate=2.0, hold_ms=1000)
        lab.sample()  -> {name: (heap alloc, descriptors)}

The path of every call: SIPp -> TLS -> Kamailio (the lab's TLS-only
registrar/proxy, tests/sim/kamailio.py) -> TLS -> a handset (the firmware
on the MicroPython unix port, registered over TLS). Debian's SIPp is built
without TLS ("To use a TLS transport you must compile SIPp with OpenSSL"),
so its TCP connection is carried into TLS by socat on loopback, with a
client certificate of the test PKI (tests/sim/pki.py); the scenarios
(tests/sim/sipp/*.xml) write TLS in Via and Contact, as a TLS client does.
Each handset is answered by the harness on its "incoming" event (the
console's `answer`).

`python -m tests.sim.sipp_load --minutes 30 --interval 3` is the soak
(`make soak`): a call every few seconds, the handsets' heap and descriptors
printed every minute."""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from hushctl.lab import PROXY_HOST, free_tcp_port, stop_process_group
from hushctl.sim import SimHandset, write_config
from tests.sim.kamailio import Kamailio
from tests.sim.pki import TestPki

SCENARIOS = Path(__file__).resolve().parent / "sipp"
WAIT_S = 30.0
LOAD_USER = "load"


def sipp_exe():
    return shutil.which("sipp")


def socat_exe():
    return shutil.which("socat")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SippResult:
    """SIPp's own counts (its -trace_stat file) and exit code."""

    def __init__(self, code, stats, output):
        self.code = code
        self.stats = stats
        self.output = output

    @property
    def successful(self):
        return int(self.stats.get("SuccessfulCall(C)", -1))

    @property
    def failed(self):
        return int(self.stats.get("FailedCall(C)", -1))

    @property
    def created(self):
        return int(self.stats.get("TotalCallCreated", -1))

    def __repr__(self):
        return "SIPp exit %s: created %s, successful %s, failed %s" % (
            self.code, self.created, self.successful, self.failed)


def _last_stats(path):
    """The last row of a SIPp -trace_stat CSV as {column: value}."""
    lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
    head = lines[0].rstrip(";").split(";")
    last = lines[-1].rstrip(";").split(";")
    return dict(zip(head, last))


class SippLab:
    def __init__(self, directory, handsets=3):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pki = TestPki(self.dir / "pki")
        self.names = ["h%d" % i for i in range(handsets)]
        self.passwords = {u: os.urandom(9).hex() for u in self.names + [LOAD_USER]}
        self.proxy = None
        self.bridge = None
        self.bridge_port = None
        self.handsets = []
        self.answered = 0

    # -- start and stop --------------------------------------------------------

    def start(self):
        self.proxy = Kamailio(self.dir / "kamailio", self.pki, self.passwords).start()
        client = self.pki.client("sipp-load")
        pem = self.dir / "sipp-client.pem"
        pem.write_bytes(Path(client.cert_pem).read_bytes() + Path(client.key_pem).read_bytes())
        os.chmod(pem, 0o600)
        self.bridge_port = free_tcp_port()
        # SIPp's TCP into TLS to Kamailio, verifying Kamailio's certificate.
        self.bridge = subprocess.Popen(
            [socat_exe(), "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork" % self.bridge_port,
             "OPENSSL:127.0.0.1:%d,cafile=%s,cert=%s,verify=1,commonname=%s" % (
                 self.proxy.port, self.pki.ca.cert_pem, pem, PROXY_HOST)],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "socat.log", "ab"), start_new_session=True)
        for name in self.names:
            self.handsets.append(self._handset(name))
        for h in self.handsets:
            h.wait_event("registered", WAIT_S)
        self._wait_bridge()
        return self

    def _wait_bridge(self):
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.bridge_port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "socat did not listen"
                time.sleep(0.05)

    def _handset(self, name):
        config = {
            "name": name, "root": str(self.dir / name),
            "account": {"registrar": "sip:" + PROXY_HOST, "user": name, "password": self.passwords[name]},
            "proxy_host": "127.0.0.1", "proxy_port": self.proxy.port, "server_hostname": PROXY_HOST,
            "ca_der": [str(self.pki.ca.cert_der)], "tone_hz": 1000, "speaker_wav": None,
            # A handset keeps one call-log line and no past screens here, so
            # the heap shows what the calls leave behind.
            "log_max": 1, "display_history": 1,
        }
        return SimHandset(write_config(self.dir / ("%s.json" % name), config), on_line=self._on_line)

    def _on_line(self, handset, text):
        if text.startswith("@event ") and '"event": "incoming"' in text:
            try:
                handset.send("answer")
                self.answered += 1
            except Exception:  # the handset is stopping: SIPp counts the call as failed
                pass

    def close(self):
        try:
            for h in self.handsets:
                h.stop()
        finally:
            if self.bridge is not None:
                stop_process_group(self.bridge)
            if self.proxy is not None:
                self.proxy.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- SIPp -------------------------------------------------------------------

    def _sipp(self, scenario, count, rate, extra=(), timeout_s=120):
        name = Path(scenario).stem
        stat = self.dir / ("sipp-%s-%d.csv" % (name, time.monotonic_ns()))
        cmd = [sipp_exe(), "127.0.0.1:%d" % self.bridge_port, "-sf", str(SCENARIOS / scenario),
               "-t", "t1", "-i", "127.0.0.1", "-p", str(free_tcp_port()), "-mp", str(free_udp_port()),
               "-s", LOAD_USER, "-au", LOAD_USER, "-ap", self.passwords[LOAD_USER],
               "-m", str(count), "-r", str(rate), "-rp", "1000", "-l", str(len(self.names)),
               "-timeout", "%ds" % timeout_s, "-timeout_error", "-recv_timeout", "20000",
               "-trace_stat", "-stf", str(stat), "-fd", "1", "-nostdin",
               "-trace_err", "-error_file", str(self.dir / ("sipp-%s-errors.log" % name))] + list(extra)
        proc = subprocess.run(cmd, cwd=str(self.dir), capture_output=True, text=True, timeout=timeout_s + 30)
        return SippResult(proc.returncode, _last_stats(stat), proc.stdout + proc.stderr)

    def register(self, count=5, rate=5):
        return self._sipp("register.xml", count, rate)

    def calls(self, count, rate, hold_ms=1000, timeout_s=120):
        users = self.dir / "handsets.csv"
        users.write_text("SEQUENTIAL\n" + "".join("%s;\n" % n for n in self.names))
        return self._sipp("call.xml", count, rate, ["-inf", str(users), "-d", str(hold_ms)], timeout_s)

    # -- what the handsets hold -------------------------------------------------

    def sample(self):
        """{name: (heap bytes allocated after a collection, descriptors)}."""
        out = {}
        for h in self.handsets:
            heap = h.stats()["heap"]["alloc"]
            out[h.name] = (heap, len(os.listdir("/proc/%d/fd" % h.proc.pid)))
        return out

    def faults(self):
        return [(h.name, e) for h in self.handsets for e in h.events
                if e.get("event") in ("fault", "sip_restart", "crash_loop")]


SETTLE_S = 35  # the SIP transaction timers (Timer H/L/M: 32 s) keep each call's state this long


def soak(minutes, interval_s, handsets, directory):
    """Calls every `interval_s` for `minutes` (one SIPp run per minute);
    each handset's heap and descriptors printed after each minute (the
    calls of the last 32 s still held by their transactions), and settled
    (after SETTLE_S without calls) at the start and the end."""
    with SippLab(directory, handsets) as lab:
        print("registrations:", lab.register())
        print("warm-up:", lab.calls(len(lab.names), 3.0, hold_ms=200))
        time.sleep(SETTLE_S)
        first = lab.sample()
        print("minute  calls ok/failed  " + "  ".join("%s heap/fds" % n for n in lab.names))
        print("%6s  %14s  %s" % ("start", "-", "  ".join("%8d/%d" % first[n] for n in lab.names)), flush=True)
        ok = failed = 0
        per_minute = max(1, int(60 // interval_s))
        for minute in range(1, minutes + 1):
            r = lab.calls(per_minute, 1.0 / interval_s, hold_ms=min(2000, int(interval_s * 500)))
            ok += max(r.successful, 0)
            failed += per_minute - max(r.successful, 0)
            now = lab.sample()
            print("%6d  %7d/%-6d  %s" % (minute, ok, failed, "  ".join("%8d/%d" % now[n] for n in lab.names)),
                  flush=True)
        time.sleep(SETTLE_S)
        last = lab.sample()
        print("%6s  %7d/%-6d  %s" % ("end", ok, failed, "  ".join("%8d/%d" % last[n] for n in lab.names)))
        growth = {n: (last[n][0] - first[n][0], last[n][1] - first[n][1]) for n in lab.names}
        print("growth from start to end, settled (heap bytes, descriptors):", growth)
        print("faults:", lab.faults() or "none")
        flat = all(g[0] <= 1024 and g[1] == 0 for g in growth.values())
        return failed == 0 and not lab.faults() and flat


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between calls")
    parser.add_argument("--handsets", type=int, default=3)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args(argv)
    if not sipp_exe() or not socat_exe():
        print("soak: sipp and socat are needed (Debian sip-tester, socat: make system-packages)")
        return 2
    import tempfile

    directory = args.dir or tempfile.mkdtemp(prefix="hush-soak-")
    try:
        return 0 if soak(args.minutes, args.interval, args.handsets, directory) else 1
    finally:
        if args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
