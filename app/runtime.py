"""Where the running program is and how it starts other programs: the frozen (PyInstaller) bundle
or a source checkout, bundled assets, ffmpeg, the engine command line, stopping a child.

A low module with no app imports, so every layer may use it.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def asset_dir() -> Path:
    """The bundled assets: next to the executable when frozen, the repo's assets/ otherwise."""
    if is_frozen():
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "assets"
    return Path(__file__).resolve().parent.parent / "assets"


def prepare_qt() -> None:
    """Point Qt at the bundle's plugins before the window's first Qt import (frozen Linux app).

    PyInstaller's PySide6 run-time hook does this at every start, importing QtCore (its libraries
    and ICU, about 0.05 s) even for headless commands that never show a window; the Linux build
    leaves that hook out (installers/kaytoo.spec) and the window calls this instead, with
    PyInstaller's own helper for the embedded qt.conf."""
    if not (is_frozen() and sys.platform.startswith("linux")):
        return
    from _pyi_rth_utils import qt as pyi_qt  # bundled by PyInstaller with the PySide6 hooks

    qt_dir = Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "PySide6" / "Qt"
    os.environ["QT_PLUGIN_PATH"] = str(qt_dir / "plugins")
    os.environ["QML2_IMPORT_PATH"] = str(qt_dir / "qml")
    pyi_qt.create_embedded_qt_conf("PySide6", str(qt_dir))


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


def stop_child(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """End a child process: ask (SIGTERM), then insist (SIGKILL) after ``grace_s``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
