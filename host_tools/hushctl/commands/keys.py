"""`hushctl keys`: the maker's key hierarchy and technician certificates."""
import sys

import click

from hushctl import keys, pki
from hushctl.cli import cli


def passphrase_option(f):
    return click.option("--passphrase-file", type=click.Path(dir_okay=False),
                        help="File whose first line is the passphrase (else env HUSHCTL_PASSPHRASE, "
                             "else a hidden prompt on a terminal).")(f)


def get_passphrase(passphrase_file, confirm=False):
    passphrase = keys.passphrase_from(passphrase_file)
    if passphrase is None and sys.stdin.isatty():
        passphrase = click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    return passphrase


@cli.group("keys")
def keys_group():
    """Key hierarchy: root, issuing and fleet CAs, OTA release keys."""


@keys_group.command("init")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--ota-scheme", type=click.Choice(keys.OTA_SCHEMES), default="rsa3072", show_default=True,
              help="Secure Boot V2 signing scheme (ESP32 and ESP32-S3 take rsa3072).")
@click.option("--ota-keys", type=click.IntRange(1, keys.MAX_OTA_KEYS), default=1, show_default=True,
              help="Number of OTA release keys (the ESP32 holds one digest, the S3 three).")
@click.option("--external-ota-signer", "external", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="Public key PEM of an OTA key held by an external signer (repeat per key); no private OTA key is made.")
@passphrase_option
def init_cmd(directory, ota_scheme, ota_keys, external, passphrase_file):
    """Create the key hierarchy in DIRECTORY (refuses to overwrite)."""
    passphrase = get_passphrase(passphrase_file, confirm=True)
    if sys.stderr.isatty():
        click.echo("Generating keys...", err=True)
    hierarchy = keys.init_hierarchy(directory, passphrase, ota_scheme, ota_keys, external)
    for line in keys.summary(hierarchy):
        click.echo(line)
    click.echo("")
    click.echo("Root CA: " + keys.OFFLINE_ADVICE)


@keys_group.command("show")
@click.argument("directory", type=click.Path(file_okay=False))
def show_cmd(directory):
    """Print fingerprints and Secure Boot V2 key digests."""
    for line in keys.summary(keys.Hierarchy(directory)):
        click.echo(line)


@keys_group.command("root-crl")
@click.option("--keys", "keys_dir", required=True, type=click.Path(file_okay=False), help="Key hierarchy directory.")
@click.option("--days", type=int, default=keys.ROOT_CRL_DAYS, show_default=True, help="Validity of the CRL.")
@passphrase_option
def root_crl_cmd(keys_dir, days, passphrase_file):
    """Renew the root CA's CRL (needs the offline root key)."""
    path = keys.renew_root_crl(keys.Hierarchy(keys_dir), get_passphrase(passphrase_file), days)
    click.echo("Root CRL %s (valid %d days)" % (path, days))


@keys_group.group("technician")
def technician_group():
    """Short-lived client certificates for technicians (fleet pushes)."""


@technician_group.command("issue")
@click.argument("name")
@click.option("--keys", "keys_dir", required=True, type=click.Path(file_okay=False), help="Key hierarchy directory.")
@click.option("--days", type=int, default=keys.TECHNICIAN_DAYS, show_default=True, help="Validity (1-90 days).")
@passphrase_option
def technician_issue(name, keys_dir, days, passphrase_file):
    """Issue a certificate for technician NAME, signed by the fleet CA."""
    hierarchy = keys.Hierarchy(keys_dir)
    cert, key_path = keys.issue_technician(hierarchy, name, get_passphrase(passphrase_file), days)
    click.echo("Technician %s: certificate %s/%s.pem (valid until %s)" % (
        name, hierarchy.path(keys.TECH_DIR), name, cert.not_valid_after_utc.isoformat()))
    click.echo("  SHA-256 %s; key %s (encrypted)" % (pki.cert_fingerprint(cert), key_path))


@technician_group.command("revoke")
@click.argument("name")
@click.option("--keys", "keys_dir", required=True, type=click.Path(file_okay=False), help="Key hierarchy directory.")
@passphrase_option
def technician_revoke(name, keys_dir, passphrase_file):
    """Revoke technician NAME: new fleet CRL and handset revocation list."""
    hierarchy = keys.Hierarchy(keys_dir)
    cert = keys.revoke_technician(hierarchy, name, get_passphrase(passphrase_file))
    rdir = hierarchy.path(keys.REVOCATION_DIR)
    click.echo("Revoked technician %s (serial %x)" % (name, cert.serial_number))
    click.echo("  CRL %s; handset list %s" % (rdir / keys.FLEET_CRL, rdir / keys.TECH_REVOKED_BIN))
