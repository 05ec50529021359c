"""`hushctl provision`: give one handset its identity, trust and eFuses."""
import json
import os
import sys

import click

from hushctl import boards, efuses, provision
from hushctl.cli import cli
from hushctl.commands.keys import get_passphrase, passphrase_option
from hushctl.errors import UsageError


def _sip_password(path):
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                return f.readline().rstrip("\n")
        except OSError as e:
            raise UsageError("cannot read the SIP password file: %s" % e.strerror)
    return os.environ.get("HUSHCTL_SIP_PASSWORD")


def _ask(question):
    if not sys.stdin.isatty():
        raise UsageError("burning eFuses needs a yes: answer on a terminal, or add --yes")
    return click.confirm(question, default=False, err=True)


@cli.group("provision", invoke_without_command=True)
@click.option("--keys", "keys_dir", type=click.Path(file_okay=False), help="Key hierarchy directory (hushctl keys init).")
@click.option("--board", help="Board name (%s, or boards/<name>/board.json)." % ", ".join(boards.board_names()))
@click.option("--serial", help="Handset id (default: a new random one); with --reprovision, the handset to redo.")
@click.option("--reprovision", is_flag=True, help="New key and certificate for a provisioned handset; the old certificate is revoked.")
@click.option("--inventory", "inventory_path", type=click.Path(dir_okay=False), help="Inventory: a SQLite file (default: KEYS/inventory.sqlite) or a postgresql:// URL.")
@click.option("--sim", "sim_dir", type=click.Path(file_okay=False), help="Provision the simulated handset whose storage is DIR.")
@click.option("--factory-image", type=click.Path(dir_okay=False), help="Write one merged flash image for a production programmer.")
@click.option("--port", help="Serial port of the handset (flashing, eFuses).")
@click.option("--write-flash", is_flag=True, help="Really write flash over --port (default: print the esptool command).")
@click.option("--bootloader", type=click.Path(dir_okay=False, exists=True), help="Signed bootloader image.")
@click.option("--firmware", type=click.Path(dir_okay=False, exists=True), help="Signed application image (goes to ota_0).")
@click.option("--firmware-version", help="Firmware version for the inventory (default: from the image).")
@click.option("--micropython-image", type=click.Path(dir_okay=False, exists=True),
              help="A stock MicroPython release (merged .bin) for the board: its bootloader and app are used.")
@click.option("--fs-build", type=click.Path(file_okay=False, exists=True),
              help="With --micropython-image: the output directory of hushctl firmware build (vfs.bin, hush.bin).")
@click.option("--encrypt-nvs", is_flag=True, help="NVS-encrypt the NVS partition (with a generated nvs_keys partition).")
@click.option("--server-ca", "server_cas", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="PEM CA certificate the handset trusts for the SIP server (repeatable).")
@click.option("--sip-registrar", help="SIP registrar URI, e.g. sips:pbx.example.org.")
@click.option("--sip-proxy", help="Outbound proxy URI.")
@click.option("--sip-user", help="SIP user (address of record user part).")
@click.option("--sip-password-file", type=click.Path(dir_okay=False), help="File with the SIP password (else env HUSHCTL_SIP_PASSWORD).")
@click.option("--sip-display", help="Display name.")
@click.option("--virtual-efuses", type=click.Path(dir_okay=False), help="Use espefuse's virtual eFuses in FILE instead of a chip.")
@click.option("--burn-efuses", is_flag=True, help="Really burn eFuses (irreversible; default is a dry run).")
@click.option("--yes", is_flag=True, help="Do not ask before burning eFuses (automation).")
@click.option("--secure-version", type=int, help="Anti-rollback floor (default: the firmware's secure_version).")
@click.option("--no-secure-boot", is_flag=True, help="Burn the key digest but do not enable Secure Boot V2.")
@click.option("--keep-jtag", is_flag=True, help="Leave JTAG enabled (development only).")
@click.option("--download-mode", type=click.Choice(efuses.DOWNLOAD_MODES), default="secure", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the inventory row as JSON.")
@passphrase_option
@click.pass_context
def provision_group(ctx, keys_dir, board, serial, reprovision, inventory_path, sim_dir, factory_image, port, write_flash,
                    bootloader, firmware, firmware_version, micropython_image, fs_build, encrypt_nvs, server_cas, sip_registrar, sip_proxy, sip_user,
                    sip_password_file, sip_display, virtual_efuses, burn_efuses, yes, secure_version, no_secure_boot,
                    keep_jtag, download_mode, as_json, passphrase_file):
    """Provision one handset (dry run for eFuses unless --burn-efuses)."""
    if ctx.invoked_subcommand is not None:
        return
    if not keys_dir or not board:
        raise UsageError("provision needs --keys DIR and --board NAME")
    board_obj = boards.get_board(board)
    sip = {"registrar": sip_registrar, "proxy": sip_proxy, "user": sip_user,
           "password": _sip_password(sip_password_file), "display": sip_display}
    opts = provision.Options(
        keys_dir, get_passphrase(passphrase_file), board_obj, inventory=inventory_path, serial=serial,
        reprovision=reprovision, sim_dir=sim_dir, factory_image=factory_image, port=port, write_flash=write_flash,
        bootloader=bootloader, firmware=firmware, firmware_version=firmware_version,
        micropython_image=micropython_image, fs_build=fs_build, encrypt_nvs=encrypt_nvs,
        server_cas=server_cas, sip=sip, virtual_efuses=virtual_efuses, burn_efuses=burn_efuses,
        secure_version=secure_version, secure_boot=not no_secure_boot, disable_jtag=not keep_jtag,
        download_mode=download_mode)
    echo = (lambda text: click.echo(text, err=True)) if as_json else click.echo
    row = provision.provision(opts, echo, confirm=lambda q: yes or _ask(q))
    if as_json:
        click.echo(json.dumps(row, indent=2))
    else:
        click.echo("Provisioned %s (%s)" % (row["serial"], row["status"]))


@provision_group.command("revoke")
@click.argument("serial")
@click.option("--keys", "keys_dir", required=True, type=click.Path(file_okay=False), help="Key hierarchy directory.")
@click.option("--inventory", "inventory_path", type=click.Path(dir_okay=False))
@click.option("--reason", default="revoked", show_default=True)
@passphrase_option
def revoke_cmd(serial, keys_dir, inventory_path, reason, passphrase_file):
    """Revoke handset SERIAL's certificate and re-sign the device CRL."""
    row, crl = provision.revoke(keys_dir, get_passphrase(passphrase_file), serial, inventory_path, reason)
    click.echo("Revoked %s (certificate %s); CRL %s" % (row["serial"], row["cert_serial"], crl))
