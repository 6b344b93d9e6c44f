"""The voice library on disk: ``<data>/voices/<slug>/{voice.json, reference.wav, original.*, latents/}``.

The bundled persona voice lives read-only in ``assets/voices/kaytoo``; its latents go to the user's
data folder. Every change is atomic: a voice folder is built under a temporary name and renamed
into place, removed voices go to ``.trash`` so a delete can be undone.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from app import atomic
from app.audio import clip as clip_mod
from app.engines.tts.base import VoiceRef
from app.errors import UserError
from app.voices import validate

NAME_RE = re.compile(r"^[\w][\w \-]{0,39}$")
ZIP_FILES = {"voice.json", "reference.wav"}
ZIP_MAX_BYTES = 50_000_000
BUNDLED = "kaytoo"


@dataclass
class Voice:
    name: str
    slug: str
    folder: Path
    reference_wav: Path
    duration_s: float
    language: str
    created: str
    bundled: bool = False
    warnings: list[str] = field(default_factory=list)
    latents_root: Path | None = None

    @property
    def latents_dir(self) -> Path:
        return (self.latents_root or self.folder) / "latents"

    def ref(self) -> VoiceRef:
        return VoiceRef(self.name, self.reference_wav, self.latents_dir, self.language)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("folder", "reference_wav", "latents_root"):
            d[k] = str(d[k]) if d[k] is not None else None
        return d


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "voice"


class VoiceLibrary:
    def __init__(self, root: Path, bundled_dir: Path | None = None):
        self.root = Path(root)
        self.bundled_dir = Path(bundled_dir) if bundled_dir else None

    # -- reading ---------------------------------------------------------------------------
    def list(self) -> list[Voice]:
        voices = []
        if self.bundled_dir and (self.bundled_dir / BUNDLED / "voice.json").exists():
            voices.append(self._read(self.bundled_dir / BUNDLED, bundled=True))
        if self.root.is_dir():
            for folder in sorted(self.root.iterdir()):
                if folder.name.startswith(".") or folder.name == BUNDLED:
                    continue
                if (folder / "voice.json").exists():
                    try:
                        voices.append(self._read(folder))
                    except (ValueError, KeyError, OSError):
                        continue  # a damaged entry is skipped, never deleted
        return voices

    def get(self, name: str) -> Voice:
        voices = self.list()
        for v in voices:
            if v.name.lower() == name.lower() or v.slug == slugify(name):
                return v
        import difflib

        close = difflib.get_close_matches(name, [v.name for v in voices], n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UserError(f"There is no voice named '{name}'.{hint}")

    def find(self, spoken: str) -> Voice | None:
        """Fuzzy match for a spoken name ("the narator voice")."""
        from rapidfuzz import fuzz, process

        spoken = re.sub(r"\b(the|voice|please)\b", " ", spoken.lower()).strip()
        voices = self.list()
        if not spoken or not voices:
            return None
        best = process.extractOne(spoken, {v.name: v.name.lower() for v in voices},
                                  scorer=fuzz.WRatio, score_cutoff=70)
        return next(v for v in voices if v.name == best[2]) if best else None

    # -- changing --------------------------------------------------------------------------
    def add(self, name: str, audio: Path, language: str = "en", trim: bool = True) -> Voice:
        name = self._new_name(name)
        clip = clip_mod.load(audio)
        return self._store(name, validate.prepare(clip, trim), language, original=Path(audio))

    def add_samples(self, name: str, samples: np.ndarray, rate: int, language: str = "en") -> Voice:
        name = self._new_name(name)
        return self._store(name, validate.prepare(clip_mod.Clip(samples.astype(np.float32), rate)),
                           language, original=None)

    def rename(self, old: str, new: str) -> Voice:
        voice = self._own(old)
        new = self._new_name(new, allow=voice.slug)
        meta = json.loads((voice.folder / "voice.json").read_text())
        meta["name"] = new
        target = self.root / slugify(new)
        if target != voice.folder:
            voice.folder.rename(target)
        atomic.write_text(target / "voice.json", json.dumps(meta, indent=2))
        return self._read(target)

    def remove(self, name: str) -> str:
        voice = self._own(name)
        trash = self.root / ".trash"
        trash.mkdir(parents=True, exist_ok=True)
        token = f"{voice.slug}-{time.time_ns()}"
        voice.folder.rename(trash / token)
        return token

    def undo_remove(self, token: str) -> Voice:
        src = self.root / ".trash" / token
        if "/" in token or not src.is_dir():
            raise UserError("There is nothing to undo for that voice.")
        meta = json.loads((src / "voice.json").read_text())
        self._new_name(meta["name"])
        target = self.root / slugify(meta["name"])
        src.rename(target)
        return self._read(target)

    def export(self, name: str, zip_path: Path) -> Path:
        voice = self.get(name)
        meta = json.loads((voice.folder / "voice.json").read_text())
        with atomic.atomic_open(Path(zip_path), "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("voice.json", json.dumps(meta, indent=2))
                z.write(voice.reference_wav, "reference.wav")
        return Path(zip_path)

    def import_zip(self, zip_path: Path, name: str | None = None) -> Voice:
        zip_path = Path(zip_path)
        if not zip_path.is_file():
            raise UserError(f"{zip_path} does not exist or is not a file.")
        try:
            z = zipfile.ZipFile(zip_path)
        except zipfile.BadZipFile:
            raise UserError(f"{zip_path.name} is not a zip file.") from None
        with z, tempfile.TemporaryDirectory(prefix="kaytoo-import-") as tmp:
            members = self._safe_members(z, zip_path.name)
            for info in members:
                (Path(tmp) / info.filename).write_bytes(z.read(info))
            try:
                meta = json.loads((Path(tmp) / "voice.json").read_text(encoding="utf-8"))
                voice_name = name or str(meta["name"])
                language = str(meta.get("language", "en"))
            except (ValueError, KeyError, TypeError):
                raise UserError(f"{zip_path.name} has an unreadable voice.json.") from None
            return self.add(voice_name, Path(tmp) / "reference.wav", language)

    # -- internals -------------------------------------------------------------------------
    def _safe_members(self, z: zipfile.ZipFile, label: str) -> list[zipfile.ZipInfo]:
        members = z.infolist()
        total = 0
        for info in members:
            fname = info.filename
            if fname.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", fname) or ".." in Path(fname).parts:
                raise UserError(f"{label} contains an unsafe path ('{fname}'); nothing was imported.")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise UserError(f"{label} contains a link ('{fname}'); nothing was imported.")
            if fname not in ZIP_FILES:
                raise UserError(f"{label} contains an unexpected file ('{fname}'); a voice zip holds "
                                "only voice.json and reference.wav.")
            total += info.file_size
        if total > ZIP_MAX_BYTES:
            raise UserError(f"{label} unpacks to {total / 1e6:.0f} MB; the limit is "
                            f"{ZIP_MAX_BYTES / 1e6:.0f} MB.")
        missing = ZIP_FILES - {m.filename for m in members}
        if missing:
            raise UserError(f"{label} is missing {', '.join(sorted(missing))}.")
        return members

    def _own(self, name: str) -> Voice:
        voice = self.get(name)
        if voice.bundled:
            raise UserError(f"'{voice.name}' is the built-in voice; it cannot be changed or removed.")
        return voice

    def _new_name(self, name: str, allow: str | None = None) -> str:
        name = " ".join(str(name).split())
        if not NAME_RE.match(name):
            raise UserError("A voice name has 1 to 40 letters, digits, spaces, '-' or '_'.")
        slug = slugify(name)
        taken = {v.slug for v in self.list()} - ({allow} if allow else set())
        if slug in taken:
            raise UserError(f"There is already a voice named '{name}'.")
        return name

    def _store(self, name: str, prepared: validate.Prepared, language: str,
               original: Path | None) -> Voice:
        self.root.mkdir(parents=True, exist_ok=True)
        slug = slugify(name)
        building = Path(tempfile.mkdtemp(prefix=f".{slug}-", dir=self.root))
        try:
            clip_mod.write_wav(building / "reference.wav", prepared.samples, validate.REFERENCE_RATE)
            if original is not None:
                shutil.copyfile(original, building / f"original{original.suffix.lower() or '.bin'}")
            (building / "latents").mkdir()
            meta = {"name": name, "language": language,
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "duration_s": round(prepared.seconds, 2), "warnings": prepared.warnings}
            atomic.write_text(building / "voice.json", json.dumps(meta, indent=2))
            building.rename(self.root / slug)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return self._read(self.root / slug)

    def _read(self, folder: Path, bundled: bool = False) -> Voice:
        meta = json.loads((folder / "voice.json").read_text(encoding="utf-8"))
        slug = folder.name
        return Voice(name=meta["name"], slug=slug, folder=folder,
                     reference_wav=folder / "reference.wav",
                     duration_s=float(meta.get("duration_s", 0.0)),
                     language=meta.get("language", "en"), created=meta.get("created", ""),
                     bundled=bundled, warnings=list(meta.get("warnings", [])),
                     latents_root=(self.root / slug) if bundled else None)
