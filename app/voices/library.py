"""The voice library on disk.

    <data>/voices/<slug>/voice.json      name, language, created, duration, warnings, measurements
                        /reference.wav   what XTTS clones: trimmed, mono, 24 kHz 16-bit, -20 dBFS
                        /original.<ext>  the user's file byte for byte (a microphone take: original.wav)
                        /latents/        the XTTS tier caches <model-id>-<sha>.pt here
    <data>/voices/.trash/<slug>-<time>/  removed voices, so a delete can be undone

Bundled voices (the persona voice "Kaytoo") live read-only in ``assets/voices/<slug>``; they cannot
be renamed or removed, and their latents go to ``<data>/voices/<slug>/latents`` (emptied when the
bundled reference changes, e.g. after an update).

Every change is atomic: a new voice is built in a hidden temporary folder inside the library and
renamed into place, so a crash leaves either no voice or a whole one. Nothing is written when a
clip, a name or a zip is refused.

Name clashes are refused, never renamed silently: adding, renaming, undoing a removal or importing
a zip under a name that exists (case-insensitively) raises ``UserError``; ``import_zip(..., name=)``
imports under another name.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from app import atomic
from app.audio import clip as clip_mod
from app.errors import UserError, shown
from app.runtime import asset_dir
from app.voices import archive, validate
from app.voices.ref import VoiceRef

log = logging.getLogger(__name__)

FORMAT = 1
NAME_MAX = 40
NAME_CHARS = re.compile(r"[\w\- ]+")          # \w: letters and digits of any script, and '_'
LANGUAGE_RE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})?")
MAX_AUDIO_FILE_BYTES = 200_000_000
TRASH = ".trash"
TRASH_KEEP = timedelta(days=30)
BUILDING_PREFIX = ".new-"
TOKEN_RE = re.compile(r"(?P<slug>[a-z0-9][a-z0-9-]*)-(?P<time>\d{8}T\d{12})")


class NameTaken(UserError):
    """The name is already a voice's (``taken`` is that voice's spelling): ask for another."""

    def __init__(self, message: str, taken: str):
        super().__init__(message)
        self.taken = taken


def bundled_voices_dir() -> Path:
    """Where the bundled voices are: assets/voices in the repo or inside the frozen app."""
    return asset_dir() / "voices"


def slugify(name: str) -> str:
    """Folder name for a voice: ASCII, lower case, '-' between words; a hash when nothing is left
    (a name in a non-Latin script)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:NAME_MAX].strip("-")
    return slug or "voice-" + hashlib.sha1(name.casefold().encode()).hexdigest()[:8]


def clean_name(name: str) -> str:
    """The name with runs of spaces collapsed, or UserError saying what is wrong with it."""
    name = " ".join(str(name).split())
    if not name:
        raise UserError("A voice needs a name.")
    if len(name) > NAME_MAX:
        raise UserError(f"The name {shown(name, NAME_MAX)} is too long; a voice name "
                        f"may have at most {NAME_MAX} characters.")
    bad = sorted(set(NAME_CHARS.sub("", name)))
    if bad:
        raise UserError(f"A voice name may only hold letters, digits, spaces, '-' and '_' "
                        f"({shown(name)} has {' '.join(shown(c) for c in bad[:5])}).")
    if not any(c.isalnum() for c in name):
        raise UserError("A voice name needs at least one letter or digit.")
    return name


def clean_language(language: str) -> str:
    code = str(language).strip().lower().replace("_", "-")
    if not LANGUAGE_RE.fullmatch(code):
        raise UserError(f"{shown(language, 20)} is not a language code; use a code such as 'en', 'de' or "
                        "'pt-br'.")
    return code


@dataclass
class Voice:
    name: str
    slug: str
    folder: Path
    reference_wav: Path
    duration_s: float
    language: str
    created: str                                  # ISO 8601, UTC
    bundled: bool = False
    warnings: list[str] = field(default_factory=list)
    latents_path: Path | None = field(default=None, repr=False)   # set for bundled voices

    @property
    def latents_dir(self) -> Path:
        return self.latents_path if self.latents_path is not None else self.folder / "latents"

    def ref(self) -> VoiceRef:
        return VoiceRef(self.name, self.reference_wav, self.latents_dir, self.language)

    def to_dict(self) -> dict:
        return {"name": self.name, "slug": self.slug, "folder": str(self.folder),
                "reference_wav": str(self.reference_wav), "latents_dir": str(self.latents_dir),
                "duration_s": round(self.duration_s, 2), "language": self.language,
                "created": self.created, "bundled": self.bundled, "warnings": list(self.warnings)}


class VoiceLibrary:
    """The user's voices under ``root`` (``paths.voices``) plus the bundled ones.

    ``bundled_dir`` is the folder holding bundled voice folders (default: the app's
    ``assets/voices``); pass a folder without voices for a library with none.
    """

    def __init__(self, root: Path, bundled_dir: Path | None = None):
        self.root = Path(root)
        self.bundled_dir = Path(bundled_dir) if bundled_dir is not None else bundled_voices_dir()
        self._stamped: dict[Path, tuple[int, int]] = {}   # bundled refs whose latents were checked

    # -- reading ----------------------------------------------------------------------------------
    def list(self) -> list[Voice]:
        """Bundled voices first, then the user's by name. A damaged folder is skipped, not deleted."""
        bundled = [v for f in _voice_folders(self.bundled_dir)
                   if (v := self._read(f, bundled=True)) is not None]
        reserved = {v.slug for v in bundled}
        own = [v for f in _voice_folders(self.root) if f.name not in reserved
               and (v := self._read(f)) is not None]
        return bundled + sorted(own, key=lambda v: v.name.casefold())

    def get(self, name: str) -> Voice:
        """The voice called ``name`` (any case), or its slug; UserError with a suggestion if none."""
        wanted = " ".join(str(name).split())
        voices = self.list()
        for v in voices:
            if v.name.casefold() == wanted.casefold():
                return v
        for v in voices:
            if v.slug == wanted.lower() or (wanted and v.slug == slugify(wanted)):
                return v
        hint = ""
        if voices and wanted:
            from rapidfuzz import fuzz, process

            best = process.extractOne(wanted.casefold(), [v.name.casefold() for v in voices],
                                      scorer=fuzz.WRatio, score_cutoff=60)
            if best is not None:
                hint = f" Did you mean '{voices[best[2]].name}'?"
        raise UserError(f"There is no voice named {shown(wanted)}.{hint}")

    def find(self, spoken: str) -> Voice | None:
        """The voice a spoken phrase names ("switch to the narator voice"), or None.

        A name heard word for word wins (the longest, so "Old Narrator" beats "Narrator"); otherwise
        the phrase without filler words is matched fuzzily, spaces ignored, since speech recognition
        splits and misspells names ("kay too" for "Kaytoo").
        """
        from rapidfuzz import fuzz

        words = _words(str(spoken))
        voices = self.list()
        if not words or not voices:
            return None
        heard = f" {' '.join(words)} "
        named = [v for v in voices if f" {' '.join(_words(v.name))} " in heard
                 and not set(_words(v.name)) <= _FILLER]
        if named:
            return max(named, key=lambda v: len(v.name))
        core = " ".join(w for w in words if w not in _FILLER)
        if len(core.replace(" ", "")) < 3:
            return None

        def score(v: Voice) -> float:
            name = " ".join(_words(v.name))
            return max(fuzz.token_sort_ratio(core, name), fuzz.token_set_ratio(core, name),
                       fuzz.ratio(core.replace(" ", ""), name.replace(" ", "")))

        best = max(voices, key=score)
        return best if score(best) >= 80 else None

    # -- changing ---------------------------------------------------------------------------------
    def add(self, name: str, audio: Path, language: str = "en", trim: bool = True) -> Voice:
        """A new voice from an audio file (anything ffmpeg reads). The file itself is only read."""
        name, language = self._free_name(name), clean_language(language)
        audio = Path(audio)
        if audio.is_file() and audio.stat().st_size > MAX_AUDIO_FILE_BYTES:
            raise UserError(f"{audio.name} is {audio.stat().st_size / 1e6:.0f} MB; a voice clip should "
                            f"be a short audio file (under {MAX_AUDIO_FILE_BYTES / 1e6:.0f} MB).")
        prepared = validate.prepare(clip_mod.load(audio), trim)
        return self._store(name, prepared, language, {"file": audio.name},
                           lambda dest: _copy(audio, dest / f"original{_suffix(audio)}"))

    def add_samples(self, name: str, samples: np.ndarray, rate: int, language: str = "en") -> Voice:
        """A new voice from a microphone take: float in [-1, 1] or int16, mono or (frames, channels).
        The take is kept as original.wav, as recorded."""
        name, language = self._free_name(name), clean_language(language)
        raw = np.asarray(samples)
        if raw.dtype == np.int16:
            mono = raw.astype(np.float32) / 32768.0
        elif np.issubdtype(raw.dtype, np.floating):
            mono = raw.astype(np.float32)
        else:
            raise UserError("The recording is not in a sample format Kaytoo can use.")
        if mono.ndim == 2:
            mono = mono.mean(axis=1, dtype=np.float32)
        prepared = validate.prepare(clip_mod.Clip(mono, int(rate)))

        def keep(dest: Path) -> None:
            import io

            import soundfile as sf

            buf = io.BytesIO()
            sf.write(buf, raw, int(rate), subtype="PCM_16" if raw.dtype == np.int16 else "FLOAT",
                     format="WAV")
            atomic.write_bytes(dest / "original.wav", buf.getvalue())

        return self._store(name, prepared, language, {"microphone": True}, keep)

    def rename(self, old: str, new: str) -> Voice:
        voice = self._own(old)
        new = self._free_name(new, allow=voice)
        meta = _load_meta(voice.folder)
        meta["name"] = new
        # voice.json first: a crash before the folder rename leaves a whole voice, just under its
        # old folder name (the slug is always the folder's name).
        atomic.write_text(voice.folder / "voice.json", json.dumps(meta, indent=2, ensure_ascii=False))
        slug = slugify(new)
        if slug != voice.slug:
            target = self._free_folder(slug)
            voice.folder.rename(target)
            atomic.fsync_dir(self.root)
            return self._read_or_fail(target)
        return self._read_or_fail(voice.folder)

    def remove(self, name: str) -> str:
        """Move the voice to the trash; returns the token ``undo_remove`` takes."""
        voice = self._own(name)
        trash = self.root / TRASH
        trash.mkdir(parents=True, exist_ok=True)
        token = f"{voice.slug}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%f')}"
        voice.folder.rename(trash / token)
        atomic.fsync_dir(self.root)
        self._empty_trash()
        return token

    def undo_remove(self, token: str, name: str | None = None) -> Voice:
        """Bring a removed voice back; under ``name`` when its own name was taken meanwhile
        (NameTaken says so)."""
        src = self.root / TRASH / str(token)
        if not TOKEN_RE.fullmatch(str(token)) or not (src / "voice.json").is_file():
            raise UserError("There is nothing to undo: that voice is no longer in the trash.")
        try:
            meta = _load_meta(src)
            own = clean_name(meta["name"])
        except (ValueError, KeyError, TypeError, OSError):
            raise UserError("The removed voice is damaged and cannot be restored.") from None
        new = self._free_name(name) if name else \
            self._free_name(own, hint="; restore the removed one under another name")
        if new != own:
            meta["name"] = new
            atomic.write_text(src / "voice.json", json.dumps(meta, indent=2, ensure_ascii=False))
        target = self._free_folder(slugify(new))
        src.rename(target)
        atomic.fsync_dir(self.root)
        return self._read_or_fail(target)

    def export(self, name: str, zip_path: Path) -> Path:
        """A zip with voice.json and reference.wav, written atomically (bundled voices too)."""
        voice = self.get(name)
        meta = {"format": FORMAT, "name": voice.name, "language": voice.language,
                "created": voice.created, "duration_s": round(voice.duration_s, 2)}
        zip_path = Path(zip_path)
        archive.write(zip_path, meta, voice.reference_wav)
        return zip_path

    def import_zip(self, zip_path: Path, name: str | None = None) -> Voice:
        """A voice from a zip made by ``export``. The zip is checked before anything is unpacked
        (archive.py: only voice.json and reference.wav, no paths, no links, at most 50 MB), unpacked
        into a private temporary folder, and its reference validated like any new clip."""
        zip_path = Path(zip_path)
        label = zip_path.name
        with archive.unpacked(zip_path) as tmp:
            try:
                meta = _load_meta(tmp)
            except ValueError as e:   # UnicodeDecodeError and JSON errors are ValueErrors too
                raise UserError(f"The voice.json in {shown(label)} is not usable ({e}).") from None
            voice_name = self._free_name(meta["name"] if name is None else name,
                                         hint="" if name else f"; import {label} under another name")
            language = clean_language(meta.get("language", "en"))
            ref = tmp / "reference.wav"
            prepared = validate.prepare(clip_mod.load(ref))
            return self._store(voice_name, prepared, language, {"zip": label},
                               lambda dest: _copy(ref, dest / "original.wav"))

    # -- internals --------------------------------------------------------------------------------
    def _own(self, name: str) -> Voice:
        voice = self.get(name)
        if voice.bundled:
            raise UserError(f"'{voice.name}' is a built-in voice; it cannot be renamed or removed.")
        return voice

    def _free_name(self, name: str, allow: Voice | None = None, hint: str = "") -> str:
        name = clean_name(name)
        for v in self.list():
            if v.name.casefold() == name.casefold() and (allow is None or v.folder != allow.folder):
                raise NameTaken(f"There is already a voice named '{v.name}'{hint}.", v.name)
        return name

    def _free_folder(self, slug: str) -> Path:
        """<root>/<slug>, or <slug>-2, -3…: two names may share a slug ("Story Teller",
        "story-teller"), and bundled slugs are reserved for their latents."""
        reserved = {f.name for f in _voice_folders(self.bundled_dir)}
        for n in range(1, 1000):
            candidate = slug if n == 1 else f"{slug}-{n}"
            if candidate not in reserved and not (self.root / candidate).exists():
                return self.root / candidate
        raise UserError(f"There are too many voices named like '{slug}'.")

    def _store(self, name: str, prepared: validate.Prepared, language: str, source: dict,
               keep_original) -> Voice:
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep_building()
        building = Path(tempfile.mkdtemp(prefix=f"{BUILDING_PREFIX}{slugify(name)}-", dir=self.root))
        try:
            clip_mod.write_wav(building / "reference.wav", prepared.samples, prepared.rate)
            keep_original(building)
            (building / "latents").mkdir()
            meta = {"format": FORMAT, "name": name, "language": language,
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "duration_s": round(prepared.seconds, 2), "warnings": prepared.warnings,
                    "reference_sha256": _sha256(building / "reference.wav"),
                    "analysis": prepared.analysis.to_dict(), "source": source}
            if prepared.trimmed_from_s is not None:
                meta["trimmed_from_s"] = round(prepared.trimmed_from_s, 1)
            atomic.write_text(building / "voice.json", json.dumps(meta, indent=2, ensure_ascii=False))
            for _ in range(5):  # another process may take the folder name between check and rename
                target = self._free_folder(slugify(name))
                try:
                    building.rename(target)
                    break
                except OSError:
                    if not target.exists():
                        raise
            else:
                raise UserError(f"The voice '{name}' could not be saved: its folder is taken.")
            atomic.fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return self._read_or_fail(target)

    def _read(self, folder: Path, bundled: bool = False) -> Voice | None:
        try:
            meta = _load_meta(folder)
            ref = folder / "reference.wav"
            if not ref.is_file():
                raise ValueError("reference.wav is missing")
            duration = meta.get("duration_s")
            if not isinstance(duration, (int, float)):
                import soundfile as sf

                duration = sf.info(str(ref)).duration
            voice = Voice(name=str(meta["name"]), slug=folder.name, folder=folder, reference_wav=ref,
                          duration_s=float(duration), language=str(meta.get("language", "en")),
                          created=str(meta.get("created", "")), bundled=bundled,
                          warnings=[str(w) for w in meta.get("warnings", [])])
        except (ValueError, KeyError, TypeError, OSError, RuntimeError) as e:
            log.warning("skipping the damaged voice folder %s: %s", folder, e)
            return None
        if bundled:
            voice.latents_path = self.root / folder.name / "latents"
            self._check_bundled_latents(voice)
        return voice

    def _read_or_fail(self, folder: Path) -> Voice:
        voice = self._read(folder)
        if voice is None:
            raise UserError(f"The voice folder {folder.name} could not be read back.")
        return voice

    def _check_bundled_latents(self, voice: Voice) -> None:
        """Empty a bundled voice's latents folder when its reference changed (an app update), so
        stale latents do not pile up; checked once per library object per reference file state."""
        st = voice.reference_wav.stat()
        if self._stamped.get(voice.reference_wav) == (st.st_size, st.st_mtime_ns):
            return
        stamp = voice.latents_dir.parent / "reference.sha256"
        try:
            digest = _sha256(voice.reference_wav)
            if not stamp.is_file() or stamp.read_text().strip() != digest:
                shutil.rmtree(voice.latents_dir, ignore_errors=True)
                voice.latents_dir.mkdir(parents=True, exist_ok=True)
                atomic.write_text(stamp, digest + "\n")
            self._stamped[voice.reference_wav] = (st.st_size, st.st_mtime_ns)
        except OSError as e:  # a read-only data folder: XTTS then computes latents each run
            log.warning("cannot prepare latents for %s: %s", voice.name, e)

    def _empty_trash(self) -> None:
        """Forget removed voices after TRASH_KEEP (undo is for mistakes, not an archive)."""
        now = datetime.now(timezone.utc)
        for entry in (self.root / TRASH).iterdir():
            m = TOKEN_RE.fullmatch(entry.name)
            if not m:
                continue
            when = datetime.strptime(m["time"], "%Y%m%dT%H%M%S%f").replace(tzinfo=timezone.utc)
            if now - when > TRASH_KEEP:
                shutil.rmtree(entry, ignore_errors=True)

    def _sweep_building(self) -> None:
        """Remove half-built folders a crash left behind (older than a day, so never a live one)."""
        cutoff = datetime.now().timestamp() - 86400
        for entry in self.root.glob(f"{BUILDING_PREFIX}*"):
            try:
                if entry.is_dir() and entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                pass


_FILLER = frozenset("""the a an voice voices please switch change changing set use using to into
    my your speak talk talking with in as like called named one now back""".split())


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _voice_folders(parent: Path) -> list[Path]:
    if not parent.is_dir():
        return []
    return sorted(f for f in parent.iterdir()
                  if not f.name.startswith(".") and f.is_dir() and (f / "voice.json").is_file())


def _load_meta(folder: Path) -> dict:
    try:
        meta = json.loads((folder / "voice.json").read_text(encoding="utf-8"))
    except RecursionError:   # JSON nested deeper than the parser's stack
        raise ValueError("voice.json is nested too deeply") from None
    except ValueError:
        raise ValueError("voice.json is not valid JSON") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise ValueError("voice.json has no voice name")
    return meta


def _copy(src: Path, dest: Path) -> None:
    with open(src, "rb") as f, atomic.atomic_open(dest, "wb") as out:
        shutil.copyfileobj(f, out, 1 << 20)


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ".bin"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()

