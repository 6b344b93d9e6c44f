"""The packaged app itself: built with PyInstaller from installers/kaytoo.spec (once per module,
about a minute), then run as its users run it, with no torch anywhere in it.

- With no XTTS model the cloned tier says why in one plain phrase and Piper speaks.
- The user's way to a cloned voice, through the frozen executable: `kaytoo models download xtts-v2
  --accept-licence` (from a local mirror; the licence lands in settings) downloads, sha256-checks
  and converts the model with the bundled torch-free converter and 4-bit quantizer; `kaytoo voices
  add` puts a recording in the library; `kaytoo say --tier xtts` and `kaytoo gui --smoke` speak in
  that voice on the ONNX Runtime tier.

The real XTTS v2 weights cannot be fetched here, so the tiny model of tests/tiny_xtts.py stands in.
Its weights fit only its own graphs: after the build, the bundled full-size graphs (checked to be
there) are replaced in this test's copy of the bundle by the tiny model's graphs, exported without
weights exactly as the package's are (app/engines/xtts_onnx/export.py). The extra catalogue
(KAYTOO_MODEL_CATALOGUE) describes the tiny files, since the built-in one pins the hub's.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.paths import resolve
from app.settings import Settings, load, save
from tests.conftest import REPO
from tests.test_cli_models import CPML, ModelServer, entry

pytestmark = pytest.mark.timeout(1500)   # the first test also waits for the build

XTTS_FILES = ("config.json", "vocab.json", "speakers_xtts.pth", "model.pth")
VOICE = "droid"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The one-folder app (``<dir>/kaytoo``) built from the spec, deleted after the module."""
    top = tmp_path_factory.mktemp("frozen")
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                    "--distpath", str(top / "dist"), "--workpath", str(top / "work"),
                    str(REPO / "installers" / "kaytoo.spec")],
                   cwd=top, check=True, capture_output=True, timeout=1200)
    shutil.rmtree(top / "work")
    yield top / "dist" / "kaytoo"
    shutil.rmtree(top, ignore_errors=True)   # about 1 GB


def frozen_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment: nothing of the test venv's Python path, our own KAYTOO_HOME."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "KAYTOO_", "VIRTUAL_ENV"))}
    return {**env, "KAYTOO_HOME": str(home), "QT_QPA_PLATFORM": "offscreen", **extra}


def run(bundle: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(bundle / "kaytoo"), *args], env=env, capture_output=True, text=True,
                          timeout=600)


def change_settings(home: Path, xtts_consent: bool | None = None, voice: str | None = None) -> Settings:
    """What the Settings dialog would save (the same settings code as the app's). Deadlines are
    generous: a busy machine must not hand a reply to the next tier, since the tier that speaks is
    what these tests are about, not its speed."""
    file = resolve({"KAYTOO_HOME": str(home)}).ensure().settings_file
    settings, _ = load(file)
    if xtts_consent is not None:
        settings.tts.xtts_consent = xtts_consent
    if voice is not None:
        settings.voice.active = voice
    settings.tts.deadlines.update(xtts=120.0, piper=60.0)
    save(file, settings)
    return settings


def spoken(path: Path) -> float:
    audio, _ = sf.read(str(path), dtype="float32")
    return float(np.sqrt(np.mean(audio ** 2)))


def test_bundle_has_no_torch_and_carries_the_xtts_graphs(bundle):
    internal = bundle / "_internal"
    for absent in ("torch", "torchaudio", "TTS", "transformers"):
        assert not (internal / absent).exists(), f"{absent} is in the bundle"
    graphs = internal / "app" / "engines" / "xtts_onnx" / "graphs"
    manifest = json.loads((graphs / "manifest.json").read_text())
    assert set(manifest["graphs"]) == {"speaker", "conditioning", "gpt", "hifigan"}
    assert all((graphs / f"{g}.onnx").is_file() for g in manifest["graphs"])
    assert not list(graphs.glob("*.data"))   # no weights in the package


def test_without_the_model_piper_speaks_and_the_reason_is_plain(bundle, tmp_path):
    home = tmp_path / "home"
    change_settings(home)
    first = run(bundle, "say", "Hello there.", "--out", str(tmp_path / "a.wav"), "--json",
                env=frozen_env(home))
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["tier"] == "piper" and spoken(tmp_path / "a.wav") > 1e-3
    assert data["fallbacks"] == [{"tier": "xtts",
                                  "reason": "the XTTS licence (CPML, non-commercial) has not been accepted"}]

    change_settings(home, xtts_consent=True)
    second = run(bundle, "say", "Hello there.", "--out", str(tmp_path / "b.wav"), "--json",
                 env=frozen_env(home))
    assert second.returncode == 0, second.stderr
    data = json.loads(second.stdout)
    assert data["tier"] == "piper", data
    (fallback,) = data["fallbacks"]
    assert fallback["tier"] == "xtts" and "torch" not in fallback["reason"]
    assert fallback["reason"].startswith("the XTTS v2 model is not downloaded"), fallback


@pytest.fixture(scope="module")
def cloned(bundle, tiny_dir, speak, tmp_path_factory) -> Path:
    """A KAYTOO_HOME where the frozen app downloaded and converted the model, the user accepted the
    licence, and a library voice was added from a recording."""
    from app.engines.xtts_onnx.export import export

    graphs = bundle / "_internal" / "app" / "engines" / "xtts_onnx" / "graphs"
    exported = export(tiny_dir, tmp_path_factory.mktemp("tiny-graphs"))
    shutil.rmtree(graphs)
    graphs.mkdir()
    for f in exported.iterdir():
        if not f.name.endswith(".data"):
            shutil.copy2(f, graphs / f.name)

    top = tmp_path_factory.mktemp("cloned")
    home = top / "home"
    files = {n: (tiny_dir / n).read_bytes() for n in XTTS_FILES if (tiny_dir / n).is_file()}
    catalogue = top / "catalogue.json"
    catalogue.write_text(json.dumps({"models": [entry("xtts-v2", "tts", CPML, files, needs_consent=True)]}))
    with ModelServer({f"test/xtts-v2/{n}": d for n, d in files.items()}) as mirror:
        got = run(bundle, "models", "download", "xtts-v2", "--accept-licence", "--json",
                  env=frozen_env(home, KAYTOO_MODEL_MIRROR=mirror.url, KAYTOO_MODEL_CATALOGUE=str(catalogue)))
    assert got.returncode == 0, got.stderr
    model = Path(json.loads(got.stdout)["path"])
    assert (model / "onnx" / "gpt.int4.onnx").is_file()            # converted and quantized frozen
    assert (model / "onnx" / "gpt.int8.onnx").is_file()            # and the prompt's graph
    assert (model / "onnx" / "hifigan.int8.onnx").is_file()         # and the decoder's
    assert json.loads((model / "onnx" / "converted.json").read_text())["self_test"] == "reference"

    change_settings(home)
    reference = speak("I have a bad feeling about this. Quiet, there is a fresh one.", name="xtts-reference")
    added = run(bundle, "voices", "add", VOICE, str(reference), "--json", env=frozen_env(home))
    assert added.returncode == 0, added.stderr
    return home


def test_say_speaks_in_the_cloned_voice(bundle, cloned, tmp_path):
    out = tmp_path / "reply.wav"
    said = run(bundle, "say", "Congratulations, you are being rescued.", "--tier", "xtts", "--voice", VOICE,
               "--out", str(out), "--json", env=frozen_env(cloned))
    assert said.returncode == 0, said.stderr
    data = json.loads(said.stdout)
    assert data["tier"] == "xtts" and data["fallbacks"] == [], data
    assert data["audio_s"] > 1.0 and spoken(out) > 1e-3
    latents = list((cloned / "data").rglob("*.npz")) + list((cloned / "cache").rglob("*.npz"))
    assert latents, "the voice's latents were not cached"


def test_gui_smoke_turn_answers_in_the_cloned_voice(bundle, cloned, speak, pulse):
    settings = change_settings(cloned, voice=VOICE)   # the library voice selected
    assert settings.tts.xtts_consent   # accepted by `models download --accept-licence`
    smoke = run(bundle, "gui", "--smoke", "--mic-file", str(speak("What time is it?", "what-time")),
                env=frozen_env(cloned, XDG_RUNTIME_DIR=pulse))
    assert smoke.returncode == 0, smoke.stderr
    assert "tier: xtts" in smoke.stdout, smoke.stdout
    assert "reply: " in smoke.stdout
