"""XTTS v2 tier (coqui-tts): the cloned voice.

- Loading: the real XTTS-v2 folder (config.json, model.pth, vocab.json, optional speakers_xtts.pth)
  from the model store, only after the user accepted the CPML licence. coqui-tts never gets to
  prompt: the app records consent itself and sets ``COQUI_TOS_AGREED`` only then.
- Precision: ``device="auto"`` takes CUDA when there is one, with an FP16 GPT; on the CPU the GPT is
  dynamic INT8 (``quantize=True``), after converting its Conv1D layers to nn.Linear
  (``app.engines.quantize``). Only the per-code decode path changes precision, so speaker latents
  are the same either way. HiFiGAN stays float32.
- Streaming with bounded decoder cost: coqui's ``inference_stream`` re-runs HiFiGAN over every
  latent so far at each chunk (quadratic in the sentence). Here each chunk decodes only its new
  frames plus the decoder's receptive field on each side (``StreamingDecoder``), so every chunk costs
  about the same, and the chunks join into exactly what a one-shot decode gives (no cross-fade).
- Speaker latents: computed once per voice and kept in ``<latents_dir>/<model-id>-<ref-sha>.pt``
  (atomic write; a changed model or reference gives a new key; a corrupt file is recomputed).
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from app import atomic
from app.engines.tts.base import TierUnavailable, TtsBackend, VoiceRef
from app.errors import first_line

log = logging.getLogger(__name__)

REQUIRED_FILES = ("config.json", "model.pth", "vocab.json")
SPEAKERS_FILE = "speakers_xtts.pth"
LICENCE_REASON = "the XTTS licence (CPML, non-commercial) has not been accepted"


@dataclass
class Latents:
    """A voice as XTTS sees it: GPT conditioning latents and the decoder's speaker embedding."""

    gpt_cond_latent: Any     # torch.Tensor [1, 32, width], float32, CPU
    speaker_embedding: Any   # torch.Tensor [1, 512, 1], float32, CPU


class XttsBackend(TtsBackend):
    name = "xtts"
    FIRST_CHUNK_CODES = 10   # the first chunk comes early: it sets the time to first audio
    CHUNK_CODES = 20         # then ~0.9 s of speech per chunk (one code is 1024 samples at 22.05 kHz)

    def __init__(self, model_dir: Path, consent: bool, device: str = "auto", quantize: bool = True):
        self.model_dir = Path(model_dir)
        self.consent = consent
        self.device_setting = device
        self.quantize = quantize
        self.model = None                 # the loaded coqui Xtts, once ``load`` ran
        self.device: str | None = None
        self.precision: str | None = None   # "fp32", "fp16" or "int8"
        self.quant_report = None
        self.model_id: str | None = None
        self.latents_computed = 0         # how many times latents were computed, not read back
        self._latents: dict[str, Latents] = {}
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # one synthesis at a time: the GPT keeps per-call state

    # -- TtsBackend ---------------------------------------------------------------------------
    def check(self) -> str | None:
        return model_unusable(self.model_dir, self.consent,
                              (("torch", "torch"), ("torchaudio", "torchaudio"), ("TTS", "coqui-tts")))

    def load(self) -> None:
        with self._load_lock:
            if self.model is not None:
                return
            reason = self.check()
            if reason:
                raise TierUnavailable(reason)
            os.environ["COQUI_TOS_AGREED"] = "1"  # consent was given in the app; never input()
            try:
                self._load()
            except TierUnavailable:
                raise
            except Exception as e:  # a corrupt or mismatched checkpoint: this tier cannot serve
                self.model = None
                raise TierUnavailable(f"the XTTS v2 model could not be loaded ({first_line(e, 200)})") from e

    @property
    def sample_rate(self) -> int:
        if self.model is not None:
            return int(self.model.args.output_sample_rate)
        return 24000

    def stream(self, sentence: str, voice: VoiceRef | None, speed: float = 1.0,
               cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.load()
        text = " ".join(sentence.split())
        if not any(c.isalnum() for c in text):
            return
        language = self._language(voice)
        tokens = self._tokens(text, language)
        latents = self.latents(voice)
        if not _acquire(self._run_lock, cancel):
            return
        try:
            yield from self._synthesize(tokens, latents, speed, cancel)
        finally:
            self._run_lock.release()

    # -- loading ------------------------------------------------------------------------------
    def _load(self) -> None:
        import torch
        from TTS.tts.configs.xtts_config import XttsConfig

        config = XttsConfig()
        config.load_json(str(self.model_dir / "config.json"))
        model = _xtts_class()(config)
        speakers = self.model_dir / SPEAKERS_FILE
        model.load_checkpoint(config, checkpoint_dir=str(self.model_dir), eval=True, use_deepspeed=False,
                              speaker_file_path=str(speakers) if speakers.is_file() else None)
        device = self._pick_device(torch)
        model.to(device)
        self.precision, self.quant_report = _set_precision(model, device, self.quantize)
        self.device, self.model = device, model
        self.model_id = model_id(self.model_dir)
        log.info("XTTS loaded from %s on %s (%s)", self.model_dir, device, self.precision)

    def _pick_device(self, torch) -> str:
        wanted = (self.device_setting or "auto").lower()
        if wanted == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            raise TierUnavailable("XTTS was set to run on CUDA, but no CUDA device is available")
        return wanted

    # -- voices -------------------------------------------------------------------------------
    def prepare(self, voice: VoiceRef) -> None:
        self.latents(voice)

    def latents(self, voice: VoiceRef | None) -> Latents:
        """The voice's latents: from memory, from the disk cache, or computed (and then cached)."""
        self.load()
        if voice is None or voice.reference_wav is None:
            return self._builtin_speaker(voice.name if voice is not None else None)
        ref = Path(voice.reference_wav)
        try:
            data = ref.read_bytes()
        except OSError as e:
            raise TierUnavailable(f"the voice reference {ref.name} cannot be read ({e.strerror})") from e
        key = f"{self.model_id}-{hashlib.sha256(data).hexdigest()[:16]}"
        cache = Path(voice.latents_dir) / f"{key}.pt" if voice.latents_dir is not None else None
        if key in self._latents:
            if cache is not None and not cache.is_file():  # the folder was emptied or moved
                _write_latents(cache, self._latents[key])
            return self._latents[key]
        found = _read_latents(cache, self._width()) if cache is not None else None
        if found is None:
            found = self._compute_latents(ref)
            if cache is not None:
                _write_latents(cache, found)
        self._latents[key] = found
        return found

    def _compute_latents(self, ref: Path) -> Latents:
        import torch

        cfg = self.model.config
        with self._run_lock, torch.inference_mode():
            gpt, spk = self.model.get_conditioning_latents(
                audio_path=str(ref), max_ref_length=cfg.max_ref_len, gpt_cond_len=cfg.gpt_cond_len,
                gpt_cond_chunk_len=cfg.gpt_cond_chunk_len, sound_norm_refs=cfg.sound_norm_refs)
        self.latents_computed += 1
        return Latents(gpt.detach().float().cpu().clone(), spk.detach().float().cpu().clone())

    def _builtin_speaker(self, name: str | None) -> Latents:
        manager = getattr(self.model, "speaker_manager", None)
        speakers = manager.speakers if manager is not None else {}
        if not speakers:
            raise TierUnavailable("XTTS needs a voice with a reference recording (no built-in speakers)")
        entry = speakers.get(name) if name else None
        entry = entry or next(iter(speakers.values()))
        return Latents(entry["gpt_cond_latent"].float(), entry["speaker_embedding"].float())

    def _width(self) -> int:
        return int(self.model.args.gpt_n_model_channels)

    # -- synthesis ----------------------------------------------------------------------------
    def _language(self, voice: VoiceRef | None) -> str:
        lang = voice_language(voice)
        if lang not in self.model.config.languages:
            raise TierUnavailable(f"XTTS does not speak the voice's language '{lang}'")
        return lang

    def _tokens(self, text: str, language: str) -> list[int]:
        return within_limit(self.model.tokenizer.encode(text.lower(), lang=language),
                            int(self.model.args.gpt_max_text_tokens))

    def _synthesize(self, tokens: list[int], latents: Latents, speed: float,
                    cancel: threading.Event | None) -> Iterator[np.ndarray]:
        import torch

        model, cfg = self.model, self.model.config
        gpt = model.gpt
        gpt_dtype = gpt.text_embedding.weight.dtype  # float16 on CUDA; INT8 layers take float32
        with torch.inference_mode():
            text = torch.tensor(tokens, dtype=torch.int32, device=self.device).unsqueeze(0)
            cond = latents.gpt_cond_latent.to(self.device, gpt_dtype)
            inputs = gpt.compute_embeddings(cond, text)
            # Sampling settings as coqui uses them; only the per-step hidden state is kept.
            generator = gpt.get_generator(
                fake_inputs=inputs, top_k=cfg.top_k, top_p=cfg.top_p, temperature=cfg.temperature,
                do_sample=True, num_beams=1, num_return_sequences=1,
                length_penalty=float(cfg.length_penalty), repetition_penalty=float(cfg.repetition_penalty),
                output_attentions=False, output_hidden_states=True, return_dict_in_generate=False)
        decoder = StreamingDecoder(model.hifigan_decoder, latents.speaker_embedding.to(self.device),
                                   length_scale=1.0 / max(speed, 0.05))
        yield from windowed_chunks(generator, decoder, self.FIRST_CHUNK_CODES, self.CHUNK_CODES,
                                   cancel)


def voice_language(voice: VoiceRef | None) -> str:
    """The voice's language as XTTS names it ("en-GB" → "en", "zh" → "zh-cn"); English when unset."""
    lang = (voice.language if voice is not None and voice.language else "en").lower()
    return "zh-cn" if lang in ("zh", "zh-cn") else lang.split("-")[0]


def within_limit(tokens: list[int], limit: int) -> list[int]:
    """The sentence's text tokens, or ValueError when the GPT cannot take that many."""
    if len(tokens) >= limit:
        raise ValueError(f"the sentence is too long for XTTS ({len(tokens)} tokens, at most {limit - 1})")
    return tokens


def model_unusable(model_dir: Path, consent: bool,
                   modules: tuple[tuple[str, str], ...]) -> str | None:
    """Why an XTTS tier cannot serve (a library missing, no licence, files not downloaded), checked
    without loading anything; None when it may. ``modules``: (import name, package name) pairs."""
    for module, package in modules:
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed"
    if not consent:
        return LICENCE_REASON
    missing = [f for f in REQUIRED_FILES if not (model_dir / f).is_file()]
    if missing:
        return f"the XTTS v2 model is not downloaded ({', '.join(missing)} missing in {model_dir})"
    return None


def chunk_sizes(first_codes: int, codes: int | Sequence[int]) -> Iterator[int]:
    """Codes per chunk: ``first_codes``, then ``codes`` (an int, or sizes whose last repeats)."""
    yield first_codes
    sizes = [codes] if isinstance(codes, int) else list(codes)
    yield from sizes
    while True:
        yield sizes[-1]


def windowed_chunks(steps: Iterator, decoder: "WindowedDecoder", first_codes: int, codes: int | Sequence[int],
                    cancel: threading.Event | None) -> Iterator[np.ndarray]:
    """GPT steps ((code, latent) pairs) in, audio chunks out: the first after ``first_codes``
    codes (it sets the time to first audio), then one every ``codes`` (``chunk_sizes``), the rest
    at the end. Both XTTS tiers (torch and ONNX) stream through this or, GPT and HiFiGAN
    overlapped, ``xtts_pipeline.pipelined_chunks``; ``steps`` is closed however it ends."""
    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    sizes = chunk_sizes(first_codes, codes)
    due, pending = next(sizes), 0
    try:
        while not cancelled():
            item = next(steps, None)  # one GPT step: the slow part
            if item is None:
                break
            decoder.push(item[1])
            pending += 1
            if pending >= due:
                due, pending = next(sizes), 0
                wav = decoder.decode()
                if wav.size and not cancelled():
                    yield wav
        if cancelled():
            return
        wav = decoder.decode(final=True)
        if wav.size:
            yield wav
    finally:
        steps.close()


class WindowedDecoder:
    """GPT latents in, 24 kHz audio out, one window at a time with a constant cost per window.

    HiFiGAN sees the latents resampled onto its own frame grid (4x, then 22.05 → 24 kHz; one frame
    is ``hop`` = 256 output samples). An output frame depends on 13 grid frames each side (the
    receptive field, found with autograd: conv_pre ±3, the first upsampling ±1, the resblocks'
    dilated kernels ±7.5 at 8 samples per frame, the later stages ±1.7), so a window
    ``[done - CONTEXT, end + CONTEXT)`` reproduces the full decode for frames ``[done, end)``
    exactly (bench/bench_xtts_window.py: 8 frames leave 2e-6 at the joins, 4 leave 1e-4). The
    last few grid frames are held back until more latents arrive, because linear resampling still
    moves them. The resampling itself runs over all latents (negligible next to
    HiFiGAN); only HiFiGAN, the costly part, is windowed. Subclasses supply the grid and HiFiGAN
    (torch here, onnxruntime in xtts_onnx.py).
    """

    CONTEXT = 13

    def __init__(self, hop: int, mel_compression: int, output_rate: int, input_rate: int,
                 length_scale: float = 1.0):
        self.length_scale = length_scale
        self.hop = int(hop)
        self.compression, self.output_rate, self.input_rate = mel_compression, output_rate, input_rate
        self.frames_per_latent = length_scale * mel_compression / self.hop * output_rate / input_rate
        self.unsettled = math.ceil(self.frames_per_latent) + 2
        self.done = 0                          # grid frames already emitted
        self.windows: list[int] = []           # grid frames HiFiGAN decoded per call (for tests/bench)
        self._latents: list = []

    def push(self, latent) -> None:
        """Add GPT latents: [width], [n, width] or [1, n, width]."""
        self._latents.append(latent.reshape(-1, latent.shape[-1]))

    def decode(self, final: bool = False) -> np.ndarray:
        """Audio for the frames that are settled now (all of them when ``final``)."""
        if not self._latents:
            return np.zeros(0, np.float32)
        grid = self._grid()
        total = grid.shape[-1]
        end = total if final else total - self.unsettled - self.CONTEXT
        if end <= self.done:
            return np.zeros(0, np.float32)
        start = max(0, self.done - self.CONTEXT)
        stop = total if final else end + self.CONTEXT
        wav = self._hifigan(grid[..., start:stop])
        self.windows.append(stop - start)
        out = wav[(self.done - start) * self.hop:(end - start) * self.hop]
        self.done = end
        return np.asarray(out, np.float32)

    def _grid(self):
        """All latents so far on HiFiGAN's frame grid [1, width, frames]."""
        raise NotImplementedError

    def _hifigan(self, window) -> np.ndarray:
        """HiFiGAN over a window of the grid: float32 samples."""
        raise NotImplementedError


class StreamingDecoder(WindowedDecoder):
    """The windowed decoder over coqui's torch HiFiGAN."""

    def __init__(self, hifigan, speaker_embedding, length_scale: float = 1.0):
        super().__init__(hifigan.output_hop_length, hifigan.ar_mel_length_compression,
                         hifigan.output_sample_rate, hifigan.input_sample_rate, length_scale)
        self.hifigan = hifigan
        self.g = speaker_embedding

    def push(self, latent) -> None:
        super().push(latent.float())

    def _hifigan(self, window) -> np.ndarray:
        import torch

        with torch.inference_mode():
            wav = self.hifigan.waveform_decoder(window, g=self.g).reshape(-1)
            return wav.float().cpu().numpy()

    def _grid(self):
        """The latents on HiFiGAN's frame grid, exactly as coqui's HifiDecoder.forward makes it."""
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            z = torch.cat(self._latents, dim=0).unsqueeze(0).transpose(1, 2)  # [1, width, n]
            z = z.to(next(self.hifigan.parameters()).dtype)
            if self.length_scale != 1.0:
                z = F.interpolate(z, scale_factor=self.length_scale, mode="linear")
            z = F.interpolate(z, scale_factor=[self.compression / self.hop], mode="linear")
            if self.output_rate != self.input_rate:
                z = F.interpolate(z, scale_factor=[self.output_rate / self.input_rate], mode="linear")
            return z


# -- model identity and the latents cache --------------------------------------------------------
def model_id(model_dir: Path) -> str:
    """A short id that changes when the model does: config and vocab bytes, checkpoint size and mtime."""
    model_dir = Path(model_dir)
    h = hashlib.sha256()
    for name in ("config.json", "vocab.json"):
        h.update(name.encode() + b"\0" + (model_dir / name).read_bytes() + b"\0")
    st = (model_dir / "model.pth").stat()
    h.update(f"model.pth:{st.st_size}:{st.st_mtime_ns}".encode())
    return "xtts2-" + h.hexdigest()[:12]


def _read_latents(path: Path, width: int) -> Latents | None:
    """Cached latents, or None when absent or unusable (then they are recomputed and rewritten)."""
    import torch

    if not path.is_file():
        return None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        gpt, spk = data["gpt_cond_latent"], data["speaker_embedding"]
        ok = (isinstance(gpt, torch.Tensor) and isinstance(spk, torch.Tensor) and gpt.dim() == 3
              and gpt.shape[0] == 1 and gpt.shape[-1] == width and spk.dim() == 3
              and bool(torch.isfinite(gpt).all()) and bool(torch.isfinite(spk).all()))
    except Exception as e:  # truncated, not a torch file, wrong keys: recompute
        log.warning("ignoring unreadable XTTS latents cache %s (%s)", path, first_line(e, 200))
        return None
    if not ok:
        log.warning("ignoring XTTS latents cache %s: unexpected shapes", path)
        return None
    return Latents(gpt.float(), spk.float())


def _write_latents(path: Path, latents: Latents) -> None:
    import torch

    buf = io.BytesIO()
    torch.save({"gpt_cond_latent": latents.gpt_cond_latent, "speaker_embedding": latents.speaker_embedding}, buf)
    try:
        atomic.write_bytes(path, buf.getvalue())
    except OSError as e:  # a read-only voice folder costs a recompute next time, not the reply
        log.warning("could not cache XTTS latents in %s (%s)", path, e.strerror)


# -- coqui and torch helpers ------------------------------------------------------------------------
def _xtts_class():
    """coqui's Xtts, except that loading never rewrites model.pth.

    coqui-tts 0.28 re-saves an original hub checkpoint (one that pickles XttsConfig) in place on
    first load: a non-atomic 1.8 GB write into the model store that also changes the file's size
    and hash, so the store would consider the download broken. Here it is only read.
    """
    import pickle

    import torch
    from TTS.tts.models import xtts as coqui

    class ReadOnlyXtts(coqui.Xtts):
        def _load_checkpoint(self, model_path):
            try:
                checkpoint = torch.load(model_path, map_location="cpu", weights_only=True)
            except pickle.UnpicklingError:
                legacy = getattr(coqui, "_legacy_safe_globals", None)
                if legacy is None:
                    raise
                with legacy():
                    checkpoint = torch.load(model_path, map_location="cpu", weights_only=True)
            return checkpoint["model"]

    return ReadOnlyXtts


def _set_precision(model, device: str, quantize: bool):
    """FP16 decode path on CUDA, INT8 on the CPU (when asked); conditioning stays float32."""
    if device.startswith("cuda"):
        half_gpt(model)
        return "fp16", None
    if quantize:
        from app.engines.quantize import quantize_gpt_int8

        try:
            return "int8", quantize_gpt_int8(model)
        except (ImportError, AttributeError, RuntimeError) as e:
            # torch.ao's eager quantization is deprecated (torch >= 2.10 may drop it): still speak,
            # only slower. Layers converted before a failure are exact equivalents: the model stays valid.
            log.warning("XTTS stays float32 on the CPU: INT8 quantization failed (%s)", first_line(e, 200))
    return "fp32", None


def half_gpt(model) -> None:
    """Put the GPT's per-code decode path in float16 (the CUDA setting); conditioning stays float32."""
    import functools

    import torch

    gpt = model.gpt
    for module in (gpt.gpt, gpt.mel_embedding, gpt.mel_pos_embedding, gpt.text_embedding,
                   gpt.text_pos_embedding, gpt.final_norm, gpt.mel_head):
        module.half()
    # coqui's GPT adds float32 zeros as its position embedding, which would turn every hidden
    # state back to float32 and fail in the first half-precision LayerNorm.
    gpt.gpt.wpe = functools.partial(_null_positions, dim=gpt.model_dim, dtype=torch.float16)


def _null_positions(positions, dim: int, dtype):
    import torch

    return torch.zeros((positions.shape[0], positions.shape[1], dim), device=positions.device, dtype=dtype)


def _acquire(lock: threading.Lock, cancel: threading.Event | None) -> bool:
    """Take ``lock``, giving up if ``cancel`` is set while waiting."""
    while not lock.acquire(timeout=0.05):
        if cancel is not None and cancel.is_set():
            return False
    return True
