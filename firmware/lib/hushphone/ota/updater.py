# Installs a signed update into the inactive OTA slot, the way a power cut
# at any moment cannot hurt: the running slot is never written, the image is
# streamed through one 4 KiB buffer in erase-block-sized writes (never the
# whole image in RAM) while the verifier hashes it, and otadata is touched
# only by set_boot() after every check passed. Like esp_ota_begin with
# rollback enabled, it refuses to start while the running app is still
# PENDING_VERIFY (not yet confirmed by its self-test): installing then would
# make the unproven app the rollback target. Works on
# esp32.Partition(esp32.Partition.RUNNING) and on hal.unix.partition alike,
# and on ota.fsslots.RunningFs for filesystem images (two slots as well).
import binascii

from hushphone.compat import const
from hushphone.ota import OtaRejected, otadata
from hushphone.ota.bundle import HEADER_SIZE, parse_bundle_header

BLOCK_SIZE = const(4096)
_IOCTL_BLOCK_COUNT = const(4)


class Updater:
    """One update attempt: begin(signed_manifest), write(chunk)..., finish().

    running: the running app partition (esp32.Partition API);
    make_verifier(max_image_size) -> a fresh UpdateVerifier for this handset;
    progress: a ProgressStore for resuming (None: no resume);
    save_every: persist progress every N blocks written."""

    def __init__(self, running, make_verifier, progress=None, save_every=16):
        self.running = running
        self.target = running.get_next_update()
        self.slot_label = self.target.info()[4]
        self.slot_size = self.target.ioctl(_IOCTL_BLOCK_COUNT, 0) * BLOCK_SIZE
        self._make_verifier = make_verifier
        self._progress = progress
        self._save_every = save_every
        self._buf = bytearray(BLOCK_SIZE)  # the only image buffer
        self._fill = 0
        self.verifier = None
        self.manifest = None
        self.offset = 0  # image bytes received (in flash or in the buffer)
        self.resumed_from = 0
        self._crc = 0

    def begin(self, signed_manifest, resume=True, accept=None):
        """Check the signed manifest against this handset (and with
        `accept(manifest)`, which may raise, before anything is stored); if
        a previous attempt at the same image left verified blocks in the
        slot, continue after them (self.offset says where). Returns the
        Manifest."""
        self.verifier = self._make_verifier(self.slot_size)
        m = self.verifier.check_manifest(signed_manifest)
        if accept is not None:
            accept(m)  # e.g. "already current": nothing would be installed
        self.check_running_confirmed()
        self.manifest = m
        if resume and self._progress is not None and self._resume(m):
            return m
        if self._progress is not None:
            self._progress.start(signed_manifest, m.image_sha256, self.slot_label)
        return m

    def check_running_confirmed(self):
        """Raises OtaRejected("unconfirmed") while the running app is
        PENDING_VERIFY (ESP_ERR_OTA_ROLLBACK_INVALID_STATE in ESP-IDF)."""
        if hasattr(self.running, "ota_state"):  # filesystem-image slots (ota/fsslots.py)
            state = self.running.ota_state()
        else:
            state = otadata.partition_state(type(self.running), self.running)
        if state == otadata.STATE_PENDING_VERIFY:
            raise OtaRejected("unconfirmed", "the running firmware has not confirmed itself yet (pending "
                                             "verification); updates start after its self-test passes")

    def _resume(self, m):
        saved = self._progress.load()
        if saved is None:
            return False
        record = saved[0]
        offset = record["offset"]
        if (record["image_sha256"] != m.image_sha256 or record["slot"] != self.slot_label
                or offset <= 0 or offset % BLOCK_SIZE or offset > m.image_size):
            return False
        buf = self._buf
        crc = 0
        for block in range(offset // BLOCK_SIZE):  # is the flash what we wrote?
            self.target.readblocks(block, buf)
            crc = binascii.crc32(buf, crc)
        if crc & 0xFFFFFFFF != record["crc"]:
            return False
        for block in range(offset // BLOCK_SIZE):  # rebuild the hash state
            self.target.readblocks(block, buf)
            self.verifier.update(buf)
        self._crc = crc
        self.offset = self.resumed_from = offset
        return True

    def write(self, data):
        """Image bytes, in order, in chunks of any size."""
        if self.manifest is None:
            raise ValueError("begin() must succeed first")
        mv = memoryview(data)
        if self.offset + len(mv) > self.manifest.image_size:
            self._fail()
            raise OtaRejected("oversized", "more image data than the %d bytes announced" % self.manifest.image_size)
        pos = 0
        while pos < len(mv):
            n = min(BLOCK_SIZE - self._fill, len(mv) - pos)
            self._buf[self._fill : self._fill + n] = mv[pos : pos + n]
            self._fill += n
            pos += n
            self.offset += n
            if self._fill == BLOCK_SIZE:
                self._write_block()

    def _write_block(self):
        block = (self.offset - BLOCK_SIZE) // BLOCK_SIZE
        self.verifier.update(self._buf)
        self.target.writeblocks(block, self._buf)  # erases the block, then programs it
        self._crc = binascii.crc32(self._buf, self._crc)
        self._fill = 0
        if self._progress is not None and (block + 1) % self._save_every == 0:
            self._progress.save(self.manifest.image_sha256, self.slot_label, self.offset, self._crc & 0xFFFFFFFF)

    def finish(self):
        """All checks on the complete image, then point the bootloader at
        the new slot (NEW -> PENDING_VERIFY at the next boot). Returns the
        verifier's VerifiedUpdate; raises OtaRejected and leaves otadata
        untouched if anything is wrong."""
        if self._fill:
            self.verifier.update(memoryview(self._buf)[: self._fill])  # a truncated tail
            self._fill = 0
        try:
            result = self.verifier.finish()
        except OtaRejected:
            self._fail()
            raise
        if hasattr(self.target, "set_boot_verified"):  # a filesystem slot records the image's hash
            self.target.set_boot_verified(result)
        else:
            self.target.set_boot()
        if self._progress is not None:
            self._progress.clear()
        return result

    def _fail(self):
        """A refused image: forget the progress and erase the slot's first
        block, so nothing half-written can look like an app."""
        if self._progress is not None:
            self._progress.clear()
        self.target.ioctl(6, 0)


class BundleWriter:
    """Feeds a .hushota stream (header, signed manifest, image) to an
    Updater. The manifest is checked as soon as it is complete, so a refused
    update stops before any image byte is written; image bytes a resumed
    Updater already holds are skipped."""

    def __init__(self, updater, on_manifest=None):
        self.updater = updater
        self.on_manifest = on_manifest  # called with the checked Manifest; may raise to stop
        self._head = bytearray()
        self._manifest_len = None
        self._image_seen = 0
        self.received = 0

    def feed(self, data):
        mv = memoryview(data)
        self.received += len(mv)
        if self.updater.manifest is None:
            mv = self._feed_head(mv)
            if mv is None:
                return
        skip = self.updater.resumed_from - self._image_seen
        if skip > 0:
            k = min(skip, len(mv))
            self._image_seen += k
            mv = mv[k:]
        if len(mv):
            self._image_seen += len(mv)
            self.updater.write(mv)

    def _feed_head(self, mv):
        need = HEADER_SIZE if self._manifest_len is None else HEADER_SIZE + self._manifest_len
        k = min(need - len(self._head), len(mv))
        self._head += mv[:k]
        mv = mv[k:]
        if len(self._head) < need:
            return None
        if self._manifest_len is None:
            self._manifest_len = parse_bundle_header(self._head)
            return self._feed_head(mv)
        self.updater.begin(memoryview(self._head)[HEADER_SIZE:], accept=self.on_manifest)
        self._head = None  # the manifest buffer is not needed any more
        return mv

    def finish(self):
        if self.updater.manifest is None:
            raise OtaRejected("truncated", "bundle ended before its manifest")
        return self.updater.finish()
