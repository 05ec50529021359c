"""Errors a user can cause (bad input, wrong passphrase, refused update).

The CLI maps them to one clear line on stderr and a non-zero exit; any other
exception is a bug and keeps its traceback."""


class HushctlError(Exception):
    exit_code = 1


class UsageError(HushctlError):
    exit_code = 2
