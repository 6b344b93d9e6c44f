"""Atomic file writes: temp file in the same folder, fsync, rename. A crash leaves old or new, never half.

The temp files are named ``.<name>.<random>.tmp``; ``app.leftovers`` sweeps those a killed process
left behind. A new file gets the permissions a plain ``open()`` would give (the user's umask), so a
WAV written with ``say --out`` is readable like any other of the user's files; ``private=True`` keeps
it 0600 (settings, which may hold an endpoint's key).
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

TMP_SUFFIX = ".tmp"


@contextmanager
def atomic_open(path: Path, mode: str = "wb", *, private: bool = False) -> Iterator[IO]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        if not private and os.name == "posix":
            os.fchmod(fd, 0o666 & ~umask())   # mkstemp makes 0600; follow the umask like open()
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_bytes(path: Path, data: bytes, *, private: bool = False) -> None:
    with atomic_open(path, "wb", private=private) as f:
        f.write(data)


def write_text(path: Path, text: str, *, private: bool = False) -> None:
    write_bytes(path, text.encode("utf-8"), private=private)


def umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux ≥ 4.7)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)   # elsewhere the only way to read it is to set it and restore it
    os.umask(old)
    return old


def fsync_dir(folder: Path) -> None:
    """Make a rename or deletion in ``folder`` durable (POSIX; Windows has no directory fsync)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
