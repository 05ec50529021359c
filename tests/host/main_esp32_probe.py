# Run on the MicroPython unix port by test_main_esp32.py:
#
#   micropython main_esp32_probe.py ROLLBACK(0|1)
#
# firmware/main.py's handset (non-simulation) path: its board, NVS and
# Partition come from the `esp32` module, here a stand-in backed by the
# simulated flash and NVS of a handset that has just installed an update
# (tests/core/ota_sim_support), provisioned in NVS as `hushctl provision`
# leaves a handset (hush_id certificate and key, hush_trust server CA then
# fleet CA). Prints one JSON line: what main.py's confirmation and update
# agent set-up found.
import json
import sys

from hushphone.hal.unix import board as sim_board
from hushphone.hal.unix import partition as sim_partition
from hushphone.hal.unix.nvs import Nvs
from hushphone.hal.esp32.nvs_store import NvsStore
from hushphone.storage_layout import KEY_DEV_CERT, KEY_DEV_KEY, NS_IDENTITY, NS_TRUST, ca_key
from ota_sim_support import SimHandset, fixture
from test_ota_updater import stream

handset = SimHandset(app_rollback=sys.argv[1] == "1")
root = handset.root
handset.boot()
stream(handset.service().updater(), fixture("v2.hushota"))
ident, trust = NvsStore(Nvs(root, NS_IDENTITY)), NvsStore(Nvs(root, NS_TRUST))
ident.set_bytes(KEY_DEV_CERT, b"device-cert")
ident.set_bytes(KEY_DEV_KEY, b"device-key")
trust.set_bytes(ca_key(0), b"sip-server-ca")
trust.set_bytes(ca_key(1), b"fleet-ca")
for store in (ident, trust):
    store.commit()
handset.boot()  # the reset after the install: the bootloader picks the new slot


class Esp32:
    """The `esp32` module as main.py uses it."""

    Partition = sim_partition.Partition

    @staticmethod
    def NVS(namespace):
        return Nvs(root, namespace)


sys.modules["esp32"] = Esp32
sys.path.append("firmware")
import main  # noqa: E402  (the handset's own entry point, as a module)

hal = sim_board.build({"root": root})  # audio/keys/display from the simulation, flash and NVS as on the device
boot = main.confirm_update(hal, main.trust_store("lyrat-v4.3", {}))
service = main.ota_service(hal, "lyrat-v4.3", "esp32", {})
agent = main.update_agent(hal, "lyrat-v4.3", {}, service, boot)
s = agent.setup
print("PROBE " + json.dumps({
    "boot": boot, "status": service.status(), "clock": service.clock(),
    "setup": [s.host, s.port, s.off, s.cert.decode(), s.key.decode(), s.ca.decode()],
}))
handset.remove()
