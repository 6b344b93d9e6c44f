"""XTTS v2 on onnxruntime and numpy only: conditioning, GPT decoding with a key/value cache,
sampling as coqui configures it, and HiFiGAN. No torch, no coqui-tts.

The graphs (export.py) sit in ``<model>/onnx/``; on the CPU ``gpt.int4.onnx`` decodes the steps and
``gpt.int8.onnx`` runs the prompt (quantize.py) instead of ``gpt.onnx`` when present. Where
onnxruntime has its CUDA provider (onnxruntime-gpu) the sessions take it, with the float32 graphs
(untested here: no GPU on the build machine).
Sampling follows transformers' order for coqui's settings: repetition penalty over every id seen
so far (the prompt's placeholder ids included, as coqui's generate does), temperature, top-k,
top-p, then a multinomial draw.
"""
from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from app.engines.threads import ort_session_options
from app.engines.xtts_onnx import audio
from app.engines.xtts_onnx.quantize import PROMPT_GPT, QUANTIZED_GPT, QUANTIZED_HIFIGAN

GPT_CACHE = "in-place"     # the GPT interface this runner speaks, as the manifest names it (export.py)
MIN_CHUNK_SECONDS = 0.33   # coqui skips shorter conditioning chunks
VOICES_KEPT = 4            # voices whose conditioning keys/values are kept (XttsOnnx.voice_cache)


class XttsOnnx:
    """The four sessions and the model's settings; one per loaded model."""

    def __init__(self, model_dir: Path, threads: int = 0, providers: list[str] | None = None,
                 decoder_threads: int = 0, gpt_arena: bool = True, graphs: Path | None = None,
                 gpt_spinning: bool = True):
        """``threads``/``decoder_threads``: intra-op threads of the GPT (and conditioning) sessions
        and of HiFiGAN's (0: one per core). ``gpt_arena``: keep onnxruntime's memory arena for the
        GPT, whose runs the tier serialises: its per-step key/value buffers are reused instead of
        allocated afresh (~10 % less CPU per code, bench/results/xtts.md). ``gpt_spinning``: its
        threads spin between the runs of one sentence (``ort_session_options``). ``graphs``: the folder of
        the converted graphs (default ``model_dir/onnx``; the converter's staging folder)."""
        import onnxruntime as ort

        self.model_dir = Path(model_dir)
        graphs = Path(graphs or self.model_dir / "onnx")
        self.manifest = json.loads((graphs / "manifest.json").read_text())
        config = json.loads((self.model_dir / "config.json").read_text())
        self.config, self.args = config, config["model_args"]
        self.layers, self.heads, self.width = self.manifest["layers"], self.manifest["heads"], self.manifest["width"]
        if self.manifest.get("gpt_cache") != GPT_CACHE:
            raise ValueError("its graphs were converted by an older Kaytoo; get the cloning model again")

        def options(n: int, arena: bool = False, spinning: bool = False):
            opts = ort_session_options(arena, spinning)   # the engine's pool size
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if n:
                opts.intra_op_num_threads = n
            return opts

        providers = providers or pick_providers(ort.get_available_providers())
        gpt, prompt = gpt_graphs(graphs, providers[0])
        self.precision = "int4" if gpt.name == QUANTIZED_GPT else "fp32"
        decoder = decoder_graph(graphs, providers[0])
        self.decoder_precision = "int8" if decoder.name == QUANTIZED_HIFIGAN else "fp32"
        files = {"speaker": (graphs / "speaker.onnx", options(threads)),
                 "conditioning": (graphs / "conditioning.onnx", options(threads)),
                 "gpt": (gpt, options(threads, gpt_arena, gpt_spinning)),
                 "hifigan": (decoder, options(decoder_threads or threads))}
        self.sessions = {name: ort.InferenceSession(str(path), opts, providers=providers)
                         for name, (path, opts) in files.items()}
        # the prompt's graph (many positions at once), the step graph's interface and cache
        self.prompt_session = self.sessions["gpt"] if prompt == gpt else \
            ort.InferenceSession(str(prompt), options(threads, gpt_arena, gpt_spinning), providers=providers)
        # onnxruntime falls back to the CPU when the CUDA libraries do not load: say what runs
        self.device = "cuda" if "CUDAExecutionProvider" in self.sessions["gpt"].get_providers() else "cpu"
        self._voices: dict[str, dict[str, np.ndarray]] = {}   # voice_cache, oldest first
        self._voices_lock = threading.Lock()

    # -- voices ---------------------------------------------------------------------------------
    def conditioning(self, samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
        """(gpt_cond_latent [1, 32, width], speaker_embedding [1, 512, 1]) as coqui's
        get_conditioning_latents computes them from one reference."""
        cfg = self.config
        wav = np.clip(audio.resample(samples, rate, 22050), -1.0, 1.0)[:22050 * int(cfg["max_ref_len"])]
        if cfg.get("sound_norm_refs"):
            wav = wav / np.abs(wav).max() * 0.75
        speaker = self.sessions["speaker"].run(None, {"mel": audio.speaker_mel(audio.resample(wav, 22050, 16000))})[0]
        gpt_wav = wav[:22050 * int(cfg["gpt_cond_len"])]
        step = 22050 * int(cfg["gpt_cond_chunk_len"])
        styles = [self.sessions["conditioning"].run(None, {"logmel": audio.gpt_mel(chunk)})[0]
                  for chunk in (gpt_wav[i:i + step] for i in range(0, gpt_wav.size, step))
                  if chunk.size >= 22050 * MIN_CHUNK_SECONDS]
        if not styles:
            raise ValueError(f"the reference is too short (at least {MIN_CHUNK_SECONDS:.2f} s of audio)")
        return np.mean(styles, axis=0).astype(np.float32), speaker.astype(np.float32)

    # -- GPT ------------------------------------------------------------------------------------
    def steps(self, tokens: list[int], cond: np.ndarray, headroom: int = 256,
              reuse_voice: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Feed the GPT: yields (logits [vocab], latent [width]) per position, and takes the next
        code with ``send``. The first yield comes from the prompt (cond + text + start code).
        Each block's keys and values stay in one buffer the graph writes in place (``KvCache``),
        sized for ``headroom`` codes after the prompt at first (~12 s of speech) and doubled when full.
        The conditioning latents come first and attend only to each other, so their keys and values
        are the same for every sentence of a voice: with ``reuse_voice`` they are computed once per
        voice (``voice_cache``) and the prompt runs over the text alone (a third of it, or more)."""
        args = self.args
        text = np.array([[self._start_text()] + list(tokens) + [self._stop_text()]], np.int64)
        prompt = cond.shape[1] + text.shape[1] + 1
        cache = KvCache(self.prompt_session, self.sessions["gpt"], self.layers, self.heads, self.width // self.heads,
                        prompt + headroom)
        empty = {"cond": np.zeros((1, 0, self.width), np.float32), "text": np.zeros((1, 0), np.int64)}
        feed = {"cond": cond.astype(np.float32), "text": text,
                "mel": np.array([[args["gpt_start_audio_token"]]], np.int64), "mel_start": np.zeros(1, np.int64)}
        used, position = 0, 0
        if reuse_voice:
            used = cache.fill(self.voice_cache(cond))
            feed["cond"] = empty["cond"]
        while True:
            used = cache.run(feed, used, prompt - used if position == 0 else 1)
            code = yield cache.logits[0].copy(), cache.latent[0].copy()
            position += 1
            feed = {**empty, "mel": np.array([[code]], np.int64), "mel_start": np.array([position], np.int64)}

    def voice_cache(self, cond: np.ndarray) -> dict[str, np.ndarray]:
        """The keys and values of the conditioning latents (per block, [1, H, C, D/H]), kept for the
        last VOICES_KEPT voices (~8 MB each at full size)."""
        key = hashlib.sha1(np.ascontiguousarray(cond, np.float32).tobytes()).hexdigest()
        with self._voices_lock:
            kept = self._voices.pop(key, None)
        if kept is None:
            c = cond.shape[1]
            cache = KvCache(self.prompt_session, self.sessions["gpt"], self.layers, self.heads,
                            self.width // self.heads, c)
            cache.run({"cond": cond.astype(np.float32), "text": np.zeros((1, 0), np.int64),
                       "mel": np.zeros((1, 0), np.int64), "mel_start": np.zeros(1, np.int64)}, 0, c)
            kept = {name: buffer[:, :, :c].copy() for name, buffer in cache.buffers.items()}
        with self._voices_lock:
            self._voices[key] = kept
            while len(self._voices) > VOICES_KEPT:
                self._voices.pop(next(iter(self._voices)))
        return kept

    def _start_text(self) -> int:
        return int(self.manifest["start_text_token"])

    def _stop_text(self) -> int:
        return int(self.manifest["stop_text_token"])

    def generate(self, tokens: list[int], cond: np.ndarray, rng: np.random.Generator,
                 greedy: bool = False) -> Iterator[tuple[int, np.ndarray]]:
        """(code, latent) per step until the stop code or the length limit, as coqui's stream."""
        cfg, args = self.config, self.args
        stop = int(args["gpt_stop_audio_token"])
        limit = int(args["gpt_max_audio_tokens"]) - 3    # coqui's max_gen_mel_tokens
        seen = np.zeros(int(args["gpt_num_audio_tokens"]), bool)
        seen[1] = seen[int(args["gpt_start_audio_token"])] = True    # coqui's placeholder prompt ids
        gen = self.steps(tokens, cond)
        logits, latent = next(gen)
        try:
            for _ in range(limit):
                code = argmax(logits) if greedy else sample(
                    logits, seen, rng, float(cfg["temperature"]), int(cfg["top_k"]), float(cfg["top_p"]),
                    float(cfg["repetition_penalty"]))
                yield code, latent
                if code == stop:
                    return
                seen[code] = True
                logits, latent = gen.send(code)
        finally:
            gen.close()

    # -- HiFiGAN --------------------------------------------------------------------------------
    def decode(self, grid: np.ndarray, speaker: np.ndarray) -> np.ndarray:
        """HiFiGAN on latents already on its frame grid [1, width, frames] → audio samples."""
        return self.sessions["hifigan"].run(None, {"z": grid.astype(np.float32), "g": speaker})[0].reshape(-1)


class KvCache:
    """The GPT's keys and values for one sentence: a buffer per block and per keys/values, bound
    as both the past input and the present output of the graphs (onnxruntime's GroupQueryAttention
    then writes each step's keys in place), grown by doubling when full. Two graphs of one
    interface share the buffers: ``prompt`` runs many positions at once, ``step`` one. The logits
    and latent outputs are bound to buffers of their own, overwritten at every run."""

    def __init__(self, prompt, step, layers: int, heads: int, head_dim: int, capacity: int):
        self.sessions, self.shape = (prompt, step), (1, heads, 0, head_dim)
        self.names = [f"{kv}_{i}" for i in range(layers) for kv in "kv"]
        outputs = {o.name: o.shape[-1] for o in step.get_outputs()}
        self.logits = np.zeros((1, outputs["logits"]), np.float32)
        self.latent = np.zeros((1, outputs["latent"]), np.float32)
        self.buffers: dict[str, np.ndarray] = {}
        self.bindings = tuple(s.io_binding() for s in self.sessions)
        self._grow(capacity, 0)

    def _grow(self, capacity: int, used: int) -> None:
        import onnxruntime as ort

        values = {}
        for name in self.names:
            old = self.buffers.get(name)
            new = np.zeros(self.shape[:2] + (capacity,) + self.shape[3:], np.float32)
            if old is not None:
                new[:, :, :used] = old[:, :, :used]
            self.buffers[name] = new
            values[name] = ort.OrtValue.ortvalue_from_numpy(new)   # shares the numpy array's memory
        for b in self.bindings:
            for name, value in values.items():
                b.bind_ortvalue_input(f"past_{name}", value)
                b.bind_ortvalue_output(f"present_{name}", value)
            b.bind_ortvalue_output("logits", ort.OrtValue.ortvalue_from_numpy(self.logits))
            b.bind_ortvalue_output("latent", ort.OrtValue.ortvalue_from_numpy(self.latent))

    def fill(self, prefix: dict[str, np.ndarray]) -> int:
        """Put keys and values computed before (``voice_cache``) at the start; returns their length."""
        length = next(iter(prefix.values())).shape[2]
        for name, values in prefix.items():
            self.buffers[name][:, :, :length] = values
        return length

    def run(self, feed: dict[str, np.ndarray], used: int, new: int) -> int:
        """One run on ``feed`` (``new`` positions after the ``used`` ones); returns the positions
        now in the cache. Results are in ``logits`` and ``latent``."""
        capacity = self.buffers[self.names[0]].shape[2]
        if used + new > capacity:
            self._grow(max(2 * capacity, used + new), used)
        which = 0 if new > 1 else 1
        binding = self.bindings[which]
        for name, value in {**feed, "past_len": np.array([used], np.int64)}.items():
            binding.bind_cpu_input(name, value)
        self.sessions[which].run_with_iobinding(binding)
        return used + new


def pick_providers(available: list[str]) -> list[str]:
    """onnxruntime's CUDA provider first when this onnxruntime has it (the onnxruntime-gpu
    package), the CPU always as the fallback."""
    return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + ["CPUExecutionProvider"]


def gpt_graphs(graphs: Path, provider: str) -> tuple[Path, Path]:
    """(step graph, prompt graph): on the CPU the quantized ones when the converter made them (4-bit
    steps, INT8 prompt: quantize.py); float32 on CUDA (FP16 graphs for CUDA are not made yet)."""
    step, prompt = graphs / QUANTIZED_GPT, graphs / PROMPT_GPT
    if provider != "CPUExecutionProvider" or not step.is_file():
        return graphs / "gpt.onnx", graphs / "gpt.onnx"
    return step, prompt if prompt.is_file() else step


def decoder_graph(graphs: Path, provider: str) -> Path:
    """HiFiGAN: on the CPU the INT8 graph when the converter made it (quantize.py), else float32."""
    int8 = graphs / QUANTIZED_HIFIGAN
    return int8 if provider == "CPUExecutionProvider" and int8.is_file() else graphs / "hifigan.onnx"


def argmax(logits: np.ndarray) -> int:
    return int(np.argmax(logits))


def sample(logits: np.ndarray, seen: np.ndarray, rng: np.random.Generator, temperature: float,
           top_k: int, top_p: float, repetition_penalty: float) -> int:
    """One code drawn as transformers' processors do for coqui's generate settings."""
    probs = distribution(logits, seen, temperature, top_k, top_p, repetition_penalty)
    return int(rng.choice(probs.size, p=probs))


def distribution(logits: np.ndarray, seen: np.ndarray, temperature: float, top_k: int, top_p: float,
                 repetition_penalty: float) -> np.ndarray:
    """The probabilities a code is drawn from: repetition penalty, temperature, top-k, top-p."""
    scores = logits.astype(np.float64).copy()
    if repetition_penalty != 1.0:
        s = scores[seen]
        scores[seen] = np.where(s < 0, s * repetition_penalty, s / repetition_penalty)
    scores /= temperature
    if 0 < top_k < scores.size:
        kth = np.partition(scores, -top_k)[-top_k]
        scores[scores < kth] = -np.inf
    if top_p < 1.0:
        order = np.argsort(scores)                      # ascending, as transformers' TopP
        probs = _softmax(scores[order])
        drop = np.cumsum(probs) <= (1 - top_p)
        drop[-1] = False                                # keep at least one
        scores[order[drop]] = -np.inf
    return _softmax(scores)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - np.max(x))
    return e / e.sum()
