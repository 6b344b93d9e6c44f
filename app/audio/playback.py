"""Playback: a sounddevice OutputStream whose callback drains a JitterBuffer."""
from __future__ import annotations

import threading

import numpy as np

from app.audio.jitter import JitterBuffer


class Player:
    def __init__(self, device: str | None = None, rate: int = 48000, blocksize: int = 1024):
        self.device, self.rate, self.blocksize = device, rate, blocksize
        self.buffer = JitterBuffer(rate)
        self._stream = None
        self._finished = threading.Event()
        self.volume = 1.0

    def start(self) -> None:
        import sounddevice as sd

        from app.audio.devices import pick

        dev = pick(self.device, "output")
        self._stream = sd.OutputStream(device=dev.index, samplerate=self.rate, channels=1,
                                       dtype="float32", blocksize=self.blocksize,
                                       callback=self._callback)
        self._stream.start()

    def _callback(self, outdata, frames, _time, _status) -> None:
        outdata[:, 0] = np.clip(self.buffer.pull(frames) * self.volume, -1, 1)
        if self.buffer.done:
            self._finished.set()

    def play(self, samples: np.ndarray) -> None:
        self._finished.clear()
        self.buffer.push(samples)

    def end_of_reply(self) -> None:
        self.buffer.finish()

    def wait_done(self, timeout: float) -> bool:
        return self._finished.wait(timeout)

    def stop_now(self) -> None:
        """Barge-in: drop everything buffered; the device plays silence from the next block."""
        self.buffer.flush()
        self._finished.set()

    def new_reply(self) -> None:
        self.buffer.reset()
        self._finished.clear()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
