"""The narrow interface every text-to-speech tier implements (one file per backend beside this one).

A backend turns one sentence into float32 mono chunks at its own ``sample_rate``. It knows nothing
about deadlines, fallbacks, resampling or effects: the chain (``chain.py``) owns those, so every
tier is treated the same way.
"""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import ClassVar, Iterator

import numpy as np

from app.engines.protocol import VoiceRef

__all__ = ["TierUnavailable", "TtsBackend", "VoiceRef"]


class TierUnavailable(Exception):
    """This tier cannot serve now (no model, no consent, offline...). The message is the plain reason."""


class TtsBackend(ABC):
    name: ClassVar[str]
    online: ClassVar[bool] = False  # needs the network: its check() may wait for it

    @abstractmethod
    def check(self) -> str | None:
        """Cheap test, no model load: the reason this tier cannot serve, or None if it may."""

    @abstractmethod
    def load(self) -> None:
        """Load models (idempotent, may take seconds). Raise TierUnavailable with a reason."""

    @property
    @abstractmethod
    def sample_rate(self) -> int:
        """Rate of the chunks ``stream`` yields. Valid after ``load``."""

    def prepare(self, voice: VoiceRef) -> None:
        """Compute and cache what this tier needs per voice (cloning latents), so the voice's
        first reply starts sooner. Loads the model if needed. Default: nothing to prepare."""

    @abstractmethod
    def stream(self, sentence: str, voice: VoiceRef | None, speed: float = 1.0,
               cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        """Yield float32 mono chunks for one sentence as soon as each is ready.

        Must stop promptly when ``cancel`` is set. Errors raise; the chain moves to the next tier.
        """
