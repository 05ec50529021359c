"""`hushctl inventory`: one row per handset with the agreed fields, exports
to CSV and JSON, and never a private key in the database."""
import csv
import hashlib
import io
import json
import sqlite3

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.host.provision_helpers import hushctl, ok, one_line_error, passphrase_file, sim_namespace

FIELDS = ["serial", "board", "chip", "cert_serial", "cert_fingerprint", "key_digests", "efuses_burned",
          "firmware_version", "provisioned_at", "status", "revoked_at"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    base = tmp_path_factory.mktemp("inv")
    pw = passphrase_file(base)
    ok(hushctl("keys", "init", base / "k", "--passphrase-file", pw))
    rows = []
    for i in range(3):
        result = ok(hushctl("provision", "--keys", base / "k", "--passphrase-file", pw, "--board", "sim",
                            "--sim", base / ("h%d" % i), "--firmware-version", "1.%d" % i, "--json"))
        rows.append(json.loads(result.stdout))
    ok(hushctl("provision", "revoke", rows[2]["serial"], "--keys", base / "k", "--passphrase-file", pw))
    return base, pw, rows


def test_list_show_and_status_filter(fleet):
    base, _, rows = fleet
    listed = ok(hushctl("inventory", "list", "--keys", base / "k")).stdout
    assert "3 handset(s)" in listed and all(r["serial"] in listed for r in rows)
    revoked = ok(hushctl("inventory", "list", "--keys", base / "k", "--status", "revoked")).stdout
    assert "1 handset(s)" in revoked and rows[2]["serial"] in revoked and rows[0]["serial"] not in revoked
    shown = ok(hushctl("inventory", "show", rows[0]["serial"], "--keys", base / "k")).stdout
    assert rows[0]["cert_fingerprint"] in shown and "1.0" in shown
    one_line_error(hushctl("inventory", "show", "hp-notthere", "--keys", base / "k"), "no handset")


def test_exports_match_the_certificates(fleet, tmp_path):
    base, _, rows = fleet
    ok(hushctl("inventory", "export", "--keys", base / "k", "--format", "json", "--out", tmp_path / "inv.json"))
    exported = json.loads((tmp_path / "inv.json").read_text())
    assert [r["serial"] for r in exported] == [r["serial"] for r in rows]
    assert all(list(r) == FIELDS for r in exported)
    assert exported[2]["status"] == "revoked" and exported[2]["revoked_at"]
    assert [r["firmware_version"] for r in exported] == ["1.0", "1.1", "1.2"]
    for i, r in enumerate(exported):
        cert = x509.load_der_x509_certificate(sim_namespace(base / ("h%d" % i), "hush_id")["dev_cert"])
        assert r["cert_fingerprint"] == hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        assert r["cert_serial"] == "%x" % cert.serial_number and r["chip"] == "sim" and r["board"] == "sim"
    text = ok(hushctl("inventory", "export", "--keys", base / "k", "--format", "csv")).stdout
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == FIELDS and [p["serial"] for p in parsed] == [r["serial"] for r in rows]


def test_database_holds_no_private_key(fleet):
    base, _, _ = fleet
    db = (base / "k" / "inventory.sqlite").read_bytes()
    for i in range(3):
        der_key = sim_namespace(base / ("h%d" % i), "hush_id")["dev_key"]
        key = serialization.load_der_private_key(der_key, None)
        scalar = key.private_numbers().private_value.to_bytes(32, "big")
        assert der_key not in db and scalar not in db and scalar.hex().encode() not in db
    tables = [r[0] for r in sqlite3.connect(str(base / "k" / "inventory.sqlite")).execute(
        "SELECT name FROM sqlite_master WHERE type='table'")]
    assert sorted(tables) == ["handset_status", "handsets", "revoked_certs", "schema_version"]


def test_inventory_needs_a_location(tmp_path):
    result = hushctl("inventory", "list")
    assert result.returncode != 0 and "--keys" in result.stderr
