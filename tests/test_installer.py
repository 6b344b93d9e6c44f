"""The packaged installer, checked without building it (a build takes about a minute and 1 GB).

What is checked: the spec's data list puts every file the app opens at run time where the frozen
app will look for it; what the spec excludes is only the optional XTTS stack, whose tier then
reports a plain reason and hands over to Piper; the spec itself, run with stand-ins for
PyInstaller's build steps; the desktop entry; and a real .deb made from a tiny stand-in bundle.
"""
from __future__ import annotations

import ast
import configparser
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "installers"))
import collect  # noqa: E402
import make_deb  # noqa: E402


@pytest.fixture(scope="module")
def placed() -> dict[Path, Path]:
    """Source file -> its path inside the bundle (relative to sys._MEIPASS)."""
    return {Path(src).resolve(): Path(dest) / Path(src).name for src, dest in collect.datas(REPO)}


def _expect_beside_package(placed: dict[Path, Path], files: list[Path], package: str) -> None:
    """Each file must land where the package's own code looks: <package>/<same relative path>."""
    site = collect.package_dir(package).resolve().parent
    assert files
    for f in files:
        f = Path(f).resolve()
        assert f in placed, f"{f} is not bundled"
        assert placed[f] == f.relative_to(site), f"{f} lands at {placed[f]}"


def test_bundles_the_default_whisper_model(placed):
    from app.engines.models import DEFAULT_MODEL, ModelStore

    store = ModelStore(REPO / "no-such-models-dir")
    spec = store.spec(DEFAULT_MODEL)
    assert spec.bundled is not None
    (package,) = spec.bundled.packages
    folder = collect.package_dir(package) / spec.bundled.folder
    _expect_beside_package(placed, [folder / f.name for f in spec.files], package)


def test_bundles_the_piper_voice_and_espeak_data(placed):
    from piper.phonemize_espeak import ESPEAK_DATA_DIR

    from app.engines.tts.piper import VOICE_PACKAGE, bundled_voice

    onnx = bundled_voice()
    _expect_beside_package(placed, [onnx, onnx.with_name(onnx.name + ".json")], VOICE_PACKAGE)
    espeak = [p for p in Path(ESPEAK_DATA_DIR).rglob("*") if p.is_file()]
    assert any(p.name == "en_dict" for p in espeak)
    _expect_beside_package(placed, espeak, "piper")


def test_bundles_silero_vad(placed):
    from faster_whisper.utils import get_assets_path

    vad = sorted(Path(get_assets_path()).glob("*.onnx"))
    _expect_beside_package(placed, vad, "faster_whisper")


def test_the_static_ffmpeg_is_bundled_except_on_linux_where_the_deb_depends_on_ffmpeg():
    import imageio_ffmpeg  # in the test and build extras

    exe = Path(imageio_ffmpeg.get_ffmpeg_exe()).resolve()
    for platform in ("win32", "darwin", "linux"):
        placed = {Path(src).resolve(): Path(dest) for src, dest in collect.datas(REPO, platform)}
        hidden = collect.hidden_imports(platform)
        if platform == "linux":
            assert exe not in placed and not any(m.startswith("imageio_ffmpeg") for m in hidden)
            assert "imageio_ffmpeg" in collect.from_system(platform)
            assert "ffmpeg" in make_deb.RUNTIME_DEPENDS
        else:
            assert placed[exe] == Path("imageio_ffmpeg/binaries") and "imageio_ffmpeg" in hidden
            assert collect.from_system(platform) == ()


def test_what_the_hooks_bring_but_the_app_never_loads_is_dropped():
    keep = ["PySide6/Qt/lib/libQt6Core.so.6", "PySide6/Qt/lib/libQt6Quick.so.6",  # the video plugin's
            "PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.so", "libasound.so.2",
            "PySide6/Qt/plugins/platforminputcontexts/libibusplatforminputcontextplugin.so"]
    drop = ["PySide6/Qt/lib/libQt6VirtualKeyboard.so.6", "PySide6/Qt/lib/libQt6Pdf.so.6",
            "PySide6/Qt/plugins/imageformats/libqpdf.so", "PySide6/Qt/translations/qt_de.qm",
            "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so"]
    assert not any(collect.dropped(p, "linux") for p in keep)
    assert all(collect.dropped(p, "linux") and collect.dropped(p, "win32") for p in drop)
    assert collect.dropped("libportaudio.so.2", "linux") and not collect.dropped("libportaudio.so.2", "darwin")


def test_bundles_every_asset(placed):
    from app.runtime import asset_dir

    files = [p for p in asset_dir().rglob("*") if p.is_file()]
    assert any(p.name == "reference.wav" for p in files)
    for f in files:  # asset_dir() is <_MEIPASS>/assets when frozen
        assert placed[f.resolve()] == Path("assets") / f.relative_to(asset_dir())


def test_bundles_the_apps_own_data_beside_its_modules(placed):
    """The command grammar and the XTTS graphs are opened beside the modules' ``__file__``."""
    from app.assistant.grammar import BUILTIN
    from app.engines.xtts_onnx.convert import GRAPHS_DIR

    files = [p for folder in (BUILTIN, GRAPHS_DIR) for p in folder.iterdir() if p.is_file()]
    assert any(p.suffix == ".yaml" for p in files) and any(p.name == "manifest.json" for p in files)
    for f in files:
        assert placed[f.resolve()] == f.resolve().relative_to(REPO)


def _imports_in_app() -> dict[str, set[str]]:
    """Top-level module -> app modules that import it (function-level imports included, as
    PyInstaller's analysis sees them), plus names the app looks up with find_spec("...")."""
    found: dict[str, set[str]] = {}
    for py in (REPO / "app").rglob("*.py"):
        mod = ".".join(py.relative_to(REPO).with_suffix("").parts)
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "find_spec"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                names = [node.args[0].value]
            for n in names:
                found.setdefault(n.split(".")[0], set()).add(mod)
    return found


def test_only_the_optional_xtts_stack_is_excluded():
    imports = _imports_in_app()
    excluded_but_used = {m: users for m, users in imports.items() if m in collect.EXCLUDES}
    # Everything the app imports that the bundle leaves out belongs to the XTTS tier, whose
    # check() finds it missing with find_spec (the test below): nothing else may depend on it.
    assert set(excluded_but_used) <= set(collect.OPTIONAL_EXCLUDES), excluded_but_used
    users = set().union(*excluded_but_used.values())
    assert users == {"app.engines.tts.xtts", "app.engines.quantize",   # the torch tier
                     "app.engines.xtts_onnx.export", "app.engines.xtts_onnx.published"}, users  # build time
    assert {collect.OPTIONAL_EXCLUDES[m] for m in excluded_but_used} == {"xtts"}
    assert "torch" in excluded_but_used


def test_packages_found_only_by_name_are_hidden_imports():
    from app.engines.models import DEFAULT_MODEL, ModelStore
    from app.engines.tts.piper import VOICE_PACKAGE

    imported = _imports_in_app()
    by_name = set(ModelStore(REPO / "none").spec(DEFAULT_MODEL).bundled.packages) | {VOICE_PACKAGE}
    for package in by_name:  # no import statement names them, so PyInstaller would not see them
        assert package in collect.HIDDEN_IMPORTS
        assert package in collect.DATA_PACKAGES
    for name, users in imported.items():  # everything else the app needs is found by analysis
        if name in collect.EXCLUDES or name in collect.PYINSTALLER_MODULES:
            continue
        assert name in sys.stdlib_module_names or name in {"app", "__future__"} or \
            importlib.util.find_spec(name) is not None, (name, users)


def test_xtts_without_torch_hands_over_to_piper(monkeypatch, tmp_path):
    """What the bundle does: torch is absent, so XTTS says so plainly and the next tier speaks."""
    from app.engines.tts import xtts
    from app.engines.tts.chain import TtsChain
    from tests.tiers import ToneTier

    real = importlib.util.find_spec
    monkeypatch.setattr(xtts.importlib.util, "find_spec",
                        lambda name, *a: None if name.split(".")[0] in collect.OPTIONAL_EXCLUDES
                        else real(name, *a))
    backend = xtts.XttsBackend(tmp_path, consent=True)
    assert backend.check() == "torch is not installed"
    piper = ToneTier("piper")
    chain = TtsChain([backend, piper], deadlines={"xtts": 5.0, "piper": 5.0}, out_rate=48000)
    speech = chain.speak(["Hello."])
    audio = list(speech)
    assert speech.report.tier == "piper" and sum(len(a) for a in audio) > 0
    assert [(f.tier, f.reason) for f in speech.report.fallbacks] == [("xtts", "torch is not installed")]
    assert piper.spoken == ["Hello."]


class _Recorder:
    """Stands in for one of PyInstaller's build steps inside the spec and keeps what it was given."""

    def __init__(self, log: list, kind: str):
        self.log, self.kind = log, kind

    def __call__(self, *args, **kwargs):
        self.log.append((self.kind, args, kwargs))
        if self.kind == "Analysis":  # PyInstaller's TOC entries are (name, source, kind)
            return type("A", (), {"pure": [], "scripts": [], "datas": [], "binaries": [
                ("libportaudio.so.2", "/usr/lib/x86_64-linux-gnu/libportaudio.so.2", "BINARY"),
                ("libjack.so.0", "/usr/lib/x86_64-linux-gnu/libjack.so.0", "BINARY"),
                ("libasound.so.2", "/usr/lib/x86_64-linux-gnu/libasound.so.2", "BINARY")]})()
        return self.kind


def test_spec_builds_one_kaytoo_folder_with_the_collected_data(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "platform", "linux")
    log: list = []
    spec = REPO / "installers" / "kaytoo.spec"
    names = {k: _Recorder(log, k) for k in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    namespace = {"SPECPATH": str(spec.parent), "DISTPATH": str(tmp_path), "__file__": str(spec), **names}
    exec(compile(spec.read_text(encoding="utf-8"), str(spec), "exec"), namespace)
    calls = {kind: (args, kwargs) for kind, args, kwargs in log}
    (scripts,), analysis = calls["Analysis"]
    assert [Path(s) for s in scripts] == [REPO / "app" / "__main__.py"]
    assert analysis["datas"] == collect.datas(REPO, "linux")
    assert analysis["pathex"] == [str(REPO), *collect.search_paths()]
    assert {"torch", "TTS", "transformers"} <= set(analysis["excludes"])
    assert analysis["hiddenimports"] == collect.hidden_imports("linux")
    assert "imageio_ffmpeg" in analysis["excludes"]   # the .deb depends on Debian's ffmpeg
    exes = [kw for kind, _, kw in log if kind == "EXE"]
    assert [e["name"] for e in exes] == ["kaytoo"] and exes[0]["console"]  # make_deb's /opt/kaytoo/kaytoo
    args, kwargs = calls["COLLECT"]
    assert kwargs["name"] == make_deb.NAME
    binaries = next(a for a in args if isinstance(a, list) and a and isinstance(a[0], tuple))
    # PortAudio comes from the system (.deb Depends), as sounddevice looks it up with ldconfig
    assert [b[0] for b in binaries] == ["libasound.so.2"]
    assert "BUNDLE" not in calls


def test_desktop_entry_is_valid():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(make_deb.DESKTOP_FILE, encoding="utf-8")
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application" and d["Name"] == "Kaytoo" and d["Terminal"] == "false"
    assert d["Exec"].split()[0] == make_deb.NAME          # the /usr/bin launcher
    assert d["Icon"] == make_deb.ICON_FILE.stem == make_deb.NAME
    assert d["Categories"].endswith(";")
    import xml.etree.ElementTree as ET

    assert ET.parse(make_deb.ICON_FILE).getroot().tag.endswith("svg")
    validator = shutil.which("desktop-file-validate")
    if validator:  # Debian's desktop-file-utils, when installed, has the last word
        out = subprocess.run([validator, str(make_deb.DESKTOP_FILE)], capture_output=True, text=True)
        assert out.returncode == 0 and not out.stdout.strip(), out.stdout


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is Debian/Ubuntu only")
def test_deb_from_a_stand_in_bundle(tmp_path):
    app = tmp_path / "kaytoo"
    (app / "_internal").mkdir(parents=True)
    shutil.copy2(shutil.which("true"), app / "kaytoo")   # an ELF linked against the system libc
    (app / "_internal" / "data.txt").write_text("bundled\n")
    deb = make_deb.build_deb(app, tmp_path / "out", "9.8.7")
    assert deb.name == f"kaytoo_9.8.7_{make_deb.architecture()}.deb"
    field = lambda name: subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True,
                                        text=True, check=True).stdout.strip()
    depends = [d.strip() for d in field("Depends").split(",")]
    assert {"libportaudio2", "espeak-ng", "ffmpeg"} <= set(depends)
    assert any(d.startswith("libc6 (>= 2.") for d in depends), depends  # found through ldd
    assert field("Package") == "kaytoo" and field("Version") == "9.8.7"
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    assert (root / "usr/bin/kaytoo").readlink() == Path("/opt/kaytoo/kaytoo")
    assert (root / "opt/kaytoo/_internal/data.txt").read_text() == "bundled\n"
    assert subprocess.run([str(root / "opt/kaytoo/kaytoo")]).returncode == 0
    assert (root / "usr/share/applications/kaytoo.desktop").read_bytes() == make_deb.DESKTOP_FILE.read_bytes()
    assert (root / "usr/share/icons/hicolor/scalable/apps/kaytoo.svg").is_file()
    assert (root / "usr/share/doc/kaytoo/copyright").is_file()
    assert not list((tmp_path / "out").glob("deb-root-*"))  # the staging tree is gone


def test_strip_debug_removes_debug_info_and_leaves_patched_libraries_alone(tmp_path):
    import strip_debug

    site = collect.package_dir("av").parent
    with_debug = next(p for p in sorted((site / "av").rglob("*.so")) if strip_debug.has_debug_info(p))
    patched = next((site / "numpy.libs").glob("libscipy_openblas*"))   # auditwheel-patched, no DWARF
    for f in (with_debug, patched):
        shutil.copy2(f, tmp_path / f.name)
    saved = strip_debug.strip_debug(tmp_path)
    stripped = tmp_path / with_debug.name
    assert saved == with_debug.stat().st_size - stripped.stat().st_size > 0
    assert not strip_debug.has_debug_info(stripped)
    assert (tmp_path / patched.name).read_bytes() == patched.read_bytes()
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(stripped)], capture_output=True, text=True)
    assert "PyInit_" in symbols.stdout   # what the interpreter loads it by is still there
