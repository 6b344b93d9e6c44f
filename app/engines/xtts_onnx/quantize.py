"""INT8 for the XTTS GPT graph: onnxruntime's dynamic quantization, once, after conversion.

The GPT's projections are exported as MatMul (export.py), which ``quantize_dynamic`` turns into
MatMulInteger with per-channel INT8 weights (one scale per output column); activations are
quantized on the fly per step. Embeddings, layer norms and the code head stay float32. The result
(``gpt.int8.onnx``) is stored beside the float32 graph, so the tier never re-quantizes at start.
Needs the ``onnx`` package (the quantizer's, at conversion time only); without it the tier runs
the float32 graph.
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

log = logging.getLogger(__name__)

INT8_GPT = "gpt.int8.onnx"


def available() -> bool:
    return importlib.util.find_spec("onnx") is not None


def quantize_gpt(folder: Path) -> Path:
    """Write ``gpt.int8.onnx`` (+ its data) beside ``gpt.onnx`` in ``folder``; returns its path."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = Path(folder) / INT8_GPT
    quantize_dynamic(str(Path(folder) / "gpt.onnx"), str(out), per_channel=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul"], use_external_data_format=True)
    return out
