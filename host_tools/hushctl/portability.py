"""Data portability: a handset's settings and contacts out to one JSON
document and back in, in the handset's own format.

The document is what the firmware exports itself (the console's `export`
event): `hushphone.app.settings.Settings.export()` -- format
"hushphone-settings", the account without its password, the hush_cfg
settings, the CA certificates where the handset keeps them in NVS -- plus
"contacts_vcf", the address book as vCard 4.0 text. The firmware's own code
reads, checks and writes it here too, so both sides agree by construction.

No password or private key ever leaves the handset this way (the export
never holds them). An import checks the whole document before changing
anything; parts it does not carry (password, ca_certs, contacts_vcf) are
kept. A simulated handset is read from its storage directory; a real one
over its serial port with mpremote, running the firmware's code there."""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography import x509

from hushphone import storage_layout as layout
from hushphone.app import settings as fw_settings
from hushphone.app.contacts import Contacts, ContactsError
from hushphone.hal.esp32.nvs_store import NvsStore
from hushphone.hal.interfaces import HalError
from hushphone.hal.unix.nvs import Nvs

from hushctl.errors import HushctlError

FORMAT = fw_settings.FORMAT
VERSION = fw_settings.VERSION
CONTACTS_FIELD = fw_settings.CONTACTS_FIELD
OLD_FORMAT = "hushphone-handset-export"  # hushctl's own format before there was one


class PortabilityError(HushctlError):
    pass


def document(settings, contacts_vcf):
    """The export document: a Settings.export() dict plus the contacts
    (None: no contacts field, an import then keeps the handset's)."""
    doc = dict(settings)
    if contacts_vcf is not None:
        doc[CONTACTS_FIELD] = contacts_vcf
    return doc


def contact_count(doc):
    return _parsed_contacts(doc[CONTACTS_FIELD]) if CONTACTS_FIELD in doc else 0


def _parsed_contacts(vcf):
    """How many contacts vCard text holds, read by the handset's codec."""
    try:
        return Contacts(None).import_vcard(vcf, replace=True)
    except ContactsError as e:
        raise PortabilityError("contacts: %s" % e)


def check_document(doc):
    """Raise PortabilityError unless `doc` (a dict) is an importable
    document; the same checks the handset makes, plus X.509 parsing of the
    CA certificates (which the handset cannot do before it uses them)."""
    if isinstance(doc, dict) and doc.get("format") == OLD_FORMAT:
        raise PortabilityError("this is an old %s document: export the handset again" % OLD_FORMAT)
    trial = fw_settings.Settings(None, None)
    try:
        trial.import_(doc)
    except fw_settings.SettingsError as e:
        raise PortabilityError(str(e))
    for i, der in enumerate(trial.ca_certs):
        try:
            x509.load_der_x509_certificate(der)
        except ValueError:
            raise PortabilityError("CA certificate %d is not a DER X.509 certificate" % (i + 1))
    if CONTACTS_FIELD in doc:
        if not isinstance(doc[CONTACTS_FIELD], str):
            raise PortabilityError("%s must be vCard text" % CONTACTS_FIELD)
        _parsed_contacts(doc[CONTACTS_FIELD])


def parse_document(text):
    """A checked document from JSON text: an export file, or the console's
    `export` event line as the handset printed it (`@event {...}`)."""
    text = text.strip()
    if text.startswith("@event "):
        text = text[len("@event "):]
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise PortabilityError("not a JSON export: %s" % e)
    if isinstance(doc, dict) and doc.get("event") == "export":
        if not isinstance(doc.get("settings"), dict):
            raise PortabilityError("an export event without settings")
        doc = document(doc["settings"], doc.get(CONTACTS_FIELD))
    check_document(doc)
    return doc


# --- simulated handset --------------------------------------------------------
# The same stores hushphone.hal.unix.board gives the phone: hush_cfg and
# hush_sip; a simulated handset reads its CA certificates from its config's
# ca_der files, not from NVS, so they are not part of its settings. Its
# address book is ROOT/contacts.vcf (hushctl.sim's contacts_path).
SIM_CONTACTS = "contacts.vcf"


def _sim(sim_dir):
    root = Path(sim_dir)
    if not (root / "nvs").is_dir():
        raise PortabilityError("%s is not a simulated handset (no nvs/ storage)" % sim_dir)
    settings = fw_settings.Settings(NvsStore(Nvs(str(root), layout.NS_CFG)), NvsStore(Nvs(str(root), layout.NS_SIP)))
    return settings, Contacts(str(root / SIM_CONTACTS))


def _load(*parts):
    try:
        for part in parts:
            part.load()
    except (HalError, ValueError, OSError) as e:  # ContactsError is a ValueError
        raise PortabilityError("the handset's data cannot be read: %s" % e)


def report_sim(sim_dir, config=None):
    """What the proxy, the peer and the network can see of a simulated
    handset's calls (hushphone.app.transparency, the About screen's own
    code), from its settings in NVS and its phone.json `config` (a dict:
    what the handset reads at start, overriding NVS as it does), if given."""
    from hushphone.app import transparency
    from hushphone.sip.message import SipError, parse_uri

    config = config or {}
    settings, _contacts = _sim(sim_dir)
    _load(settings)
    try:
        settings.apply_config(config)
    except fw_settings.SettingsError as e:
        raise PortabilityError("the config is not valid: %s" % e)
    account = settings.account
    if not account["user"]:
        raise PortabilityError("%s has no SIP account" % sim_dir)
    try:
        domain = parse_uri(account["registrar"] or "sip:localhost").host
    except SipError as e:
        raise PortabilityError("the registrar is not a SIP URI: %s" % e)
    proxy = account["proxy"].split(":", 1)[1] if account["proxy"].startswith("sip") else account["proxy"]
    host = config.get("server_hostname") or proxy.split(";")[0].rsplit(":", 1)[0] or domain
    direct = config.get("listen_port") is not None or config.get("register", True) is False
    turn = settings.turn
    return transparency.report("sip:%s@%s" % (account["user"], domain), None if direct else host,
                               settings.withhold_caller_id, config.get("zrtp", True), settings.sdes_fallback,
                               bool(config.get("allow_insecure_media", False)), (turn[0], turn[1]) if turn else None,
                               direct)


def export_sim(sim_dir):
    settings, contacts = _sim(sim_dir)
    _load(settings, contacts)
    return document(settings.export(), contacts.export_vcard())


def import_sim(sim_dir, doc):
    """Import a checked document. Returns the names of parts that were
    not taken (a simulated handset keeps no CA certificates in NVS)."""
    check_document(doc)
    settings, contacts = _sim(sim_dir)
    _load(settings)  # (the old address book is replaced or left alone, never read)
    settings.import_(doc)  # checked above: cannot fail half-way
    if CONTACTS_FIELD in doc:
        contacts.import_vcard(doc[CONTACTS_FIELD], replace=True)
    settings.save()
    if CONTACTS_FIELD in doc:
        contacts.save()
    return ["ca_certs"] if "ca_certs" in doc else []


# --- real handset over mpremote ------------------------------------------------
# The scripts run the handset's own firmware modules in its interpreter
# (mpremote `resume`: no soft reset, but the app is interrupted: reset the
# handset afterwards). The address book travels as a file with `fs cp`, so
# a large one is streamed rather than held in a script; it is addressed
# relative to the handset's working directory, which is / on the device.
_REMOTE_CONTACTS = layout.CONTACTS_PATH.lstrip("/")
_REMOTE_UPLOAD = "hush_import.vcf"  # the new address book until the handset has checked it

_OPEN_SETTINGS = """
import json, os
from hushphone import storage_layout as layout
from hushphone.app.settings import Settings, SettingsError
from hushphone.app.contacts import Contacts, ContactsError
from hushphone.hal.esp32.nvs_store import open_store
s = Settings(open_store(layout.NS_CFG), open_store(layout.NS_SIP), open_store(layout.NS_TRUST)).load()
"""

_EXPORT_SCRIPT = _OPEN_SETTINGS + """
print("HUSHJSON" + json.dumps(s.export()))
try:
    os.stat(%(contacts)r)
    print("HUSHCONTACTS")
except OSError:
    pass
"""

_IMPORT_SCRIPT = _OPEN_SETTINGS + """
new = None
try:
    s.import_(%(doc)r)
    if %(upload)r:
        new = Contacts(%(upload)r).load()
except (SettingsError, ContactsError) as e:
    print("HUSHERR" + str(e))
else:
    s.save()
    if new is not None:
        try:
            os.mkdir(%(dir)r)
        except OSError:
            pass
        os.rename(%(upload)r, %(contacts)r)
    print("HUSHOK")
if %(upload)r:
    try:
        os.remove(%(upload)r)
    except OSError:
        pass
"""


def _mpremote(port, *args, timeout=60):
    cmd = [sys.executable, "-m", "mpremote", "connect", port, "resume"] + list(args)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", errors="replace",
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PortabilityError("mpremote on %s timed out" % port)
    if result.returncode != 0:
        lines = (result.stderr.strip() or result.stdout.strip() or "failed").splitlines()
        raise PortabilityError("mpremote on %s: %s" % (port, lines[-1]))
    return result.stdout


def _marked(out, marker):
    lines = [l for l in out.splitlines() if l.startswith(marker)]
    return lines[-1][len(marker):] if lines else None


def export_port(port):
    out = _mpremote(port, "exec", _EXPORT_SCRIPT % {"contacts": _REMOTE_CONTACTS})
    raw = _marked(out, "HUSHJSON")
    if raw is None:
        raise PortabilityError("the handset did not answer the export: %s" % (out.strip().splitlines() or ["-"])[-1])
    try:
        settings = json.loads(raw)
    except ValueError:
        raise PortabilityError("the handset's export is not JSON")
    vcf = ""  # no address book on the handset yet
    if "HUSHCONTACTS" in out:
        with tempfile.TemporaryDirectory(prefix="hush-export-") as tmp:
            local = Path(tmp) / "contacts.vcf"
            _mpremote(port, "fs", "cp", ":" + _REMOTE_CONTACTS, str(local))
            vcf = local.read_bytes().decode("utf-8")
    doc = document(settings, vcf)
    check_document(doc)
    return doc


def import_port(port, doc):
    """Import a checked document; the handset checks it again with its own
    code before it changes anything."""
    check_document(doc)
    settings = {k: v for k, v in doc.items() if k != CONTACTS_FIELD}
    upload = _REMOTE_UPLOAD if CONTACTS_FIELD in doc else ""
    with tempfile.TemporaryDirectory(prefix="hush-import-") as tmp:
        if upload:
            local = Path(tmp) / "contacts.vcf"
            local.write_bytes(doc[CONTACTS_FIELD].encode("utf-8"))
            _mpremote(port, "fs", "cp", str(local), ":" + upload)
        out = _mpremote(port, "exec", _IMPORT_SCRIPT % {
            "doc": json.dumps(settings), "upload": upload, "contacts": _REMOTE_CONTACTS,
            "dir": _REMOTE_CONTACTS.rsplit("/", 1)[0]})
    if _marked(out, "HUSHERR") is not None:
        raise PortabilityError("the handset refused the import: %s" % _marked(out, "HUSHERR"))
    if "HUSHOK" not in out:
        raise PortabilityError("the handset did not confirm the import")
    return []
