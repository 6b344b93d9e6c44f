"""Shared fixtures. Everything here is real: espeak-ng renders speech, PulseAudio provides devices."""
from __future__ import annotations

import os

# Must happen before any QApplication exists (pytest-qt creates it lazily).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("COQUI_TOS_AGREED", "0")

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def piper_cut(tmp_path_factory) -> Path:
    """The bundled Piper voice's split graphs, cut once for the whole run."""
    from app.engines.tts import piper_split
    from app.engines.tts.piper import bundled_voice

    folder = tmp_path_factory.mktemp("piper-cut")
    if bundled_voice() is not None:
        piper_split.write_cache(bundled_voice(), folder)
    return folder


@pytest.fixture(autouse=True)
def kaytoo_home(tmp_path, monkeypatch, piper_cut) -> Path:
    """Every test gets its own KAYTOO_HOME so nothing touches the real user folders. Its cache
    holds the Piper graphs already cut, as after a first start: otherwise every engine a test
    starts would cut them again in a child process (tests/test_tts_piper.py covers the cut)."""
    home = tmp_path / "kaytoo-home"
    monkeypatch.setenv("KAYTOO_HOME", str(home))
    (home / "cache").mkdir(parents=True)
    (home / "cache" / "piper").symlink_to(piper_cut, target_is_directory=True)
    return home


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def speak(speech_dir):
    """speak(text, name=None, voice='en-us', rate=16000) -> Path to a WAV rendered by espeak-ng."""
    espeak = shutil.which("espeak-ng")
    if not espeak:
        pytest.fail("espeak-ng is missing: the test set-up (scripts/install.sh) installs it")

    def _speak(text: str, name: str | None = None, voice: str = "en-us", rate: int = 16000) -> Path:
        name = name or "".join(c if c.isalnum() else "_" for c in text.lower())[:40]
        raw = speech_dir / f"{name}-{voice}.raw.wav"
        out = speech_dir / f"{name}-{voice}-{rate}.wav"
        if not out.exists():
            subprocess.run([espeak, "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(raw), "-ac", "1",
                            "-ar", str(rate), str(out)], check=True)
        return out

    return _speak


@pytest.fixture(scope="session")
def pulse():
    """A user-mode PulseAudio server with a null sink 'vsink' and its monitor as microphone 'vmic';
    stopped at the end of the session (its XDG_RUNTIME_DIR is the value)."""
    from tests.pulse import start_pulse

    server = start_pulse()
    yield server.runtime
    server.stop()


@pytest.fixture(scope="session")
def xserver():
    """A private X server (Xvfb): a real display for the window and the system-wide key."""
    if not shutil.which("Xvfb"):
        pytest.fail("Xvfb is missing: scripts/install.sh installs it")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24",
                             "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    assert number, "Xvfb did not report its display"
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """A tiny XTTS v2 built from code (tests/tiny_xtts.py), laid out as the downloaded model is."""
    from tests.tiny_xtts import build_tiny_xtts

    return build_tiny_xtts(tmp_path_factory.mktemp("tiny-xtts") / "xtts-v2")


@pytest.fixture(scope="session")
def onnx_dir(tiny_dir) -> Path:
    """The tiny model with its graphs exported beside it (as the converter leaves them)."""
    from app.engines.xtts_onnx.export import export

    out = tiny_dir / "onnx"
    if not (out / "manifest.json").is_file():
        export(tiny_dir, out)
    return tiny_dir


def with_graphs(graphs: Path) -> str:
    """Python source for a child process: the packaged-graphs folder pointed at ``graphs`` (the
    tiny model's; the full-size packaged ones cannot hold its weights) before anything else runs."""
    return ("import sys; from pathlib import Path\n"
            "import app.engines.xtts_onnx.convert as convert\n"
            f"convert.GRAPHS_DIR = Path({str(graphs)!r})\n")


def cli_with_graphs(graphs: Path) -> str:
    """``python -c`` source running the kaytoo CLI (its arguments after the source) with ``graphs``."""
    return with_graphs(graphs) + "from app.cli import main\nsys.exit(main(sys.argv[1:]))\n"


@pytest.fixture(scope="session")
def graphs(tiny_dir, tmp_path_factory) -> Path:
    """The tiny model's ONNX graphs without their weights, as the package ships the full-size ones."""
    from app.engines.xtts_onnx.export import export

    exported = export(tiny_dir, tmp_path_factory.mktemp("exported"))
    out = tmp_path_factory.mktemp("graphs")
    for f in exported.iterdir():
        if not f.name.endswith(".data"):
            shutil.copy2(f, out / f.name)
    return out
