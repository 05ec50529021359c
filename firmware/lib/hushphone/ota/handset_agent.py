# The update agent as the handset firmware runs it (firmware/main.py): on
# the same asyncio loop as the phone app, on hal/esp32 and hal/unix alike.
#
# Configuration (the simulation's JSON config first, then NVS hush_cfg):
#   ota_agent  0 = off, 1 = on; unset: on when the handset is provisioned
#              (it has a device certificate and key and a fleet CA), off
#              otherwise, with a log line saying what is missing
#   ota_port   TCP port (default 8470)
#   ota_host   the simulation's listening address (127.0.0.1); a handset
#              listens on all its interfaces
# Mutual TLS: the handset shows its device certificate (NVS hush_id, or the
# simulation's tls_cert_der/tls_key_der files) and accepts only clients
# whose certificate the fleet CA issued: the fleet CA alone, never the SIP
# server CAs (those issued the handsets' own certificates too): hush_trust
# `fleet_ca` when provisioning wrote it, else the last occupied CA slot
# (`hushctl provision` writes the server CAs first, the fleet CA last); the
# simulation may name it with fleet_ca_der instead.
#
# After an update is installed the handset resets into it, but never in the
# middle of a call: the reset waits until the app says no call is up.
try:
    import asyncio
except ImportError:  # older MicroPython builds
    import uasyncio as asyncio

from hushphone.compat import sleep_ms
from hushphone.ota.agent import DEFAULT_PORT, UpdateAgent
from hushphone.storage_layout import KEY_DEV_CERT, KEY_DEV_KEY, KEY_FLEET_CA, MAX_CA, ca_key

KEY_AGENT = "ota_agent"
KEY_PORT = "ota_port"
_IDLE_POLL_MS = 250  # how often a deferred reset looks whether the call has ended


def _read_file(path):
    with open(path, "rb") as f:
        return f.read()


def fleet_ca(trust_store):
    """The fleet CA (DER) from hush_trust (a Store): its own key when
    provisioning wrote one, else the last occupied CA slot; or None."""
    found = None
    if trust_store is not None:
        found = trust_store.get_bytes(KEY_FLEET_CA)
        if found is not None:
            return found
        for i in range(MAX_CA):
            der = trust_store.get_bytes(ca_key(i))
            if der is not None:
                found = der
    return found


class AgentSetup:
    """Where and with what the agent serves, or why it is off (`off`)."""

    def __init__(self, host, port, cert=None, key=None, ca=None, off=None):
        self.host = host
        self.port = port
        self.cert = cert
        self.key = key
        self.ca = ca
        self.off = off

    def ssl_context(self):
        from hushphone.sip.transport import make_tls_server_context

        return make_tls_server_context([self.ca], self.cert, self.key)


def agent_setup(config, settings, identity_store, trust_store, default_host="0.0.0.0"):
    """config: the simulation's config dict (or {}); settings: the hush_cfg
    Store; identity_store, trust_store: the hush_id and hush_trust Stores
    (None when the board has none)."""
    enabled = config.get(KEY_AGENT)
    if enabled is None:
        enabled = settings.get_int(KEY_AGENT)
    port = config.get(KEY_PORT) or settings.get_int(KEY_PORT) or DEFAULT_PORT
    setup = AgentSetup(config.get("ota_host") or default_host, port)
    if enabled is not None and not enabled:
        setup.off = "switched off (%s = 0)" % KEY_AGENT
        return setup
    if config.get("tls_cert_der") and config.get("tls_key_der"):
        setup.cert, setup.key = _read_file(config["tls_cert_der"]), _read_file(config["tls_key_der"])
    elif identity_store is not None:
        setup.cert, setup.key = identity_store.get_bytes(KEY_DEV_CERT), identity_store.get_bytes(KEY_DEV_KEY)
    setup.ca = _read_file(config["fleet_ca_der"]) if config.get("fleet_ca_der") else fleet_ca(trust_store)
    if setup.cert is None or setup.key is None:
        setup.off = "not provisioned: no device certificate"
    elif setup.ca is None:
        setup.off = "not provisioned: no fleet CA"
    return setup


def call_up(hal):
    """The app's hook (hal.app.call_up()): a call exists. False without an app."""
    app = getattr(hal, "app", None)
    return app is not None and app.call_up()


class HandsetAgent:
    """The agent beside the app: run(app_coroutine) returns True when the
    app was stopped to reset into an installed update."""

    def __init__(self, hal, service, setup, boot=None, log=None, emit=None):
        self.hal = hal
        self.setup = setup
        self.log = log or (lambda text: None)
        self.emit = emit or (lambda name, fields=None: None)
        self.agent = UpdateAgent(service, on_updated=self._updated, log=self.log, in_call=lambda: call_up(hal),
                                 boot=boot, on_busy=self._busy)
        self._installed = asyncio.Event()
        self.reset = False

    def _updated(self, message):
        self.emit("ota_installed", {"version": message.get("version")})
        self._installed.set()

    def _busy(self, reason):
        self.emit("ota_busy", {"reason": reason})

    async def start(self):
        """Listen; False (and a log line) when the agent cannot run."""
        s = self.setup
        if s.off is not None:
            self.log("ota: update agent off: %s" % s.off)
            self.emit("ota_agent", {"listening": False, "reason": s.off})
            return False
        try:
            await self.agent.start(s.host, s.port, s.ssl_context())
        except Exception as e:  # a taken port, a key the TLS stack refuses: the phone still runs
            self.log("ota: update agent off: cannot listen on port %d: %s: %s" % (s.port, type(e).__name__, e))
            self.emit("ota_agent", {"listening": False, "reason": "cannot listen"})
            return False
        self.log("ota: update agent listening on port %d (mutual TLS, fleet CA)" % s.port)
        self.emit("ota_agent", {"listening": True, "port": s.port})
        return True

    async def _reset_when_idle(self, app_task):
        await self._installed.wait()
        if call_up(self.hal):
            self.log("ota: update installed; the reset waits for the call to end")
            self.emit("ota_reset_deferred")
            while call_up(self.hal):
                await sleep_ms(_IDLE_POLL_MS)
        self.reset = True
        self.log("ota: resetting into the new firmware")
        self.emit("ota_reset")
        app = getattr(self.hal, "app", None)
        if app is not None:
            app.stop()  # the phone hangs up nothing (no call is up) and unregisters
        else:
            app_task.cancel()

    async def run(self, app_coroutine):
        listening = await self.start()
        app_task = asyncio.create_task(app_coroutine)
        watcher = asyncio.create_task(self._reset_when_idle(app_task)) if listening else None
        try:
            await app_task
        except asyncio.CancelledError:
            pass
        finally:
            if watcher is not None:
                watcher.cancel()
            server = self.agent.server
            if server is not None:
                server.close()
                try:
                    await server.wait_closed()
                except Exception:
                    pass
        return self.reset
