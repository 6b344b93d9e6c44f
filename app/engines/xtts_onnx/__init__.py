"""XTTS v2 on ONNX Runtime: graphs exported from coqui's model (export.py, build time only), the numpy
audio front end (audio.py) and the onnxruntime runner the ``xtts`` tier uses without torch."""
from __future__ import annotations

import importlib.util


def in_use() -> bool:
    """The XTTS tier runs on ONNX Runtime where torch or coqui-tts is missing (the packaged app)."""
    return any(importlib.util.find_spec(m) is None for m in ("torch", "TTS"))
