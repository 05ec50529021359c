"""One inventory for many factory stations: four provisioning processes at
once against one PostgreSQL (Debian's server, a cluster of its own started
here on loopback) and against one SQLite file. Every handset a station
provisioned has its row (none lost, none extra, each with its
certificate's fingerprint), serials are unique, four stations asking for
the same serial get it once (the others a one-line error and no handset),
and no private key is anywhere in the database. Both backends get the same
schema through the same migrations; an inventory made before migrations
existed is migrated in place, and one newer than the tool is refused."""
import base64
import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from hushctl import inventory as inv_lib
from tests.host.postgres import PostgresCluster
from tests.host.provision_helpers import hushctl, ok, one_line_error, passphrase_file, sim_device_cert, sim_namespace
from tests.support.runtimes import REPO

STATIONS = 4
PER_STATION = 4
STATION = Path(__file__).with_name("provision_station.py")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("stations")
    pw = passphrase_file(base)
    ok(hushctl("keys", "init", base / "k", "--passphrase-file", pw))
    return base, base / "k", pw


@pytest.fixture(scope="module")
def pg():
    cluster = PostgresCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


def inventory_for(backend, pg_cluster, directory, name):
    if backend == "sqlite":
        return str(directory / (name + ".sqlite"))
    return pg_cluster.create_database(name)


def run_stations(keys, inventory, out, count=PER_STATION, serial=None):
    _base, k, pw = keys
    procs = []
    for i in range(STATIONS):
        cmd = [sys.executable, str(STATION), str(k), str(pw), inventory, str(out / ("station%d" % i)), str(count)]
        procs.append(subprocess.Popen(cmd + ([serial] if serial else []), cwd=str(REPO), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    attempts = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
        attempts += [json.loads(line) for line in stdout.splitlines()]
    assert len(attempts) == STATIONS * count
    return attempts


def common_name(sim):
    return sim_device_cert(sim).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def secrets_of(sims):
    """Each handset's device key as the bytes and texts it could be stored as."""
    out = []
    for sim in sims:
        der = sim_namespace(sim, "hush_id")["dev_key"]
        key = serialization.load_der_private_key(der, None)
        scalar = key.private_numbers().private_value.to_bytes(32, "big")
        out.append((der, scalar))
    return out


def assert_no_private_key(backend, pg_cluster, inventory, sims):
    if backend == "sqlite":
        blob = Path(inventory).read_bytes()
    else:
        blob = pg_cluster.dump(inventory.rsplit("/", 1)[1]).encode()
    assert b"PRIVATE KEY" not in blob
    for der, scalar in secrets_of(sims):
        for form in (der, scalar, der.hex().encode(), scalar.hex().encode(), base64.b64encode(der)):
            assert form not in blob


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_four_stations_provision_at_once(backend, keys, pg, tmp_path):
    inventory = inventory_for(backend, pg, tmp_path, "inv_parallel")
    attempts = run_stations(keys, inventory, tmp_path)
    assert [a for a in attempts if a["rc"] != 0] == []
    sims = [a["sim"] for a in attempts]
    inv = inv_lib.Inventory(inventory)
    try:
        assert (inv.kind, inv.schema_version()) == (backend, inv_lib.SCHEMA_VERSION)
        rows = inv.rows()
    finally:
        inv.close()
    serials = [r["serial"] for r in rows]
    assert len(serials) == len(set(serials)) == STATIONS * PER_STATION
    by_serial = {r["serial"]: r for r in rows}
    for sim in sims:  # every provisioned handset has its row, with its certificate
        cert = sim_device_cert(sim)
        row = by_serial.pop(common_name(sim))
        assert row["cert_fingerprint"] == hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        assert (row["status"], row["board"]) == ("provisioned", "sim")
    assert by_serial == {}
    assert_no_private_key(backend, pg, inventory, sims)
    # the CLI reads the same rows back, exports them and revokes one
    listed = ok(hushctl("inventory", "list", "--inventory", inventory)).stdout
    assert "%d handset(s)" % (STATIONS * PER_STATION) in listed
    exported = json.loads(ok(hushctl("inventory", "export", "--inventory", inventory, "--format", "json")).stdout)
    assert [r["serial"] for r in exported] == serials and list(exported[0]) == list(inv_lib.FIELDS)
    _base, k, pw = keys
    ok(hushctl("provision", "revoke", serials[0], "--keys", k, "--passphrase-file", pw, "--inventory", inventory))
    revoked = ok(hushctl("inventory", "list", "--inventory", inventory, "--status", "revoked")).stdout
    assert serials[0] in revoked and "1 handset(s)" in revoked


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_one_serial_goes_to_one_station(backend, keys, pg, tmp_path):
    inventory = inventory_for(backend, pg, tmp_path, "inv_same")
    attempts = run_stations(keys, inventory, tmp_path, count=1, serial="hp-shared-0001")
    won = [a for a in attempts if a["rc"] == 0]
    lost = [a for a in attempts if a["rc"] != 0]
    assert len(won) == 1 and len(lost) == STATIONS - 1, attempts
    for a in lost:
        assert len(a["error"].splitlines()) == 1 and "hp-shared-0001" in a["error"], a
        assert not (Path(a["sim"]) / "nvs" / "hush_id.json").exists()  # no handset with a duplicate identity
    inv = inv_lib.Inventory(inventory)
    try:
        assert [r["serial"] for r in inv.rows()] == ["hp-shared-0001"]
    finally:
        inv.close()
    assert common_name(won[0]["sim"]) == "hp-shared-0001"


def test_old_sqlite_inventory_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(str(path))
    db.executescript(inv_lib.MIGRATIONS[0][1][0] + ";" + inv_lib.MIGRATIONS[0][1][1] + ";")
    for i in (2, 1, 3):
        db.execute("INSERT INTO handsets VALUES (?, 'sim', 'sim', 'c%d', 'f', '', 0, '1.0', '2026-01-01T00:00:00', "
                   "'provisioned', NULL)" % i, ("hp-old-000%d" % i,))
    db.commit()
    db.close()
    inv = inv_lib.Inventory(path)
    try:
        assert inv.schema_version() == inv_lib.SCHEMA_VERSION
        assert [r["serial"] for r in inv.rows()] == ["hp-old-0002", "hp-old-0001", "hp-old-0003"]  # as added
        inv.record_status("hp-old-0001", "1.1.0", 2, "ota_1", "valid", "confirmed", "127.0.0.1:8470",
                         "2026-01-02T00:00:00")
        assert inv.statuses()[0]["version"] == "1.1.0"
    finally:
        inv.close()
    db = sqlite3.connect(str(path))
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    one_line_error(hushctl("inventory", "list", "--inventory", path), "schema version 99", "update hushctl")


def test_unreachable_postgresql_is_one_line_without_the_password(tmp_path):
    from hushctl.lab import free_tcp_port

    url = "postgresql://station:s3cret-pw@127.0.0.1:%d/inventory" % free_tcp_port()
    result = hushctl("inventory", "list", "--inventory", url)
    one_line_error(result, "cannot open inventory postgresql://station:***@127.0.0.1")
    assert "s3cret-pw" not in result.stderr + result.stdout
