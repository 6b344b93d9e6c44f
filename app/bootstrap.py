"""Process start-up in one place, so the frozen (PyInstaller) app and `python -m app` behave alike.

Owns: multiprocessing freeze support and the spawn start method, logging to the user log dir,
where bundled assets live, and how the engine process is launched.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from app.paths import Paths


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def asset_dir() -> Path:
    """The bundled assets: next to the executable when frozen, the repo's assets/ otherwise."""
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "assets"
    return Path(__file__).resolve().parent.parent / "assets"


def engine_command(uri: str, extra: list[str] | None = None) -> list[str]:
    """The argument list that starts an engine process (never a shell string)."""
    base = [sys.executable] if is_frozen() else [sys.executable, "-m", "app"]
    return [*base, "engine", "--uri", uri, *(extra or [])]


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


def freeze_support_main() -> None:
    prepare_process()
    from app.cli import main

    sys.exit(main())
