"""Shared by the provisioning tests: run hushctl as a user would (a real
process, real exit code and stderr), make key hierarchies, read what a
simulated handset holds, call openssl/espsecure."""
import contextlib
import io
import os
import subprocess
import sys
from unittest import mock
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.support.runtimes import FIRMWARE_LIB, REPO

PASSPHRASE = "correct horse battery staple"
BIN = Path(sys.executable).parent
if str(FIRMWARE_LIB) not in sys.path:
    sys.path.insert(0, str(FIRMWARE_LIB))
if str(REPO / "host_tools") not in sys.path:
    sys.path.insert(0, str(REPO / "host_tools"))


def hushctl(*args, env=None, process=False, timeout=300):
    """Run hushctl ARGS as a user would, with no terminal and only `env`'s
    HUSHCTL_* variables; returns CompletedProcess (text). By default the
    entry point `hushctl.cli.main` runs in this process (fast); with
    process=True, `python -m hushctl` runs as its own process."""
    argv = [str(a) for a in args]
    if process:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("HUSHCTL_")}
        full_env.update(env or {})
        return subprocess.run([sys.executable, "-m", "hushctl"] + argv, capture_output=True, text=True,
                              env=full_env, input="", timeout=timeout, cwd=str(REPO))
    from hushctl.cli import main

    saved = {k: v for k, v in os.environ.items() if k.startswith("HUSHCTL_")}
    out, err = io.StringIO(), io.StringIO()
    try:
        for k in saved:
            del os.environ[k]
        os.environ.update(env or {})
        with mock.patch.object(sys, "stdin", io.StringIO("")), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        for k in [k for k in os.environ if k.startswith("HUSHCTL_")]:
            del os.environ[k]
        os.environ.update(saved)
    return subprocess.CompletedProcess(["hushctl"] + argv, code, out.getvalue(), err.getvalue())


def ok(result):
    assert result.returncode == 0, "hushctl failed (%d):\n%s\n%s" % (result.returncode, result.stdout, result.stderr)
    return result


def one_line_error(result, *fragments):
    """A user error: non-zero exit, one line on stderr, no traceback."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("hushctl: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def passphrase_file(directory, text=PASSPHRASE):
    path = Path(directory) / "passphrase.txt"
    path.write_text(text + "\n")
    return path


def tool(name, *args, check=True):
    result = subprocess.run([str(BIN / name)] + [str(a) for a in args], capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, "%s failed:\n%s\n%s" % (name, result.stdout, result.stderr)
    return result


def openssl(*args, check=True):
    result = subprocess.run(["openssl"] + [str(a) for a in args], capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, "openssl failed:\n%s\n%s" % (result.stdout, result.stderr)
    return result


def espsecure_digest(pem_path, out_dir):
    out = Path(out_dir) / ("%s.digest" % Path(pem_path).name)
    tool("espsecure", "digest-sbv2-public-key", "--keyfile", pem_path, "--output", out)
    return out.read_bytes()


def sim_namespace(sim_dir, namespace):
    from hushphone.hal.unix.nvs import read_namespace

    return read_namespace(str(sim_dir), namespace)


def sim_device_cert(sim_dir):
    return x509.load_der_x509_certificate(sim_namespace(sim_dir, "hush_id")["dev_cert"])


def write_pem(path, cert):
    Path(path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def tree_snapshot(root):
    """{relative path: bytes} of every file under root (to prove nothing changed)."""
    root = Path(root)
    if not root.exists():
        return None
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
