"""A throw-away PostgreSQL cluster (Debian's server) for the inventory
tests: initdb into a fresh directory, the server on a free loopback port
with its socket in that directory, trust authentication for one user,
stopped and removed afterwards. PostgreSQL refuses to run as root, so as
root the cluster belongs to `nobody` and its programs run through runuser."""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from hushctl.lab import free_tcp_port

USER = "hush"


def _bin(name):
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name))
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise AssertionError("PostgreSQL's %s is not installed (Debian package postgresql, system-packages.txt)" % name)
    return path


class PostgresCluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hush-pg-")  # not under pytest's 0700 tmp: `nobody` must reach it
        self.data = os.path.join(self.dir, "data")
        self.port = None
        self.as_root = os.geteuid() == 0
        if self.as_root:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)

    def _run(self, *cmd, timeout=60):
        cmd = list(cmd)
        if self.as_root:
            cmd = ["runuser", "-u", "nobody", "--"] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir)

    def start(self, attempts=3):
        r = self._run(_bin("initdb"), "-D", self.data, "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync",
                      "--no-instructions")
        if r.returncode:
            raise AssertionError("initdb failed: %s" % r.stderr)
        for _ in range(attempts):
            self.port = free_tcp_port()
            options = "-h 127.0.0.1 -p %d -k %s -F -c max_connections=40" % (self.port, self.dir)
            r = self._run(_bin("pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "log"), "-o", options,
                          "-w", "-t", "30", "start")
            if r.returncode == 0:
                return self
        raise AssertionError("PostgreSQL did not start: %s %s" % (r.stderr, self.log()))

    def log(self):
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def url(self, database="postgres"):
        return "postgresql://%s@127.0.0.1:%d/%s" % (USER, self.port, database)

    def create_database(self, name):
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute("CREATE DATABASE %s" % name)
        return self.url(name)

    def dump(self, database):
        """Every row of every table, as text (for looking for secrets)."""
        r = self._run(_bin("pg_dump"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "--data-only",
                      database)
        if r.returncode:
            raise AssertionError("pg_dump failed: %s" % r.stderr)
        return r.stdout

    def stop(self):
        if self.port is not None:
            self._run(_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "-t", "30", "stop")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                shutil.rmtree(self.dir)
                return
            except OSError:
                time.sleep(0.1)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
