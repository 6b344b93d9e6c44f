"""The torch-free converter: model.pth + weightless graphs → runnable ONNX model, in a process where
importing torch fails; bad checkpoints and mismatched graphs give exit 2, one sentence, no leftovers."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from app.engines.xtts_onnx.export import export
from tests.conftest import cli_with_graphs, with_graphs

BLOCKER = '''import importlib.machinery, sys
BLOCKED = ("torch", "torchaudio", "TTS", "transformers")
class _Blocked(importlib.machinery.PathFinder):
    # the packaged app's situation: these packages are simply not installed
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            return None
        return importlib.machinery.PathFinder.find_spec(name, path, target)
sys.meta_path[:] = [_Blocked if f is importlib.machinery.PathFinder else f for f in sys.meta_path]
'''
COPY = ("config.json", "vocab.json", "model.pth")


@pytest.fixture(scope="module")
def no_torch_env(tmp_path_factory) -> dict:
    blocker = tmp_path_factory.mktemp("blocker")
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), str(Path(__file__).resolve().parents[1])])
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'torch'" in probe.stderr
    return env


def _model(tmp_path: Path, tiny_dir: Path) -> Path:
    model = tmp_path / "xtts-v2"
    model.mkdir()
    for name in COPY:
        shutil.copy2(tiny_dir / name, model / name)
    return model


def _convert(model: Path, graphs: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.engines.xtts_onnx.convert", str(model), "--graphs", str(graphs)],
                          env=env, capture_output=True, text=True, timeout=600)


def _assert_refused(done: subprocess.CompletedProcess, model: Path, words: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kaytoo: ") and words in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in model.iterdir()) == sorted(COPY)   # nothing left behind


def test_converts_and_speaks_without_torch(tmp_path, tiny_dir, graphs, no_torch_env, speak):
    model = _model(tmp_path, tiny_dir)
    done = _convert(model, graphs, no_torch_env)
    assert done.returncode == 0, done.stderr
    assert "self-test: reference" in done.stdout
    assert (model / "onnx" / "gpt.int4.onnx").is_file()   # quantized once, here, not at each start
    assert (model / "onnx" / "gpt.int8.onnx").is_file()   # and the prompt's graph
    assert (model / "onnx" / "hifigan.int8.onnx").is_file()   # and the decoder's
    expected = export(tiny_dir, tmp_path / "direct")   # the same weights, written by onnx from torch
    for data in expected.glob("*.onnx.data"):
        assert (model / "onnx" / data.name).read_bytes() == data.read_bytes()

    reference = speak("I have a bad feeling about this. Quiet, there is a fresh one.", name="xtts-reference")
    script = ("import sys; import numpy as np; from pathlib import Path\n"
              "from app.engines.tts.base import VoiceRef\n"
              "from app.engines.tts.xtts_onnx import XttsOnnxBackend\n"
              f"b = XttsOnnxBackend(Path({str(model)!r}), consent=True)\n"
              f"v = VoiceRef('droid', reference_wav=Path({str(reference)!r}), latents_dir=Path({str(tmp_path)!r}))\n"
              "chunks = list(b.stream('Congratulations, you are being rescued.', v))\n"
              "assert 'torch' not in sys.modules\n"
              "print(len(chunks), sum(c.size for c in chunks), b.sample_rate, b.precision, b.model.decoder_precision)\n")
    spoken = subprocess.run([sys.executable, "-c", script], env=no_torch_env, capture_output=True, text=True,
                            timeout=600)
    assert spoken.returncode == 0, spoken.stderr
    n, samples, rate, precision, decoder = spoken.stdout.split()
    assert int(n) >= 3 and int(rate) == 24000 and int(samples) > 24000   # 57 codes ≈ 2.6 s of audio
    assert (precision, decoder) == ("int4", "int8")


def test_the_decoder_is_quantized_only_when_it_stays_close_to_float32(tmp_path, tiny_dir, graphs, monkeypatch):
    """HiFiGAN INT8 is calibrated on the converted GPT's own latents; on latents it was not
    calibrated on (another text, another seed) its audio stays ≥ HIFIGAN_MIN_SNR_DB from float32's.
    When it would not, the float32 decoder serves and the conversion still succeeds."""
    import onnxruntime as ort

    from app.engines.xtts_onnx import convert as conv
    from app.engines.xtts_onnx.audio import latent_grid
    from app.engines.xtts_onnx.quantize import QUANTIZED_HIFIGAN
    from app.engines.xtts_onnx.runner import XttsOnnx

    model = _model(tmp_path, tiny_dir)
    folder, _ = conv.convert(model, graphs)
    assert (folder / QUANTIZED_HIFIGAN).is_file()
    runner = XttsOnnx(model)
    assert runner.decoder_precision == "int8"
    cond = np.random.default_rng(3).standard_normal((1, 32, runner.width)).astype(np.float32)
    steps = runner.generate([7, 12, 30, 4, 19], cond, np.random.default_rng(7))
    grid = latent_grid(np.stack([latent for _, (_, latent) in zip(range(40), steps)]), runner.args)
    g = np.load(folder / "reference.npz")["speaker/out/embedding"]
    want = ort.InferenceSession(str(folder / "hifigan.onnx")).run(None, {"z": grid, "g": g})[0].reshape(-1)
    got = runner.decode(grid, g)
    snr = 10 * np.log10((want.astype(np.float64) ** 2).sum() / ((want - got).astype(np.float64) ** 2).sum())
    assert snr >= conv.HIFIGAN_MIN_SNR_DB, snr

    monkeypatch.setattr(conv, "HIFIGAN_MIN_SNR_DB", float("inf"))
    folder, _ = conv.convert(model, graphs)
    assert not (folder / QUANTIZED_HIFIGAN).is_file() and (folder / "gpt.int4.onnx").is_file()
    assert XttsOnnx(model).decoder_precision == "fp32"


def test_other_weights_pass_the_self_test_from_the_checkpoint_itself(tmp_path, tiny_dir, graphs, no_torch_env):
    """The packaged graphs' references come from other (random) weights: then the self-test checks
    finiteness, the unit speaker embedding and the first GPT keys against numpy on the checkpoint."""
    model = _model(tmp_path, tiny_dir)
    ckpt = torch.load(model / "model.pth", map_location="cpu", weights_only=False)
    generator = torch.Generator().manual_seed(9)
    for key, value in ckpt["model"].items():
        if key.startswith("gpt.gpt.h.") and value.dtype == torch.float32:
            ckpt["model"][key] = value + 0.01 * torch.randn(value.shape, generator=generator)
    torch.save(ckpt, model / "model.pth")
    done = _convert(model, graphs, no_torch_env)
    assert done.returncode == 0, done.stderr
    assert "self-test: checkpoint" in done.stdout


def _damage(model: Path, how: str) -> None:
    path = model / "model.pth"
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "corrupted":
        mid = len(data) // 2
        path.write_bytes(data[:mid] + bytes(4096) + data[mid + 4096:])
    else:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        if how == "missing":
            del ckpt["model"]["gpt.mel_head.weight"]
        else:
            ckpt["model"]["gpt.mel_head.bias"] = torch.zeros(7)
        torch.save(ckpt, path)


@pytest.mark.parametrize("how, words", [("truncated", "model.pth"), ("corrupted", "damaged"),
                                        ("missing", "no tensor gpt.mel_head.weight"),
                                        ("wrong-shape", "gpt.mel_head.bias has shape [7]")])
def test_bad_checkpoints_are_refused_plainly(tmp_path, tiny_dir, graphs, no_torch_env, how, words):
    model = _model(tmp_path, tiny_dir)
    _damage(model, how)
    _assert_refused(_convert(model, graphs, no_torch_env), model, words)


def test_a_self_test_mismatch_removes_the_conversion(tmp_path, tiny_dir, graphs, no_torch_env):
    """Graphs that read two same-shaped weights from each other's places run, but compute the
    wrong thing: the self-test catches it and nothing is installed."""
    swapped = tmp_path / "graphs"
    shutil.copytree(graphs, swapped)
    manifest = json.loads((swapped / "manifest.json").read_text())
    gpt = {t["name"]: t for t in manifest["graphs"]["gpt"]}
    a, b = gpt["gpt.gpt.h.0.ln_1.weight"], gpt["gpt.gpt.h.0.ln_1.bias"]
    a["offset"], b["offset"] = b["offset"], a["offset"]
    (swapped / "manifest.json").write_text(json.dumps(manifest))
    model = _model(tmp_path, tiny_dir)
    _assert_refused(_convert(model, swapped, no_torch_env), model, "self-test failed")


def test_checkpoint_reader_matches_torch(tiny_dir):
    from app.engines.xtts_onnx.checkpoint import Checkpoint

    ours = Checkpoint(tiny_dir / "model.pth")
    theirs = torch.load(tiny_dir / "model.pth", map_location="cpu", weights_only=False)["model"]
    assert set(ours.tensors) == set(theirs)
    for key in list(theirs)[::7]:
        np.testing.assert_array_equal(ours.read(key), theirs[key].numpy())
    ours.close()


def test_the_packaged_app_picks_the_onnx_tier_and_converts_after_download(tmp_path, tiny_dir, graphs,
                                                                          no_torch_env):
    """Without torch, make_backend gives the ONNX tier; the store's post-download step converts
    the checkpoint with the packaged graphs (here the tiny model's), once."""
    (tmp_path / "data" / "models").mkdir(parents=True)
    model = _model(tmp_path / "data" / "models", tiny_dir)
    script = with_graphs(graphs) + (
        "from app.engines.models import store as models\n"
        "from app.engines.core import make_backend\n"
        "from app.paths import Paths\n"
        "from app.settings.model import Settings\n"
        f"root = Path({str(tmp_path)!r}); folder = root / 'data' / 'models' / 'xtts-v2'\n"
        "models._convert_xtts(folder)\n"
        "first = (folder / 'onnx' / 'converted.json').stat().st_mtime_ns\n"
        "models._convert_xtts(folder)\n"
        "assert (folder / 'onnx' / 'converted.json').stat().st_mtime_ns == first\n"
        "paths = Paths(root / 'config', root / 'data', root / 'cache', root / 'logs', root / 'run')\n"
        "settings = Settings(); settings.tts.xtts_consent = True\n"
        "backend = make_backend('xtts', paths, settings)\n"
        "print(type(backend).__name__, backend.check())\n")
    done = subprocess.run([sys.executable, "-c", script], env=no_torch_env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["XttsOnnxBackend", "None"]


def test_models_download_reports_the_conversion_through_its_progress(tmp_path, tiny_dir, graphs, no_torch_env):
    """`kaytoo models download xtts-v2` in the packaged app's situation (no torch): after the bytes,
    the same progress line goes on through the conversion's steps instead of sitting at 100 %."""
    from tests.test_cli_models import CPML, ModelServer, entry

    files = {name: (tiny_dir / name).read_bytes() for name in COPY}
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps({"models": [entry("xtts-v2", "tts", CPML, files, needs_consent=True)]}))
    script = cli_with_graphs(graphs)
    with ModelServer({f"test/xtts-v2/{n}": d for n, d in files.items()}) as srv:
        env = {**no_torch_env, "KAYTOO_HOME": str(tmp_path / "home"), "KAYTOO_MODEL_CATALOGUE": str(catalogue),
               "KAYTOO_MODEL_MIRROR": srv.url}
        done = subprocess.run([sys.executable, "-c", script, "models", "download", "xtts-v2", "--accept-licence"],
                              env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = [line.strip() for line in re.split(r"[\r\n]", done.stderr) if line.strip()]
    downloading = [int(m[1]) for m in (re.match(r"xtts-v2:\s+(\d+)% \(", line) for line in lines) if m]
    converting = [re.match(r"xtts-v2: converting for ONNX Runtime: (.+?)\s+(\d+)%$", line) for line in lines]
    converting = [(m[1], int(m[2])) for m in converting if m]
    assert downloading and downloading[-1] == 100
    assert len(downloading) + len(converting) == len(lines)       # nothing else on the line
    assert lines.index(next(x for x in lines if "converting" in x)) > lines.index(next(x for x in lines if "MB)" in x))
    steps = [what for what, _ in converting]
    assert steps[0] == "writing the weights" and steps[-1] == "done"
    assert {"self-test", "quantization", "checking the quantized GPT", "quantizing the decoder"} <= set(steps)
    assert [p for _, p in converting] == sorted(p for _, p in converting) and converting[-1][1] == 100
    assert sum(what == "writing the weights" for what in steps) >= 3  # it moves while the weights are written
    folder = tmp_path / "home" / "data" / "models" / "xtts-v2"
    assert json.loads((folder / "onnx" / "converted.json").read_text())["self_test"] == "reference"
    assert done.stdout.strip() == f"xtts-v2 installed in {folder}"
