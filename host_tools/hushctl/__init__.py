"""hushctl: the host tools for Hushphone handsets (keys, provisioning,
signed updates, fleet pushes, simulation). Library functions first; the
command line in cli.py is a thin layer over them."""
__version__ = "0.1.0"
