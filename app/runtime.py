"""Where the running program is and how it starts other programs: the frozen (PyInstaller) bundle
or a source checkout, bundled assets, ffmpeg, the engine command line, stopping a child.

A low module with no app imports, so every layer may use it.
"""
from __future__ import annotations

import importlib.util
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
