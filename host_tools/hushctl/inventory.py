"""The factory inventory: one SQLite row per handset, never a private key.

A handset's serial is its random handset id (the CN of its certificate).
Every change is one transaction: a failed provisioning leaves no row."""
import csv
import io
import json
import sqlite3
from contextlib import contextmanager

from hushctl.errors import HushctlError

FIELDS = ("serial", "board", "chip", "cert_serial", "cert_fingerprint", "key_digests", "efuses_burned",
          "firmware_version", "provisioned_at", "status", "revoked_at")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS handsets (
    serial TEXT PRIMARY KEY,
    board TEXT NOT NULL,
    chip TEXT NOT NULL,
    cert_serial TEXT NOT NULL,
    cert_fingerprint TEXT NOT NULL,     -- SHA-256 of the DER certificate
    key_digests TEXT NOT NULL,          -- Secure Boot V2 digests burned (comma-separated hex)
    efuses_burned INTEGER NOT NULL,
    firmware_version TEXT NOT NULL,
    provisioned_at TEXT NOT NULL,
    status TEXT NOT NULL,               -- provisioned | reprovisioned | revoked
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS revoked_certs (
    cert_serial TEXT PRIMARY KEY,
    handset_serial TEXT NOT NULL,
    cert_fingerprint TEXT NOT NULL,
    revoked_at TEXT NOT NULL,
    reason TEXT NOT NULL
);
"""


class InventoryError(HushctlError):
    pass


class Inventory:
    def __init__(self, path):
        self.path = str(path)
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise InventoryError("cannot open inventory %s: %s" % (self.path, e))

    def close(self):
        self.db.close()

    @contextmanager
    def transaction(self):
        """All or nothing: BEGIN IMMEDIATE also keeps two provisioning
        stations from taking the same serial at once."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def get(self, serial):
        row = self.db.execute("SELECT * FROM handsets WHERE serial = ?", (serial,)).fetchone()
        return dict(row) if row else None

    def require(self, serial):
        row = self.get(serial)
        if row is None:
            raise InventoryError("no handset %r in the inventory" % serial)
        return row

    def add(self, row):
        if self.get(row["serial"]) is not None:
            raise InventoryError("serial %s is already in the inventory" % row["serial"])
        self.db.execute("INSERT INTO handsets (%s) VALUES (%s)" % (", ".join(FIELDS), ", ".join("?" * len(FIELDS))),
                        [row.get(f) for f in FIELDS])

    def update(self, serial, **changes):
        sets = ", ".join("%s = ?" % k for k in changes)
        self.db.execute("UPDATE handsets SET %s WHERE serial = ?" % sets, list(changes.values()) + [serial])

    def revoke_cert(self, handset_serial, cert_serial, fingerprint, when, reason):
        self.db.execute("INSERT OR IGNORE INTO revoked_certs VALUES (?, ?, ?, ?, ?)",
                        (cert_serial, handset_serial, fingerprint, when, reason))

    def revoked_certs(self):
        return [dict(r) for r in self.db.execute("SELECT * FROM revoked_certs ORDER BY revoked_at, cert_serial")]

    def rows(self, status=None):
        if status:
            cur = self.db.execute("SELECT * FROM handsets WHERE status = ? ORDER BY rowid", (status,))
        else:
            cur = self.db.execute("SELECT * FROM handsets ORDER BY rowid")
        return [dict(r) for r in cur]


def export_text(rows, fmt):
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
        return out.getvalue()
    raise InventoryError("export format must be csv or json")
