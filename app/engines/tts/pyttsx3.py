"""pyttsx3 tier (espeak-ng on Linux, SAPI5 on Windows, NSSpeech on macOS): offline, always there.

Synthesizes to a temporary file and reads it back; never ``say()``, which plays through the
driver's own output and, after a ``save_to_file``, writes later text into that file (FIELD-NOTES).
"""
from __future__ import annotations

import importlib.util
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from app.engines.tts.base import TierUnavailable, TtsBackend, VoiceRef

BASE_WPM = 175


class Pyttsx3Backend(TtsBackend):
    name = "pyttsx3"

    def __init__(self) -> None:
        self._engine = None
        self._lock = threading.Lock()  # the driver is not re-entrant
        self._rate = 22050

    def check(self) -> str | None:
        if importlib.util.find_spec("pyttsx3") is None:
            return "pyttsx3 is not installed"
        return None

    def load(self) -> None:
        with self._lock:
            if self._engine is not None:
                return
            try:
                import pyttsx3

                self._engine = pyttsx3.init()
            except Exception as e:  # no espeak-ng / SAPI: the driver raises various errors
                raise TierUnavailable(f"the system speech engine could not start ({e})") from e

    @property
    def sample_rate(self) -> int:
        return self._rate

    def stream(self, sentence: str, voice: VoiceRef | None, speed: float = 1.0,
               cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        self.load()
        samples, rate = self._render(sentence, speed)
        self._rate = rate
        if cancel is None or not cancel.is_set():
            yield samples

    def _render(self, sentence: str, speed: float) -> tuple[np.ndarray, int]:
        import soundfile as sf

        with self._lock, tempfile.TemporaryDirectory(prefix="kaytoo-pyttsx3-") as tmp:
            out = Path(tmp) / "say.wav"
            self._engine.setProperty("rate", int(BASE_WPM * speed))
            self._engine.save_to_file(sentence, str(out))
            self._engine.runAndWait()
            if not out.exists() or out.stat().st_size <= 44:
                raise RuntimeError("the system speech engine produced no audio")
            samples, rate = sf.read(str(out), dtype="float32", always_2d=True)
        return samples.mean(axis=1).astype(np.float32), int(rate)
