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


class FsOtaService(OtaService):
    KIND = manifest.KIND_FS

    def __init__(self, slots, trust_nvs, board, chip, clock, progress=None, save_every=16):
        OtaService.__init__(self, None, trust_nvs, board, chip, clock, progress, save_every)
        self.slots = slots

    def running(self):
        return fsslots.RunningFs(self.slots)

    def running_secure_version(self):
        return self.slots.running_secure_version()

    def is_current(self, m):
        return m.version == self.slots.running_version() and m.secure_version == self.slots.running_secure_version()

    def status(self):
        slot = self.slots.running_slot()
        return {"version": self.slots.running_version(), "secure_version": self.slots.running_secure_version(),
                "board": self.board, "chip": self.chip, "kind": self.KIND,
                "slot": None if slot is None else fsslots.SLOT_LABELS[slot]}
