"""Small TTS tiers with controllable behaviour, to drive the chain into its deadline, starvation and
failure paths deterministically. They implement the real TtsBackend interface; the chain under test
is the real one."""
from __future__ import annotations

import threading
from typing import Iterator

import numpy as np

from app.engines.tts.base import TierUnavailable, TtsBackend, VoiceRef


class ToneTier(TtsBackend):
    """A tone per sentence, in chunks; ``chunk_wait`` makes it produce slower than real time by
    waiting on ``gate`` (an Event the test controls) instead of sleeping."""

    def __init__(self, name: str, rate: int = 16000, chunks: int = 3, chunk_s: float = 0.1,
                 stall_after: int | None = None, fail_with: Exception | None = None,
                 reason: str | None = None, slow_load: bool = False):
        self.name = name  # type: ignore[misc]
        self._rate, self.chunks, self.chunk_s = rate, chunks, chunk_s
        self.stall_after, self.fail_with, self.reason = stall_after, fail_with, reason
        self.gate = threading.Event()
        self.loaded = threading.Event()      # slow_load: load() waits until the test sets it
        if not slow_load:
            self.loaded.set()
        self.spoken: list[str] = []
        self.loads = 0

    def check(self) -> str | None:
        return self.reason

    def load(self) -> None:
        self.loads += 1
        self.loaded.wait(30)
        if isinstance(self.fail_with, TierUnavailable):
            raise self.fail_with

    @property
    def sample_rate(self) -> int:
        return self._rate

    def stream(self, sentence: str, voice: VoiceRef | None, speed: float = 1.0,
               cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        if self.fail_with is not None:
            raise self.fail_with
        n = int(self._rate * self.chunk_s)
        t = np.arange(n) / self._rate
        for i in range(self.chunks):
            if self.stall_after is not None and i >= self.stall_after:
                self.gate.wait(30)  # stalls until the test opens the gate
            if cancel is not None and cancel.is_set():
                return
            yield (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        self.spoken.append(sentence)
