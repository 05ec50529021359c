# The update agent as the firmware runs it (ota/handset_agent.py): where its
# configuration comes from (NVS on a handset, the simulation's config), when
# it is off and why, and the reset into an installed update waiting for the
# call to end. The TLS side is proven end to end in tests/sim
# (test_fleet_sim_run.py).
import asyncio
import unittest

from coretest import rmtree, temp_dir
from hushphone.hal.esp32.nvs_store import NvsStore
from hushphone.hal.unix.nvs import Nvs
from hushphone.ota import handset_agent as ha
from hushphone.storage_layout import KEY_DEV_CERT, KEY_DEV_KEY, KEY_FLEET_CA, NS_CFG, NS_IDENTITY, NS_TRUST, ca_key

SIP_CA = b"0\x82sip-server-ca"
FLEET_CA = b"0\x82fleet-ca"


class Setup(unittest.TestCase):
    def setUp(self):
        self.root = temp_dir("hush-agent-")
        self.cfg = NvsStore(Nvs(self.root, NS_CFG))
        self.ident = NvsStore(Nvs(self.root, NS_IDENTITY))
        self.trust = NvsStore(Nvs(self.root, NS_TRUST))

    def tearDown(self):
        rmtree(self.root)

    def provision(self):
        """As hushctl provision leaves NVS: identity, server CAs first, the fleet CA last."""
        self.ident.set_bytes(KEY_DEV_CERT, b"cert")
        self.ident.set_bytes(KEY_DEV_KEY, b"key")
        self.trust.set_bytes(ca_key(0), SIP_CA)
        self.trust.set_bytes(ca_key(1), FLEET_CA)

    def setup(self, config=None):
        return ha.agent_setup(config or {}, self.cfg, self.ident, self.trust)

    def test_unprovisioned_is_off_and_says_why(self):
        s = self.setup()
        self.assertEqual((s.off, s.port, s.host), ("not provisioned: no device certificate", 8470, "0.0.0.0"))
        self.ident.set_bytes(KEY_DEV_CERT, b"cert")
        self.ident.set_bytes(KEY_DEV_KEY, b"key")
        self.assertEqual(self.setup().off, "not provisioned: no fleet CA")

    def test_provisioned_is_on_with_the_fleet_ca_only(self):
        self.provision()
        s = self.setup()
        self.assertIsNone(s.off)
        self.assertEqual((s.cert, s.key, s.ca), (b"cert", b"key", FLEET_CA))  # never the SIP server CA

    def test_a_named_fleet_ca_wins_over_the_slot_order(self):
        self.provision()
        self.trust.set_bytes(ca_key(2), b"0\x82imported-sip-ca")  # e.g. a CA list imported later
        self.assertEqual(self.setup().ca, b"0\x82imported-sip-ca")  # the slot rule alone would now be wrong...
        self.trust.set_bytes(KEY_FLEET_CA, FLEET_CA)
        self.assertEqual(self.setup().ca, FLEET_CA)  # ...which is why provisioning should name it

    def test_nvs_settings(self):
        self.provision()
        self.cfg.set_int(ha.KEY_PORT, 9000)
        self.assertEqual(self.setup().port, 9000)
        self.cfg.set_int(ha.KEY_AGENT, 0)
        self.assertEqual(self.setup().off, "switched off (ota_agent = 0)")
        self.cfg.set_int(ha.KEY_AGENT, 1)
        self.assertIsNone(self.setup().off)

    def test_simulation_config_wins(self):
        self.provision()
        path = self.root + "/fleet.der"
        with open(path, "wb") as f:
            f.write(b"other fleet ca")
        s = self.setup({"ota_port": 9100, "ota_host": "127.0.0.1", "fleet_ca_der": path})
        self.assertEqual((s.port, s.host, s.ca, s.off), (9100, "127.0.0.1", b"other fleet ca", None))
        self.assertEqual(self.setup({"ota_agent": False}).off, "switched off (ota_agent = 0)")


class FakeApp:
    """The phone's hook: a call that ends after `ticks` questions."""

    def __init__(self, ticks):
        self.ticks = ticks
        self.asked = 0
        self.stopped_at = None

    def call_up(self):
        self.asked += 1
        return self.asked <= self.ticks

    def stop(self):
        self.stopped_at = self.asked


class FakeHal:
    def __init__(self, app):
        self.app = app


class ResetWaitsForTheCall(unittest.TestCase):
    def run_until_reset(self, app):
        events = []
        agent = ha.HandsetAgent(FakeHal(app), None, ha.AgentSetup("127.0.0.1", 0, off="test"),
                                emit=lambda name, fields=None: events.append(name))

        async def main():
            waiter = asyncio.create_task(agent._reset_when_idle(None))
            await asyncio.sleep(0)
            self.assertIsNone(app.stopped_at)  # nothing installed yet: nothing happens
            agent._updated({"version": "1.1.0"})
            await asyncio.wait_for(waiter, 5)

        asyncio.run(main())
        return agent, events

    def test_no_call_resets_at_once(self):
        app = FakeApp(0)
        agent, events = self.run_until_reset(app)
        self.assertTrue(agent.reset)
        self.assertEqual((app.stopped_at, events), (1, ["ota_installed", "ota_reset"]))

    def test_reset_waits_until_the_call_has_ended(self):
        app = FakeApp(3)
        agent, events = self.run_until_reset(app)
        self.assertTrue(agent.reset)
        self.assertEqual(app.stopped_at, 4)  # stopped only once call_up() said no
        self.assertEqual(events, ["ota_installed", "ota_reset_deferred", "ota_reset"])

    def test_call_up_without_an_app(self):
        self.assertFalse(ha.call_up(FakeHal(None)))


if __name__ == "__main__":
    unittest.main()
