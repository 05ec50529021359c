"""`hushctl fleet push`: push a signed bundle to many handsets at once over
mutual TLS, with a progress bar per handset and a result table (or --json).
A handset in a call answers busy and is tried again (--busy-wait); an
updated handset is followed through its reboot (--wait-boot): the table
says whether it confirmed the update and whether its bootloader could have
rolled it back."""
import json

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.table import Table

from hushctl import fleet as fleet_lib
from hushctl.cli import cli
from hushctl.commands.keys import get_passphrase, passphrase_option
from hushctl.errors import HushctlError

_STYLE = {"updated": "green", "already-current": "cyan", "refused": "red", "unreachable": "yellow", "failed": "red",
          "busy": "yellow", "unconfirmed": "red"}


@cli.group()
def fleet():
    """Work on many handsets at once."""


@fleet.command("push")
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--to", "addresses", multiple=True, metavar="HOST[:PORT]",
              help="Handset address (repeatable; default port %d)." % fleet_lib.DEFAULT_PORT)
@click.option("--inventory", type=click.Path(dir_okay=False),
              help="CSV or JSON inventory with host (and optional port, serial) per handset.")
@click.option("--cert", required=True, type=click.Path(dir_okay=False), help="Technician certificate (PEM).")
@click.option("--key", required=True, type=click.Path(dir_okay=False),
              help="Technician private key (PEM; an encrypted one is decrypted in memory).")
@click.option("--ca", required=True, type=click.Path(dir_okay=False),
              help="CA certificates (PEM) that issued the handsets' certificates (root + issuing CA).")
@click.option("--parallel", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Handsets updated at the same time.")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds without progress before a handset counts as failed.")
@click.option("--busy-wait", default=300.0, show_default=True, type=click.FloatRange(0, 86400),
              help="Seconds to keep trying a handset that answers busy (a call is up); backoff 1, 2, 4 ... 30 s.")
@click.option("--wait-boot", default=120.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds to wait for an updated handset to come back and confirm the update (0: do not wait).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (no progress bars).")
@passphrase_option
def push(bundle, addresses, inventory, cert, key, ca, parallel, timeout, busy_wait, wait_boot, as_json,
         passphrase_file):
    """Push BUNDLE (.hushota) to handsets; exits non-zero if any failed."""
    targets = [fleet_lib.parse_target(a) for a in addresses]
    if inventory:
        targets += fleet_lib.read_inventory(inventory)
    if not targets:
        raise HushctlError("give handsets with --to HOST[:PORT] or --inventory FILE")
    fleet_lib.check_bundle(bundle)
    ctx = fleet_lib.client_context(cert, key, ca, lambda: get_passphrase(passphrase_file))
    if as_json:
        results = fleet_lib.push(bundle, targets, ctx, parallel, timeout=timeout, busy_wait=busy_wait,
                                 wait_boot=wait_boot)
        click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        results = _push_with_progress(bundle, targets, ctx, parallel, timeout, busy_wait, wait_boot)
        Console().print(_table(results))
    failed = [r for r in results if not r.ok]
    if failed:
        raise HushctlError("%d of %d handsets were not updated" % (len(failed), len(results)))


def _push_with_progress(bundle, targets, ctx, parallel, timeout, busy_wait, wait_boot):
    progress = Progress(TextColumn("{task.description:<24}"), BarColumn(), DownloadColumn(),
                        TextColumn("{task.fields[state]}"), console=Console(stderr=True), transient=False)
    tasks = {}
    with progress:
        for t in targets:
            tasks[id(t)] = progress.add_task(t.name, total=None, state="waiting")

        def on_progress(target, written, total):
            progress.update(tasks[id(target)], completed=written, total=total or None, state="writing")

        def on_busy(target, reason, delay):
            progress.update(tasks[id(target)], state="busy (%s), again in %d s" % (reason, delay))

        def on_done(result):
            task = tasks[id(result.target)]
            state = "[%s]%s" % (_STYLE.get(result.status, "white"), result.status)
            if result.status == "updated":
                progress.update(task, completed=progress.tasks[task].total, state=state)
            else:
                progress.update(task, state=state)

        return fleet_lib.push(bundle, targets, ctx, parallel, on_progress, on_done, timeout, busy_wait, wait_boot,
                              on_busy)


def _boot_text(r):
    """After an update: confirmed or not, and whether a reset could roll it back."""
    if r.boot is None:
        return ""
    confirmed = "confirmed" if r.boot.get("confirmed") else "NOT confirmed"
    rollback = {"yes": "rollback: yes", "no": "rollback: NO (bootloader without it)"}.get(r.rollback, "rollback: ?")
    return "%s, %s" % (confirmed, rollback)


def _table(results):
    table = Table(title="fleet push")
    for column in ("handset", "result", "version", "busy", "boot", "detail", "time"):
        table.add_column(column)
    for r in results:
        detail = r.reason or ""
        if r.message:
            detail = "%s: %s" % (detail, r.message) if detail else r.message
        busy = str(r.busy) if r.busy else ""  # busy answers (a call was up) before the result
        table.add_row(r.target.name, "[%s]%s" % (_STYLE.get(r.status, "white"), r.status), r.version or "", busy,
                      _boot_text(r), detail, "%.1fs" % r.seconds)
    return table
