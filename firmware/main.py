# The handset's entry point (frozen into the firmware; MicroPython runs it
# after boot.py). It picks the board, builds the HAL, confirms a freshly
# updated firmware once the self-test passes, then runs the phone app.
#
# Board: the frozen module `pins` (boards/<name>/pins.py, one firmware image
# per board, as each image is signed for one board). Without it (the
# simulated handset on the MicroPython unix port) the board is "sim" and the
# configuration comes from a JSON file:
#
#   micropython firmware/main.py SIM-CONFIG.json
#
# SIM-CONFIG: hal.unix.board's keys ("root", "mic_wav", "tone_hz", "keys",
# ...) plus the app's own; with "chip" and a flash under root/flash the
# simulated bootloader boots it first. "app" names the module whose
# `async def run(hal, config)` is the phone (default hushphone.app.phone).
import sys

APP = "hushphone.app.phone"
EXIT_NO_APP = 3


def log(text):
    print("hushphone: " + text)


def board_and_pins():
    try:
        import pins
    except ImportError:
        return "sim", None
    return pins.BOARD, pins.PINS


def load_config(path):
    import json

    with open(path) as f:
        return json.load(f)


def build_hal(board, pin_map, config):
    if board == "sim":
        from hushphone.hal.unix import board as sim_board

        return sim_board.build(config)
    from hushphone.hal.esp32 import board as esp_board

    return esp_board.build(board, pin_map)


def trust_store(board, config):
    """The OTA trust namespace, which the self-test reads back."""
    if board == "sim":
        from hushphone.hal.unix.nvs import Nvs
        from hushphone.storage_layout import NS_TRUST

        return Nvs(config["root"], NS_TRUST)
    from hushphone.hal.esp32.partition import trust_nvs

    return trust_nvs()


def boot_sim_flash(config):
    """The simulated bootloader picks the slot to run, as the ROM and
    bootloader do at a reset. False when this sim has no flash."""
    import os

    try:
        os.stat(config["root"] + "/flash/ota_0.bin")
    except OSError:
        return False
    from hushphone.hal.unix import bootloader
    from hushphone.hal.unix.secure_boot import SimSecureBoot

    info = bootloader.boot(config["root"], SimSecureBoot(trust_store("sim", config), config.get("chip", "esp32")))
    log("booted %s (secure version %d)" % (info.label, info.secure_version))
    return True


def confirm_update(hal, trust):
    from hushphone.ota import confirm, selftest

    checks = [selftest.storage_check(hal.partition), selftest.nvs_check(trust)] + hal.checks
    return confirm.confirm_boot(hal.partition, checks, log)


def run_app(hal, config):
    import asyncio

    try:
        # Imported here, not at the top: this file compiles and boots (and
        # confirms an update) even in a firmware without the app.
        app = __import__(config.get("app", APP), None, None, ["run"])
    except ImportError as e:
        log("no phone app in this firmware (%s): %s" % (config.get("app", APP), e))
        return EXIT_NO_APP
    asyncio.run(app.run(hal, config))
    return 0


def main(argv):
    board, pin_map = board_and_pins()
    config = {}
    if board == "sim":
        if len(argv) < 2:
            log("usage: micropython main.py SIM-CONFIG.json")
            return 2
        config = load_config(argv[1])
    config["board"] = board
    hal = build_hal(board, pin_map, config)
    log("board %s" % board)
    if board != "sim" or boot_sim_flash(config):
        result = confirm_update(hal, trust_store(board, config))
        if not result.ok:
            # Keep running (a phone that can call is better than none); the
            # next reset rolls back to the previous firmware.
            log("self-test failed: %s" % "; ".join(result.failures()))
    return run_app(hal, config)


if __name__ == "__main__":
    status = main(sys.argv)
    # On a handset a SystemExit would soft-reset into the same failure again:
    # fall back to the REPL instead (a technician can look).
    if sys.platform != "esp32":
        sys.exit(status)
