# Boot-time confirmation of new firmware (what boot.py/main.py calls early):
# run the self-test, and only when it passes call
# Partition.mark_app_valid_cancel_rollback(). A firmware that does not
# confirm stays PENDING_VERIFY, and the bootloader rolls it back at the next
# reset (ESP-IDF CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE). Confirming an app
# that is already VALID changes nothing, so this runs on every boot.
from hushphone.ota import selftest


def confirm_boot(partition_cls, checks, log=None):
    """Returns the SelfTestResult; the app is marked valid iff it passed."""
    result = selftest.run(checks)
    if result.ok:
        _confirm_filesystem_image()  # first: a factory app (stock path) cannot be marked (ESP_FAIL)
        partition_cls.mark_app_valid_cancel_rollback()
        if log:
            log("ota: self-test passed, firmware confirmed")
    elif log:
        log("ota: self-test failed (%s); not confirming, the next reset rolls back" % "; ".join(result.failures()))
    return result


def _confirm_filesystem_image():
    # On stock MicroPython the firmware runs from a filesystem image that the
    # loader (hushboot, ota/fsslots.py) mounted: it is confirmed alike.
    try:
        import hushboot
    except ImportError:
        return
    hushboot.confirm()
