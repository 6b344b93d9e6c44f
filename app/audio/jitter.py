"""A jitter buffer between a producer (the synthesizer) and a real-time consumer (the device).

Playback is held back until enough audio is buffered that, at the producer's measured rate, the
rest will arrive before the device needs it; after that the consumer never waits. Underruns
(the device asked for audio that was not there) are counted. ``flush`` drops everything at once
for barge-in.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

import numpy as np


class JitterBuffer:
    def __init__(self, rate: int, min_lead_s: float = 0.15, max_lead_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self.rate, self.min_lead_s, self.max_lead_s, self.clock = rate, min_lead_s, max_lead_s, clock
        self._chunks: deque[np.ndarray] = deque()
        self._buffered = 0
        self._lock = threading.Lock()
        self._started = False
        self._finished = False       # the producer has sent everything
        self._first_push: float | None = None
        self._pushed = 0
        self.underruns = 0
        self.first_play: float | None = None  # clock time the first real sample was handed out

    def push(self, samples: np.ndarray) -> None:
        with self._lock:
            if self._first_push is None:
                self._first_push = self.clock()
            self._chunks.append(samples.astype(np.float32, copy=False))
            self._buffered += len(samples)
            self._pushed += len(samples)

    def finish(self) -> None:
        with self._lock:
            self._finished = True

    def flush(self) -> None:
        with self._lock:
            self._chunks.clear()
            self._buffered = 0
            self._finished = True

    def reset(self) -> None:
        with self._lock:
            self._chunks.clear()
            self._buffered = self._pushed = 0
            self._started = self._finished = False
            self._first_push = self.first_play = None

    @property
    def buffered_s(self) -> float:
        return self._buffered / self.rate

    @property
    def done(self) -> bool:
        """Everything pushed has been played and no more is coming."""
        with self._lock:
            return self._finished and self._buffered == 0

    def lead_needed_s(self) -> float:
        """How much to buffer before starting: enough to cover the producer's shortfall."""
        if self._first_push is None:
            return self.min_lead_s
        elapsed = max(self.clock() - self._first_push, 1e-3)
        produced_s = self._pushed / self.rate
        speed = produced_s / elapsed          # seconds of audio per second of wall time
        if speed >= 1.0:
            return self.min_lead_s
        # At speed < 1, a reply of T seconds needs T*(1-speed) seconds of head start; the reply
        # length is unknown, so cover the largest lead we allow.
        return min(self.max_lead_s, max(self.min_lead_s, self.max_lead_s * (1.0 - speed)))

    def pull(self, frames: int) -> np.ndarray:
        """Exactly ``frames`` samples for the device (zeros where nothing is available)."""
        out = np.zeros(frames, np.float32)
        with self._lock:
            if not self._started:
                if self._buffered == 0 or (not self._finished and
                                           self._buffered / self.rate < self.lead_needed_s()):
                    return out
                self._started = True
            filled = 0
            while filled < frames and self._chunks:
                chunk = self._chunks[0]
                take = min(frames - filled, len(chunk))
                out[filled:filled + take] = chunk[:take]
                if take == len(chunk):
                    self._chunks.popleft()
                else:
                    self._chunks[0] = chunk[take:]
                filled += take
                self._buffered -= take
            if filled and self.first_play is None:
                self.first_play = self.clock()
            if filled < frames and not self._finished:
                self.underruns += 1
        return out
