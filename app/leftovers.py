"""Sweep what a killed Kaytoo process left half-made: atomic-write temp files, half-built voices,
models set aside for removal.

Those are only garbage when no other Kaytoo process is alive (a running GUI may be saving a voice
right now). Every process holds a shared lock on ``<runtime>/kaytoo.lock`` for as long as it runs;
the sweep needs the exclusive lock, so it happens only in a process that finds itself alone, at its
start, before it has made any file of its own.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import time
from pathlib import Path
from typing import IO

from app.paths import Paths

log = logging.getLogger(__name__)

LOCK_FILE = "kaytoo.lock"
# app.atomic: tempfile.mkstemp(prefix=".<name>.", suffix=".tmp") → ".<name>.<8 random chars>.tmp"
ATOMIC_TMP = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.tmp")
# app.voices.library (".new-<slug>-<random>") and app.engines.models.store (".<name>.removing-<hex>")
HIDDEN_FOLDERS = re.compile(r"\.new-.+|\..+\.removing-[0-9a-f]{8}")


def hold_and_sweep(paths: Paths) -> IO | None:
    """Take this process's shared lock (keep the returned file open while the process runs) and
    sweep first if no other Kaytoo process holds one. None where file locks are not available."""
    try:
        import fcntl
    except ImportError:   # Windows: no sweep (files there are swept by the stores themselves)
        return None
    lock = open(paths.runtime / LOCK_FILE, "a+b")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pass                     # another Kaytoo is running: its temp files may be live
    else:
        removed = sweep(paths, time.time())   # alone, and nothing of ours exists yet
        if removed:
            log.info("removed %d leftovers of interrupted saves: %s", len(removed),
                     ", ".join(str(p) for p in removed[:5]))
    fcntl.flock(lock, fcntl.LOCK_SH)
    return lock


def sweep(paths: Paths, before: float) -> list[Path]:
    """Delete Kaytoo's own temporary files and folders last changed before ``before``."""
    removed = []
    for root in (paths.config, paths.data, paths.cache):
        for folder, dirs, files in os.walk(root):
            for name in list(dirs):
                if HIDDEN_FOLDERS.fullmatch(name) and _older(Path(folder, name), before):
                    dirs.remove(name)
                    shutil.rmtree(Path(folder, name), ignore_errors=True)
                    removed.append(Path(folder, name))
            for name in files:
                if ATOMIC_TMP.fullmatch(name) and _older(Path(folder, name), before):
                    Path(folder, name).unlink(missing_ok=True)
                    removed.append(Path(folder, name))
    return removed


def _older(path: Path, before: float) -> bool:
    try:
        return path.lstat().st_mtime < before
    except OSError:
        return False
