"""Speech to text with faster-whisper (CTranslate2): int8 on CPU, float16 on CUDA.

Tuned for push-to-talk commands of a few seconds: greedy decoding, no conditioning on earlier
text, no timestamps. Silero VAD (shipped inside faster-whisper) trims the silence around the
utterance; when it finds no speech at all the clip is decoded whole, so a clipped one-word command
("stop") is not thrown away. Silent or too-short audio gives an empty transcript.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from app.engines.protocol import Transcript
from app.errors import UserError

log = logging.getLogger(__name__)

RATE = 16000
MIN_SECONDS = 0.1        # shorter than this holds no word
SILENCE_PEAK = 10 ** (-70 / 20)   # a clip whose loudest sample is under -70 dBFS is silence
# Greedy only for a command (one 30 s window): the temperature ladder re-samples at random, and
# a stable answer beats a random one for a command. Long clips keep a short ladder against
# Whisper's repetition loops.
WINDOW_SECONDS = 30.0
LONG_FORM_TEMPERATURES = (0.0, 0.4, 0.8)


def resolve_device(device: str = "auto", compute_type: str = "auto") -> tuple[str, str]:
    """("cuda", "float16") when CTranslate2 sees a GPU, ("cpu", "int8") otherwise; checks choices."""
    import ctranslate2

    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device not in ("cpu", "cuda"):
        raise UserError(f"Unknown STT device {device!r}; use auto, cpu or cuda.")
    if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
        raise UserError("The STT device is set to cuda but no CUDA GPU is visible.")
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    supported = ctranslate2.get_supported_compute_types(device)
    if compute_type not in supported:
        raise UserError(f"Compute type {compute_type!r} does not run on {device} here; "
                        f"choose one of: {', '.join(sorted(supported))}.")
    return device, compute_type


class WhisperStt:
    def __init__(self, model_dir: Path, device: str = "auto", compute_type: str = "auto",
                 vad: bool = True, beam_size: int = 1, cpu_threads: int = 0):
        self.model_dir = Path(model_dir)
        self.device = device
        self.compute_type = compute_type
        self.vad = vad
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads
        self.load_s: float | None = None
        self._model = None
        self._lock = threading.Lock()  # one decode at a time; also guards the lazy load

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def multilingual(self) -> bool:
        """Valid after load(). English-only models (tiny.en, base.en...) report False."""
        self.load()
        return self._is_multilingual()

    def _is_multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual) and not self.model_dir.name.endswith(".en")

    def load(self) -> None:
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._model is not None:
            return
        if not (self.model_dir / "model.bin").is_file() or not (self.model_dir / "config.json").is_file():
            raise UserError(f"{self.model_dir} is not a CTranslate2 Whisper model "
                            "(model.bin and config.json are missing).")
        device, compute_type = resolve_device(self.device, self.compute_type)
        from faster_whisper import WhisperModel

        t0 = time.perf_counter()
        try:
            model = WhisperModel(str(self.model_dir), device=device, compute_type=compute_type,
                                 cpu_threads=self.cpu_threads, local_files_only=True)
        except (RuntimeError, ValueError, OSError) as e:
            # CTranslate2 reports an unreadable or mismatched model as RuntimeError/ValueError.
            raise UserError(f"The Whisper model in {self.model_dir} could not be loaded ({e}).") from e
        self.load_s = time.perf_counter() - t0
        self.device, self.compute_type = device, compute_type
        self._model = model
        log.info("whisper %s loaded on %s/%s in %.2f s", self.model_dir.name, device, compute_type,
                 self.load_s)

    def transcribe(self, samples: np.ndarray, language: str | None = None) -> Transcript:
        """Transcribe 16 kHz float32 mono samples. Never raises on silent or short audio."""
        audio = _as_mono_float32(samples)
        seconds = len(audio) / RATE
        t0 = time.perf_counter()
        with self._lock:
            self._load_locked()
            lang = self._pick_language(language, self._is_multilingual())
            if seconds < MIN_SECONDS or float(np.max(np.abs(audio))) < SILENCE_PEAK:
                return Transcript("", lang or "", seconds, time.perf_counter() - t0)
            speech = self._trim(audio) if self.vad else audio
            if speech is None:  # VAD heard nothing: decode the whole clip rather than drop it
                log.debug("VAD found no speech in %.2f s; decoding without VAD", seconds)
                speech = audio
            text, lang = self._decode(speech, lang)
        return Transcript(text, lang, seconds, time.perf_counter() - t0)

    def _pick_language(self, language: str | None, multilingual: bool) -> str | None:
        if not multilingual:
            return "en"
        if not language:
            return None  # auto-detect
        code = language.strip().lower().replace("_", "-").split("-")[0]
        if code not in self._model.supported_languages:
            raise UserError(f"Language {language!r} is not one Whisper knows; use a code such as en, de or fr.")
        return code

    def _trim(self, audio: np.ndarray) -> np.ndarray | None:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        # Commands are short: a short silence ends a chunk, and some padding keeps soft consonants.
        opts = VadOptions(threshold=0.5, min_silence_duration_ms=500, speech_pad_ms=250)
        chunks = get_speech_timestamps(audio, opts, sampling_rate=RATE)
        if not chunks:
            return None
        return np.concatenate([audio[c["start"]:c["end"]] for c in chunks])

    def _decode(self, audio: np.ndarray, language: str | None) -> tuple[str, str]:
        segments, info = self._model.transcribe(
            audio, language=language, beam_size=self.beam_size, best_of=1,
            condition_on_previous_text=False, without_timestamps=True, vad_filter=False,
            temperature=[0.0] if len(audio) <= WINDOW_SECONDS * RATE else list(LONG_FORM_TEMPERATURES))
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
        return text.strip(), info.language or (language or "")


def _as_mono_float32(samples: np.ndarray) -> np.ndarray:
    audio = np.asarray(samples)
    if audio.ndim == 2 and 1 in audio.shape:
        audio = audio.reshape(-1)
    if audio.ndim != 1:
        raise UserError(f"Speech for transcription must be mono; got an array of shape {audio.shape}.")
    if audio.dtype.kind == "i":  # PCM integers: scale to [-1, 1]
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max)
    audio = audio.astype(np.float32, copy=False)
    if not np.all(np.isfinite(audio)):
        raise UserError("The speech samples contain NaN or infinite values.")
    return audio
