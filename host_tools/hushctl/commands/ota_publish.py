"""`hushctl ota publish [BUNDLE] --to DIR --channel NAME`: static files for
handsets to pull from any HTTPS host (the bundle and a signed channel
document), with staged rollouts and a halt."""
import json

import click

from hushctl import ota_publish
from hushctl.commands.keys import get_passphrase, passphrase_option
from hushctl.commands.ota import ota
from hushctl.errors import HushctlError


@ota.command("publish")
@click.argument("bundle", required=False, type=click.Path(dir_okay=False))
@click.option("--to", "directory", required=True, type=click.Path(file_okay=False),
              help="Directory the HTTPS host serves (created if missing).")
@click.option("--channel", "channel_name", default="stable", show_default=True, help="Channel name.")
@click.option("--rollout", help="Share of handsets that install it, e.g. 10% (default 100% for a new bundle; "
                                "without BUNDLE: changes the share of what is published).")
@click.option("--halt", is_flag=True, help="Publish a document that stops further installs (republish to resume).")
@click.option("--keys", "keys_dir", type=click.Path(file_okay=False), help="Key hierarchy (its local OTA keys sign).")
@click.option("--key", "key_paths", multiple=True, type=click.Path(dir_okay=False),
              help="PEM release signing key (repeatable, up to 3).")
@click.option("--expires-days", default=ota_publish.DEFAULT_EXPIRES_DAYS, show_default=True, type=int,
              help="Handsets refuse the document after this; republish before.")
@click.option("--sequence", type=int, help="Sequence number (default: the published one + 1).")
@click.option("--now", type=int, help="Issue time, UNIX seconds (default: the clock).")
@click.option("--json", "as_json", is_flag=True, help="Print the channel document as JSON.")
@passphrase_option
def publish(bundle, directory, channel_name, rollout, halt, keys_dir, key_paths, expires_days, sequence, now, as_json,
            passphrase_file):
    """Publish BUNDLE (.hushota) on a channel for handsets to pull."""
    if not keys_dir and not key_paths:
        raise HushctlError("give the release keys: --keys DIR (key hierarchy) or --key PEM")
    share = ota_publish.parse_rollout(rollout) if rollout is not None else None
    ota_publish.ensure_dir(directory)
    keys = ota_publish.load_keys(keys_dir, key_paths, get_passphrase(passphrase_file))
    fields = ota_publish.publish(directory, channel_name, keys, bundle, share, halt, expires_days, now, sequence)
    if as_json:
        click.echo(json.dumps(fields, indent=2, sort_keys=True))
        return
    for line in ota_publish.describe(fields):
        click.echo(line)
    click.echo("handsets pull https://HOST/.../%s" % ota_publish.channel_path(directory, channel_name).name)
