"""The system-voice tier, offline and always there: pyttsx3 (SAPI5 on Windows, NSSpeech on macOS).

On Linux pyttsx3 drives espeak-ng through a callback that writes the WAV file before adding the
last samples it received, so short sentences often come out empty (1 in 40 single-threaded, most
of the time from worker threads), and it prints to stdout, which carries the engine protocol in
stdio mode. There the tier runs the same espeak-ng synthesizer as a subprocess instead.
Never ``say()``: it plays through the driver's own output (FIELD-NOTES).
"""
from __future__ import annotations

import importlib.util
import io
import shutil
import subprocess
import sys
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
        self._espeak = shutil.which("espeak-ng") if sys.platform.startswith("linux") else None
        self._engine = None
        self._lock = threading.Lock()  # the pyttsx3 driver is not re-entrant
        self._rate = 22050

    def check(self) -> str | None:
        if self._espeak is None and importlib.util.find_spec("pyttsx3") is None:
            return "pyttsx3 is not installed"
        return None

    def load(self) -> None:
        if self._espeak is not None:
            return
        with self._lock:
            if self._engine is not None:
                return
            try:
                import pyttsx3

                self._engine = pyttsx3.init()
            except Exception as e:  # no SAPI/NSSpeech/espeak: the driver raises various errors
                raise TierUnavailable(f"the system speech engine could not start ({e})") from e

    @property
    def sample_rate(self) -> int:
        return self._rate

    def stream(self, sentence: str, voice: VoiceRef | None, speed: float = 1.0,
               cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        self.load()
        wav = (self._espeak_wav(sentence, speed, voice) if self._espeak is not None
               else self._pyttsx3_wav(sentence, speed))
        samples, self._rate = _decode(wav)
        if cancel is None or not cancel.is_set():
            yield samples

    def _espeak_wav(self, sentence: str, speed: float, voice: VoiceRef | None) -> bytes:
        lang = voice.language if voice and voice.language not in ("", "en") else "en-us"
        # Text goes through stdin so a sentence starting with "-" is never read as an option.
        out = subprocess.run([self._espeak, "--stdout", "-v", lang, "-s", str(int(BASE_WPM * speed))],
                             input=sentence.encode("utf-8"), capture_output=True, timeout=60)
        if out.returncode != 0 or len(out.stdout) <= 44:
            raise RuntimeError(f"espeak-ng produced no audio ({out.stderr.decode(errors='replace').strip()})")
        return out.stdout

    def _pyttsx3_wav(self, sentence: str, speed: float) -> bytes:
        with self._lock, tempfile.TemporaryDirectory(prefix="kaytoo-pyttsx3-") as tmp:
            out = Path(tmp) / "say.wav"
            self._engine.setProperty("rate", int(BASE_WPM * speed))
            self._engine.save_to_file(sentence, str(out))
            self._engine.runAndWait()
            if not out.exists() or out.stat().st_size <= 44:
                raise RuntimeError("the system speech engine produced no audio")
            return out.read_bytes()


def _decode(wav: bytes) -> tuple[np.ndarray, int]:
    import soundfile as sf

    samples, rate = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    return samples.mean(axis=1).astype(np.float32), int(rate)
