# The handset's account and user settings in NVS, through the HAL's Store
# objects (hal.interfaces.Store): user settings in hush_cfg (hal.settings),
# the SIP account in hush_sip (hal.secrets: the encrypted namespace), CA
# certificates in the ca0..ca7 slots of hush_trust. Names from
# storage_layout, shared with the provisioning tools.
#
# Export/import as JSON for data portability. The passwords (SIP account,
# TURN relay) are secret: never shown, never in repr(), and only in an
# export when asked for.
# This document is the handset's one export format: the console's `export`
# event carries it (next to the contacts) and `hushctl handset export/import`
# writes and reads it with a "contacts_vcf" field added (CONTACTS_FIELD).
import binascii
import json

from hushphone import storage_layout as layout

FORMAT = "hushphone-settings"
VERSION = 1
CONTACTS_FIELD = "contacts_vcf"  # the address book as vCard 4.0 text, next to the settings
ACCOUNT_FIELDS = layout.SIP_KEYS  # registrar, proxy, user, password, display
_BLOB_MAX = 256
_RANGES = {"ring_vol": (0, 10), "hide_callid": (0, 1), "log_days": (1, 3650), "sdes_fallback": (0, 1)}
DEFAULTS = {"ring_vol": 5, "hide_callid": 0, "log_days": 30, "lang": "en", "turn_uri": "", "turn_user": "",
            "sdes_fallback": 1}
_TURN_SCHEMES = ("turn:", "turns:")
# phone.json's names for settings (the simulation's config, a maker's
# default config): True/False for the on/off ones.
CONFIG_ALIASES = {"withhold_caller_id": "hide_callid", "sdes_fallback": "sdes_fallback"}


class SettingsError(ValueError):
    """Bad settings data (an import, a value out of range)."""


class Settings:
    """account: {registrar, proxy, user, password, display} (str, "" when
    unset); values: the hush_cfg settings (int or str); ca_certs: DER
    certificates. The stores are hal.interfaces.Store objects; without a
    trust store the CA certificates are not loaded or saved."""

    def __init__(self, cfg_store, sip_store, trust_store=None):
        self._cfg = cfg_store
        self._sip = sip_store
        self._trust = trust_store
        self.account = {}
        for name in ACCOUNT_FIELDS:
            self.account[name] = ""
        self.values = dict(DEFAULTS)
        self.ca_certs = []
        self.turn_password = ""

    def __repr__(self):  # never the password
        return "Settings(user=%r, registrar=%r)" % (self.account["user"], self.account["registrar"])

    # -- NVS ---------------------------------------------------------------

    def load(self):
        for name in ACCOUNT_FIELDS:
            raw = self._sip.get_bytes(name)
            self.account[name] = raw.decode() if raw is not None else ""
        raw = self._sip.get_bytes(layout.KEY_TURN_PASSWORD)
        self.turn_password = raw.decode() if raw is not None else ""
        for key, kind in layout.CFG_SETTINGS:
            if kind == "i32":
                value = self._cfg.get_int(key)
            else:
                raw = self._cfg.get_bytes(key)
                value = raw.decode() if raw is not None else None
            self.values[key] = DEFAULTS[key] if value is None else value
        if self._trust is not None:
            self.ca_certs = []
            for i in range(layout.MAX_CA):
                der = self._trust.get_bytes(layout.ca_key(i))
                if der is not None:
                    self.ca_certs.append(der)
        return self

    def save(self):
        for name in ACCOUNT_FIELDS:
            if self.account[name]:
                self._sip.set_bytes(name, self.account[name].encode())
            else:
                self._sip.delete(name)
        if self.turn_password:
            self._sip.set_bytes(layout.KEY_TURN_PASSWORD, self.turn_password.encode())
        else:
            self._sip.delete(layout.KEY_TURN_PASSWORD)
        self._sip.commit()
        for key, kind in layout.CFG_SETTINGS:
            value = self.values[key]
            if kind == "i32":
                self._cfg.set_int(key, value)
            else:
                self._cfg.set_bytes(key, value.encode())
        self._cfg.commit()
        if self._trust is not None:
            for i in range(layout.MAX_CA):
                if i < len(self.ca_certs):
                    self._trust.set_bytes(layout.ca_key(i), self.ca_certs[i])
                else:
                    self._trust.delete(layout.ca_key(i))
            self._trust.commit()

    # -- values ------------------------------------------------------------

    def set(self, key, value):
        """Change one hush_cfg setting, checked."""
        kind = None
        for k, t in layout.CFG_SETTINGS:
            if k == key:
                kind = t
        if kind is None:
            raise SettingsError("unknown setting %r" % (key,))
        if kind == "i32":
            if isinstance(value, bool):
                value = int(value)
            if not isinstance(value, int):
                raise SettingsError("setting %s must be a whole number" % key)
            low, high = _RANGES.get(key, (-(1 << 31), (1 << 31) - 1))
            if not low <= value <= high:
                raise SettingsError("setting %s must be %d..%d" % (key, low, high))
        elif not isinstance(value, str) or len(value.encode()) > _BLOB_MAX:
            raise SettingsError("setting %s must be text (at most %d bytes)" % (key, _BLOB_MAX))
        elif key == "turn_uri" and value and not (value.startswith(_TURN_SCHEMES[0]) or
                                                  value.startswith(_TURN_SCHEMES[1])):
            raise SettingsError("setting turn_uri must be a turn: or turns: URI (or empty)")
        self.values[key] = value

    def set_turn_password(self, value):
        if not isinstance(value, str) or len(value.encode()) > _BLOB_MAX:
            raise SettingsError("the TURN password must be text (at most %d bytes)" % _BLOB_MAX)
        self.turn_password = value

    def apply_config(self, config):
        """Take what a phone.json says about the account and settings
        (written to NVS by save()): "account" {registrar, proxy, user,
        password, display}; "settings" {hush_cfg name: value}; the privacy
        switches by name, "withhold_caller_id" and "sdes_fallback" (true or
        false; "zrtp_only": true means no SDES fallback); "turn" {uri,
        user, password}. Everything is checked before anything changes
        (SettingsError)."""
        trial = Settings(self._cfg, self._sip, self._trust)
        trial.account = dict(self.account)
        trial.values = dict(self.values)
        trial.turn_password = self.turn_password
        account = config.get("account") or {}
        settings = config.get("settings") or {}
        turn = config.get("turn")
        if not isinstance(account, dict) or not isinstance(settings, dict) or not isinstance(turn, (dict, type(None))):
            raise SettingsError("account, settings and turn must be objects")
        for name in account:
            trial.set_account(name, account[name])
        for key in settings:
            trial.set(key, settings[key])
        for name in CONFIG_ALIASES:
            if name in config:
                if not isinstance(config[name], bool):
                    raise SettingsError("%s must be true or false" % name)
                trial.set(CONFIG_ALIASES[name], config[name])
        if config.get("zrtp_only"):
            trial.set("sdes_fallback", 0)
        if turn is not None:
            for name in turn:
                if name not in ("uri", "user", "password"):
                    raise SettingsError("unknown turn field %r" % (name,))
            trial.set("turn_uri", turn.get("uri", ""))
            trial.set("turn_user", turn.get("user", ""))
            trial.set_turn_password(turn.get("password", ""))
        self.account = trial.account
        self.values = trial.values
        self.turn_password = trial.turn_password

    def set_account(self, name, value):
        if name not in ACCOUNT_FIELDS:
            raise SettingsError("unknown account field %r" % (name,))
        if not isinstance(value, str) or len(value.encode()) > _BLOB_MAX:
            raise SettingsError("account field %s must be text (at most %d bytes)" % (name, _BLOB_MAX))
        self.account[name] = value

    @property
    def withhold_caller_id(self):
        return self.values["hide_callid"] == 1

    @property
    def sdes_fallback(self):
        """A peer without ZRTP may get SDES keys in SIP (the call is shown
        "provider can decrypt"); off: ZRTP or no call."""
        return self.values["sdes_fallback"] == 1

    @property
    def turn(self):
        """(uri, user, password) of the TURN relay, or None (no relay)."""
        if not self.values["turn_uri"]:
            return None
        return self.values["turn_uri"], self.values["turn_user"], self.turn_password

    # -- export / import ---------------------------------------------------

    def export(self, include_password=False):
        """A JSON-ready dict of everything; the passwords (SIP, and TURN
        as "secrets": {"turn_pass"}) only if asked.
        CA certificates only from a handset that keeps them in NVS (a trust
        store): an empty list would make an import erase the importer's."""
        account = {}
        for name in ACCOUNT_FIELDS:
            if name != "password" or include_password:
                account[name] = self.account[name]
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "account": account,
            "settings": dict(self.values),
        }
        if self._trust is not None:
            doc["ca_certs"] = [binascii.b2a_base64(c).decode().strip() for c in self.ca_certs]
        if include_password and self.turn_password:
            doc["secrets"] = {layout.KEY_TURN_PASSWORD: self.turn_password}
        return doc

    def export_json(self, include_password=False):
        return json.dumps(self.export(include_password))

    def import_(self, doc):
        """Take an export (dict or JSON text): every value is checked before
        anything changes. An export without a password keeps ours."""
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except ValueError:
                raise SettingsError("not JSON")
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise SettingsError("not a %s version %d document" % (FORMAT, VERSION))
        account = doc.get("account", {})
        values = doc.get("settings", {})
        certs = doc.get("ca_certs")  # absent: keep ours
        secrets = doc.get("secrets", {})  # absent: keep ours
        if (not isinstance(account, dict) or not isinstance(values, dict) or not isinstance(secrets, dict)
                or not isinstance(certs, (list, type(None)))):
            raise SettingsError("account, settings and secrets must be objects, ca_certs a list")
        trial = Settings(self._cfg, self._sip, self._trust)
        trial.account = dict(self.account)
        trial.values = dict(self.values)
        for name in account:
            trial.set_account(name, account[name])
        for key in values:
            trial.set(key, values[key])
        trial.turn_password = self.turn_password
        for key in secrets:
            if key != layout.KEY_TURN_PASSWORD:
                raise SettingsError("unknown secret %r" % (key,))
            trial.set_turn_password(secrets[key])
        if certs is not None and len(certs) > layout.MAX_CA:
            raise SettingsError("at most %d CA certificates" % layout.MAX_CA)
        ders = None if certs is None else []
        for text in certs or ():
            try:
                der = binascii.a2b_base64(text)
            except (ValueError, TypeError):
                raise SettingsError("a CA certificate is not base64")
            if not der:
                raise SettingsError("a CA certificate is empty")
            ders.append(der)
        self.account = trial.account
        self.values = trial.values
        self.turn_password = trial.turn_password
        if ders is not None:
            self.ca_certs = ders
