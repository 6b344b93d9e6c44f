"""Which backend the `xtts` tier runs on beside torch (a source install): ONNX Runtime where the
model holds a valid conversion and no CUDA GPU is present, the torch backend otherwise; and what
`kaytoo models download xtts-v2` does about the conversion there. Real CLI processes against a
loopback mirror serving the tiny XTTS built in tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app import paths as paths_mod
from app.engines import xtts_onnx
from app.engines.core import make_backend
from app.engines.models import MARKER, TOS_FILE
from app.engines.protocol import VoiceRef
from app.engines.tts.xtts import XttsBackend
from app.engines.tts.xtts_onnx import XttsBesideTorch, XttsOnnxBackend
from app.settings.model import Settings
from tests.conftest import cli_with_graphs
from tests.test_cli_models import CPML, ModelServer, entry, env_for, kaytoo

COPY = ("config.json", "vocab.json", "model.pth")
no_gpu = pytest.mark.skipif(xtts_onnx.cuda_gpu(), reason="a CUDA GPU is present: the torch backend serves")


def test_the_gpu_probe_reads_the_driver_and_the_path(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    driver, empty = tmp_path / "version", tmp_path / "bin"
    empty.mkdir()
    assert not xtts_onnx.cuda_gpu(driver, str(empty))
    driver.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14\n")
    assert xtts_onnx.cuda_gpu(driver, str(empty))
    assert not xtts_onnx.preferred(driver, str(empty))         # torch is here: it takes the GPU
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")               # every device hidden from CUDA
    assert not xtts_onnx.cuda_gpu(driver, str(empty))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    smi = tmp_path / "smi"
    smi.mkdir()
    (smi / "nvidia-smi").write_text("#!/bin/sh\n")
    (smi / "nvidia-smi").chmod(0o755)
    assert xtts_onnx.cuda_gpu(tmp_path / "absent", str(smi))    # Windows: no /proc, nvidia-smi on PATH
    probe = ("import sys; from pathlib import Path; from app.engines import xtts_onnx\n"
             "xtts_onnx.in_use(Path('absent')); xtts_onnx.preferred()\n"
             "assert 'torch' not in sys.modules and 'onnxruntime' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr                     # the engine's choice stays light


def _catalogue(tmp_path: Path, files: dict[str, bytes]) -> Path:
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"models": [entry("xtts-v2", "tts", CPML, files, needs_consent=True)]}))
    return path


def _backend():
    settings = Settings()
    settings.tts.xtts_consent = True
    return make_backend("xtts", paths_mod.resolve(), settings)


@no_gpu
def test_a_download_the_packaged_graphs_do_not_fit_warns_and_keeps_the_torch_backend(tmp_path, tiny_dir,
                                                                                     kaytoo_home):
    """The tiny model against the full-size packaged graphs: the converter refuses it on the first
    wrong shape, before writing anything; the download still succeeds, with one sentence saying
    cloned voices use the torch backend and why, and the tier is the torch one."""
    files = {name: (tiny_dir / name).read_bytes() for name in COPY}
    with ModelServer({f"test/xtts-v2/{n}": d for n, d in files.items()}) as srv:
        out = kaytoo(env_for(srv, _catalogue(tmp_path, files)), "download", "xtts-v2", "--accept-licence")
    folder = kaytoo_home / "data" / "models" / "xtts-v2"
    installed, note = out.stdout.strip().splitlines()
    assert installed == f"xtts-v2 installed in {folder}"
    assert note.startswith("  note: Cloned voices will use the slower torch backend, because converting")
    assert "has shape" in note and note.count(". ") == 0 and note.endswith(".")
    assert "converting" not in out.stderr                       # refused before the weights were written
    assert sorted(p.name for p in folder.iterdir()) == sorted([*COPY, MARKER, TOS_FILE])   # no onnx/, no staging
    assert not xtts_onnx.in_use(folder)
    backend = _backend()
    assert isinstance(backend, XttsBackend) and backend.check() is None


@no_gpu
def test_a_converted_model_runs_on_onnx_unless_a_gpu_or_a_new_checkpoint_says_otherwise(tmp_path, tiny_dir, graphs,
                                                                                        kaytoo_home, speak):
    files = {name: (tiny_dir / name).read_bytes() for name in COPY}
    script = cli_with_graphs(graphs)   # graphs that fit the tiny model
    with ModelServer({f"test/xtts-v2/{n}": d for n, d in files.items()}) as srv:
        env = env_for(srv, _catalogue(tmp_path, files))
        done = subprocess.run([sys.executable, "-c", script, "models", "download", "xtts-v2", "--accept-licence",
                               "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["warnings"] == []
    folder = Path(result["path"])
    assert folder == kaytoo_home / "data" / "models" / "xtts-v2"
    assert json.loads((folder / "onnx" / "converted.json").read_text())["self_test"] == "reference"

    backend = _backend()
    assert isinstance(backend, XttsBesideTorch) and backend.check() is None
    assert isinstance(backend.onnx, XttsOnnxBackend) and isinstance(backend.torch, XttsBackend)
    reference = speak("I have a bad feeling about this. Quiet, there is a fresh one.", name="xtts-reference")
    english = VoiceRef("droid", reference_wav=reference, latents_dir=tmp_path / "latents", language="en-GB")
    audio = np.concatenate(list(backend.stream("Affirmative, that is the plan.", english)))
    assert audio.dtype == np.float32 and np.isfinite(audio).all() and len(audio) > 0
    assert backend.onnx.latents_computed == 1 and backend.torch.model is None   # torch never loaded
    german = VoiceRef("droid", reference_wav=reference, latents_dir=tmp_path / "latents", language="de")
    with pytest.raises(Exception) as e:   # the tiny model speaks English only: torch's own refusal
        list(backend.stream("Das ist der Plan.", german))
    assert "ONNX" not in str(e.value) and backend.torch.model is not None
    driver = tmp_path / "nvidia-version"
    driver.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14\n")
    assert xtts_onnx.in_use(folder, tmp_path / "absent", str(tmp_path))
    assert not xtts_onnx.in_use(folder, driver, str(tmp_path))   # a CUDA GPU: the torch backend's FP16

    st = (folder / "model.pth").stat()                             # a new checkpoint, not converted yet
    os.utime(folder / "model.pth", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert isinstance(_backend(), XttsBackend)
