# Boot-time confirmation of new firmware (what main.py calls early): learn
# from otadata whether the bootloader can roll this boot back, run the
# self-test, and only when it passes call
# Partition.mark_app_valid_cancel_rollback(). Confirming an app that is
# already VALID changes nothing, so this runs on every boot.
#
# Whether an unconfirmed update is rolled back depends on the bootloader's
# build, which the app cannot query; the otadata state the new app boots in
# tells (ESP-IDF esp_ota_ops.c, bootloader_utility.c):
#   PENDING_VERIFY  CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE: the bootloader
#                   turned NEW into PENDING_VERIFY and rolls back at the
#                   next reset unless this app confirms itself;
#   NEW, UNDEFINED  a build without it (older stock MicroPython builds
#                   other than the OTA boards, see docs/ota.md): nothing
#                   rolls back, a failed self-test leaves this firmware;
#   VALID           confirmed at an earlier boot: nothing to roll back, and
#                   this boot cannot tell which kind of bootloader it has;
#   None            no otadata entry (factory app, blank otadata).
#
# A handset on the stock MicroPython path (docs/stock-micropython.md) runs
# its firmware from a filesystem image in a code slot (ota/fsslots.py) on
# top of the stock factory app. There the image's selection entry (hushsel)
# is what gets confirmed, and its state tells: the Hushphone loader turns
# NEW into PENDING_VERIFY and aborts an image that was not confirmed before
# the next reset, so fs slots always roll back. The factory app itself can
# never be marked: ESP-IDF answers ESP_FAIL ("running firmware is factory"),
# or ESP_ERR_NOT_FOUND without an otadata partition; nothing rolls it back.
from hushphone.ota import otadata, selftest

ROLLBACK_YES = "yes"
ROLLBACK_NO = "no"
ROLLBACK_UNKNOWN = "unknown"
IMAGE_APP = "app"  # an app in an OTA slot (the frozen firmware)
IMAGE_FACTORY = "factory"  # the factory app (never in otadata, never rolled back)
IMAGE_FS = "fs"  # a filesystem image in a code slot (stock MicroPython)
_SUBTYPE_FACTORY = 0x00


class BootState:
    """The state this boot started in (otadata for an app, hushsel for a
    filesystem image), and what it means for rollback (ROLLBACK_YES / _NO /
    _UNKNOWN); rolled_back: the selection data holds an ABORTED or INVALID
    entry, i.e. the last update was rolled back (as
    esp_ota_get_last_invalid_partition tells), None if unreadable; image:
    what runs (IMAGE_APP, IMAGE_FACTORY, IMAGE_FS)."""

    def __init__(self, state, rolled_back=None, image=IMAGE_APP):
        self.state = state
        self.rolled_back = rolled_back
        self.image = image
        if image == IMAGE_FS:
            # The loader's scheme: an unconfirmed image never boots twice.
            self.rollback = ROLLBACK_YES if state is not None else ROLLBACK_UNKNOWN
            self.fresh_update = state == otadata.STATE_PENDING_VERIFY
            return
        if state == otadata.STATE_PENDING_VERIFY:
            self.rollback = ROLLBACK_YES
        elif state == otadata.STATE_NEW or state == otadata.STATE_UNDEFINED:
            self.rollback = ROLLBACK_NO
        elif image == IMAGE_FACTORY:
            self.rollback = ROLLBACK_NO  # nothing selects a factory app but blank otadata
        else:
            self.rollback = ROLLBACK_UNKNOWN
        # A first boot after an update (the bootloader kind is known then).
        self.fresh_update = state is not None and self.rollback != ROLLBACK_UNKNOWN

    @property
    def state_name(self):
        if self.state is None:
            return None
        return otadata.STATE_NAMES.get(self.state, str(self.state))

    def as_dict(self):
        return {"image": self.image, "state": self.state_name, "rollback": self.rollback,
                "rolled_back": self.rolled_back}


def _aborted(entries):
    for e in entries:
        if e.crc_ok() and (e.state == otadata.STATE_ABORTED or e.state == otadata.STATE_INVALID):
            return True
    return False


def boot_state(partition_cls):
    """BootState of the running app, read from otadata before confirming."""
    try:
        if _runs_factory_app(partition_cls):
            return _factory_state(partition_cls)
        running = partition_cls(partition_cls.RUNNING)
        state = otadata.partition_state(partition_cls, running)
        entries = otadata.read_entries(partition_cls) or []
    except Exception:  # unreadable otadata: say "unknown" rather than guess
        return BootState(None)
    return BootState(state, _aborted(entries))


def _factory_state(partition_cls):
    try:
        aborted = _aborted(otadata.read_entries(partition_cls) or [])
    except Exception:  # no otadata partition to read
        aborted = None
    return BootState(None, aborted, IMAGE_FACTORY)


def fs_boot_state(slots):
    """BootState of the filesystem image the loader mounted (fsslots.FsSlots)."""
    try:
        return BootState(slots.running_state(), _aborted(slots.entries()), IMAGE_FS)
    except Exception:  # unreadable hushsel
        return BootState(None, None, IMAGE_FS)


def _failure_consequence(boot):
    if boot.image == IMAGE_FS:
        if boot.fresh_update:
            return "the next reset boots the other code slot (the loader aborts an unconfirmed image)"
        return "this image was confirmed at an earlier boot: no reset rolls it back"
    if boot.image == IMAGE_FACTORY:
        return "this is the factory app: nothing rolls it back"
    if boot.rollback == ROLLBACK_YES:
        return "the next reset rolls back"
    if boot.rollback == ROLLBACK_NO:
        return ("this bootloader cannot roll back (booted in state %s, not PENDING_VERIFY): the firmware stays "
                "until another update replaces it" % boot.state_name)
    return "this firmware was already confirmed: no reset rolls it back"


def confirm_boot(partition_cls, checks, log=None, boot=None, slots=None):
    """Returns the SelfTestResult, with `.boot` (the BootState) and
    `.confirmed` (the self-test passed and what runs is marked valid, or
    needs no mark: a factory app). slots: the fsslots.FsSlots the loader
    mounted the firmware from (stock MicroPython), else None. Never raises
    for a flash that refuses the mark: it logs and reports unconfirmed."""
    if boot is None:
        boot = fs_boot_state(slots) if slots is not None else boot_state(partition_cls)
    log = log or (lambda text: None)
    result = selftest.run(checks)
    result.boot = boot
    result.confirmed = False
    if not result.ok:
        log("ota: self-test failed (%s); not confirming, %s" % ("; ".join(result.failures()),
                                                                 _failure_consequence(boot)))
        return result
    if slots is not None:
        try:
            slots.confirm()
            result.confirmed = True
        except OSError as e:
            log("ota: self-test passed, but the firmware image cannot be confirmed (%s); %s"
                % (e, _failure_consequence(boot)))
            return result
        # The app under the image is stock MicroPython's: usually the factory
        # app, which is not marked (ESP-IDF refuses it); an OTA-slot build
        # of MicroPython is, and a refusal there changes nothing for us.
        if not _runs_factory_app(partition_cls):
            _mark_app_valid(partition_cls)
        log("ota: self-test passed, firmware image confirmed (code slot; the loader rolls back an unconfirmed one)")
        return result
    # A factory app is not marked: ESP-IDF would refuse it (ESP_FAIL).
    refusal = None if boot.image == IMAGE_FACTORY else _mark_app_valid(partition_cls)
    if refusal is not None:
        log("ota: self-test passed, but the app cannot be marked valid (%s)" % refusal)
        return result
    result.confirmed = True
    if boot.image == IMAGE_FACTORY:
        log("ota: self-test passed (a factory app: nothing to confirm, nothing rolls it back)")
    elif boot.rollback == ROLLBACK_NO:
        log("ota: self-test passed, firmware confirmed (booted in state %s: this bootloader would not "
            "have rolled it back)" % boot.state_name)
    else:
        log("ota: self-test passed, firmware confirmed")
    return result


def _runs_factory_app(partition_cls):
    try:
        return partition_cls(partition_cls.RUNNING).info()[1] == _SUBTYPE_FACTORY
    except Exception:
        return False


def _mark_app_valid(partition_cls):
    """esp_ota_mark_app_valid_cancel_rollback; None, or why it was refused
    (a factory app: ESP_FAIL; no otadata partition: ESP_ERR_NOT_FOUND)."""
    try:
        partition_cls.mark_app_valid_cancel_rollback()
    except Exception as e:  # OSError from ESP-IDF; AttributeError on a build without the method
        return "%s: %s" % (type(e).__name__, e)
    return None
