# The update service of a handset that runs its firmware from a filesystem
# image (stock MicroPython, ota/fsslots.py): an OtaService whose running
# "partition" is the mounted code slot, whose verifier takes only kind "fs"
# bundles, and whose running version and secure version come from the
# slot's selection entry. The update agent and the download client use it
# as they use an OtaService:
#
#   slots = fsslots.mounted()
#   service = FsOtaService(slots, trust_nvs, board, chip, clock) if slots else OtaService(...)
from hushphone.ota import fsslots, manifest
from hushphone.ota.service import OtaService
from hushphone.ota.truststore import TrustStore
from hushphone.ota.verifier import UpdateVerifier


class FsOtaService(OtaService):
    def __init__(self, slots, trust_nvs, board, chip, clock, progress=None, save_every=16):
        OtaService.__init__(self, None, trust_nvs, board, chip, clock, progress, save_every)
        self.slots = slots

    def running(self):
        return fsslots.RunningFs(self.slots)

    def make_verifier(self, max_image_size):
        trust = TrustStore.load(self.trust_nvs)
        return UpdateVerifier(
            trust.trusted_digests(),
            revoked_mask=trust.revoked_mask,
            board=self.board,
            chip=self.chip,
            running_secure_version=self.slots.running_secure_version(),
            secure_version_floor=trust.secure_version_floor,
            now=self.clock(),
            max_image_size=max_image_size,
            kind=manifest.KIND_FS,
        )

    def is_current(self, m):
        return m.version == self.slots.running_version() and m.secure_version == self.slots.running_secure_version()

    def status(self):
        slot = self.slots.running_slot()
        return {"version": self.slots.running_version(), "secure_version": self.slots.running_secure_version(),
                "board": self.board, "chip": self.chip, "kind": manifest.KIND_FS,
                "slot": None if slot is None else fsslots.SLOT_LABELS[slot]}
