"""A quick exit for processes that have loaded torch and Lightning.

At exit Python's last garbage collections walk every object still alive; with torch,
Lightning and their dependencies loaded that took 1.3-1.7 s of every ``python train.py`` (a
KEEL-size run trains in about 1 s) and of every sweep worker. Freezing the live objects
(``gc.freeze``, Python's own switch for this) as the process ends skips that walk; the exit
handlers still run (logging's flush, the loggers' and MLflow's own), and the operating system
reclaims the memory. Used by the command line and the sweep workers, never by a process that
imports the package as a library.
"""

from __future__ import annotations

import atexit
import gc

_registered = False


def exit_quickly() -> None:
    """Skip the interpreter's final garbage collections when this process exits (once per
    process; later calls do nothing)."""
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True
