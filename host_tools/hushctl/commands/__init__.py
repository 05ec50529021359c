"""Command groups of `hushctl`, one module each (keys, provision, ota, fleet,
sim, ...). Every module here is imported at start-up and attaches its click
group to `hushctl.cli.cli`; adding a module adds its commands."""
import importlib
import pkgutil


def load_all():
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module("%s.%s" % (__name__, info.name))
