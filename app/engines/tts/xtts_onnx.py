"""XTTS v2 tier on ONNX Runtime: the cloned voice without torch (the packaged app's path).

Same tier name (``xtts``), licence gate and streaming as the torch tier (``xtts.py``):
- Model: ``<model>/onnx/`` holds the graphs with their weights (converted from ``model.pth`` after
  the download, or exported from coqui at build time) and ``gpt.int4.onnx`` when quantized; the
  text front end reads ``vocab.json`` (``app.engines.xtts_onnx.tokenizer``).
- Latents: computed once per voice and kept in ``<latents_dir>/<model-id>-<ref-sha>.npz``, the torch
  tier's key (model id + reference hash) in a torch-free file format; a corrupt file is recomputed.
- Streaming: the same bounded windowed HiFiGAN decode (``WindowedDecoder``), over onnxruntime.
"""
from __future__ import annotations

import hashlib
import io
import logging
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from app import atomic
from app.engines.tts.base import TierUnavailable, TtsBackend, VoiceRef
from app.engines.tts.xtts import (Latents, WindowedDecoder, _acquire, model_id, model_unusable,
                                  voice_language, windowed_chunks, within_limit)
from app.engines.threads import cores
from app.engines.tts.xtts_pipeline import pipelined_chunks
from app.engines.xtts_onnx import audio
from app.errors import first_line

log = logging.getLogger(__name__)

LANGUAGES = frozenset({"en"})   # what the text front end (xtts_onnx/tokenizer.py) speaks
GRAPHS = ("manifest.json", "speaker.onnx", "conditioning.onnx", "gpt.onnx", "hifigan.onnx")


class XttsOnnxBackend(TtsBackend):
    name = "xtts"
    FIRST_CHUNK_CODES = 10
    # Then chunks that grow: each is made (GPT + HiFiGAN, ~25 ms per code on 2 cores) while the
    # one before plays (46 ms of audio per code), so playback does not stall after the first
    # (0.04 s at 5 s, against 0.24-0.42 s with 20 codes each), and long sentences end with big
    # windows whose 26 context frames cost less (bench/results/xtts.md).
    CHUNK_CODES = (8, 10, 14, 20, 28, 40)
    PIPELINE_CORES = 4   # fewer: the GPT's two threads alone keep 2 cores busy; a parallel HiFiGAN slowed it

    def __init__(self, model_dir: Path, consent: bool, threads: int = 0, seed: int | None = None,
                 pipelined: bool | None = None, decoder_threads: int = 0, gpt_arena: bool = True,
                 gpt_spinning: bool = True):
        """``pipelined``: HiFiGAN decodes a window while the GPT generates the next
        (``xtts_pipeline``; None: with PIPELINE_CORES cores or more); ``threads``,
        ``decoder_threads``, ``gpt_arena``, ``gpt_spinning``: as ``XttsOnnx``."""
        self.model_dir = Path(model_dir)
        self.consent = consent
        self.threads, self.decoder_threads, self.gpt_arena = threads, decoder_threads, gpt_arena
        self.gpt_spinning = gpt_spinning
        self.pipelined = cores() >= self.PIPELINE_CORES if pipelined is None else pipelined
        self.model = None                  # XttsOnnx, once ``load`` ran
        self.tokenizer = None
        self.model_id: str | None = None
        self.precision: str | None = None
        self.latents_computed = 0
        self._rng = np.random.default_rng(seed)
        self._latents: dict[str, Latents] = {}
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    # -- TtsBackend ---------------------------------------------------------------------------
    def check(self) -> str | None:
        reason = model_unusable(self.model_dir, self.consent,
                                (("onnxruntime", "onnxruntime"), ("tokenizers", "tokenizers")))
        if reason:
            return reason
        if not all((self.model_dir / "onnx" / g).is_file() for g in GRAPHS):
            return "the XTTS v2 model is not converted for ONNX Runtime yet"
        return None

    def load(self) -> None:
        with self._load_lock:
            if self.model is not None:
                return
            reason = self.check()
            if reason:
                raise TierUnavailable(reason)
            from app.engines.xtts_onnx.runner import XttsOnnx
            from app.engines.xtts_onnx.tokenizer import XttsTokenizer

            try:
                model = XttsOnnx(self.model_dir, threads=self.threads, decoder_threads=self.decoder_threads,
                                 gpt_arena=self.gpt_arena, gpt_spinning=self.gpt_spinning)
                self.tokenizer = XttsTokenizer(self.model_dir / "vocab.json")
            except Exception as e:  # a damaged graph or vocabulary: this tier cannot serve
                raise TierUnavailable(f"the XTTS v2 ONNX model could not be loaded ({first_line(e, 200)})") from e
            self.model_id, self.precision, self.model = model_id(self.model_dir), model.precision, model
            log.info("XTTS (onnxruntime, GPT %s, HiFiGAN %s, %s) loaded from %s", self.precision,
                     model.decoder_precision, model.device, self.model_dir)

    @property
    def sample_rate(self) -> int:
        return int(self.model.args["output_sample_rate"]) if self.model is not None else 24000

    def stream(self, sentence: str, voice: VoiceRef | None, speed: float = 1.0,
               cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.load()
        text = " ".join(sentence.split())
        if not any(c.isalnum() for c in text):
            return
        language = voice_language(voice)
        if language not in LANGUAGES:
            raise TierUnavailable(f"the ONNX XTTS tier does not speak the voice's language '{language}' yet")
        tokens = within_limit(self.tokenizer.encode(text.lower(), language),
                              int(self.model.args["gpt_max_text_tokens"]))
        latents = self.latents(voice)
        if not _acquire(self._run_lock, cancel):
            return
        try:
            yield from self._synthesize(tokens, latents, speed, cancel)
        finally:
            self._run_lock.release()

    # -- voices -------------------------------------------------------------------------------
    def prepare(self, voice: VoiceRef) -> None:
        self.latents(voice)

    def latents(self, voice: VoiceRef | None) -> Latents:
        self.load()
        if voice is None or voice.reference_wav is None:
            raise TierUnavailable("XTTS needs a voice with a reference recording (no built-in speakers)")
        ref = Path(voice.reference_wav)
        try:
            data = ref.read_bytes()
        except OSError as e:
            raise TierUnavailable(f"the voice reference {ref.name} cannot be read ({e.strerror})") from e
        key = f"{self.model_id}-{hashlib.sha256(data).hexdigest()[:16]}"
        cache = Path(voice.latents_dir) / f"{key}.npz" if voice.latents_dir is not None else None
        if key in self._latents:
            if cache is not None and not cache.is_file():
                _write_latents(cache, self._latents[key])
            return self._latents[key]
        found = _read_latents(cache, self.model.width) if cache is not None else None
        if found is None:
            found = self._compute_latents(data, ref.name)
            if cache is not None:
                _write_latents(cache, found)
        self._latents[key] = found
        return found

    def _compute_latents(self, data: bytes, name: str) -> Latents:
        import soundfile

        try:
            samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
        except Exception as e:
            raise TierUnavailable(f"the voice reference {name} is not audio this tier can read") from e
        with self._run_lock:
            gpt, spk = self.model.conditioning(samples.mean(axis=1), rate)
        self.latents_computed += 1
        return Latents(gpt, spk)

    # -- synthesis ----------------------------------------------------------------------------
    def _synthesize(self, tokens: list[int], latents: Latents, speed: float,
                    cancel: threading.Event | None) -> Iterator[np.ndarray]:
        decoder = OnnxStreamingDecoder(self.model, np.asarray(latents.speaker_embedding, np.float32),
                                       length_scale=1.0 / max(speed, 0.05))
        steps = self.model.generate(tokens, np.asarray(latents.gpt_cond_latent, np.float32), self._rng)
        chunks = pipelined_chunks if self.pipelined else windowed_chunks
        yield from chunks(steps, decoder, self.FIRST_CHUNK_CODES, self.CHUNK_CODES, cancel)


class OnnxStreamingDecoder(WindowedDecoder):
    """The windowed decoder over the HiFiGAN graph; the grid is resampled in numpy as torch does."""

    def __init__(self, model, speaker_embedding: np.ndarray, length_scale: float = 1.0):
        a = model.args
        super().__init__(a["output_hop_length"], a["gpt_code_stride_len"], a["output_sample_rate"],
                         a["input_sample_rate"], length_scale)
        self.model, self.g = model, speaker_embedding

    def _grid(self) -> np.ndarray:
        return audio.latent_grid(np.concatenate(self._latents, axis=0), self.model.args, self.length_scale)

    def _hifigan(self, window: np.ndarray) -> np.ndarray:
        return self.model.decode(np.ascontiguousarray(window), self.g)


def _read_latents(path: Path, width: int) -> Latents | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            gpt, spk = data["gpt_cond_latent"].astype(np.float32), data["speaker_embedding"].astype(np.float32)
    except Exception as e:  # truncated, not an npz, wrong keys: recompute
        log.warning("ignoring unreadable XTTS latents cache %s (%s)", path, first_line(e, 200))
        return None
    if not (gpt.ndim == 3 and gpt.shape[0] == 1 and gpt.shape[-1] == width and spk.ndim == 3
            and np.isfinite(gpt).all() and np.isfinite(spk).all()):
        log.warning("ignoring XTTS latents cache %s: unexpected shapes", path)
        return None
    return Latents(gpt, spk)


def _write_latents(path: Path, latents: Latents) -> None:
    buf = io.BytesIO()
    np.savez(buf, gpt_cond_latent=np.asarray(latents.gpt_cond_latent),
             speaker_embedding=np.asarray(latents.speaker_embedding))
    try:
        atomic.write_bytes(path, buf.getvalue())
    except OSError as e:
        log.warning("could not cache XTTS latents in %s (%s)", path, e.strerror)


class XttsBesideTorch(TtsBackend):
    """The ``xtts`` tier in a source install with a converted model: ONNX Runtime (the faster one
    on a CPU, bench/results/xtts.md) for the languages its text front end speaks, coqui's torch
    model for the others, so no voice loses its cloned sound. Torch loads only when needed."""

    name = "xtts"

    def __init__(self, onnx: XttsOnnxBackend, torch: TtsBackend):
        self.onnx, self.torch = onnx, torch

    def _for(self, voice: VoiceRef | None) -> TtsBackend:
        return self.onnx if voice_language(voice) in LANGUAGES else self.torch

    def check(self) -> str | None:
        return self.onnx.check()

    def load(self) -> None:
        self.onnx.load()

    @property
    def sample_rate(self) -> int:
        return self.onnx.sample_rate   # one XTTS v2 model: both backends read its output rate

    def prepare(self, voice: VoiceRef) -> None:
        self._for(voice).prepare(voice)

    def stream(self, sentence: str, voice: VoiceRef | None, speed: float = 1.0,
               cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        yield from self._for(voice).stream(sentence, voice, speed, cancel)   # each loads itself
