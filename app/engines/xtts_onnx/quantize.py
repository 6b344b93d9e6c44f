"""4-bit weights for the XTTS GPT graph, once, after conversion (``gpt.int4.onnx``).

Each of the GPT's projection MatMuls (export.py writes them as MatMul + Add) becomes onnxruntime's
MatMulNBits: the weight in blocks of 32 input rows per output column, 4 bits each with one float32
scale per block (symmetric), and ``accuracy_level=4``: activations quantized to int8 per block
inside the kernel. Per step the GPT reads its weights once, so their size sets its speed; against
the per-channel dynamic INT8 of earlier versions this is ×1.4 faster and closer to float32
(bench/results/xtts.md: KL divergence of the code distribution 0.0003 vs 0.0032). Embeddings,
layer norms and the code head stay float32. The packing is onnxruntime's own kernel
(``quantize_matmul_4bits``, what its MatMulNBitsQuantizer calls); that quantizer itself needs
onnx-ir and sympy, which the packaged app leaves out. Needs the ``onnx`` package (conversion only);
without it the tier runs the float32 graph.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

QUANTIZED_GPT = "gpt.int4.onnx"
BLOCK = 32              # input rows per scale: 64 and 128 were as fast, further from float32
ACCURACY_LEVEL = 4      # int8 activations: the integer dot-product kernels


def available() -> bool:
    return importlib.util.find_spec("onnx") is not None


def quantize_gpt(folder: Path) -> Path:
    """Write ``gpt.int4.onnx`` (+ its data) beside ``gpt.onnx`` in ``folder``; returns its path."""
    import onnx

    model = onnx.load(str(Path(folder) / "gpt.onnx"))
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    nodes = []
    for node in graph.node:
        w = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if w is None or len(w.dims) != 2 or w.data_type != onnx.TensorProto.FLOAT:
            nodes.append(node)
            continue
        nodes.append(_matmul_nbits(graph, node, onnx.numpy_helper.to_array(w)))
        graph.initializer.remove(w)
        weights.pop(w.name)
    del graph.node[:]
    graph.node.extend(nodes)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    out = Path(folder) / QUANTIZED_GPT
    onnx.save_model(model, str(out), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=out.name + ".data", size_threshold=1024)
    return out


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
