"""Data portability: `hushctl handset export/import` moves a handset's
settings and contacts in the handset's own export document (format
"hushphone-settings" plus "contacts_vcf", vCard 4.0) between provisioned
simulated handsets: never the SIP password or the identity; what a document
does not carry is kept; bad documents are refused without writing anything.
The real-handset path (mpremote running the firmware's own code on the
handset) runs here against the MicroPython unix port on a pseudo-terminal."""
import json

import pytest

from tests.host.provision_helpers import (hushctl, ok, one_line_error, passphrase_file, sim_namespace,
                                          tree_snapshot)

SECRET = "sip-secret-never-exported-8812"
VCARDS = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Zoë Dupont\r\nN:Dupont;Zoë;;Dr.;\r\n"
    "TEL;VALUE=uri;TYPE=\"work,voice\";PREF=1:tel:+33-1-23-45-67-89\r\n"
    "TEL;VALUE=uri;TYPE=cell:tel:+33600000000\r\nEMAIL;TYPE=work:zoe@example.org\r\n"
    "NOTE:Met at the fair\\, hall 3.\\nCall before noon; a long note that must be f\r\n"
    " olded over two lines.\r\nX-CUSTOM;TYPE=a:kept verbatim\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Reception\r\nTEL;VALUE=uri:tel:100\r\nEND:VCARD\r\n"
)
SETTINGS_A = {"ring_vol": 7, "hide_callid": 1, "log_days": 14, "lang": "fr-CH", "turn_uri": "turns:relay.example:5349",
              "turn_user": "desk-a", "sdes_fallback": 0}


def _settings(sim_dir):
    """The firmware's Settings over a simulated handset's NVS."""
    from hushphone.app.settings import Settings
    from hushphone.hal.esp32.nvs_store import NvsStore
    from hushphone.hal.unix.nvs import Nvs

    return Settings(NvsStore(Nvs(str(sim_dir), "hush_cfg")), NvsStore(Nvs(str(sim_dir), "hush_sip"))).load()


def _contacts(vcf):
    from hushphone import vcard

    return vcard.parse(vcf)


@pytest.fixture(scope="module")
def handsets(tmp_path_factory):
    base = tmp_path_factory.mktemp("port")
    pw = passphrase_file(base)
    (base / "sip-pw").write_text(SECRET)
    ok(hushctl("keys", "init", base / "k", "--passphrase-file", pw))
    for name in ("a", "b"):
        ok(hushctl("provision", "--keys", base / "k", "--passphrase-file", pw, "--board", "sim", "--sim", base / name,
                   "--sip-registrar", "sips:pbx-%s.example.org" % name, "--sip-user", name,
                   "--sip-password-file", base / "sip-pw", "--sip-display", "Desk %s" % name.upper()))
    a = _settings(base / "a")
    for key, value in SETTINGS_A.items():
        a.set(key, value)
    a.save()
    (base / "a" / "contacts.vcf").write_bytes(VCARDS.encode("utf-8"))
    return base


def test_export_then_import_moves_settings_and_contacts(handsets, tmp_path):
    a, b = handsets / "a", handsets / "b"
    ok(hushctl("handset", "export", "--sim", a, "--out", tmp_path / "a.json", "--vcard", tmp_path / "a.vcf"))
    text = (tmp_path / "a.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    # The firmware's own document: Settings.export() plus the contacts.
    assert doc == {"format": "hushphone-settings", "version": 1,
                   "account": {"registrar": "sips:pbx-a.example.org", "proxy": "", "user": "a", "display": "Desk A"},
                   "settings": SETTINGS_A, "contacts_vcf": doc["contacts_vcf"]}
    assert doc == dict(_settings(a).export(), contacts_vcf=doc["contacts_vcf"])
    reception, zoe = _contacts(doc["contacts_vcf"])  # the handset keeps them sorted by name
    assert zoe["fn"] == "Zoë Dupont" and zoe["n"] == ["Dupont", "Zoë", "", "Dr.", ""]
    assert zoe["tel"][0] == {"value": "tel:+33-1-23-45-67-89", "types": ["work", "voice"], "pref": 1}
    assert zoe["note"] == "Met at the fair, hall 3.\nCall before noon; a long note that must be folded over two lines."
    assert zoe["extra"] == ["X-CUSTOM;TYPE=a:kept verbatim"]
    assert reception == {"fn": "Reception", "tel": [{"value": "tel:100"}]}
    # No password, no key, no identity leaves the handset.
    ident = sim_namespace(a, "hush_id")
    assert SECRET not in text and "password" not in text
    assert ident["dev_key"].hex() not in text and ident["dev_cert"].hex() not in text and "hush_id" not in text
    # The vCard file is RFC 6350 text, the same as the document's.
    vcf = (tmp_path / "a.vcf").read_bytes().decode("utf-8")
    assert vcf == doc["contacts_vcf"] and vcf.startswith("BEGIN:VCARD\r\nVERSION:4.0\r\n")
    assert all(len(l.encode()) <= 75 for l in vcf.split("\r\n"))

    ident_before, trust_before = sim_namespace(b, "hush_id"), sim_namespace(b, "hush_trust")
    ok(hushctl("handset", "import", "--sim", b, "--in", tmp_path / "a.json"))
    got = _settings(b)
    assert got.values == SETTINGS_A
    assert got.account == {"registrar": "sips:pbx-a.example.org", "proxy": "", "user": "a", "display": "Desk A",
                           "password": SECRET}  # b's own password: not in the document, kept
    assert _contacts((b / "contacts.vcf").read_text(encoding="utf-8")) == [reception, zoe]
    assert sim_namespace(b, "hush_id") == ident_before and sim_namespace(b, "hush_trust") == trust_before
    ok(hushctl("handset", "export", "--sim", b, "--out", tmp_path / "b.json"))
    assert json.loads((tmp_path / "b.json").read_text(encoding="utf-8")) == doc

    # Contacts alone from a vCard file: settings and account stay.
    (tmp_path / "one.vcf").write_text("BEGIN:VCARD\nVERSION:4.0\nFN:Solo\nEND:VCARD\n")
    ok(hushctl("handset", "import", "--sim", b, "--vcard", tmp_path / "one.vcf"))
    ok(hushctl("handset", "export", "--sim", b, "--out", tmp_path / "c.json"))
    solo = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert _contacts(solo["contacts_vcf"]) == [{"fn": "Solo"}]
    assert dict(solo, contacts_vcf=None) == dict(doc, contacts_vcf=None)

    # A document without contacts keeps the handset's; one setting alone
    # changes that setting only.
    (tmp_path / "vol.json").write_text(json.dumps({"format": "hushphone-settings", "version": 1,
                                                   "settings": {"ring_vol": 2}}))
    ok(hushctl("handset", "import", "--sim", b, "--in", tmp_path / "vol.json"))
    assert _settings(b).values == dict(SETTINGS_A, ring_vol=2)
    assert _contacts((b / "contacts.vcf").read_text(encoding="utf-8")) == [{"fn": "Solo"}]


def test_bad_documents_are_refused_and_nothing_changes(handsets, tmp_path):
    b = handsets / "b"
    before = tree_snapshot(b)
    good = {"format": "hushphone-settings", "version": 1}
    bad = {
        "v3.vcf": ("BEGIN:VCARD\nVERSION:3.0\nFN:Old\nEND:VCARD\n", "--vcard", "only vCard 4.0"),
        "nofn.vcf": ("BEGIN:VCARD\nVERSION:4.0\nTEL:1\nEND:VCARD\n", "--vcard", "needs FN"),
        "open.vcf": ("BEGIN:VCARD\nVERSION:4.0\nFN:x\n", "--vcard", "not closed"),
        "latin1.vcf": ("BEGIN:VCARD\nVERSION:4.0\nFN:Jörg\nEND:VCARD\n".encode("latin-1"), "--vcard", "not UTF-8"),
        "junk.json": ("{not json", "--in", "not a JSON export"),
        "other.json": (json.dumps({"format": "something-else", "version": 1}), "--in", "not a hushphone-settings"),
        "v2.json": (json.dumps(dict(good, version=2)), "--in", "version 1"),
        "old.json": (json.dumps({"format": "hushphone-handset-export", "version": 1, "settings": {}}), "--in",
                     "old hushphone-handset-export"),
        "unknown.json": (json.dumps(dict(good, settings={"raw": 1})), "--in", "unknown setting"),
        "range.json": (json.dumps(dict(good, settings={"ring_vol": 11})), "--in", "ring_vol must be 0..10"),
        "type.json": (json.dumps(dict(good, settings={"lang": 5})), "--in", "lang must be text"),
        "account.json": (json.dumps(dict(good, account={"pin": "1234"})), "--in", "unknown account field"),
        "cas.json": (json.dumps(dict(good, ca_certs=["AAAA"])), "--in", "not a DER X.509"),
        "b64.json": (json.dumps(dict(good, ca_certs=["!!notbase64"])), "--in", "not base64"),
        "vcf.json": (json.dumps(dict(good, contacts_vcf="BEGIN:VCARD\nVERSION:4.0\nTEL:1\nEND:VCARD\n")), "--in",
                     "needs FN"),
        "vcftype.json": (json.dumps(dict(good, contacts_vcf=["x"])), "--in", "must be vCard text"),
        # A bad setting is refused even when the contacts in the document are fine.
        "late.json": (json.dumps(dict(good, contacts_vcf=VCARDS, settings={"ring_vol": 3, "log_days": 0})), "--in",
                      "log_days must be 1..3650"),
        "event.json": (json.dumps({"event": "export", "contacts_vcf": ""}), "--in", "without settings"),
    }
    for name, (content, option, fragment) in bad.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        one_line_error(hushctl("handset", "import", "--sim", b, option, path), fragment)
    one_line_error(hushctl("handset", "export", "--sim", tmp_path / "nothing", "--out", tmp_path / "x.json"),
                   "not a simulated handset")
    one_line_error(hushctl("handset", "import", "--sim", tmp_path / "nothing", "--in", tmp_path / "v2.json"),
                   "version 1")
    assert tree_snapshot(b) == before and not (tmp_path / "x.json").exists()


@pytest.fixture
def handset_on_a_pty(tmp_path):
    """A MicroPython unix port on a pseudo-terminal, as mpremote sees a
    handset on a serial port: its working directory is a simulated handset
    and its `esp32` module's NVS is the simulated store."""
    from tests.support.pty_board import micropython_on_a_pty
    from tests.support.runtimes import micropython_env

    sim = tmp_path / "handset"
    (sim / "nvs").mkdir(parents=True)
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "esp32.py").write_text("from hushphone.hal.unix.nvs import Nvs\n\n"
                                   "def NVS(namespace):\n    return Nvs('.', namespace)\n")
    with micropython_on_a_pty(sim, micropython_env(shim)) as port:
        yield port, sim


def test_real_handset_path_over_mpremote(handsets, handset_on_a_pty, tmp_path, monkeypatch):
    """`--port`: the firmware's Settings and Contacts run on the handset
    through mpremote exec; the address book travels with fs cp. A real
    handset keeps its CA certificates in NVS, so they are exported too."""
    from hushctl import lab, portability

    port, sim = handset_on_a_pty
    ok(hushctl("handset", "export", "--port", port, "--out", tmp_path / "empty.json"))
    empty = json.loads((tmp_path / "empty.json").read_text(encoding="utf-8"))
    assert empty["settings"] == {"ring_vol": 5, "hide_callid": 0, "log_days": 30, "lang": "en", "turn_uri": "",
                                 "turn_user": "", "sdes_fallback": 1}
    assert empty["account"]["user"] == "" and empty["ca_certs"] == [] and empty["contacts_vcf"] == ""

    ok(hushctl("handset", "export", "--sim", handsets / "a", "--out", tmp_path / "a.json"))
    doc = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    ca = lab.LabPki(tmp_path / "pki").ca_der.read_bytes()
    import base64

    doc["ca_certs"] = [base64.b64encode(ca).decode()]
    (tmp_path / "with-ca.json").write_text(json.dumps(doc))
    ok(hushctl("handset", "import", "--port", port, "--in", tmp_path / "with-ca.json"))
    assert sim_namespace(sim, "hush_cfg") == {k: (v.encode() if isinstance(v, str) else v)
                                              for k, v in SETTINGS_A.items()}
    assert sim_namespace(sim, "hush_trust") == {"ca0": ca}
    assert sim_namespace(sim, "hush_sip")["user"] == b"a" and "password" not in sim_namespace(sim, "hush_sip")
    assert (sim / "data" / "contacts.vcf").read_bytes().decode("utf-8") == doc["contacts_vcf"]
    assert not (sim / "hush_import.vcf").exists()
    ok(hushctl("handset", "export", "--port", port, "--out", tmp_path / "back.json"))
    assert json.loads((tmp_path / "back.json").read_text(encoding="utf-8")) == doc

    # The handset checks the document again with its own code: a bad one
    # that got past the host is refused there and nothing changes.
    before = tree_snapshot(sim)
    monkeypatch.setattr(portability, "check_document", lambda doc: None)
    with pytest.raises(portability.PortabilityError, match="refused the import: setting log_days must be 1..3650"):
        portability.import_port(port, dict(doc, settings={"ring_vol": 1, "log_days": 0}))
    with pytest.raises(portability.PortabilityError, match="refused the import: contacts file: .*needs FN"):
        portability.import_port(port, dict(doc, contacts_vcf="BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n"))
    assert tree_snapshot(sim) == before
