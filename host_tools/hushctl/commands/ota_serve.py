"""`hushctl ota serve DIR`: serve update bundles over HTTPS (with Range, so
handsets resume interrupted downloads) until Ctrl-C."""
import threading

import click

from hushctl import ota_server
from hushctl.commands.keys import get_passphrase, passphrase_option
from hushctl.commands.ota import ota


@ota.command("serve")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--cert", required=True, type=click.Path(dir_okay=False), help="Server certificate (PEM).")
@click.option("--key", required=True, type=click.Path(dir_okay=False),
              help="Server private key (PEM; an encrypted one is decrypted in memory).")
@click.option("--client-ca", type=click.Path(dir_okay=False),
              help="Only serve clients with a certificate from this CA (PEM): mutual TLS.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free port; the URL printed says which).")
@click.option("--max-connections", default=16, show_default=True, type=click.IntRange(1, 1024))
@click.option("--quiet", is_flag=True, help="No access log.")
@passphrase_option
def serve(directory, cert, key, client_ca, host, port, max_connections, quiet, passphrase_file):
    """Serve the bundles in DIRECTORY over HTTPS until Ctrl-C."""
    context = ota_server.server_context(cert, key, client_ca, lambda: get_passphrase(passphrase_file))
    log = None if quiet else (lambda text: click.echo(text, err=True))
    server = ota_server.OtaServer(directory, context, host, port, max_connections, log=log)
    click.echo("serving %s at %s%s" % (directory, server.url, " (client certificates required)" if client_ca else ""))
    thread = threading.Thread(target=server.serve_forever, name="ota-serve", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
