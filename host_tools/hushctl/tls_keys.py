"""Loading a TLS certificate and its private key into an ssl.SSLContext,
whether the key file is plain or encrypted (as hushctl writes keys): an
encrypted key is decrypted by OpenSSL in memory through load_cert_chain's
password callback, never into a file, and never by OpenSSL's own terminal
prompt."""
import ssl

from hushctl.errors import HushctlError
from hushctl.keys import PASSPHRASE_ENV


def load_cert_chain(ctx, cert, key, passphrase=None, what="key"):
    """`passphrase`: a str, or a function returning one (or None), called
    only if the key is encrypted. Raises HushctlError with one clear line."""
    asked = []

    def password():
        asked.append(True)
        value = passphrase() if callable(passphrase) else passphrase
        if not value:
            raise HushctlError("%s %s is encrypted: give --passphrase-file or set %s" % (what, key, PASSPHRASE_ENV))
        return value.encode("utf-8")

    try:
        ctx.load_cert_chain(cert, key, password=password)
    except (OSError, ssl.SSLError) as e:
        if asked:
            raise HushctlError("cannot load %s %s: wrong passphrase or not a private key" % (what, key))
        raise HushctlError("cannot load TLS certificate/key: %s" % (getattr(e, "strerror", None) or e))
