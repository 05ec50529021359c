"""`hushctl inventory`: the factory's record of provisioned handsets."""
import click

from hushctl import atomic_files, inventory, provision
from hushctl.cli import cli


def inventory_option(f):
    f = click.option("--inventory", "inventory_path", type=click.Path(dir_okay=False),
                     help="Inventory: a SQLite file (default: KEYS/inventory.sqlite) or a postgresql:// URL.")(f)
    return click.option("--keys", "keys_dir", type=click.Path(file_okay=False), help="Key hierarchy directory.")(f)


def _open(keys_dir, inventory_path):
    if not inventory_path and not keys_dir:
        raise click.UsageError("give --keys DIR or --inventory FILE")
    return inventory.Inventory(inventory_path or provision.default_inventory(keys_dir))


@cli.group("inventory")
def inventory_group():
    """List, show and export provisioned handsets."""


@inventory_group.command("list")
@inventory_option
@click.option("--status", type=click.Choice(["provisioned", "reprovisioned", "revoked"]))
def list_cmd(keys_dir, inventory_path, status):
    inv = _open(keys_dir, inventory_path)
    try:
        rows = inv.rows(status)
    finally:
        inv.close()
    click.echo("%-20s %-16s %-8s %-10s %-14s %s" % ("serial", "board", "chip", "firmware", "status", "provisioned"))
    for r in rows:
        click.echo("%-20s %-16s %-8s %-10s %-14s %s" % (
            r["serial"], r["board"], r["chip"], r["firmware_version"], r["status"], r["provisioned_at"]))
    click.echo("%d handset(s)" % len(rows))


@inventory_group.command("show")
@click.argument("serial")
@inventory_option
def show_cmd(serial, keys_dir, inventory_path):
    inv = _open(keys_dir, inventory_path)
    try:
        row = inv.require(serial)
        seen = inv.status_of(serial)
    finally:
        inv.close()
    for field in inventory.FIELDS:
        click.echo("%-17s %s" % (field, "" if row[field] is None else row[field]))
    if seen is not None:  # what `hushctl fleet status` last heard from it
        for field in inventory.STATUS_FIELDS[1:]:
            click.echo("%-17s %s" % ("seen " + field, "" if seen[field] is None else seen[field]))


@inventory_group.command("export")
@inventory_option
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Output file (default: stdout).")
def export_cmd(keys_dir, inventory_path, fmt, out):
    inv = _open(keys_dir, inventory_path)
    try:
        text = inventory.export_text(inv.rows(), fmt)
    finally:
        inv.close()
    if out:
        atomic_files.write_text(out, text)
    else:
        click.echo(text, nl=False)
