"""Waveform summaries for drawing a clip: per-bucket min/max peaks and RMS, computed once per clip
(not per paint), always exactly ``buckets`` rows so a view can map row i to pixel column i."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.audio.clip import load


@dataclass(frozen=True)
class Waveform:
    peaks: np.ndarray    # (buckets, 2) float32: min and max of each bucket, in [-1, 1]
    rms: np.ndarray      # (buckets,) float32: loudness of each bucket, for a filled envelope
    seconds: float

    @property
    def buckets(self) -> int:
        return len(self.peaks)


def peaks(samples: np.ndarray, buckets: int) -> np.ndarray:
    """(buckets, 2) float32 array of each bucket's (min, max). With fewer samples than buckets,
    neighbouring buckets repeat a sample; no samples gives a flat line."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if buckets <= 0:
        return np.zeros((0, 2), np.float32)
    if x.size == 0:
        return np.zeros((buckets, 2), np.float32)
    if x.size < buckets:
        picked = x[(np.arange(buckets) * x.size) // buckets]
        return np.stack([picked, picked], axis=1)
    edges = (np.arange(buckets, dtype=np.int64) * x.size) // buckets  # strictly increasing here
    return np.stack([np.minimum.reduceat(x, edges), np.maximum.reduceat(x, edges)], axis=1)


def waveform(samples: np.ndarray, rate: int, buckets: int = 600) -> Waveform:
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if x.size >= buckets > 0:
        edges = (np.arange(buckets, dtype=np.int64) * x.size) // buckets
        counts = np.diff(np.append(edges, x.size))
        rms = np.sqrt(np.add.reduceat(np.square(x, dtype=np.float64), edges) / counts)
    else:
        rms = np.abs(peaks(x, buckets)[:, 1])
    return Waveform(peaks(x, buckets), rms.astype(np.float32), x.size / rate if rate else 0.0)


def load_waveform(path: Path, buckets: int = 600) -> Waveform:
    """The waveform of an audio file (a voice's reference.wav, or any clip the app can decode)."""
    clip = load(path)
    return waveform(clip.samples, clip.rate, buckets)
