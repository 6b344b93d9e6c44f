"""Noise at a signal-to-noise ratio: white, pink (1/f) and babble (other utterances mixed).

Deterministic: the generator is seeded from the utterance and the condition. A push-to-talk clip
has room before and after the words (the key goes down before speech, up after it), so half a
second of the noise leads and 0.4 s trails.
"""
from __future__ import annotations

import zlib

import numpy as np

from app.audio.clip import STT_RATE

CONDITIONS = ["clean", "white@15", "pink@15", "babble@15", "white@5", "pink@5", "babble@5"]
LEAD_S, TRAIL_S = 0.5, 0.4


def seed(*parts: str) -> int:
    return zlib.crc32("|".join(parts).encode())


def speech_power(x: np.ndarray) -> float:
    """Mean power over the voiced part (silence between words would flatter the SNR)."""
    loud = x[np.abs(x) > 0.02 * float(np.max(np.abs(x)) or 1)]
    return float(np.mean((loud if loud.size else x) ** 2))


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(f), n).astype(np.float32)


def babble(n: int, others: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Several other utterances, each at a random offset, looped to fill the clip."""
    out = np.zeros(n, np.float32)
    for o in others:
        o = o / (np.sqrt(speech_power(o)) or 1.0)
        reps = np.tile(np.concatenate([o, np.zeros(int(0.2 * STT_RATE), np.float32)]),
                       n // max(1, len(o)) + 2)
        start = int(rng.integers(0, max(1, len(reps) - n)))
        out += reps[start:start + n]
    return out


def condition(clean: np.ndarray, name: str, key: str, others: list[np.ndarray]) -> np.ndarray:
    """The clip as heard in condition ``name`` ("clean", "pink@15", ...)."""
    lead, trail = int(LEAD_S * STT_RATE), int(TRAIL_S * STT_RATE)
    speech = np.concatenate([np.zeros(lead, np.float32), clean, np.zeros(trail, np.float32)])
    if name == "clean":
        return speech
    kind, snr = name.split("@")
    rng = np.random.default_rng(seed(key, name))
    n = len(speech)
    if kind == "white":
        noise = rng.standard_normal(n).astype(np.float32)
    elif kind == "pink":
        noise = pink(n, rng)
    elif kind == "babble":
        noise = babble(n, others, rng)
    else:
        raise ValueError(f"unknown noise {kind!r}")
    noise *= np.sqrt(speech_power(clean) / (10 ** (float(snr) / 10)) / (np.mean(noise ** 2) or 1))
    mixed = speech + noise
    peak = float(np.max(np.abs(mixed)))
    return (mixed / peak * 0.9 if peak > 0.99 else mixed).astype(np.float32)
