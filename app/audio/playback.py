"""Playback: a sounddevice OutputStream whose callback drains a JitterBuffer.

One stream stays open for the app's life (opening one per reply costs tens of milliseconds).
Replies arrive at ``rate`` (48 kHz: the engine resamples every tier to it); if the device will not
run at that rate they are resampled to the device's own. ``stop_now`` is barge-in: the buffer is
dropped and the stream plays silence from its next block, so the speaker goes quiet within the
device latency (60 ms by default: enough headroom that a busy 2-core machine does not underflow).
The callback notes when the first sample of a reply was handed to the device and when PortAudio
expects it to reach the DAC (``first_written``/``first_dac``, ``time.monotonic`` seconds).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import numpy as np

from app.audio.clip import StreamResampler, resample_array
from app.audio.devices import close_stream
from app.audio.devices import pick
from app.audio.jitter import JitterBuffer
from app.errors import UserError

log = logging.getLogger(__name__)


class Player:
    def __init__(self, device: str | None = None, rate: int = 48000, blocksize: int = 1024,
                 latency: float = 0.06, min_lead_s: float = 0.12, max_lead_s: float = 3.0,
                 on_first_sample: Callable[[float], None] | None = None):
        self.device, self.rate, self.blocksize, self.latency = device, rate, blocksize, latency
        self.min_lead_s, self.max_lead_s = min_lead_s, max_lead_s
        self.on_first_sample = on_first_sample
        self.device_rate = rate
        self.device_name = ""
        self.volume = 1.0
        self.device_underflows = 0
        self.buffer = JitterBuffer(rate, min_lead_s, max_lead_s)
        self._stream = None
        self._resampler: StreamResampler | None = None
        self._done = threading.Event()
        self._done.set()
        self._first = threading.Event()
        self.first_written: float | None = None   # monotonic time the first sample went to the device
        self.first_dac: float | None = None       # ... and when PortAudio expects it to be heard
        self._lock = threading.Lock()

    # -- device ---------------------------------------------------------------------------------
    def start(self) -> None:
        import sounddevice as sd

        dev = pick(self.device, "output")   # re-scans are the caller's: they close every stream
        self.device_name = dev.name
        self.device_rate = self.rate if _accepts(dev.index, self.rate) else dev.default_rate
        if self.device_rate != self.buffer.rate:
            prior = self.buffer.prior_speed
            self.buffer = JitterBuffer(self.device_rate, self.min_lead_s, self.max_lead_s)
            self.buffer.prior_speed = prior
        try:
            self._stream = sd.OutputStream(device=dev.index, samplerate=self.device_rate,
                                           channels=1, dtype="float32", blocksize=self.blocksize,
                                           latency=self.latency, callback=self._callback)
            self._stream.start()
        except Exception as e:
            self._stream = None
            raise UserError(f"The speaker '{dev.name}' could not be opened ({e}).") from None

    @property
    def running(self) -> bool:
        return self._stream is not None

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            close_stream(stream, "output", abort=True)
        self._done.set()

    def _callback(self, outdata, frames, time_info, status) -> None:
        if status.output_underflow:
            self.device_underflows += 1
        buf = self.buffer
        block = buf.pull(frames)
        if self.volume != 1.0:
            block = np.clip(block * self.volume, -1.0, 1.0)
        outdata[:, 0] = block
        if buf.first_play is not None and self.first_written is None:
            now = time.monotonic()
            # Where in this block the first real sample sits, and the device's own latency.
            ahead = max(0.0, float(time_info.outputBufferDacTime - time_info.currentTime))
            self.first_written, self.first_dac = now, now + ahead
            self._first.set()
            if self.on_first_sample is not None:
                try:
                    self.on_first_sample(self.first_dac)
                except Exception:
                    log.exception("first-sample listener failed")
        if buf.done:
            self._done.set()

    # -- replies --------------------------------------------------------------------------------
    def new_reply(self, expected_s: float | None = None) -> None:
        """Prepare for the next reply (call before its first ``play``)."""
        with self._lock:
            self.buffer.reset()
            if expected_s:
                self.buffer.expect(expected_s)
            self._resampler = (StreamResampler(self.rate, self.device_rate)
                               if self.device_rate != self.rate else None)
            self.first_written = self.first_dac = None
            self._first.clear()
            self._done.clear()

    def expect_more(self, total_s: float) -> None:
        """Synthesis of the reply is under way and about ``total_s`` of it is coming: the jitter
        buffer times the synthesis from now and sizes its lead on that length."""
        self.buffer.begin()
        self.buffer.expect(total_s)

    def played_fraction(self) -> float:
        """How much of what was queued for this reply has been played (0 when nothing was)."""
        pushed = self.buffer.pushed_s
        return self.buffer.played_s / pushed if pushed else 0.0

    def play(self, samples: np.ndarray) -> None:
        """Queue a chunk at ``self.rate``; playback starts when the jitter buffer has enough."""
        with self._lock:
            if self._resampler is not None:
                samples = self._resampler.push(np.asarray(samples, np.float32))
            self.buffer.push(samples)
        if self._stream is None:  # no device: nothing will drain it
            self._done.set()

    def end_of_reply(self) -> None:
        with self._lock:
            if self._resampler is not None:
                self.buffer.push(self._resampler.push(np.zeros(0, np.float32), last=True))
        self.buffer.finish()
        if self._stream is None or self.buffer.done:
            self._done.set()

    def play_clip(self, samples: np.ndarray, rate: int) -> None:
        """A whole clip (a preview, a test tone): replaces whatever is playing."""
        self.stop_now()
        self.new_reply()
        self.play(resample_array(np.asarray(samples, np.float32), rate, self.rate))
        self.end_of_reply()

    def wait_done(self, timeout: float) -> bool:
        """True once the reply has been played out (or stopped)."""
        return self._done.wait(timeout)

    def wait_first_sample(self, timeout: float) -> bool:
        return self._first.wait(timeout)

    def stop_now(self) -> None:
        """Barge-in: drop everything buffered; the device plays silence from its next block.

        The stream keeps about ``latency`` (60 ms) queued, so this is heard at once. Aborting and
        restarting the stream was tried: no quieter sooner, and it upset the next input stream
        on PulseAudio.
        """
        self.buffer.flush()
        self._done.set()

    @property
    def underruns(self) -> int:
        return self.buffer.underruns


def _accepts(index: int, rate: int) -> bool:
    import sounddevice as sd

    try:
        sd.check_output_settings(device=index, samplerate=rate, channels=1, dtype="float32")
        return True
    except Exception:
        return False


def tone(freq: float = 440.0, seconds: float = 0.8, rate: int = 48000, level: float = 0.3) -> np.ndarray:
    """A sine with 20 ms fades (no clicks): the first-run speaker test."""
    t = np.arange(int(seconds * rate)) / rate
    y = level * np.sin(2 * np.pi * freq * t)
    fade = min(len(y) // 2, int(0.02 * rate))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        y[:fade] *= ramp
        y[-fade:] *= ramp[::-1]
    return y.astype(np.float32)
