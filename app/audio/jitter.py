"""A jitter buffer between a producer (the synthesizer) and a real-time consumer (the device).

Playback is held back until enough audio is buffered that, at the producer's measured rate, the
rest of the reply will arrive before the device needs it; after that the consumer should never
wait. If it does (an underrun: the device asked for audio that was not there), the gap is counted
and the buffer primes again before resuming, so a slow tier stutters once rather than on every
block. ``flush`` drops everything at once for barge-in.

The lead needed before starting: with the producer making ``s`` seconds of audio per second of
wall time (s < 1) and ``R`` seconds of the reply still to come, the device drains ``1 - s``
seconds per second faster than they arrive, so a head start of ``R·(1 − s)/s`` covers it. ``R`` is
the caller's estimate (``expect``) less what has arrived; without one, the cap ``max_lead_s`` is
used; the typical wait between chunks is added, since audio arrives in chunks. The rate is measured on the current reply — from when the producer began (``begin``), or
between chunks — and otherwise taken from the previous reply (tiers are sticky per turn, so the
last rate is a good prior).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

import numpy as np


class JitterBuffer:
    def __init__(self, rate: int, min_lead_s: float = 0.12, max_lead_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic):
        self.rate, self.min_lead_s, self.max_lead_s, self.clock = rate, min_lead_s, max_lead_s, clock
        self._lock = threading.Lock()
        self._chunks: deque[np.ndarray] = deque()
        self.prior_speed: float | None = None   # producer speed measured on the previous reply
        self._new_reply()

    # -- producer side -------------------------------------------------------------------------
    def push(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if samples.size == 0:
            return
        with self._lock:
            if self._flushed:  # late chunks of a reply the user interrupted: never play them
                return
            now = self.clock()
            if self._first_push is None:
                self._first_push, self._first_len = now, samples.size
            self._last_push = now
            self._chunks.append(samples)
            self._buffered += samples.size
            self._pushed += samples.size
            self._pushes += 1

    def begin(self) -> None:
        """The producer started working on this reply now (its first chunk's delay counts)."""
        with self._lock:
            if self._began is None:
                self._began = self.clock()

    def expect(self, seconds: float) -> None:
        """Hint: the whole reply will be about this long (e.g. estimated from its text)."""
        with self._lock:
            self._expected_s = max(0.0, float(seconds))

    def finish(self) -> None:
        """The producer has sent everything: play out what is left without waiting."""
        with self._lock:
            self._finished = True
            speed = self._speed_locked()
            if speed is not None:
                self.prior_speed = speed

    def flush(self) -> None:
        """Barge-in: drop everything now; the device gets silence from its next block."""
        with self._lock:
            self._chunks.clear()
            self._buffered = 0
            self._finished = True
            self._flushed = True

    def reset(self) -> None:
        """Start a new reply (keeps the measured producer speed as the next prior)."""
        with self._lock:
            self._new_reply()

    # -- consumer side (the device callback) ---------------------------------------------------
    def pull(self, frames: int) -> np.ndarray:
        """Exactly ``frames`` samples for the device (zeros where nothing is to be played)."""
        out = np.zeros(frames, np.float32)
        with self._lock:
            if not self._playing:
                if self._buffered == 0:
                    return out
                if not self._finished and self._buffered / self.rate < self._lead_needed_locked():
                    return out
                self._playing = True
            filled = 0
            while filled < frames and self._chunks:
                chunk = self._chunks[0]
                take = min(frames - filled, chunk.size)
                out[filled:filled + take] = chunk[:take]
                if take == chunk.size:
                    self._chunks.popleft()
                else:
                    self._chunks[0] = chunk[take:]
                filled += take
            self._buffered -= filled
            self._played += filled
            if filled and self.first_play is None:
                self.first_play = self.clock()
            if filled < frames and not self._finished:
                # Starved mid-reply: count it once and prime again before resuming.
                self.underruns += 1
                self.underrun_s += (frames - filled) / self.rate
                self._playing = False
        return out

    # -- state ----------------------------------------------------------------------------------
    @property
    def buffered_s(self) -> float:
        return self._buffered / self.rate

    @property
    def played_s(self) -> float:
        return self._played / self.rate

    @property
    def pushed_s(self) -> float:
        return self._pushed / self.rate

    @property
    def done(self) -> bool:
        """Everything pushed has been played (or flushed) and no more is coming."""
        with self._lock:
            return self._finished and self._buffered == 0

    @property
    def flushed(self) -> bool:
        return self._flushed

    def lead_needed_s(self) -> float:
        with self._lock:
            return self._lead_needed_locked()

    def speed(self) -> float | None:
        """Seconds of audio produced per second of wall time, this reply (or the prior)."""
        with self._lock:
            return self._speed_locked()

    # -- internals ------------------------------------------------------------------------------
    def _new_reply(self) -> None:
        self._chunks.clear()
        self._buffered = self._pushed = self._played = self._pushes = 0
        self._playing = self._finished = self._flushed = False
        self._first_push: float | None = None
        self._last_push: float | None = None
        self._first_len = 0
        self._expected_s: float | None = None
        self._began: float | None = None
        self.underruns = 0
        self.underrun_s = 0.0
        self.first_play: float | None = None   # clock time the first real sample was handed out

    def _speed_locked(self) -> float | None:
        # Since the producer began (its start-up delay is part of what the device must wait for);
        # else audio after the first chunk over the time since it; else the previous reply's.
        if self._began is not None and self._pushes:
            elapsed = self.clock() - self._began
            if elapsed > 0.02:
                return (self._pushed / self.rate) / elapsed
            return None
        if self._pushes >= 2 and self._first_push is not None:
            elapsed = self.clock() - self._first_push
            if elapsed > 0.02:
                return ((self._pushed - self._first_len) / self.rate) / elapsed
        return self.prior_speed

    def _lead_needed_locked(self) -> float:
        speed = self._speed_locked()
        shortfall = 0.0
        if speed is not None and speed < 1.0:
            if self._expected_s is not None:
                remaining = max(0.0, self._expected_s - self._pushed / self.rate)
            else:
                remaining = self.max_lead_s
            shortfall = remaining * (1.0 - speed) / max(speed, 1e-3)
        # Audio arrives in chunks, not as a stream: also cover the wait for the next one.
        return float(min(self.max_lead_s, max(self.min_lead_s, shortfall + self._gap_locked())))

    def _gap_locked(self) -> float:
        if self._pushes >= 2 and self._first_push is not None and self._last_push is not None:
            return (self._last_push - self._first_push) / (self._pushes - 1)
        if self._began is not None and self._first_push is not None:
            return self._first_push - self._began
        return 0.0
