"""Process start-up in one place, so the frozen (PyInstaller) app and `python -m app` behave alike.

Owns: multiprocessing freeze support and the spawn start method, console streams of a windowed
app, the library path children inherit, and logging to the user log dir. Where things are and how
children start is in ``app.runtime``.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from app.paths import Paths
from app.runtime import is_frozen


def prepare_process() -> None:
    """Call first thing in every entry point."""
    import multiprocessing

    multiprocessing.freeze_support()  # a frozen child re-enters main(): let it run its job and exit
    try:
        multiprocessing.set_start_method("spawn")  # fork + Qt/torch threads deadlocks; match Windows
    except RuntimeError:
        pass
    # A windowed frozen app has no console: stdout/stderr are None and print() would crash.
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")
    if is_frozen() and sys.platform.startswith("linux"):
        _restore_library_path()


def _restore_library_path() -> None:
    """Give child processes the user's library path, not the bundle's.

    PyInstaller's bootloader points LD_LIBRARY_PATH at the bundle so this process finds its own
    libraries (the loader read it at start-up; changing it now does not affect this process).
    Inherited, it would make system programs we run (espeak-ng, a system ffmpeg) load the bundle's
    copies of libstdc++, libasound, libpulse... built for another system. Our own engine child is
    the frozen executable again, whose bootloader sets the variable afresh."""
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is not None:
        os.environ["LD_LIBRARY_PATH"] = original
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)


def setup_logging(paths: Paths, verbose: bool = False, name: str = "kaytoo") -> Path:
    """Rotating log file in the user log dir; warnings (or everything with --verbose) to stderr."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    log_file = paths.logs / f"{name}.log"
    root = logging.getLogger()
    if any(getattr(h, "_kaytoo", False) for h in root.handlers):
        return log_file
    root.setLevel(logging.DEBUG)
    fmt = logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    fh = logging.handlers.RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=3,
                                              encoding="utf-8")
    fh.setFormatter(fmt)
    fh.setLevel(logging.DEBUG)
    sh = logging.StreamHandler(sys.stderr)
    sh.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    sh.setLevel(logging.DEBUG if verbose else logging.ERROR)
    for h in (fh, sh):
        h._kaytoo = True  # type: ignore[attr-defined]
        root.addHandler(h)
    for noisy in ("numba", "matplotlib", "urllib3", "faster_whisper", "TTS", "httpx", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return log_file
