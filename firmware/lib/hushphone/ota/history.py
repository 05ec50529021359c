# What the last update did, read back from otadata and the update slot (no
# record of its own: the bootloader's entries already say it). An update
# that was rolled back (self-test failed, or never confirmed) leaves its
# image in the slot it was written to and that slot's newest otadata entry
# aborted or invalid, as ESP-IDF's esp_ota_get_last_invalid_partition reads
# it. The pull client uses it not to install a failed release again; the
# update agent's status reports it (hushctl fleet status).
from hushphone.ota import OtaRejected, otadata
from hushphone.ota.appdesc import HEAD_SIZE, AppInfo

_OTA_0 = 0x10
_OTA_MAX = 0x1F


def _slot_index(partition):
    return partition.info()[1] - _OTA_0


def newest_entry(partition_cls, partition):
    """The newest intact otadata entry for an OTA slot, aborted and invalid
    ones included, or None."""
    entries = otadata.read_entries(partition_cls)
    if not entries:
        return None
    count = 0
    for p in partition_cls.find(type=partition_cls.TYPE_APP):
        if _OTA_0 <= p.info()[1] <= _OTA_MAX:
            count += 1
    index = _slot_index(partition)
    newest = None
    for e in entries:
        if e.crc_ok() and e.slot(count) == index and (newest is None or e.seq > newest.seq):
            newest = e
    return newest


def app_in(partition):
    """The AppInfo of the image in a slot, or None (erased, half-written)."""
    head = bytearray(HEAD_SIZE)
    partition.readblocks(0, head)
    try:
        return AppInfo(head)
    except OtaRejected:
        return None


def rolled_back_app(partition_cls, running):
    """AppInfo of the update that was rolled back from the other slot, or None."""
    slot = running.get_next_update()
    entry = newest_entry(partition_cls, slot)
    if entry is None or entry.state not in (otadata.STATE_ABORTED, otadata.STATE_INVALID):
        return None
    return app_in(slot)


def last_update(partition_cls):
    """{"result": "rolled-back" | "pending" | "confirmed", "version": ...}
    for the last update this handset installed, or None (it runs what the
    factory wrote and never installed one, or the flash cannot tell: this
    is a report, it never stops a boot)."""
    try:
        return _last_update(partition_cls)
    except Exception:  # unreadable otadata or slot
        return None


def _last_update(partition_cls):
    running = partition_cls(partition_cls.RUNNING)
    failed = rolled_back_app(partition_cls, running)
    if failed is not None:
        return {"result": "rolled-back", "version": failed.version, "secure_version": failed.secure_version}
    entry = newest_entry(partition_cls, running)
    app = app_in(running)
    version = app.version if app is not None else None
    if entry is not None and entry.state == otadata.STATE_PENDING_VERIFY:
        return {"result": "pending", "version": version}
    if entry is not None and entry.state == otadata.STATE_VALID and entry.seq > 1:  # seq 1: the factory's first boot
        return {"result": "confirmed", "version": version}
    return None
