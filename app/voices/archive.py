"""A voice as a zip (voice.json + reference.wav), written atomically and read defensively: the
zip is checked before anything is unpacked (exactly those two plain files, no absolute or ``..``
paths, no links, no encryption, at most 50 MB declared and counted), and unpacked only into a
private temporary folder. Every refusal is a UserError of one sentence; nothing is unpacked then.
"""
from __future__ import annotations

import json
import re
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from app import atomic
from app.errors import UserError

ENTRIES = ("voice.json", "reference.wav")
MAX_BYTES = 50_000_000                    # uncompressed total, and the zip file itself


def write(zip_path: Path, meta: dict, reference_wav: Path) -> None:
    with atomic.atomic_open(zip_path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("voice.json", json.dumps(meta, indent=2, ensure_ascii=False))
        z.write(reference_wav, "reference.wav")


@contextmanager
def unpacked(zip_path: Path) -> Iterator[Path]:
    """A temporary folder holding the zip's voice.json and reference.wav, removed afterwards."""
    label = zip_path.name
    if not zip_path.is_file():
        raise UserError(f"{zip_path} does not exist or is not a file.")
    if zip_path.stat().st_size > MAX_BYTES:
        raise UserError(f"{label} is {zip_path.stat().st_size / 1e6:.0f} MB; a voice zip may be "
                        f"at most {MAX_BYTES / 1e6:.0f} MB.")
    try:
        z = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError):
        raise UserError(f"{label} is not a zip file.") from None
    with z, tempfile.TemporaryDirectory(prefix="kaytoo-import-") as tmp:
        _check_members(z, label)
        budget = MAX_BYTES
        for entry in ENTRIES:
            budget -= _extract(z, entry, Path(tmp) / entry, budget, label)
        yield Path(tmp)


def _check_members(z: zipfile.ZipFile, label: str) -> None:
    """Refuse the whole zip unless it holds exactly voice.json and reference.wav, as plain files."""
    seen: set[str] = set()
    total = 0
    for info in z.infolist():
        fname = info.filename
        parts = re.split(r"[\\/]", fname)
        if fname.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", fname) or ".." in parts:
            raise UserError(f"{label} contains an unsafe path ('{fname}'); nothing was imported.")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise UserError(f"{label} contains a link ('{fname}'); nothing was imported.")
        if fname not in ENTRIES:
            raise UserError(f"{label} contains an unexpected entry ('{fname}'); a voice zip holds "
                            "only voice.json and reference.wav.")
        if fname in seen:
            raise UserError(f"{label} contains '{fname}' twice; nothing was imported.")
        if info.flag_bits & 0x1:
            raise UserError(f"{label} is encrypted; export the voice again without a password.")
        seen.add(fname)
        total += info.file_size
    if total > MAX_BYTES:
        raise UserError(f"{label} unpacks to {total / 1e6:.0f} MB; the limit is "
                        f"{MAX_BYTES / 1e6:.0f} MB.")
    missing = [e for e in ENTRIES if e not in seen]
    if missing:
        raise UserError(f"{label} is missing {' and '.join(missing)}; it is not a Kaytoo voice.")


def _extract(z: zipfile.ZipFile, entry: str, dest: Path, budget: int, label: str) -> int:
    """Copy one entry out in chunks, counting real bytes: the sizes a zip declares can lie."""
    written = 0
    try:
        with z.open(entry) as src, open(dest, "wb") as out:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > budget:
                    raise UserError(f"{label} unpacks to more than {MAX_BYTES / 1e6:.0f} MB; "
                                    f"the limit is {MAX_BYTES / 1e6:.0f} MB.")
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
            NotImplementedError) as e:
        raise UserError(f"{label} is damaged and could not be unpacked ({e}).") from None
    return written
