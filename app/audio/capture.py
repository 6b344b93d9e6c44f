"""Capture: a sounddevice InputStream at the device's native rate, resampled to 16 kHz for STT."""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from app.audio.clip import STT_RATE, StreamResampler, rms_dbfs


class Recorder:
    def __init__(self, device: str | None = None, on_level: Callable[[float], None] | None = None):
        self.device, self.on_level = device, on_level
        self._stream = None
        self._parts: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._resampler: StreamResampler | None = None

    def start(self) -> None:
        import sounddevice as sd

        from app.audio.devices import pick

        dev = pick(self.device, "input")
        self._resampler = StreamResampler(dev.default_rate, STT_RATE)
        self._parts = []
        self._stream = sd.InputStream(device=dev.index, samplerate=dev.default_rate, channels=1,
                                      dtype="float32", callback=self._callback)
        self._stream.start()

    def _callback(self, indata, _frames, _time, _status) -> None:
        mono = indata[:, 0].copy()
        with self._lock:
            self._parts.append(self._resampler.push(mono))
        if self.on_level:
            self.on_level(rms_dbfs(mono))

    def stop(self) -> np.ndarray:
        """Stop and return what was heard, mono float32 at 16 kHz."""
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
        with self._lock:
            if self._resampler is not None:
                self._parts.append(self._resampler.push(np.zeros(0, np.float32), last=True))
            audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
            self._parts = []
        return audio
