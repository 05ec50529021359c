"""The factory inventory: one row per handset, never a private key.

It lives in a SQLite file (one station) or in PostgreSQL (several
provisioning stations at once: `--inventory postgresql://...`), with one
schema and one list of migrations for both, applied in order when the
inventory is opened (under a lock, so stations starting together migrate
once). A handset's serial is its random handset id (the CN of its
certificate) and the primary key: two stations can never record the same
serial; the second gets a clear error and its transaction leaves nothing.
Every change is one transaction: a failed provisioning leaves no row.
`hushctl fleet status` records what each handset last reported in
handset_status."""
import csv
import io
import json
import sqlite3
from contextlib import contextmanager

from hushctl.errors import HushctlError

FIELDS = ("serial", "board", "chip", "cert_serial", "cert_fingerprint", "key_digests", "efuses_burned",
          "firmware_version", "provisioned_at", "status", "revoked_at")
STATUS_FIELDS = ("serial", "version", "secure_version", "slot", "slot_state", "last_result", "address", "seen_at")
_REVOKED_FIELDS = ("cert_serial", "handset_serial", "cert_fingerprint", "revoked_at", "reason")

# Portable SQL (SQLite and PostgreSQL alike). Append, never edit: an
# inventory at version N gets N+1.. applied when it is next opened.
MIGRATIONS = (
    (1, (  # the original SQLite inventory (CREATE IF NOT EXISTS: files made before migrations existed)
        """CREATE TABLE IF NOT EXISTS handsets (
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
        )""",
        """CREATE TABLE IF NOT EXISTS revoked_certs (
            cert_serial TEXT PRIMARY KEY,
            handset_serial TEXT NOT NULL,
            cert_fingerprint TEXT NOT NULL,
            revoked_at TEXT NOT NULL,
            reason TEXT NOT NULL
        )""",
    )),
    (2, (  # several stations; fleet status
        # the order rows were added in (SQLite's rowid did this; PostgreSQL has none)
        "ALTER TABLE handsets ADD COLUMN added_order BIGINT",
        """CREATE TABLE handset_status (
            serial TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            secure_version INTEGER,
            slot TEXT,
            slot_state TEXT,
            last_result TEXT,
            address TEXT,                       -- HOST:PORT where its agent answered
            seen_at TEXT NOT NULL
        )""",
    )),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
_MIGRATION_LOCK = 0x4855534849  # pg_advisory_xact_lock key: "HUSHI"


class InventoryError(HushctlError):
    pass


def is_url(spec):
    return str(spec).startswith(("postgresql://", "postgres://"))


def redact(spec):
    """The inventory's name for messages: a URL without its password."""
    spec = str(spec)
    if not is_url(spec) or "@" not in spec:
        return spec
    scheme, rest = spec.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return "%s://%s@%s" % (scheme, creds.split(":", 1)[0] + (":***" if ":" in creds else ""), host)


class _Sqlite:
    name = "sqlite"
    placeholder = "?"
    order_tail = "rowid"

    def __init__(self, path):
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.errors = (sqlite3.Error,)
        self.integrity = (sqlite3.IntegrityError,)

    def execute(self, sql, params=()):
        return [dict(r) for r in self.db.execute(sql, params)]

    def begin(self, lock=False):
        self.db.execute("BEGIN IMMEDIATE")  # one writer at a time, from the start

    def commit(self):
        self.db.execute("COMMIT")

    def rollback(self):
        self.db.execute("ROLLBACK")

    def table_exists(self, name):
        return bool(self.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def close(self):
        self.db.close()


class _Postgres:
    name = "postgresql"
    placeholder = "%s"
    order_tail = "serial"

    def __init__(self, url):
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:
            raise InventoryError("a PostgreSQL inventory needs psycopg (pip install 'psycopg[binary]')")
        self.errors = (psycopg.Error,)
        self.integrity = (psycopg.errors.IntegrityError,)
        self.db = psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=30)

    def execute(self, sql, params=()):
        cur = self.db.execute(sql, params)
        return list(cur.fetchall()) if cur.description else []

    def begin(self, lock=False):
        self.db.execute("BEGIN")
        if lock:
            self.db.execute("SELECT pg_advisory_xact_lock(%s)" % _MIGRATION_LOCK)

    def commit(self):
        self.db.execute("COMMIT")

    def rollback(self):
        self.db.execute("ROLLBACK")

    def table_exists(self, name):
        return bool(self.execute("SELECT to_regclass(%s) AS t", (name,))[0]["t"])

    def close(self):
        self.db.close()


def _first_line(e):
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class Inventory:
    """Inventory(path or postgresql:// URL)."""

    def __init__(self, spec):
        self.spec = str(spec)
        self.name = redact(self.spec)
        try:
            self.backend = _Postgres(self.spec) if is_url(self.spec) else _Sqlite(self.spec)
        except InventoryError:
            raise
        except Exception as e:  # sqlite3/psycopg errors: the file or server is not usable
            raise InventoryError("cannot open inventory %s: %s" % (self.name, _first_line(e)))
        try:
            self._migrate()
        except self.backend.errors as e:
            self.backend.close()
            raise InventoryError("cannot open inventory %s: %s" % (self.name, _first_line(e)))

    @property
    def kind(self):
        return self.backend.name

    def _sql(self, sql):
        return sql.replace("?", self.backend.placeholder)

    def _run(self, sql, params=(), conflict=None):
        try:
            return self.backend.execute(self._sql(sql), params)
        except self.backend.integrity as e:
            raise InventoryError(conflict or "inventory %s refused the change: %s" % (self.name, _first_line(e)))
        except self.backend.errors as e:
            raise InventoryError("inventory %s: %s" % (self.name, _first_line(e)))

    def schema_version(self):
        if not self.backend.table_exists("schema_version"):
            return 0
        rows = self.backend.execute("SELECT version FROM schema_version")
        return rows[0]["version"] if rows else 0

    def _migrate(self):
        b = self.backend
        if self.schema_version() == SCHEMA_VERSION:
            return
        b.begin(lock=True)
        try:
            b.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = self.schema_version()
            if current > SCHEMA_VERSION:
                raise InventoryError("inventory %s has schema version %d; this hushctl knows up to %d: update hushctl"
                                     % (self.name, current, SCHEMA_VERSION))
            for version, statements in MIGRATIONS:
                if version > current:
                    for sql in statements:
                        b.execute(sql)
            b.execute("DELETE FROM schema_version")
            b.execute(self._sql("INSERT INTO schema_version (version) VALUES (?)"), (SCHEMA_VERSION,))
        except BaseException:
            b.rollback()
            raise
        b.commit()

    def close(self):
        self.backend.close()

    @contextmanager
    def transaction(self):
        """All or nothing. On SQLite BEGIN IMMEDIATE also keeps two
        stations from writing at once; on PostgreSQL the primary key keeps
        two stations from taking the same serial."""
        self.backend.begin()
        try:
            yield self
        except BaseException:
            self.backend.rollback()
            raise
        self.backend.commit()

    def get(self, serial):
        rows = self._run("SELECT %s FROM handsets WHERE serial = ?" % ", ".join(FIELDS), (serial,))
        return rows[0] if rows else None

    def require(self, serial):
        row = self.get(serial)
        if row is None:
            raise InventoryError("no handset %r in the inventory" % serial)
        return row

    def add(self, row):
        if self.get(row["serial"]) is not None:
            raise InventoryError("serial %s is already in the inventory" % row["serial"])
        # a serial another station added meanwhile fails here, on the primary key
        self._run("INSERT INTO handsets (%s, added_order) SELECT %s, COALESCE(MAX(added_order), 0) + 1 FROM handsets"
                  % (", ".join(FIELDS), ", ".join("?" * len(FIELDS))), [row.get(f) for f in FIELDS],
                  conflict="serial %s was just added to the inventory by another station" % row["serial"])

    def update(self, serial, **changes):
        for k in changes:
            if k not in FIELDS:
                raise InventoryError("no inventory field %r" % k)
        sets = ", ".join("%s = ?" % k for k in changes)
        self._run("UPDATE handsets SET %s WHERE serial = ?" % sets, list(changes.values()) + [serial])

    def revoke_cert(self, handset_serial, cert_serial, fingerprint, when, reason):
        self._run("INSERT INTO revoked_certs (%s) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                  % ", ".join(_REVOKED_FIELDS), (cert_serial, handset_serial, fingerprint, when, reason))

    def revoked_certs(self):
        return self._run("SELECT %s FROM revoked_certs ORDER BY revoked_at, cert_serial" % ", ".join(_REVOKED_FIELDS))

    def rows(self, status=None):
        select = "SELECT %s FROM handsets" % ", ".join(FIELDS)
        order = " ORDER BY added_order, %s" % self.backend.order_tail
        if status:
            return self._run(select + " WHERE status = ?" + order, (status,))
        return self._run(select + order)

    def record_status(self, serial, version, secure_version, slot, slot_state, last_result, address, seen_at):
        """What a handset reported (hushctl fleet status): one row per serial, replaced."""
        with self.transaction():
            self._run("DELETE FROM handset_status WHERE serial = ?", (serial,))
            self._run("INSERT INTO handset_status (%s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)" % ", ".join(STATUS_FIELDS),
                      (serial, version, secure_version, slot, slot_state, last_result, address, seen_at))

    def status_of(self, serial):
        rows = self._run("SELECT %s FROM handset_status WHERE serial = ?" % ", ".join(STATUS_FIELDS), (serial,))
        return rows[0] if rows else None

    def statuses(self):
        return self._run("SELECT %s FROM handset_status ORDER BY serial" % ", ".join(STATUS_FIELDS))


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
