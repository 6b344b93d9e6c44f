"""Export coqui's XTTS v2 to ONNX graphs (build and test time only: needs torch and coqui-tts).

Four graphs, each over the model's own modules, with every weight named by its key in
``model.pth`` so that a torch-free converter can fill them from the checkpoint later:

- ``speaker.onnx``: speaker encoder, power mel [1, 64, T] → speaker embedding [1, 512, 1].
- ``conditioning.onnx``: conditioning encoder + perceiver, log mel [1, 80, T] → latents [1, 32, D]
  (the checkpoint's ``mel_stats`` normalisation is inside).
- ``gpt.onnx``: the GPT-2 backbone with a key/value cache. Inputs ``cond`` [1, C, D], ``text``
  [1, T], ``mel`` [1, M], ``mel_start`` [1], ``past_len`` [1] (positions already in the cache) and
  ``past_{k,v}_i`` [1, H, capacity, D/H]; the same graph prefills (C=32, T>0) and decodes one code
  per step (C=T=0, M=1). Outputs the last position's code logits and its latent (``final_norm`` of
  the last hidden state: what HiFiGAN decodes), and ``present_{k,v}_i``: the cache with this run's
  keys and values written at ``past_len``. Each block's attention is one onnxruntime
  GroupQueryAttention node (com.microsoft; here with as many key/value heads as query heads, i.e.
  plain multi-head attention): bound to the same buffer as its past, it writes the new keys in
  place instead of copying the whole cache into a new tensor at every step, and it replaces the
  ~20 small reshape/transpose/mask nodes per block of the written-out attention (bench/results/
  xtts.md). The Conv1D projections are MatMul + Add (quantizable); the weights are transformers' own.
- ``hifigan.onnx``: HiFiGAN, latents on its frame grid [1, D, F] + speaker embedding → audio; its
  1-D convolutions rewritten as 2-D ones over a height-1 image (``conv2d.py``: onnxruntime's fast
  convolution kernels are 2-D only).

``manifest.json`` lists each graph's tensors (name, shape, dtype); weights carry their checkpoint
key (HiFiGAN's weight-normalised layers keep their two tensors, ``parametrizations.weight.original0/1``
or an older checkpoint's ``weight_g``/``weight_v``; the graph computes the weight from them and
onnxruntime folds that into a constant when the session loads). ``reference.npz``
holds fixed inputs and the torch outputs for them: the converter's self-test.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from app.engines.xtts_onnx.conv2d import lift_to_2d
from app.engines.xtts_onnx.convert import sha256_file
from app.engines.xtts_onnx.runner import GPT_CACHE

GRAPHS = ("speaker", "conditioning", "gpt", "hifigan")
OPSET = 17
KEPT_OUTPUTS = ("present_k_0", "present_v_0")   # of the 60 caches, what the self-test needs
_REF_TEXT = [5, 9, 17, 3, 2, 11]   # fixed text tokens for the self-test (valid in any vocabulary)


def load_xtts(model_dir: Path):
    """coqui's Xtts from a model folder, in eval mode (weight norm removed), on the CPU."""
    from TTS.tts.configs.xtts_config import XttsConfig

    from app.engines.tts.xtts import _xtts_class

    config = XttsConfig()
    config.load_json(str(Path(model_dir) / "config.json"))
    model = _xtts_class()(config)
    model.load_checkpoint(config, checkpoint_dir=str(model_dir), eval=True, use_deepspeed=False)
    model.cpu()
    model.eval()
    return model


def modules(model) -> dict:
    """The four torch modules the graphs are exported from (also used by the parity tests)."""
    mods = {"speaker": Speaker(model.hifigan_decoder.speaker_encoder),
            "conditioning": Conditioning(model.gpt, model.mel_stats),
            "gpt": GptStep(model.gpt),
            "hifigan": Hifigan(model.hifigan_decoder.waveform_decoder)}
    for m in mods.values():
        m.eval()  # torch.onnx restores the wrapper's mode recursively after export: keep it eval
    return mods


class Speaker(nn.Module):
    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, mel):
        self.enc.use_torch_spec = False  # the mel comes from the numpy front end
        try:
            return self.enc(mel, l2_norm=True).unsqueeze(-1)
        finally:
            self.enc.use_torch_spec = True


class Conditioning(nn.Module):
    def __init__(self, gpt, mel_stats):
        super().__init__()
        self.gpt = gpt
        self.mel_stats = mel_stats

    def forward(self, logmel):
        return self.gpt.get_style_emb(logmel / self.mel_stats[None, :, None]).transpose(1, 2)


class Hifigan(nn.Module):
    def __init__(self, generator):
        super().__init__()
        self.generator = generator

    def forward(self, z, g):
        return self.generator(z, g=g)


class GptStep(nn.Module):
    def __init__(self, gpt):
        super().__init__()
        self.g = gpt
        self.heads = gpt.heads

    def forward(self, cond, text, mel, mel_start, past_len, *past):
        g = self.g
        t_pos = torch.arange(text.shape[1], device=text.device)
        m_pos = mel_start + torch.arange(mel.shape[1], device=mel.device)
        x = torch.cat([cond, g.text_embedding(text) + g.text_pos_embedding.emb(t_pos)[None],
                       g.mel_embedding(mel) + g.mel_pos_embedding.emb(m_pos)[None]], dim=1)
        total = past_len.to(torch.int32) + x.shape[1]          # GroupQueryAttention's lengths, once
        seqlens, total = total - 1, total.reshape(())
        presents = []
        for i, block in enumerate(g.gpt.h):
            q, k, v = _linear(block.ln_1(x), block.attn.c_attn).split(x.shape[2], dim=2)
            a, k, v = CachedAttention.apply(q, k, v, past[2 * i], past[2 * i + 1], seqlens, total, self.heads)
            x = x + _linear(a, block.attn.c_proj)
            x = x + _linear(block.mlp.act(_linear(block.ln_2(x), block.mlp.c_fc)), block.mlp.c_proj)
            presents += [k, v]
        latent = g.final_norm(g.gpt.ln_f(x[:, -1]))
        return (g.mel_head(latent), latent, *presents)


class CachedAttention(torch.autograd.Function):
    """Causal multi-head attention over a key/value cache that holds ``seqlens + 1 - S`` positions
    in a buffer of any capacity; returns the output [1, S, D] and the cache with the S new keys and
    values written after them (grown when the buffer is too short). In torch it is computed here;
    exported it is one GroupQueryAttention node with the same meaning."""

    @staticmethod
    def forward(ctx, q, k, v, past_k, past_v, seqlens, total, heads: int):
        b, s, d = q.shape
        hd, end = d // heads, int(total)
        start = end - s
        q, k, v = (t.reshape(b, s, heads, hd).transpose(1, 2) for t in (q, k, v))
        presents = []
        for past, new in ((past_k, k), (past_v, v)):
            cache = past.new_zeros(b, heads, max(past.shape[2], end), hd)
            cache[:, :, :start] = past[:, :, :start]
            cache[:, :, start:end] = new
            presents.append(cache)
        keys, values = (c[:, :, :end] for c in presents)
        allowed = torch.arange(end)[None, :] <= (start + torch.arange(s))[:, None]
        scores = (q @ keys.transpose(2, 3)) / math.sqrt(hd)
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        out = (scores.softmax(-1) @ values).transpose(1, 2).reshape(b, s, d)
        return out, presents[0], presents[1]

    @staticmethod
    def symbolic(g, q, k, v, past_k, past_v, seqlens, total, heads: int):
        out, present_k, present_v = g.op("com.microsoft::GroupQueryAttention", q, k, v, past_k, past_v,
                                         seqlens, total, num_heads_i=heads, kv_num_heads_i=heads, outputs=3)
        out.setType(q.type())
        present_k.setType(past_k.type())
        present_v.setType(past_v.type())
        return out, present_k, present_v


def _linear(x, conv1d):
    """transformers' Conv1D as MatMul + Add (its addmm exports as Gemm, which onnxruntime's
    dynamic quantization leaves in float32)."""
    return x @ conv1d.weight + conv1d.bias


def example_inputs(model, past_len: int = 0, seed: int = 0) -> dict:
    """Fixed inputs for each graph (numpy, float32/int64): the self-test and parity tests use them."""
    rng = np.random.default_rng(seed)
    width = int(model.args.gpt_n_model_channels)
    layers, heads = int(model.args.gpt_layers), int(model.args.gpt_n_heads)
    inputs = {
        "speaker": {"mel": np.abs(rng.standard_normal((1, 64, 120))).astype(np.float32) + 0.01},
        "conditioning": {"logmel": rng.standard_normal((1, 80, 96)).astype(np.float32)},
        "gpt": {"cond": rng.standard_normal((1, 32, width)).astype(np.float32),
                "text": np.array([_REF_TEXT], np.int64),
                "mel": np.array([[int(model.args.gpt_start_audio_token)]], np.int64),
                "mel_start": np.zeros(1, np.int64), "past_len": np.zeros(1, np.int64)},
        "hifigan": {"z": rng.standard_normal((1, width, 40)).astype(np.float32),
                    "g": rng.standard_normal((1, 512, 1)).astype(np.float32) * 0.05},
    }
    for i in range(layers):
        for kv in "kv":
            inputs["gpt"][f"past_{kv}_{i}"] = np.zeros((1, heads, past_len, width // heads), np.float32)
    return inputs


def run_torch(module, inputs: dict) -> list[np.ndarray]:
    with torch.inference_mode():
        out = module(*(torch.from_numpy(v) for v in inputs.values()))
    out = out if isinstance(out, tuple) else (out,)
    return [o.detach().float().numpy() for o in out]


def export(model_dir: Path, out_dir: Path) -> Path:
    """Export the four graphs with external data, the manifest and the self-test references."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = load_xtts(model_dir)
    mods = modules(model)
    inputs = example_inputs(model)
    layers = int(model.args.gpt_layers)
    names = _param_names(model)
    manifest: dict = {"width": int(model.args.gpt_n_model_channels), "layers": layers,
                      "heads": int(model.args.gpt_n_heads), "start_text_token": int(model.gpt.start_text_token),
                      "stop_text_token": int(model.gpt.stop_text_token), "gpt_cache": GPT_CACHE,
                      "graphs": {}}
    reference: dict = {}
    for graph in GRAPHS:
        module, feed = mods[graph], inputs[graph]
        outputs = (["logits", "latent"] + [f"present_{kv}_{i}" for i in range(layers) for kv in "kv"]
                   if graph == "gpt" else [{"speaker": "embedding", "conditioning": "latents",
                                            "hifigan": "audio"}[graph]])
        path = out_dir / f"{graph}.onnx"
        # the tracer warns about Python numbers taken from tensors: in CachedAttention they are
        # replaced by the exported node, in coqui's modules they are constants of the model
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(module, tuple(torch.from_numpy(v) for v in feed.values()), str(path),
                              input_names=list(feed), output_names=outputs, opset_version=OPSET,
                              dynamic_axes=_dynamic_axes(graph, feed, outputs), do_constant_folding=False,
                              keep_initializers_as_inputs=True, dynamo=False,
                              custom_opsets={"com.microsoft": 1})
        proto = onnx.load(str(path))
        tensors = _rename_weights(proto, module, names)
        if graph == "hifigan":
            lift_to_2d(proto.graph)
        onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=f"{graph}.onnx.data", size_threshold=0)
        manifest["graphs"][graph] = _with_offsets(tensors, onnx.load(str(path), load_external_data=False))
        for k, v in feed.items():
            reference[f"{graph}/in/{k}"] = v
        for name, v in zip(outputs, run_torch(module, feed)):
            if name in KEPT_OUTPUTS or not name.startswith("present_"):
                reference[f"{graph}/out/{name}"] = v
    np.savez(out_dir / "reference.npz", **reference)
    manifest["reference_checkpoint_sha256"] = sha256_file(Path(model_dir) / "model.pth")
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out_dir


def _dynamic_axes(graph: str, feed: dict, outputs: list[str]) -> dict:
    if graph == "gpt":
        axes = {"cond": {1: "c"}, "text": {1: "t"}, "mel": {1: "m"}}
        for name in feed:
            if name.startswith(("past_k_", "past_v_")):
                axes[name] = {2: "capacity"}
        for name in outputs:
            if name.startswith("present_"):
                axes[name] = {2: "capacity_out"}
        return axes
    axes = {next(iter(feed)): {2: "frames"}}
    if graph == "hifigan":
        axes[outputs[0]] = {2: "samples"}
    return axes


def _param_names(model) -> dict[int, str]:
    """data_ptr → checkpoint key, for every tensor of the loaded model (first name of a shared one:
    the GPT's inference wrapper re-registers the blocks under a name the checkpoint does not use)."""
    names: dict[int, str] = {}
    for k, t in model.state_dict(keep_vars=True).items():
        if t.numel():
            names.setdefault(t.data_ptr(), k)
    return names


def _with_offsets(tensors: list[dict], proto) -> list[dict]:
    """Where each weight lies in the graph's external data file (the converter writes it there)."""
    places = {init.name: {e.key: e.value for e in init.external_data} for init in proto.graph.initializer}
    for t in tensors:
        place = places[t["name"]]
        if "location" not in place:
            raise ValueError(f"{t['name']} was not stored as external data")
        t["offset"], t["length"] = int(place.get("offset", 0)), int(place["length"])
    return tensors


def _rename_weights(proto, module, names: dict[int, str]) -> list[dict]:
    """Name each weight initializer by its checkpoint key; return the graph's tensor list."""
    local = {k: t for k, t in module.state_dict(keep_vars=True).items()}
    renames, tensors = {}, []
    for init in proto.graph.initializer:
        t = local.get(init.name)
        key = names.get(t.data_ptr()) if isinstance(t, torch.Tensor) and t.numel() else None
        arr = numpy_helper.to_array(init)
        entry = {"name": init.name, "shape": list(arr.shape), "dtype": str(arr.dtype)}
        if key is not None:
            entry["name"] = renames[init.name] = key
        tensors.append(entry)
    # Exported with the weights as inputs so that equal-valued ones (zero biases, unit norms of a
    # freshly initialised model) are not merged into one; they become plain initializers again here.
    weights = {init.name for init in proto.graph.initializer}
    kept = [i for i in proto.graph.input if i.name not in weights]
    del proto.graph.input[:]
    proto.graph.input.extend(kept)
    for init in proto.graph.initializer:
        init.name = renames.get(init.name, init.name)
    for node in proto.graph.node:
        node.input[:] = [renames.get(i, i) for i in node.input]
    return tensors
