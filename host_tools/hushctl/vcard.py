"""vCard 4.0 (RFC 6350) for the host tools: the handset's own codec
(hushphone.vcard), with its errors raised as HushctlError so that the CLI
reports them as one line."""
from hushphone import vcard as _core

from hushctl.errors import HushctlError


class VCardError(HushctlError):
    pass


def _host_errors(func):
    def wrapper(*args):
        try:
            return func(*args)
        except _core.VCardError as e:
            raise VCardError(str(e)) from None

    wrapper.__doc__ = func.__doc__
    return wrapper


parse = _host_errors(_core.parse)
check = _host_errors(_core.check)
serialize = _host_errors(_core.serialize)
