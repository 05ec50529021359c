"""Data portability: `hushctl handset export/import` moves settings (NVS
hush_cfg) and contacts (vCard 4.0) between simulated handsets, never
identity or secrets; bad documents are refused without writing anything.
The scripts that read/write NVS on a real handset over mpremote run here on
the MicroPython unix port against the simulated NVS."""
import json

import pytest

from tests.host.provision_helpers import (hushctl, ok, one_line_error, passphrase_file, sim_namespace,
                                          tree_snapshot)

VCARDS = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Zoë Dupont\r\nN:Dupont;Zoë;;Dr.;\r\n"
    "TEL;VALUE=uri;TYPE=\"work,voice\";PREF=1:tel:+33-1-23-45-67-89\r\n"
    "TEL;VALUE=uri;TYPE=cell:tel:+33600000000\r\nEMAIL;TYPE=work:zoe@example.org\r\n"
    "NOTE:Met at the fair\\, hall 3.\\nCall before noon; a long note that must be f\r\n"
    " olded over two lines.\r\nX-CUSTOM;TYPE=a:kept verbatim\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Reception\r\nTEL;VALUE=uri:tel:100\r\nEND:VCARD\r\n"
)


@pytest.fixture(scope="module")
def handsets(tmp_path_factory):
    base = tmp_path_factory.mktemp("port")
    pw = passphrase_file(base)
    ok(hushctl("keys", "init", base / "k", "--passphrase-file", pw))
    for name in ("a", "b"):
        ok(hushctl("provision", "--keys", base / "k", "--passphrase-file", pw, "--board", "sim", "--sim", base / name))
    from hushphone.hal.unix.nvs import Nvs

    cfg = Nvs(str(base / "a"), "hush_cfg")
    cfg.set_i32("ring_vol", 7)
    cfg.set_i32("hide_callid", 1)
    cfg.set_blob("lang", "fr-CH")
    cfg.set_blob("raw", b"\x00\xff\x10")
    cfg.commit()
    (base / "a" / "data").mkdir()
    (base / "a" / "data" / "contacts.vcf").write_bytes(VCARDS.encode("utf-8"))
    return base


def test_export_then_import_moves_settings_and_contacts(handsets, tmp_path):
    a, b = handsets / "a", handsets / "b"
    ok(hushctl("handset", "export", "--sim", a, "--out", tmp_path / "a.json", "--vcard", tmp_path / "a.vcf"))
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["settings"] == {"hide_callid": {"type": "i32", "value": 1}, "lang": {"type": "blob", "text": "fr-CH"},
                               "raw": {"type": "blob", "hex": "00ff10"}, "ring_vol": {"type": "i32", "value": 7}}
    zoe = doc["contacts"][0]
    assert zoe["fn"] == "Zoë Dupont" and zoe["n"] == ["Dupont", "Zoë", "", "Dr.", ""]
    assert zoe["tel"][0] == {"value": "tel:+33-1-23-45-67-89", "types": ["work", "voice"], "pref": 1}
    assert zoe["note"] == "Met at the fair, hall 3.\nCall before noon; a long note that must be folded over two lines."
    assert zoe["extra"] == ["X-CUSTOM;TYPE=a:kept verbatim"]
    assert doc["contacts"][1] == {"fn": "Reception", "tel": [{"value": "tel:100"}]}
    # Nothing of the identity or the account leaves the handset.
    text = (tmp_path / "a.json").read_text()
    dev_cert = sim_namespace(a, "hush_id")["dev_cert"]
    assert "dev_key" not in text and "hush_id" not in text and dev_cert.hex() not in text
    # The vCard file is RFC 6350 text that reads back to the same contacts.
    vcf = (tmp_path / "a.vcf").read_bytes().decode("utf-8")
    assert vcf.startswith("BEGIN:VCARD\r\nVERSION:4.0\r\n") and all(len(l.encode()) <= 75 for l in vcf.split("\r\n"))

    ident_before = sim_namespace(b, "hush_id")
    ok(hushctl("handset", "import", "--sim", b, "--in", tmp_path / "a.json"))
    assert sim_namespace(b, "hush_cfg") == {"ring_vol": 7, "hide_callid": 1, "lang": b"fr-CH", "raw": b"\x00\xff\x10"}
    assert sim_namespace(b, "hush_id") == ident_before
    ok(hushctl("handset", "export", "--sim", b, "--out", tmp_path / "b.json"))
    again = json.loads((tmp_path / "b.json").read_text())
    assert again["settings"] == doc["settings"] and again["contacts"] == doc["contacts"]

    # Contacts alone from a vCard file: settings stay.
    (tmp_path / "one.vcf").write_text("BEGIN:VCARD\nVERSION:4.0\nFN:Solo\nEND:VCARD\n")
    ok(hushctl("handset", "import", "--sim", b, "--vcard", tmp_path / "one.vcf"))
    ok(hushctl("handset", "export", "--sim", b, "--out", tmp_path / "c.json"))
    solo = json.loads((tmp_path / "c.json").read_text())
    assert solo["contacts"] == [{"fn": "Solo"}] and solo["settings"] == doc["settings"]


def test_bad_documents_are_refused_and_nothing_changes(handsets, tmp_path):
    b = handsets / "b"
    before = tree_snapshot(b)
    bad = {
        "v3.vcf": ("BEGIN:VCARD\nVERSION:3.0\nFN:Old\nEND:VCARD\n", "--vcard", "only vCard 4.0"),
        "nofn.vcf": ("BEGIN:VCARD\nVERSION:4.0\nTEL:1\nEND:VCARD\n", "--vcard", "needs FN"),
        "open.vcf": ("BEGIN:VCARD\nVERSION:4.0\nFN:x\n", "--vcard", "not closed"),
        "junk.json": ("{not json", "--in", "not a JSON export"),
        "other.json": (json.dumps({"format": "something-else", "version": 1}), "--in", "not a hushphone"),
        "long.json": (json.dumps({"format": "hushphone-handset-export", "version": 1,
                                  "settings": {"a_much_too_long_name": {"type": "i32", "value": 1}}}), "--in", "1 to 15"),
        "big.json": (json.dumps({"format": "hushphone-handset-export", "version": 1,
                                 "settings": {"ring_vol": {"type": "i32", "value": 1 << 40}}}), "--in", "32-bit"),
        "contact.json": (json.dumps({"format": "hushphone-handset-export", "version": 1, "contacts": [{"tel": []}]}),
                         "--in", "needs a non-empty 'fn'"),
    }
    for name, (text, option, fragment) in bad.items():
        (tmp_path / name).write_text(text)
        one_line_error(hushctl("handset", "import", "--sim", b, option, tmp_path / name), fragment)
    one_line_error(hushctl("handset", "export", "--sim", tmp_path / "nothing", "--out", tmp_path / "x.json"),
                   "not a simulated handset")
    assert tree_snapshot(b) == before and not (tmp_path / "x.json").exists()


@pytest.fixture
def handset_on_a_pty(tmp_path):
    """A MicroPython unix port on a pseudo-terminal, as mpremote sees a
    handset on a serial port: its working directory is a simulated handset
    and its `esp32` module's NVS is the simulated store."""
    import os
    import pty
    import subprocess
    import tty

    from tests.support.runtimes import micropython_env, micropython_exe

    sim = tmp_path / "handset"
    (sim / "nvs").mkdir(parents=True)
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "esp32.py").write_text("from hushphone.hal.unix.nvs import Nvs\n\n"
                                   "def NVS(namespace):\n    return Nvs('.', namespace)\n")
    master, slave = pty.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen([micropython_exe()], stdin=master, stdout=master, stderr=master, cwd=str(sim),
                            env=micropython_env(shim), start_new_session=True)
    try:
        yield os.ttyname(slave), sim
    finally:
        proc.kill()
        proc.wait(timeout=10)
        os.close(master)
        os.close(slave)


def test_real_handset_path_over_mpremote(handsets, handset_on_a_pty, tmp_path):
    """`--port`: mpremote's exec and fs cp against a MicroPython on a pty."""
    port, sim = handset_on_a_pty
    ok(hushctl("handset", "export", "--sim", handsets / "a", "--out", tmp_path / "a.json"))
    ok(hushctl("handset", "export", "--port", port, "--out", tmp_path / "empty.json"))
    empty = json.loads((tmp_path / "empty.json").read_text())
    assert empty["settings"] == {} and empty["contacts"] == []
    # "raw" is not a setting a real handset knows: refused before anything is written.
    one_line_error(hushctl("handset", "import", "--port", port, "--in", tmp_path / "a.json"), "unknown: raw")
    assert sim_namespace(sim, "hush_cfg") == {}
    doc = json.loads((tmp_path / "a.json").read_text())
    del doc["settings"]["raw"]
    (tmp_path / "known.json").write_text(json.dumps(doc))
    ok(hushctl("handset", "import", "--port", port, "--in", tmp_path / "known.json"))
    assert sim_namespace(sim, "hush_cfg") == {"ring_vol": 7, "hide_callid": 1, "lang": b"fr-CH"}
    assert (sim / "data" / "contacts.vcf").read_bytes().startswith(b"BEGIN:VCARD\r\nVERSION:4.0")
    ok(hushctl("handset", "export", "--port", port, "--out", tmp_path / "back.json"))
    back = json.loads((tmp_path / "back.json").read_text())
    assert back["settings"] == doc["settings"] and back["contacts"] == doc["contacts"]
