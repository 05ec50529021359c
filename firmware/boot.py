# Runs first at every reset, before main.py. Deliberately empty of work: on
# a handset MicroPython's first boot (inisetup) writes a boot.py of comments
# to the filesystem, and that file shadows this frozen one, so anything
# essential lives in main.py. Here: only a clean heap for main.py.
import gc

gc.collect()
