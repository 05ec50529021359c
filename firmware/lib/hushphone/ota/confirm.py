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
from hushphone.ota import otadata, selftest

ROLLBACK_YES = "yes"
ROLLBACK_NO = "no"
ROLLBACK_UNKNOWN = "unknown"


class BootState:
    """The otadata state this boot started in, and what it means for
    rollback (ROLLBACK_YES / _NO / _UNKNOWN); rolled_back: otadata holds an
    ABORTED or INVALID entry, i.e. the last update was rolled back (as
    esp_ota_get_last_invalid_partition tells), None if unreadable."""

    def __init__(self, state, rolled_back=None):
        self.state = state
        self.rolled_back = rolled_back
        if state == otadata.STATE_PENDING_VERIFY:
            self.rollback = ROLLBACK_YES
        elif state == otadata.STATE_NEW or state == otadata.STATE_UNDEFINED:
            self.rollback = ROLLBACK_NO
        else:
            self.rollback = ROLLBACK_UNKNOWN
        # A first boot after an update (the bootloader kind is known then).
        self.fresh_update = self.rollback != ROLLBACK_UNKNOWN

    @property
    def state_name(self):
        if self.state is None:
            return None
        return otadata.STATE_NAMES.get(self.state, str(self.state))

    def as_dict(self):
        return {"state": self.state_name, "rollback": self.rollback, "rolled_back": self.rolled_back}


def boot_state(partition_cls):
    """BootState of the running app, read from otadata before confirming."""
    try:
        state = otadata.partition_state(partition_cls, partition_cls(partition_cls.RUNNING))
        entries = otadata.read_entries(partition_cls) or []
    except Exception:  # unreadable otadata: say "unknown" rather than guess
        return BootState(None)
    aborted = False
    for e in entries:
        if e.crc_ok() and (e.state == otadata.STATE_ABORTED or e.state == otadata.STATE_INVALID):
            aborted = True
    return BootState(state, aborted)


def _failure_consequence(boot):
    if boot.rollback == ROLLBACK_YES:
        return "the next reset rolls back"
    if boot.rollback == ROLLBACK_NO:
        return ("this bootloader cannot roll back (booted in state %s, not PENDING_VERIFY): the firmware stays "
                "until another update replaces it" % boot.state_name)
    return "this firmware was already confirmed (or is a factory app): no reset rolls it back"


def confirm_boot(partition_cls, checks, log=None, boot=None):
    """Returns the SelfTestResult, with `.boot` (the BootState); the app is
    marked valid iff the self-test passed."""
    if boot is None:
        boot = boot_state(partition_cls)
    result = selftest.run(checks)
    result.boot = boot
    if result.ok:
        partition_cls.mark_app_valid_cancel_rollback()
        if log:
            if boot.rollback == ROLLBACK_NO:
                log("ota: self-test passed, firmware confirmed (booted in state %s: this bootloader would not "
                    "have rolled it back)" % boot.state_name)
            else:
                log("ota: self-test passed, firmware confirmed")
    elif log:
        log("ota: self-test failed (%s); not confirming, %s" % ("; ".join(result.failures()),
                                                                 _failure_consequence(boot)))
    return result
