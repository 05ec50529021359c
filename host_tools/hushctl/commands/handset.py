"""`hushctl handset`: export and import a handset's settings and contacts."""
import json
from pathlib import Path

import click

from hushctl import atomic_files, portability, vcard
from hushctl.cli import cli
from hushctl.errors import UsageError


def _target(f):
    f = click.option("--port", help="Serial port of a real handset (uses mpremote).")(f)
    return click.option("--sim", "sim_dir", type=click.Path(file_okay=False), help="Simulated handset storage directory.")(f)


def _one_target(sim_dir, port):
    if bool(sim_dir) == bool(port):
        raise UsageError("give exactly one of --sim DIR or --port PORT")


@cli.group("handset")
def handset_group():
    """Data portability: settings and contacts out of and into a handset."""


@handset_group.command("export")
@_target
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="JSON file to write.")
@click.option("--vcard", "vcard_out", type=click.Path(dir_okay=False), help="Also write the contacts as vCard 4.0.")
def export_cmd(sim_dir, port, out, vcard_out):
    """Write the handset's settings and contacts to a JSON file."""
    _one_target(sim_dir, port)
    doc = portability.export_sim(sim_dir) if sim_dir else portability.export_port(port)
    atomic_files.write_text(out, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if vcard_out:
        atomic_files.write_text(vcard_out, vcard.serialize(doc["contacts"]))
    click.echo("Exported %d setting(s) and %d contact(s) to %s" % (len(doc["settings"]), len(doc["contacts"]), out))


@handset_group.command("import")
@_target
@click.option("--in", "in_file", type=click.Path(dir_okay=False, exists=True), help="JSON export to load.")
@click.option("--vcard", "vcard_in", type=click.Path(dir_okay=False, exists=True),
              help="vCard 4.0 file: replaces the contacts (settings unchanged unless --in is given).")
def import_cmd(sim_dir, port, in_file, vcard_in):
    """Replace the handset's settings and/or contacts."""
    _one_target(sim_dir, port)
    if not in_file and not vcard_in:
        raise UsageError("give --in FILE.json and/or --vcard FILE.vcf")
    current = portability.export_sim(sim_dir) if sim_dir else portability.export_port(port)
    settings, contacts = portability.parse_document(json.dumps(current))
    if in_file:
        settings, contacts = portability.parse_document(Path(in_file).read_text(encoding="utf-8"))
    if vcard_in:
        contacts = vcard.parse(Path(vcard_in).read_text(encoding="utf-8"))
    if sim_dir:
        portability.import_sim(sim_dir, settings, contacts)
    else:
        portability.import_port(port, settings, contacts)
    click.echo("Imported %d setting(s) and %d contact(s)" % (len(settings), len(contacts)))
