# On a handset the OTA HAL is esp32.Partition itself: ESP-IDF's esp_ota_ops
# keeps otadata, the bootloader rolls back an unconfirmed app
# (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE), refuses apps below the
# SECURE_VERSION eFuse (CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK) and, with Secure
# Boot V2, any app whose signature does not verify. hal/unix/partition.py
# mirrors this API for the simulated handset; firmware code takes its
# Partition class from whichever HAL the board built.
import esp32
from esp32 import Partition  # noqa: F401  (the HAL's Partition class)


def trust_nvs():
    """The OTA trust store written at provisioning (hushphone.ota.truststore)."""
    return esp32.NVS("hush_trust")


def running():
    return Partition(Partition.RUNNING)


def reset():
    """Reboot into whatever otadata now selects (the new app after an
    update, or the rollback target of an unconfirmed one)."""
    import machine

    machine.reset()
