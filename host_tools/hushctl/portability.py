"""Data portability: a handset's settings (NVS hush_cfg) and contacts
(/data/contacts.vcf, vCard 4.0) out to one JSON document and back in.

Identity, trust anchors and the SIP account are not part of it: no key or
password ever leaves the handset this way. A simulated handset is read from
its storage directory; a real one over its serial port with mpremote."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from hushphone import storage_layout as layout
from hushphone.hal.unix.nvs import Nvs, namespace_path, read_namespace

from hushctl import atomic_files, pki, vcard
from hushctl.errors import HushctlError

FORMAT = "hushphone-handset-export"
VERSION = 1
_I32_MIN, _I32_MAX = -(1 << 31), (1 << 31) - 1


class PortabilityError(HushctlError):
    pass


def _setting_json(value):
    if isinstance(value, int):
        return {"type": "i32", "value": value}
    try:
        return {"type": "blob", "text": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"type": "blob", "hex": value.hex()}


def _setting_value(key, item):
    if not isinstance(key, str) or not 0 < len(key) <= layout.NAME_MAX:
        raise PortabilityError("setting name %r: 1 to %d characters" % (key, layout.NAME_MAX))
    if not isinstance(item, dict) or item.get("type") not in ("i32", "blob"):
        raise PortabilityError("setting %s: type must be i32 or blob" % key)
    if item["type"] == "i32":
        value = item.get("value")
        if not isinstance(value, int) or isinstance(value, bool) or not _I32_MIN <= value <= _I32_MAX:
            raise PortabilityError("setting %s: value must be a 32-bit integer" % key)
        return value
    if isinstance(item.get("text"), str):
        return item["text"].encode("utf-8")
    try:
        return bytes.fromhex(item["hex"])
    except (KeyError, TypeError, ValueError):
        raise PortabilityError("setting %s: a blob needs 'text' or 'hex'" % key)


def document(settings, contacts):
    return {"format": FORMAT, "version": VERSION, "exported_at": pki.utcnow().isoformat(),
            "settings": {k: _setting_json(v) for k, v in sorted(settings.items())}, "contacts": contacts}


def parse_document(text):
    """(settings {key: int | bytes}, contacts) from export JSON; validated."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise PortabilityError("not a JSON export: %s" % e)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise PortabilityError("not a %s version %d document" % (FORMAT, VERSION))
    settings = doc.get("settings", {})
    contacts = doc.get("contacts", [])
    if not isinstance(settings, dict) or not isinstance(contacts, list):
        raise PortabilityError("settings must be an object and contacts a list")
    return {k: _setting_value(k, v) for k, v in settings.items()}, [vcard.check(c) for c in contacts]


# --- simulated handset --------------------------------------------------------

def _contacts_path(sim_dir):
    return Path(sim_dir) / layout.CONTACTS_PATH.lstrip("/")


def _check_sim(sim_dir):
    if not (Path(sim_dir) / "nvs").is_dir():
        raise PortabilityError("%s is not a simulated handset (no nvs/ storage)" % sim_dir)


def export_sim(sim_dir):
    _check_sim(sim_dir)
    settings = read_namespace(str(sim_dir), layout.NS_CFG)
    path = _contacts_path(sim_dir)
    contacts = vcard.parse(path.read_text(encoding="utf-8")) if path.exists() else []
    return document(settings, contacts)


def import_sim(sim_dir, settings, contacts):
    """Replace the handset's settings and address book."""
    _check_sim(sim_dir)
    vcf = vcard.serialize(contacts)  # validate everything before writing
    old = Path(namespace_path(str(sim_dir), layout.NS_CFG))
    if old.exists():
        old.unlink()
    nvs = Nvs(str(sim_dir), layout.NS_CFG)
    for key, value in settings.items():
        (nvs.set_i32 if isinstance(value, int) else nvs.set_blob)(key, value)
    nvs.commit()
    atomic_files.write_text(_contacts_path(sim_dir), vcf)


# --- real handset over mpremote ------------------------------------------------
# esp32.NVS cannot list a namespace: the settings read and written are the
# ones storage_layout.CFG_SETTINGS names. mpremote runs with `resume` (no soft
# reset: the scripts run in the handset's interpreter after interrupting the
# app; reset the handset afterwards), and the address book is addressed
# relative to the handset's working directory, which is / on the device.
_REMOTE_CONTACTS = layout.CONTACTS_PATH.lstrip("/")

_READ_SCRIPT = """
import json
from binascii import hexlify
from esp32 import NVS
nvs = NVS(%(ns)r)
out = {}
buf = bytearray(512)
for key, kind in %(settings)r:
    try:
        out[key] = nvs.get_i32(key) if kind == "i32" else hexlify(buf[:nvs.get_blob(key, buf)]).decode()
    except OSError:
        pass
print("HUSHJSON" + json.dumps(out))
import os
try:
    os.stat(%(contacts)r)
    print("HUSHCONTACTS")
except OSError:
    pass
"""

_MKDIR_SCRIPT = """
try:
    os.mkdir(%(dir)r)
except OSError:
    pass
"""

_WRITE_SCRIPT = """
from binascii import unhexlify
from esp32 import NVS
nvs = NVS(%(ns)r)
for key, kind, value in %(values)r:
    if kind == "i32":
        nvs.set_i32(key, value)
    else:
        nvs.set_blob(key, unhexlify(value))
nvs.commit()
print("HUSHOK")
"""


def _mpremote(port, *args, timeout=60):
    cmd = [sys.executable, "-m", "mpremote", "connect", port, "resume"] + list(args)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PortabilityError("mpremote on %s timed out" % port)
    if result.returncode != 0:
        lines = (result.stderr.strip() or result.stdout.strip() or "failed").splitlines()
        raise PortabilityError("mpremote on %s: %s" % (port, lines[-1]))
    return result.stdout


def export_port(port):
    kinds = dict(layout.CFG_SETTINGS)
    out = _mpremote(port, "exec", _READ_SCRIPT % {"ns": layout.NS_CFG, "settings": layout.CFG_SETTINGS,
                                                  "contacts": _REMOTE_CONTACTS})
    marker = [l for l in out.splitlines() if l.startswith("HUSHJSON")]
    if not marker:
        raise PortabilityError("the handset did not answer the settings query")
    raw = json.loads(marker[-1][len("HUSHJSON"):])
    settings = {k: (v if kinds[k] == "i32" else bytes.fromhex(v)) for k, v in raw.items()}
    contacts = []  # no address book on the handset yet
    if "HUSHCONTACTS" in out:
        with tempfile.TemporaryDirectory(prefix="hush-export-") as tmp:
            local = Path(tmp) / "contacts.vcf"
            _mpremote(port, "fs", "cp", ":" + _REMOTE_CONTACTS, str(local))
            contacts = vcard.parse(local.read_text(encoding="utf-8"))
    return document(settings, contacts)


def import_port(port, settings, contacts):
    kinds = dict(layout.CFG_SETTINGS)
    unknown = sorted(set(settings) - set(kinds))
    if unknown:
        raise PortabilityError("a real handset only takes the known settings; unknown: %s" % ", ".join(unknown))
    values = []
    for key, value in settings.items():
        if (kinds[key] == "i32") != isinstance(value, int):
            raise PortabilityError("setting %s must be %s" % (key, kinds[key]))
        values.append((key, kinds[key], value if isinstance(value, int) else value.hex()))
    vcf = vcard.serialize(contacts)
    with tempfile.TemporaryDirectory(prefix="hush-import-") as tmp:
        local = Path(tmp) / "contacts.vcf"
        local.write_text(vcf, encoding="utf-8")
        out = _mpremote(port, "exec", _WRITE_SCRIPT % {"ns": layout.NS_CFG, "values": values})
        if "HUSHOK" not in out:
            raise PortabilityError("the handset did not confirm the settings")
        _mpremote(port, "exec", _MKDIR_SCRIPT % {"dir": _REMOTE_CONTACTS.rsplit("/", 1)[0]})
        _mpremote(port, "fs", "cp", str(local), ":" + _REMOTE_CONTACTS)
