"""The `hushctl` command. Each command group lives in its own module and is
registered here; this is also the one place that turns user errors into an
exit code and a single line of text."""
import sys

import click

from hushctl import __version__
from hushctl.errors import HushctlError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hushctl")
def cli():
    """Host tools for Hushphone privacy-first VoIP handsets."""


def _register_commands():
    from hushctl.commands import load_all

    load_all()


def main(argv=None):
    _register_commands()
    try:
        cli.main(args=argv, prog_name="hushctl", standalone_mode=False)
    except HushctlError as e:
        click.echo("hushctl: error: %s" % e, err=True)
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("hushctl: aborted", err=True)
        return 1
    except click.ClickException as e:
        e.show()
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
