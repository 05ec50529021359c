# The handset's update service: builds a verifier for *this* handset (trust
# store, board, chip, running secure version, clock) and the Updater for the
# inactive slot. The update agent and the download client both use it; the
# board passes in its Partition class, NVS handle and clock.
from hushphone.ota import manifest as _manifest
from hushphone.ota.appdesc import HEAD_SIZE, AppInfo
from hushphone.ota.technicians import RevokedTechnicians
from hushphone.ota.truststore import TrustStore
from hushphone.ota.updater import Updater
from hushphone.ota.verifier import UpdateVerifier


class OtaService:
    KIND = _manifest.KIND_APP  # the kind of bundle this handset installs

    def __init__(self, partition_cls, trust_nvs, board, chip, clock, progress=None, save_every=16):
        self.partition_cls = partition_cls
        self.trust_nvs = trust_nvs
        self.board = board
        self.chip = chip
        self.clock = clock  # () -> UNIX seconds
        self.progress = progress
        self.save_every = save_every

    def running(self):
        return self.partition_cls(self.partition_cls.RUNNING)

    def running_app(self):
        buf = bytearray(HEAD_SIZE)
        self.running().readblocks(0, buf)
        return AppInfo(buf)

    def running_secure_version(self):
        return self.running_app().secure_version

    def make_verifier(self, max_image_size):
        trust = TrustStore.load(self.trust_nvs)
        return UpdateVerifier(
            trust.trusted_digests(),
            revoked_mask=trust.revoked_mask,
            board=self.board,
            chip=self.chip,
            running_secure_version=self.running_secure_version(),
            secure_version_floor=trust.secure_version_floor,
            now=self.clock(),
            max_image_size=max_image_size,
            kind=self.KIND,
        )

    def revoked_technicians(self):
        """Read at each connection, so a list provisioned later applies at once."""
        return RevokedTechnicians.load(self.trust_nvs)

    def updater(self):
        return Updater(self.running(), self.make_verifier, self.progress, self.save_every)

    def is_current(self, manifest):
        """The update is the firmware already running (same version string
        and secure version)."""
        app = self.running_app()
        return manifest.version == app.version and manifest.secure_version == app.secure_version

    def status(self):
        app = self.running_app()
        return {"version": app.version, "secure_version": app.secure_version, "board": self.board, "chip": self.chip,
                "slot": self.running().info()[4]}
