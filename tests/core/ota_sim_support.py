# Simulated handsets for the OTA tests, on both runtimes. One place for
# what every OTA simulation does with a handset root:
#   provision_root(): blank flash, the factory image in ota_0 and the trust
#     store provisioned through the NVS API (hal.unix.nvs), like the factory;
#   HandsetRoot: the firmware objects a handset builds over its root (NVS,
#     secure boot, bootloader, OTA service).
# SimHandset is the core tests' handset (the pre-signed fixtures of
# data/ota_install, which both runtimes can verify); tests/sim/ota_sim.py
# provisions roots with freshly signed images through provision_root, and its
# handset process (tests/sim/ota_handset.py) is a HandsetRoot.
import binascii
import json
import os

from coretest import data_path, read_data, rmtree, temp_dir
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


def temp_root():
    return temp_dir("hush-ota-")


def copy_file(src, dst):
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data)


def provision_root(root, factory_image, digests, slot_size=SLOT_SIZE, revoked=0, floor=0, app_rollback=True):
    """A handset root as the factory leaves it: blank flash (otadata, two
    OTA slots) with a bootloader built with or without app rollback,
    `factory_image` in ota_0 (None: no app at all), the trust store (key
    digests, revocation bits, secure-version floor) in NVS."""
    bootloader.create_flash(root, slot_size, app_rollback)
    if factory_image is not None:
        bootloader.flash_app(root, 0, factory_image)
    TrustStore.provision(Nvs(root, NAMESPACE), digests, revoked, floor)


class HandsetRoot:
    """The update side of a handset's firmware over its root directory."""

    def __init__(self, root, board=BOARD, chip=CHIP, clock=None, save_every=1):
        self.root = root
        self.board = board
        self.chip = chip
        self.clock = clock or (lambda: NOW)
        self.save_every = save_every
        self.boot_info = None

    def nvs(self):
        return Nvs(self.root, NAMESPACE)

    def secure_boot(self):
        return SimSecureBoot(self.nvs(), self.chip)

    def boot(self, power=None):
        """A reset: the simulated bootloader picks and checks a slot."""
        self.boot_info = bootloader.boot(self.root, self.secure_boot(), power)
        return self.boot_info

    def service(self, clock=None, save_every=None):
        return OtaService(Partition, self.nvs(), self.board, self.chip, clock or self.clock,
                          ProgressStore(self.root), self.save_every if save_every is None else save_every)

    def running_version(self):
        return self.service().running_app().version


class SimHandset(HandsetRoot):
    """A new handset root (temporary unless given) with the fixtures' factory
    image and trusted key digest."""

    def __init__(self, root=None, slot_size=SLOT_SIZE, floor=0, digests=None, revoked=0, factory=True,
                 app_rollback=True):
        HandsetRoot.__init__(self, root or temp_root())
        if digests is None:
            digests = [binascii.unhexlify(TRUST["trusted_digest"])]
        provision_root(self.root, fixture("factory_v1.bin") if factory else None, digests, slot_size, revoked, floor,
                       app_rollback)

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
        rmtree(self.root)
