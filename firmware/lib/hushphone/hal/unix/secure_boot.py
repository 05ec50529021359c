# What the ESP32's ROM and bootloader check before running an app, for the
# simulated handset: a well-formed ESP-IDF app image for this chip, padded to
# 4 KiB and followed by a Secure Boot V2 signature sector that verifies with
# a trusted, unrevoked key digest (the verifier's own image check); the
# anti-rollback floor is applied by the bootloader. On a device the key
# digests and the secure version live in eFuses; the simulation keeps them
# in NVS namespace "hush_trust", the trust store the updater reads too.
import struct

from hushphone.compat import const
from hushphone.ota import OtaRejected, sbv2
from hushphone.ota.truststore import TrustStore
from hushphone.ota.verifier import SignedImageVerifier

_SECTOR = const(4096)
_HEADER = const(24)  # image header + extended header
_MAX_SEGMENTS = const(16)


def app_image_length(region):
    """Length of the ESP-IDF app image at the start of `region` (segments,
    checksum byte with its padding, appended SHA-256), walked as the
    bootloader's esp_image_load does. Raises OtaRejected if there is none."""
    head = region.read(0, _HEADER)
    if head[0] != 0xE9:
        raise OtaRejected("malformed", "no app image (magic 0x%02x)" % head[0])
    count = head[1]
    if not 0 < count <= _MAX_SEGMENTS:
        raise OtaRejected("malformed", "bad segment count %d" % count)
    pos = _HEADER
    for _ in range(count):
        if pos + 8 > region.size:
            raise OtaRejected("truncated", "segment header beyond the partition")
        length = struct.unpack("<II", region.read(pos, 8))[1]
        pos += 8 + length
        if pos > region.size:
            raise OtaRejected("truncated", "segment beyond the partition")
    pos = (pos + 16) & ~15  # the checksum byte ends a 16-byte line
    if head[23] == 1:
        pos += 32  # appended SHA-256 of the image
    return pos


def signed_image_size(region):
    """Bytes of the signed image: app padded to 4 KiB plus the signature sector."""
    return (app_image_length(region) + _SECTOR - 1) // _SECTOR * _SECTOR + _SECTOR


class SimSecureBoot:
    """The `secure_boot` object of hal.unix.partition.Device."""

    def __init__(self, nvs, chip="esp32"):
        self.nvs = nvs  # hal.unix.nvs.Nvs(root, "hush_trust")
        self.chip = chip
        self.last_error = None

    def check_image(self, region):
        """The image's secure_version if the ROM would boot it, else None
        (the reason stays in last_error for diagnostics)."""
        try:
            return self._check(region)
        except OtaRejected as e:
            self.last_error = e
            return None

    def _check(self, region):
        size = signed_image_size(region)
        if size > region.size:
            raise OtaRejected("truncated", "signature sector beyond the partition")
        blocks = sbv2.parse_signature_sector(region.read(size - _SECTOR, _SECTOR))
        want_384 = False
        for blk in blocks:
            want_384 = want_384 or blk.hash_name == "sha384"
        anchors = TrustStore.load(self.nvs).anchors()
        verifier = SignedImageVerifier(anchors, size, chip=self.chip, want_sha384=want_384)
        buf = bytearray(_SECTOR)
        for pos in range(0, size, _SECTOR):
            region.read_into(pos, buf)
            verifier.update(buf)
        verifier.finish()
        return verifier.app.secure_version

    def floor(self):
        return TrustStore.load(self.nvs).secure_version_floor

    def raise_floor(self, version):
        TrustStore.raise_floor(self.nvs, version)
