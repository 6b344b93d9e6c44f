"""INT8 for the XTTS GPT on the CPU, done so that it actually quantizes something.

XTTS's GPT blocks are built from ``transformers``' ``Conv1D`` (a linear layer with its weight stored
transposed), which ``torch.ao.quantization.quantize_dynamic(..., {nn.Linear})`` does not recognise:
quantizing as-is leaves the blocks in float32 (FIELD-NOTES: x0.96, i.e. nothing gained). So each
``Conv1D`` is first replaced by an ``nn.Linear`` holding the transposed weight, checked to compute
the same thing, and only then is the model dynamically quantized: x4.1 faster decoding of the
full-size GPT on the build machine (FIELD-NOTES saw x1.84; bench/bench_xtts_quant.py measures it).

Only the decode path is touched: the transformer blocks and the audio-code head, which run once per
generated code. The conditioning encoder and perceiver stay float32, so the speaker latents (and
their on-disk cache) do not depend on whether the GPT was quantized.

torch.ao's eager quantization is deprecated (torch 2.9 warns that 2.10 may remove it); the tier
falls back to float32 if it is gone. torchao's ``quantize_`` is the successor to move to.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuantReport:
    converted: int          # Conv1D layers replaced by nn.Linear
    quantized: int          # nn.Linear layers turned into dynamic INT8 layers
    bytes_before: int       # weights of the decode path (transformer blocks + code head)
    bytes_after: int
    max_conversion_error: float  # largest |Conv1D(x) - Linear(x)| seen while verifying

    @property
    def ratio(self) -> float:
        return self.bytes_before / self.bytes_after if self.bytes_after else 0.0

    def to_dict(self) -> dict:
        return {"converted": self.converted, "quantized": self.quantized,
                "bytes_before": self.bytes_before, "bytes_after": self.bytes_after,
                "max_conversion_error": self.max_conversion_error}


def quantize_gpt_int8(model, convert_conv1d: bool = True) -> QuantReport:
    """Quantize the decode path of an XTTS GPT to dynamic INT8, in place.

    ``model`` is an ``Xtts`` or its ``GPT`` (``TTS.tts.layers.xtts.gpt.GPT``). With
    ``convert_conv1d=False`` the Conv1D layers are left alone (the naive way; kept for the bench).
    """
    import torch
    from torch import nn

    gpt = model if hasattr(model, "mel_head") else model.gpt
    if gpt is None or not hasattr(gpt, "gpt"):
        raise TypeError("quantize_gpt_int8 needs an XTTS model or its GPT")
    parts = _decode_path(gpt)
    before = sum(_module_bytes(m) for m in parts.values())
    converted, worst = (_conv1d_to_linear(gpt.gpt) if convert_conv1d else (0, 0.0))

    # Quantize through a container so that only the decode path is touched and a bare
    # nn.Linear (the code head) is swapped too: quantize_dynamic only replaces children.
    holder = nn.ModuleDict(parts)
    quantized = sum(isinstance(m, nn.Linear) for m in holder.modules())
    torch.ao.quantization.quantize_dynamic(holder, {nn.Linear}, dtype=torch.qint8, inplace=True)
    for name in parts:
        setattr(gpt, name, holder[name])
    _relink_inference_head(gpt)
    after = sum(_module_bytes(m) for m in _decode_path(gpt).values())
    report = QuantReport(converted, quantized, before, after, worst)
    log.info("XTTS GPT quantized to INT8: %s", report.to_dict())
    return report


def _decode_path(gpt) -> dict:
    """The modules run for every generated code, by attribute name on the GPT."""
    return {"gpt": gpt.gpt, "mel_head": gpt.mel_head}


def _conv1d_to_linear(root) -> tuple[int, float]:
    """Replace every transformers Conv1D under ``root`` with an equivalent nn.Linear."""
    import torch
    from torch import nn
    from transformers.pytorch_utils import Conv1D

    count, worst = 0, 0.0
    targets = [(name, m) for name, m in root.named_modules() if isinstance(m, Conv1D)]
    gen = torch.Generator().manual_seed(0)
    for name, conv in targets:
        weight = conv.weight  # (in, out): Conv1D computes x @ W + b
        linear = nn.Linear(conv.nx, conv.nf, bias=True, device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            linear.weight.copy_(weight.t())
            linear.bias.copy_(conv.bias)
            x = torch.randn(3, conv.nx, generator=gen).to(weight.device, weight.dtype)
            ref, got = conv(x), linear(x)
            err = float((ref - got).abs().max())
            scale = float(ref.abs().max()) or 1.0
        if err > 1e-4 * scale + 1e-6:
            raise RuntimeError(f"Conv1D→Linear conversion of {name} is not exact (error {err:.3g})")
        worst = max(worst, err)
        _replace(root, name, linear)
        count += 1
    return count, worst


def _replace(root, dotted: str, new) -> None:
    parent_name, _, child = dotted.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def _relink_inference_head(gpt) -> None:
    """coqui's inference wrapper keeps its own reference to the code head: point it at the new one."""
    inference = getattr(gpt, "gpt_inference", None)
    if inference is not None and hasattr(inference, "lm_head"):
        inference.lm_head[1] = gpt.mel_head
        inference.transformer = gpt.gpt


def _module_bytes(module) -> int:
    """Bytes of the weights a module holds, counting packed INT8 weights and shared tensors once."""
    import torch

    seen: set[int] = set()
    total = 0

    def add(t) -> None:
        nonlocal total
        if isinstance(t, torch.Tensor):
            key = id(t) if t.is_quantized else t.data_ptr()
            if key not in seen:
                seen.add(key)
                total += t.numel() * t.element_size()
        elif isinstance(t, (tuple, list)):
            for x in t:
                add(x)

    for value in module.state_dict().values():
        add(value)
    return total
