"""XTTS v2 on ONNX Runtime: graphs exported from coqui's model (export.py, build time only), the numpy
audio front end (audio.py) and the onnxruntime runner the ``xtts`` tier uses without torch.

Which backend the ``xtts`` tier runs on is decided here, once, for the engine (``in_use``) and for
the model store's conversion after a download (``preferred``)."""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

NVIDIA_DRIVER = Path("/proc/driver/nvidia/version")   # present while NVIDIA's Linux driver is loaded


def torch_tier_installed() -> bool:
    """Whether the torch backend could run at all (a source install; the packaged app has neither)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "TTS"))


def cuda_gpu(driver: Path = NVIDIA_DRIVER, search_path: str | None = None) -> bool:
    """Whether an NVIDIA GPU is likely usable by CUDA, probed without importing torch (engine
    start stays light): the Linux driver's version file, or ``nvidia-smi`` on the PATH (Windows),
    unless CUDA_VISIBLE_DEVICES hides every device."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    return driver.is_file() or shutil.which("nvidia-smi", path=search_path) is not None


def preferred(driver: Path = NVIDIA_DRIVER, search_path: str | None = None) -> bool:
    """Whether the ONNX backend is the one to serve (and so to convert the model for): always where
    torch or coqui-tts is missing; beside torch, where onnxruntime is installed and no CUDA GPU is
    present (on a CPU it is the faster one: RTF 1.27–1.47 vs 3.15, load 2.4–4.9 vs 45.9 s,
    bench/results/xtts.md; on a GPU the torch backend's FP16 path is the tested one)."""
    if not torch_tier_installed():
        return True
    return importlib.util.find_spec("onnxruntime") is not None and not cuda_gpu(driver, search_path)


def in_use(model_dir: Path, driver: Path = NVIDIA_DRIVER, search_path: str | None = None) -> bool:
    """Whether the ``xtts`` tier for ``model_dir`` runs on ONNX Runtime: where it is preferred and,
    when torch is there as the other choice, the model holds a valid conversion (a model downloaded
    before, unconverted, stays on the torch backend)."""
    if not torch_tier_installed():
        return True
    from app.engines.xtts_onnx.convert import converted

    return preferred(driver, search_path) and converted(model_dir)
