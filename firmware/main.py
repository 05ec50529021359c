# The handset's entry point (frozen into the firmware; MicroPython runs it
# after boot.py). It picks the board, builds the HAL, confirms a freshly
# updated firmware once the self-test passes (and says whether a reset
# would have rolled it back; on stock MicroPython the code slot the loader
# mounted is confirmed, never the factory app, and updates go into the
# other code slot), then runs the phone app and, on the same asyncio loop,
# the update agent for fleet pushes (hushphone.ota.handset_agent: on when
# the handset is provisioned). After an update the agent stops the app once
# no call is up and the board resets into the new firmware; the simulation
# exits with EXIT_RESET and its launcher (hushctl.sim) starts it again,
# through the simulated bootloader or the stock loader.
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
EXIT_RESET = 4  # the simulation's reset: its launcher starts main.py again


def log(text):
    print("hushphone: " + text)


def emit(name, fields=None):
    """A console event (`@event {json}`), as the phone app prints them."""
    from hushphone.app.console import event_line

    print(event_line(name, fields))


def board_and_pins():
    try:
        import pins
    except ImportError:
        return "sim", None, None
    return pins.BOARD, pins.PINS, getattr(pins, "CHIP", "esp32")


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


def open_nvs(board, config, namespace):
    """An NVS namespace with the esp32.NVS API (the simulation's under its root)."""
    if board == "sim":
        from hushphone.hal.unix.nvs import Nvs

        return Nvs(config["root"], namespace)
    import esp32

    return esp32.NVS(namespace)


def trust_store(board, config):
    """The OTA trust namespace, which the self-test reads back."""
    from hushphone.storage_layout import NS_TRUST

    return open_nvs(board, config, NS_TRUST)


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


def code_slots():
    """The fsslots.FsSlots the loader (hushboot) mounted this firmware from
    on stock MicroPython, or None (a frozen firmware in an app slot)."""
    from hushphone.ota import fsslots

    return fsslots.mounted()


def confirm_update(hal, trust, slots=None):
    """Self-test and confirm; returns what the update agent reports about
    this boot (image kind, its state, whether it is rolled back, result).
    Never raises: the phone starts whatever the confirmation found."""
    from hushphone.ota import confirm, selftest

    storage = selftest.image_check(slots) if slots is not None else selftest.storage_check(hal.partition)
    checks = [storage, selftest.nvs_check(trust)] + hal.checks
    # A failed self-test keeps the phone running (one that can call is
    # better than none); confirm_boot logs whether a reset rolls it back.
    try:
        result = confirm.confirm_boot(hal.partition, checks, log, slots=slots)
    except Exception as e:  # a confirmation that broke must not keep the phone from starting
        log("ota: confirmation failed: %s: %s" % (type(e).__name__, e))
        return {"image": "fs" if slots is not None else "app", "state": None, "rollback": "unknown",
                "rolled_back": None, "confirmed": False, "self_test": "error: %s" % e}
    boot = result.boot.as_dict()
    boot["confirmed"] = result.confirmed
    boot["self_test"] = "passed" if result.ok else "; ".join(result.failures())
    return boot


def ota_service(hal, board, chip, config, slots=None):
    """The update service: FsOtaService (kind "fs" bundles into the other
    code slot) when the firmware runs from a code slot, else OtaService
    (kind "app" bundles into the other OTA app slot)."""
    import time

    from hushphone.ota.progress import ProgressStore

    if board == "sim":
        # The simulation trusts its host's clock; a handset learns the time
        # from the network (until then updates are refused: expiry unknown).
        args = (trust_store(board, config), config.get("ota_board", board), config.get("chip", "esp32"),
                lambda: int(time.time()), ProgressStore(config["root"]))
    else:
        args = (trust_store(board, config), board, chip, hal.clock.unix_time, ProgressStore(""))
    if slots is not None:
        from hushphone.ota.fsservice import FsOtaService

        return FsOtaService(slots, *args)
    from hushphone.ota.service import OtaService

    return OtaService(hal.partition, *args)


def update_agent(hal, board, config, service, boot):
    """The HandsetAgent for this handset (it may be off: it logs why)."""
    from hushphone.hal.esp32.nvs_store import NvsStore
    from hushphone.ota.handset_agent import HandsetAgent, agent_setup
    from hushphone.storage_layout import NS_IDENTITY

    setup = agent_setup(config, hal.settings, NvsStore(open_nvs(board, config, NS_IDENTITY)),
                        NvsStore(trust_store(board, config)), "127.0.0.1" if board == "sim" else "0.0.0.0")
    return HandsetAgent(hal, service, setup, boot, log, emit)


def last_update(hal):
    """What the last update did (rolled back, pending, confirmed), from otadata."""
    from hushphone.ota import history

    return history.last_update(hal.partition)


def pull_updates(hal, board, config, service, agent):
    """The pull client (hushphone.ota.pull) when a channel is configured:
    checks a static HTTPS host for signed updates; an install resets
    through the agent, after any call, as a pushed one does."""
    from hushphone.hal.esp32.nvs_store import NvsStore
    from hushphone.ota import pull
    from hushphone.ota.handset_agent import call_up
    from hushphone.sip.transport import make_tls_context
    from hushphone.storage_layout import NS_PULL

    try:
        cfg = pull.pull_config(config, hal.settings)
        if cfg is None:
            return None
        ctx = make_tls_context(pull.update_host_cas(cfg, NvsStore(trust_store(board, config))))
    except (ValueError, OSError) as e:  # a bad URL, no CA, an unreadable file: the phone still runs
        log("ota: pulling updates off: %s" % e)
        return None
    log("ota: pulling updates from %s every %d s" % (cfg["url"], cfg["interval"]))
    return pull.run(service, cfg, ctx, open_nvs(board, config, NS_PULL), lambda: call_up(hal),
                    agent.agent.on_updated, log)


def run_app(hal, config, agent=None, pull=None):
    """Runs the app (and the agent and the pull client beside it);
    EXIT_RESET when the agent stopped it to reset into an installed update."""
    import asyncio

    try:
        # Imported here, not at the top: this file compiles and boots (and
        # confirms an update) even in a firmware without the app.
        app = __import__(config.get("app", APP), None, None, ["run"])
    except ImportError as e:
        log("no phone app in this firmware (%s): %s" % (config.get("app", APP), e))
        return EXIT_NO_APP
    if agent is None:
        asyncio.run(app.run(hal, config))
        return 0
    app_run = app.run(hal, config)
    if pull is not None:
        from hushphone.ota.pull import run_beside

        app_run = run_beside(app_run, pull, log)
    return EXIT_RESET if asyncio.run(agent.run(app_run)) else 0


def main(argv):
    board, pin_map, chip = board_and_pins()
    config = {}
    if board == "sim":
        if len(argv) < 2:
            log("usage: micropython main.py SIM-CONFIG.json")
            return 2
        config = load_config(argv[1])
    config["board"] = board
    hal = build_hal(board, pin_map, config)
    log("board %s" % board)
    agent = pull = None
    slots = code_slots()
    if slots is not None or board != "sim" or boot_sim_flash(config):
        boot = confirm_update(hal, trust_store(board, config), slots)
        service = ota_service(hal, board, chip, config, slots)
        try:
            status = service.status()
        except Exception as e:  # an unreadable running image: report it, start the phone anyway
            log("ota: cannot read the running firmware's version: %s" % e)
            status = {"version": None, "slot": None}
        emit("boot", dict(boot, version=status["version"], slot=status["slot"]))
        boot["last_update"] = last_update(hal)  # in the agent's status answer (hushctl fleet status)
        agent = update_agent(hal, board, config, service, boot)
        pull = pull_updates(hal, board, config, service, agent)
    else:
        log("ota: update agent off: this simulated handset has no flash")
    return run_app(hal, config, agent, pull)


if __name__ == "__main__":
    status = main(sys.argv)
    if sys.platform == "esp32":
        if status == EXIT_RESET:
            from hushphone.hal.esp32.partition import reset

            reset()  # into whatever otadata now selects: the new firmware
        # Otherwise a SystemExit would soft-reset into the same failure
        # again: fall back to the REPL instead (a technician can look).
    else:
        sys.exit(status)
