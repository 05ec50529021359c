# The handset's account and user settings, kept in NVS (namespaces
# hush_sip, hush_cfg and the CA slots of hush_trust; names from
# storage_layout) through any object with esp32.NVS's methods: the HAL's
# store on a device, hal.unix.nvs.Nvs in the simulation.
#
# Export/import as JSON for data portability. The password is secret: it
# is never shown, never in repr(), and only in an export when asked for.
import binascii
import json

from hushphone import storage_layout as layout

FORMAT = "hushphone-settings"
VERSION = 1
ACCOUNT_FIELDS = ("registrar", "proxy", "user", "password", "display")
_BLOB_MAX = 256
_CERT_MAX = 4096
_RANGES = {"ring_vol": (0, 10), "hide_callid": (0, 1), "log_days": (1, 3650)}
DEFAULTS = {"ring_vol": 5, "hide_callid": 0, "log_days": 30, "lang": "en", "turn_uri": ""}


class SettingsError(ValueError):
    """Bad settings data (an import, a value out of range)."""


def _get_blob(nvs, key, size=_BLOB_MAX):
    buf = bytearray(size)
    try:
        n = nvs.get_blob(key, buf)
    except OSError as e:
        if layout.is_missing(e):
            return None
        raise
    return bytes(buf[:n])


def _get_i32(nvs, key):
    try:
        return nvs.get_i32(key)
    except OSError as e:
        if layout.is_missing(e):
            return None
        raise


def _erase(nvs, key):
    try:
        nvs.erase_key(key)
    except OSError as e:
        if not layout.is_missing(e):
            raise


class Settings:
    """account: {registrar, proxy, user, password, display} (str, "" when
    unset); values: the hush_cfg settings (int or str); ca_certs: DER
    certificates. open_ns(namespace) gives an esp32.NVS-like handle."""

    def __init__(self, open_ns):
        self._open = open_ns
        self.account = {}
        for name in ACCOUNT_FIELDS:
            self.account[name] = ""
        self.values = dict(DEFAULTS)
        self.ca_certs = []

    def __repr__(self):  # never the password
        return "Settings(user=%r, registrar=%r)" % (self.account["user"], self.account["registrar"])

    # -- NVS ---------------------------------------------------------------

    def load(self):
        sip = self._open(layout.NS_SIP)
        for name in ACCOUNT_FIELDS:
            raw = _get_blob(sip, name)
            self.account[name] = raw.decode() if raw is not None else ""
        cfg = self._open(layout.NS_CFG)
        for key, kind in layout.CFG_SETTINGS:
            if kind == "i32":
                value = _get_i32(cfg, key)
            else:
                raw = _get_blob(cfg, key)
                value = raw.decode() if raw is not None else None
            self.values[key] = DEFAULTS[key] if value is None else value
        trust = self._open(layout.NS_TRUST)
        self.ca_certs = []
        for i in range(layout.MAX_CA):
            der = _get_blob(trust, layout.ca_key(i), _CERT_MAX)
            if der is not None:
                self.ca_certs.append(der)
        return self

    def save(self):
        sip = self._open(layout.NS_SIP)
        for name in ACCOUNT_FIELDS:
            if self.account[name]:
                sip.set_blob(name, self.account[name].encode())
            else:
                _erase(sip, name)
        sip.commit()
        cfg = self._open(layout.NS_CFG)
        for key, kind in layout.CFG_SETTINGS:
            value = self.values[key]
            if kind == "i32":
                cfg.set_i32(key, value)
            else:
                cfg.set_blob(key, value.encode())
        cfg.commit()
        trust = self._open(layout.NS_TRUST)
        for i in range(layout.MAX_CA):
            if i < len(self.ca_certs):
                trust.set_blob(layout.ca_key(i), self.ca_certs[i])
            else:
                _erase(trust, layout.ca_key(i))
        trust.commit()

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
        self.values[key] = value

    def set_account(self, name, value):
        if name not in ACCOUNT_FIELDS:
            raise SettingsError("unknown account field %r" % (name,))
        if not isinstance(value, str) or len(value.encode()) > _BLOB_MAX:
            raise SettingsError("account field %s must be text (at most %d bytes)" % (name, _BLOB_MAX))
        self.account[name] = value

    @property
    def withhold_caller_id(self):
        return self.values["hide_callid"] == 1

    # -- export / import ---------------------------------------------------

    def export(self, include_password=False):
        """A JSON-ready dict of everything; the password only if asked."""
        account = {}
        for name in ACCOUNT_FIELDS:
            if name != "password" or include_password:
                account[name] = self.account[name]
        return {
            "format": FORMAT,
            "version": VERSION,
            "account": account,
            "settings": dict(self.values),
            "ca_certs": [binascii.b2a_base64(c).decode().strip() for c in self.ca_certs],
        }

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
        if not isinstance(account, dict) or not isinstance(values, dict) or not isinstance(certs, (list, type(None))):
            raise SettingsError("account and settings must be objects, ca_certs a list")
        trial = Settings(self._open)
        trial.account = dict(self.account)
        trial.values = dict(self.values)
        for name in account:
            trial.set_account(name, account[name])
        for key in values:
            trial.set(key, values[key])
        if certs is not None and len(certs) > layout.MAX_CA:
            raise SettingsError("at most %d CA certificates" % layout.MAX_CA)
        ders = None if certs is None else []
        for text in certs or ():
            try:
                ders.append(binascii.a2b_base64(text))
            except (ValueError, TypeError):
                raise SettingsError("a CA certificate is not base64")
        self.account = trial.account
        self.values = trial.values
        if ders is not None:
            self.ca_certs = ders
