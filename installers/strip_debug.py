"""Remove the debugging information some wheels ship inside their libraries (build time, Linux).

ctranslate2's extension module is 68 MB, of which 66 MB is DWARF debug info; PyAV's modules and
libpython carry theirs too. Only ELF files with a ``.debug_info`` section are touched, and only with
``strip --strip-debug`` (symbols stay): PyInstaller's own ``strip=True`` strips every library fully,
which rewrote the layout of libraries auditwheel had patched (NumPy's OpenBLAS) so that they no
longer loaded ("ELF load command address/offset not page-aligned").
"""
from __future__ import annotations

import subprocess
from pathlib import Path

_ELF_MAGIC = b"\x7fELF"


def has_debug_info(path: Path) -> bool:
    with open(path, "rb") as f:
        if f.read(4) != _ELF_MAGIC:
            return False
    out = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True, check=False)
    return " .debug_info " in out.stdout


def strip_debug(folder: Path) -> int:
    """Strip the debug info of every ELF file under ``folder`` that has some; returns bytes saved."""
    saved = 0
    for f in sorted(Path(folder).rglob("*")):
        if f.is_symlink() or not f.is_file() or f.stat().st_size < 4096 or not has_debug_info(f):
            continue
        before = f.stat().st_size
        subprocess.run(["strip", "--strip-debug", str(f)], check=True)  # writes a new file, then renames
        saved += before - f.stat().st_size
    return saved
