"""Process start-up in one place, so the frozen (PyInstaller) app and `python -m app` behave alike.

Owns: multiprocessing freeze support and the spawn start method, logging to the user log dir,
where bundled assets live, and how the engine process is launched.
"""
from __future__ import annotations

import importlib.util
import logging
import logging.handlers
import os
import shutil
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


def find_ffmpeg() -> str | None:
    """ffmpeg on PATH, else the static build imageio-ffmpeg carries (the packaged app bundles it).

    The one lookup for every ffmpeg the app runs (clip decoding, video optimisation)."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    if importlib.util.find_spec("imageio_ffmpeg") is None:
        return None
    import imageio_ffmpeg

    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:  # the package is there but its binary is not
        return None


def engine_command(uri: str, extra: list[str] | None = None) -> list[str]:
    """The argument list that starts an engine process (never a shell string)."""
    base = [sys.executable] if is_frozen() else [sys.executable, "-m", "app"]
    return [*base, "engine", "--uri", uri, *(extra or [])]


def stop_child(proc: "subprocess.Popen", grace_s: float = 5.0) -> None:
    """End a child process: ask (SIGTERM), then insist (SIGKILL) after ``grace_s``."""
    import subprocess

    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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


def freeze_support_main() -> None:
    prepare_process()
    from app.cli import main

    sys.exit(main())
