"""Quantized weights for the XTTS GPT graph, once, after conversion: two graphs of one interface.

- ``gpt.int4.onnx`` decodes one code per step. Each projection MatMul (export.py writes them as
  MatMul + Add) becomes onnxruntime's MatMulNBits: the weight in blocks of 32 input rows per output
  column, 4 bits each with one float32 scale per block (symmetric), ``accuracy_level=4``
  (activations quantized to int8 per block inside the kernel). A step reads every weight once, so
  their size sets its speed: ×1.2–1.4 faster per code than per-channel dynamic INT8 and closer to
  float32 (KL divergence of the code distribution 0.0003 vs 0.0031, bench/results/xtts.md).
- ``gpt.int8.onnx`` runs the prompt (conditioning latents + text: ~100 positions at once). There
  the kernels' arithmetic matters, not the weights' size, and MatMulNBits with many rows is slow
  on a CPU without VNNI (1.7 s for a 103-position prompt, float32 1.5 s): DynamicQuantizeMatMul,
  per-channel symmetric INT8 weights with activations quantized per run, takes 0.9 s.

- ``hifigan.int8.onnx`` is the decoder with every convolution static INT8 in QDQ form (onnxruntime's
  ``quantize_static``: weights per output channel, activations per tensor at the ranges seen on
  calibration windows of this checkpoint's own GPT latents, convert.py). onnxruntime runs them as
  QLinearConv: ×2.1 faster than float32 on a CPU with VNNI, 36 dB from it (bench/results/xtts.md).

Embeddings, layer norms and the code head stay float32. The 4-bit packing is onnxruntime's own
kernel (``quantize_matmul_4bits``, what its MatMulNBitsQuantizer calls; that quantizer needs onnx-ir
and sympy, which the packaged app leaves out). Needs the ``onnx`` package (conversion only);
without it the tier runs the float32 graph.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

import numpy as np

QUANTIZED_GPT = "gpt.int4.onnx"   # one code per step
PROMPT_GPT = "gpt.int8.onnx"      # the prompt
QUANTIZED_HIFIGAN = "hifigan.int8.onnx"
BLOCK = 32              # input rows per scale: 64 and 128 were as fast, further from float32
ACCURACY_LEVEL = 4      # int8 activations: the integer dot-product kernels


def available() -> bool:
    return importlib.util.find_spec("onnx") is not None


def quantize_gpt(folder: Path) -> tuple[Path, Path]:
    """Write ``gpt.int4.onnx`` and ``gpt.int8.onnx`` (+ their data) beside ``gpt.onnx`` in
    ``folder``; returns their paths. One float32 graph in memory at a time."""
    return (_rewrite(Path(folder), QUANTIZED_GPT, _matmul_nbits),
            _rewrite(Path(folder), PROMPT_GPT, _matmul_int8))


def quantize_hifigan(folder: Path, calibration: list[dict[str, np.ndarray]]) -> Path:
    """Write ``hifigan.int8.onnx`` (one file) beside ``hifigan.onnx``, its activation ranges from
    running ``calibration`` (feeds of z and g); returns its path."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Feeds(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(calibration)

        def get_next(self) -> dict | None:
            return next(self.feeds, None)

    folder, out = Path(folder), Path(folder) / QUANTIZED_HIFIGAN
    # The graph computes its convolutions' weights from weight norm's two tensors at run time;
    # constants folded first, they are initializers the quantizer can quantize.
    folded = folder / "hifigan.folded.onnx"
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = str(folded)
    try:
        ort.InferenceSession(str(folder / "hifigan.onnx"), opts, providers=["CPUExecutionProvider"])
        quantize_static(str(folded), str(out), Feeds(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv", "ConvTranspose"],
                        # 7-bit weights: AVX2 without VNNI multiplies u8×s8 pairs with a 16-bit
                        # saturating add (onnxruntime's docs); 36 vs 39 dB, as fast with VNNI
                        reduce_range=True)
    finally:
        folded.unlink(missing_ok=True)
    return out


def _rewrite(folder: Path, name: str, replace: Callable) -> Path:
    """gpt.onnx with every MatMul by a 2-D float32 weight replaced by ``replace(graph, node, weight)``."""
    import onnx

    model = onnx.load(str(folder / "gpt.onnx"))
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    nodes = []
    for node in graph.node:
        w = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if w is None or len(w.dims) != 2 or w.data_type != onnx.TensorProto.FLOAT:
            nodes.append(node)
            continue
        nodes.append(replace(graph, node, onnx.numpy_helper.to_array(w)))
        graph.initializer.remove(w)
        weights.pop(w.name)
    del graph.node[:]
    graph.node.extend(nodes)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    out = folder / name
    onnx.save_model(model, str(out), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=out.name + ".data", size_threshold=1024)
    return out


def _matmul_int8(graph, node, weight: np.ndarray):
    """The DynamicQuantizeMatMul node (and its initializers) that replaces MatMul ``node``:
    INT8 weights, one scale per output column."""
    from onnx import helper, numpy_helper

    scale = np.maximum(np.abs(weight).max(axis=0), 1e-12).astype(np.float32) / 127
    quantized = np.clip(np.rint(weight / scale), -127, 127).astype(np.int8)
    name = node.input[1]
    graph.initializer.extend([numpy_helper.from_array(quantized, name + "_Q8"),
                              numpy_helper.from_array(scale, name + "_scale")])
    return helper.make_node("DynamicQuantizeMatMul", [node.input[0], name + "_Q8", name + "_scale"],
                            list(node.output), name=(node.name or name) + "_Q8", domain="com.microsoft")


def _matmul_nbits(graph, node, weight: np.ndarray):
    """The MatMulNBits node (and its two initializers) that replaces MatMul ``node``."""
    from onnx import helper, numpy_helper
    from onnxruntime.capi._pybind_state import quantize_matmul_4bits

    rows, cols = weight.shape                       # K inputs, N outputs
    blocks = -(-rows // BLOCK)
    padded = np.zeros((blocks * BLOCK, cols), np.float32)
    padded[:rows] = weight
    packed = np.zeros((cols, blocks, BLOCK // 2), np.uint8)
    scales = np.zeros((cols, blocks), np.float32)
    zero_points = np.zeros((cols, (blocks + 1) // 2), np.uint8)   # unused: symmetric
    quantize_matmul_4bits(packed, padded, scales, zero_points, BLOCK, cols, rows, True)
    name = node.input[1]
    graph.initializer.extend([numpy_helper.from_array(packed, name + "_Q4"),
                              numpy_helper.from_array(scales, name + "_scales")])
    return helper.make_node("MatMulNBits", [node.input[0], name + "_Q4", name + "_scales"], list(node.output),
                            name=(node.name or name) + "_Q4", domain="com.microsoft", K=rows, N=cols, bits=4,
                            block_size=BLOCK, accuracy_level=ACCURACY_LEVEL)
