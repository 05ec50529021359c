"""`hushctl handset`: export and import a handset's settings and contacts,
in the document the handset's firmware exports itself (see portability);
`report`: what the proxy, the peer and the network can see of its calls."""
import json
from pathlib import Path

import click

from hushctl import atomic_files, portability
from hushctl.cli import cli
from hushctl.errors import UsageError


def _target(f):
    f = click.option("--port", help="Serial port of a real handset (uses mpremote).")(f)
    return click.option("--sim", "sim_dir", type=click.Path(file_okay=False), help="Simulated handset storage directory.")(f)


def _one_target(sim_dir, port):
    if bool(sim_dir) == bool(port):
        raise UsageError("give exactly one of --sim DIR or --port PORT")


def _read_text(path):
    try:
        return Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise portability.PortabilityError("%s is not UTF-8 text" % path)


@cli.group("handset")
def handset_group():
    """Data portability: settings and contacts out of and into a handset."""


@handset_group.command("export")
@_target
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="JSON file to write.")
@click.option("--vcard", "vcard_out", type=click.Path(dir_okay=False), help="Also write the contacts as vCard 4.0.")
def export_cmd(sim_dir, port, out, vcard_out):
    """Write the handset's settings and contacts to a JSON file (never the
    SIP password or a key)."""
    _one_target(sim_dir, port)
    doc = portability.export_sim(sim_dir) if sim_dir else portability.export_port(port)
    atomic_files.write_text(out, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if vcard_out:
        atomic_files.write_text(vcard_out, doc[portability.CONTACTS_FIELD])
    cas = ", %d CA certificate(s)" % len(doc["ca_certs"]) if "ca_certs" in doc else ""
    click.echo("Exported %d setting(s), %d contact(s)%s to %s (no password)" % (
        len(doc["settings"]), portability.contact_count(doc), cas, out))


@handset_group.command("import")
@_target
@click.option("--in", "in_file", type=click.Path(dir_okay=False, exists=True),
              help="An export: a JSON file, or the handset's console `export` event line.")
@click.option("--vcard", "vcard_in", type=click.Path(dir_okay=False, exists=True),
              help="vCard 4.0 file: replaces the contacts (settings unchanged unless --in is given).")
def import_cmd(sim_dir, port, in_file, vcard_in):
    """Change the handset's settings and/or replace its contacts; what a
    document does not hold (the password, CA certificates) is kept."""
    _one_target(sim_dir, port)
    if not in_file and not vcard_in:
        raise UsageError("give --in FILE.json and/or --vcard FILE.vcf")
    if in_file:
        doc = portability.parse_document(_read_text(in_file))
    else:
        doc = portability.document({"format": portability.FORMAT, "version": portability.VERSION}, None)
    if vcard_in:
        doc[portability.CONTACTS_FIELD] = _read_text(vcard_in)
    portability.check_document(doc)
    if sim_dir:
        skipped = portability.import_sim(sim_dir, doc)
    else:
        skipped = portability.import_port(port, doc)
    click.echo("Imported %d setting(s), %d account field(s) and %s" % (
        len(doc.get("settings", {})), len(doc.get("account", {})),
        "%d contact(s)" % portability.contact_count(doc) if portability.CONTACTS_FIELD in doc else "no contacts (kept)"))
    if skipped:
        click.echo("Not imported: %s (a simulated handset reads its CA certificates from its config)" % ", ".join(skipped))


_PARTY_TEXT = {
    "proxy": [("host", "the proxy"), ("aor", "your account"), ("ip", "your IP address"),
              ("media_address", "media address"), ("can_decrypt_media", "can decrypt media")],
    "peer": [("caller_id", "caller ID"), ("media_address", "media address"),
             ("device_certificate", "your device certificate"), ("sas", "a SAS to compare (ZRTP)")],
    "network": [("signalling", "signalling"), ("media", "media"), ("endpoints", "who talks to whom"),
                ("relay", "TURN relay transport")],
}


@handset_group.command("report")
@click.option("--sim", "sim_dir", type=click.Path(file_okay=False), help="Simulated handset storage directory.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="The handset's phone.json (its storage is its root; it overrides NVS as at start).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def report_cmd(sim_dir, config_path, as_json):
    """State what the proxy, the peer and the network can see of this
    handset's calls, from its live configuration (the same code as the
    handset's About screen)."""
    config = None
    if config_path:
        from hushctl.sim import load_config

        config = load_config(config_path)
        sim_dir = sim_dir or config["root"]
    if not sim_dir:
        raise UsageError("give --sim DIR or --config phone.json")
    report = portability.report_sim(sim_dir, config)
    if as_json:
        click.echo(json.dumps(report))
        return
    for party in ("proxy", "peer", "network"):
        facts = report[party]
        if facts is None:
            click.echo("The proxy: none (direct calls over mutual TLS)")
            continue
        click.echo("The %s sees:" % party if party != "network" else "The network sees:")
        for key, text in _PARTY_TEXT[party]:
            if key in facts:
                value = facts[key]
                value = {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value
                click.echo("  %-26s %s" % (text + ":", value))
