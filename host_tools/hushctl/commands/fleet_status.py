"""`hushctl fleet status`: what every handset runs (version, slot, how it
booted, its last update), a table or --json, recorded in the inventory."""
import json

import click
from rich.console import Console
from rich.table import Table

from hushctl import fleet as fleet_lib
from hushctl import fleet_status
from hushctl import inventory as inventory_lib
from hushctl.commands.fleet import fleet
from hushctl.commands.keys import get_passphrase, passphrase_option
from hushctl.errors import HushctlError

_STYLE = {"ok": "green", "unreachable": "yellow", "failed": "red"}


@fleet.command("status")
@click.option("--to", "addresses", multiple=True, metavar="HOST[:PORT]",
              help="Handset address (repeatable; default port %d)." % fleet_lib.DEFAULT_PORT)
@click.option("--inventory", "inventory_spec",
              help="The inventory (SQLite file or postgresql:// URL): records what each handset reports, and "
                   "without --to/--hosts asks the handsets at the addresses it recorded; a CSV/JSON host "
                   "list (as for fleet push) is read as --hosts.")
@click.option("--hosts", "hosts_file", type=click.Path(dir_okay=False),
              help="CSV or JSON list with host (and optional port, serial) per handset.")
@click.option("--cert", required=True, type=click.Path(dir_okay=False), help="Technician certificate (PEM).")
@click.option("--key", required=True, type=click.Path(dir_okay=False),
              help="Technician private key (PEM; an encrypted one is decrypted in memory).")
@click.option("--ca", required=True, type=click.Path(dir_okay=False),
              help="CA certificates (PEM) that issued the handsets' certificates.")
@click.option("--parallel", default=32, show_default=True, type=click.IntRange(1, 256))
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(1, 600),
              help="Seconds to wait for each handset.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@passphrase_option
def status(addresses, inventory_spec, hosts_file, cert, key, ca, parallel, timeout, as_json, passphrase_file):
    """Ask handsets what they run; exits non-zero if any did not answer."""
    inv = None
    if inventory_spec and not fleet_status.is_database(inventory_spec):
        hosts_file, inventory_spec = hosts_file or inventory_spec, None
    ctx = fleet_lib.client_context(cert, key, ca, lambda: get_passphrase(passphrase_file))
    if inventory_spec:
        inv = inventory_lib.Inventory(inventory_spec)
    try:
        targets = fleet_status.gather_targets(addresses, hosts_file, inv)
        results = fleet_status.query(targets, ctx, parallel, timeout)
        recorded = fleet_status.record(inv, results) if inv is not None else None
    finally:
        if inv is not None:
            inv.close()
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        Console().print(_table(results))
        if recorded is not None:
            click.echo("%d handset(s) recorded in the inventory" % recorded)
    missing = [r for r in results if not r.ok]
    if missing:
        raise HushctlError("%d of %d handsets did not answer" % (len(missing), len(results)))


def _table(results):
    table = Table(title="fleet status")
    for column in ("handset", "serial", "state", "version", "slot", "slot state", "last update", "note"):
        table.add_column(column)
    for r in results:
        d = r.as_dict()
        state = "[%s]%s" % (_STYLE.get(r.status, "white"), r.status)
        version = "" if d["version"] is None else "%s (sv %s)" % (d["version"], d["secure_version"])
        table.add_row(r.target.name, r.serial or "", state, version, d["slot"] or "", str(d["slot_state"] or ""),
                      d["last_result"] or "", r.note or r.message or "")
    return table
