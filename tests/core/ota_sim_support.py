# A simulated handset for the OTA core tests, on both runtimes: a temporary
# root with blank flash, the factory image in ota_0, and the trust store
# provisioned through the NVS API (hal.unix.nvs), like the factory does.
import binascii
import json
import os

from coretest import data_path, read_data
from hushphone.hal.unix import bootloader
from hushphone.hal.unix.nvs import Nvs
from hushphone.hal.unix.partition import Partition
from hushphone.hal.unix.secure_boot import SimSecureBoot
from hushphone.ota.progress import ProgressStore
from hushphone.ota.service import OtaService
from hushphone.ota.truststore import NAMESPACE, TrustStore

TRUST = json.loads(read_data("ota_install", "trust.json"))
BOARD = TRUST["board"]
CHIP = TRUST["chip"]
NOW = TRUST["released"] + 86400  # the handset's clock during the tests
SLOT_SIZE = 64 * 1024


def fixture(name):
    return read_data("ota_install", name)


def fixture_path(name):
    return data_path("ota_install", name)


def _rmtree(path):
    for name in os.listdir(path):
        full = path + "/" + name
        if os.stat(full)[0] & 0x4000:  # S_IFDIR
            _rmtree(full)
        else:
            os.remove(full)
    os.rmdir(path)


def temp_root():
    path = "/tmp/hush-ota-" + binascii.hexlify(os.urandom(6)).decode()
    os.mkdir(path)
    return path


def copy_file(src, dst):
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data)


class SimHandset:
    """A handset root directory and the objects its firmware would use."""

    def __init__(self, root=None, slot_size=SLOT_SIZE, floor=0, digests=None, revoked=0, factory=True):
        self.root = root or temp_root()
        bootloader.create_flash(self.root, slot_size)
        if factory:
            bootloader.flash_app(self.root, 0, fixture("factory_v1.bin"))
        if digests is None:
            digests = [binascii.unhexlify(TRUST["trusted_digest"])]
        TrustStore.provision(self.nvs(), digests, revoked, floor)
        self.boot_info = None

    def nvs(self):
        return Nvs(self.root, NAMESPACE)

    def secure_boot(self):
        return SimSecureBoot(self.nvs(), CHIP)

    def boot(self, power=None):
        self.boot_info = bootloader.boot(self.root, self.secure_boot(), power)
        return self.boot_info

    def service(self, clock=None, save_every=1):
        return OtaService(Partition, self.nvs(), BOARD, CHIP, clock or (lambda: NOW),
                          ProgressStore(self.root), save_every)

    def running_version(self):
        return self.service().running_app().version

    def snapshot(self, dst_root):
        """Copy the flash and NVS files (a 'disk image' of the handset)."""
        for sub in ("", "/flash", "/nvs"):
            try:
                os.mkdir(dst_root + sub)
            except OSError:
                pass
        for name in os.listdir(self.root + "/flash"):
            copy_file(self.root + "/flash/" + name, dst_root + "/flash/" + name)
        for name in os.listdir(self.root + "/nvs"):
            copy_file(self.root + "/nvs/" + name, dst_root + "/nvs/" + name)

    def remove(self):
        _rmtree(self.root)
