"""`hushctl sim run` as a child process for the tests: its stdout lines
read by a thread, its @event lines parsed, control lines sent on stdin."""
import json
import subprocess
import sys
import threading
import time

from tests.support.runtimes import REPO

TIMEOUT_S = 60


def events_of(stdout):
    return [json.loads(line[len("@event "):]) for line in stdout.splitlines() if line.startswith("@event ")]


class Running:
    """`hushctl sim run` as a child process, its stdout lines read by a thread."""

    def __init__(self, *args, **popen):
        popen.setdefault("stdin", subprocess.PIPE)
        self.proc = subprocess.Popen([sys.executable, "-m", "hushctl", "sim", "run", *map(str, args)], cwd=str(REPO),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
        self.lines = []
        self._new = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self._new:
                self.lines.append(line.rstrip("\n"))
                self._new.notify_all()

    def send(self, text):
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def events(self, name=None):
        with self._new:
            evs = events_of("\n".join(self.lines))
        return [e for e in evs if name is None or e["event"] == name]

    def wait(self, predicate, what):
        deadline = time.monotonic() + TIMEOUT_S
        with self._new:
            while True:
                for e in events_of("\n".join(self.lines)):
                    if predicate(e):
                        return e
                assert time.monotonic() < deadline and self.proc.poll() is None, "no %s:\n%s" % (
                    what, "\n".join(self.lines[-30:]))
                self._new.wait(0.5)

    def stats_until(self, predicate, what):
        """Ask for stats until they satisfy predicate (keys land on the next 20 ms tick)."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            n = len(self.events("stats"))
            self.send("stats\n")
            self.wait(lambda e: len(self.events("stats")) > n, "stats")  # (the condition's lock is reentrant)
            stats = self.events("stats")[-1]
            if predicate(stats):
                return stats
            assert time.monotonic() < deadline, "no %s: %s" % (what, stats)
            time.sleep(0.1)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
