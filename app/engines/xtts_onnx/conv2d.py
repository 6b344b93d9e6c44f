"""Rewrite a 1-D convolutional ONNX graph (HiFiGAN) to run on [N, C, 1, T] tensors (build time).

onnxruntime's fast CPU convolutions (MLAS's NCHWc kernels, blocked by 8/16 channels for
AVX2/AVX-512) are only used for 2-D Conv; a 1-D Conv falls back to im2col + GEMM. HiFiGAN spends
~85 % of its time in convolutions, and the same graph lifted to a height-1 image ran ×1.4 faster
(bench/results/xtts.md). The rewrite is exact: every activation gets a unit height axis once at
the inputs, each Conv/ConvTranspose becomes its 2-D form (kernel 1×k, the weight unsqueezed: the
checkpoint's tensors and names do not change; onnxruntime folds the unsqueeze at load), the
elementwise operations combine activations and scalars only (checked), and the outputs drop the axis again.
"""
from __future__ import annotations

from onnx import GraphProto, TensorProto, helper

ELEMENTWISE = {"LeakyRelu", "Relu", "Tanh", "Add", "Sub", "Mul", "Div"}
AXES = "lift_to_2d/axes"


def lift_to_2d(graph: GraphProto) -> None:
    """Rewrite ``graph`` in place. Raises ValueError on an operation it cannot lift."""
    nodes = [helper.make_node("Constant", [], [AXES], value=helper.make_tensor(AXES, TensorProto.INT64, [1], [2]))]
    lifted: dict[str, str] = {}           # activation name → its 4-D name
    scalars = {n.output[0] for n in graph.node if n.op_type == "Constant"
               and all(d == 1 for d in helper.get_attribute_value(n.attribute[0]).dims)}
    for i in graph.input:
        lifted[i.name] = i.name + "/2d"
        nodes.append(helper.make_node("Unsqueeze", [i.name, AXES], [lifted[i.name]]))
    for n in graph.node:
        if not any(x in lifted for x in n.input):   # the weight path (weight norm): unchanged
            nodes.append(n)
            continue
        out = n.output[0] + "/2d"
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type in ("Conv", "ConvTranspose"):
            if n.input[0] not in lifted or n.input[1] in lifted or len(attrs.get("kernel_shape", ())) != 1:
                raise ValueError(f"{n.name}: not a 1-D convolution over an activation")
            weight = n.input[1] + "/2d"
            nodes.append(helper.make_node("Unsqueeze", [n.input[1], AXES], [weight]))
            for name in ("kernel_shape", "strides", "dilations", "output_padding"):
                if name in attrs:
                    attrs[name] = [1, *attrs[name]]
            if "pads" in attrs:
                attrs["pads"] = [0, attrs["pads"][0], 0, attrs["pads"][1]]
            nodes.append(helper.make_node(n.op_type, [lifted[n.input[0]], weight, *n.input[2:]], [out],
                                          name=n.name, **attrs))
        elif n.op_type in ELEMENTWISE and all(x in lifted or x in scalars for x in n.input):
            nodes.append(helper.make_node(n.op_type, [lifted.get(x, x) for x in n.input], [out], name=n.name,
                                          **attrs))
        else:
            raise ValueError(f"cannot lift {n.op_type} ({n.name}) to 2-D")
        lifted[n.output[0]] = out
    for o in graph.output:
        nodes.append(helper.make_node("Squeeze", [lifted[o.name], AXES], [o.name]))
    del graph.node[:]
    graph.node.extend(nodes)
