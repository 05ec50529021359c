"""CPython side of the OTA simulations: makes simulated handset roots
(blank flash with a factory image, trust store in NVS, config) and signed
bundles with a fresh throw-away key, and runs tests/sim/ota_handset.py on
the MicroPython unix port. Roots are provisioned, and the handset process
builds its firmware objects, with tests/core/ota_sim_support, as the OTA
core tests do."""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hushctl import ota_sign
from hushctl.lab import free_tcp_port as free_port  # noqa: F401  (imported from here by the fleet tests)
from hushctl.appimage import build_app_image
from tests.support.runtimes import CORE_TESTS, REPO, micropython_env, micropython_exe

if str(CORE_TESTS) not in sys.path:  # (pytest's conftest does this; the benchmarks do not)
    sys.path.insert(0, str(CORE_TESTS))
from ota_sim_support import provision_root  # noqa: E402  the handset roots of the OTA core tests, on both runtimes

HANDSET = REPO / "tests" / "sim" / "ota_handset.py"
BOARD = "lyrat-v4.3"
CHIP = "esp32"
RELEASED = 1790000000
EXPIRES = 4102444800
EXIT_REBOOT = 3


class Signer:
    """A throw-away RSA-3072 signing key and what the handset must trust."""

    def __init__(self, directory):
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        self.key_path = directory / "signing.pem"
        self.key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        self.digest = ota_sign.key_digest(key.public_key())
        self.dir = directory

    def image(self, version, secure_version, payload):
        return build_app_image(CHIP, version, secure_version, "hushphone", payload)

    def signed_image(self, version, secure_version, payload):
        return ota_sign.sign_image(self.image(version, secure_version, payload), [str(self.key_path)])

    def bundle(self, name, version, secure_version, payload, boards=(BOARD,)):
        data = ota_sign.build_bundle(self.image(version, secure_version, payload), [str(self.key_path)],
                                     list(boards), CHIP, released=RELEASED, expires=EXPIRES)
        path = self.dir / name
        path.write_bytes(data)
        return path


def make_handset(root, signer, factory_image, slot_size=256 * 1024, board=BOARD, now=RELEASED + 86400,
                 save_every=4, app_rollback=True):
    """A handset root: blank flash (a bootloader with or without app
    rollback), factory image in ota_0, trust store, and the config of
    ota_handset.py (firmware/main.py boots such a root too)."""
    root = Path(root)
    provision_root(str(root), factory_image, [signer.digest], slot_size, app_rollback=app_rollback)
    (root / "config.json").write_text(json.dumps({"board": board, "chip": CHIP, "now": now,
                                                  "save_every": save_every}))
    return root


def copy_handset(src, dst):
    shutil.copytree(src, dst)
    return Path(dst)


def run_handset(root, *args, timeout=120, check=True):
    """Run one ota_handset.py command; returns (returncode, [JSON events])."""
    proc = subprocess.run([micropython_exe(), str(HANDSET), str(root)] + [str(a) for a in args],
                          env=micropython_env(), cwd=str(REPO), capture_output=True, text=True, timeout=timeout)
    events = parse_events(proc.stdout)
    if check and proc.returncode != 0:
        raise AssertionError("handset %s %s failed (%d):\n%s\n%s" % (root, args, proc.returncode, proc.stdout,
                                                                       proc.stderr))
    return proc.returncode, events


def parse_events(text):
    events = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                pass
    return events


def start_handset(root, *args):
    """Start a long-running ota_handset.py command (e.g. agent)."""
    return subprocess.Popen([micropython_exe(), str(HANDSET), str(root)] + [str(a) for a in args],
                            env=micropython_env(), cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def temp_dir():
    return Path(tempfile.mkdtemp(prefix="hush-ota-"))
