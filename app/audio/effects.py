"""The droid voice: a K-2SO-like timbre applied after synthesis, the same way on every tier.

The chain applies it to 48 kHz output after resampling, so a fallback from XTTS to Piper or
pyttsx3 changes the voice but not the droid character. It works on a stream: ``DroidEffect``
keeps every piece of state (modulator phases, filter and delay histories) between chunks, so
processing a reply chunk by chunk gives exactly the samples processing it whole would (no clicks
at chunk edges). Everything is deterministic: no noise, no random phases.

The chain, in order:
  1. ring modulation at low depth (a 55 Hz carrier mixed 22 %): the electronic buzz;
  2. light bit-crush (10-bit quantisation, mixed 25 %): digital grit;
  3. band-pass (Butterworth, 180 Hz–5 kHz): a small speaker grille, not a telephone;
  4. a short feedback comb (3.3 ms, gain 0.3): the metallic, chest-cavity resonance;
  5. a slow flanger (0.8–2.2 ms swept at 0.25 Hz, mixed 35 %): movement in the metal;
  6. fixed make-up gain and a soft limiter: never beyond ±0.98, no clipping.
"""
from __future__ import annotations

import numpy as np

BAND_HZ = (180.0, 5000.0)
RING_HZ, RING_DEPTH = 55.0, 0.22
CRUSH_BITS, CRUSH_MIX = 10, 0.25
COMB_S, COMB_GAIN = 0.0033, 0.3
FLANGE_S, FLANGE_DEPTH_S, FLANGE_HZ, FLANGE_MIX = 0.0015, 0.0007, 0.25, 0.35
MAKEUP = 1.5  # speech loses ~45 % RMS to the band-pass and modulator: give most of it back
KNEE, CEILING = 0.7, 0.98


class DroidEffect:
    """Stateful, streamable droid processor for float32 mono audio at ``rate``."""

    def __init__(self, rate: int):
        if rate < 8000:
            raise ValueError(f"the droid effect needs at least 8 kHz audio, got {rate} Hz")
        self.rate = rate
        from scipy.signal import butter  # scipy: already there through coqui-tts and librosa

        lo, hi = BAND_HZ[0], min(BAND_HZ[1], 0.45 * rate)
        self._sos = butter(2, [lo, hi], btype="bandpass", fs=rate, output="sos")
        self._sos_state = np.zeros((self._sos.shape[0], 2))
        self._n = 0                                        # samples processed: the modulators' clock
        self._comb_d = max(1, round(COMB_S * rate))
        self._comb_hist = np.zeros(self._comb_d)           # last outputs of the comb
        self._fl_max = int(np.ceil((FLANGE_S + FLANGE_DEPTH_S) * rate)) + 2
        self._fl_hist = np.zeros(self._fl_max)             # last inputs of the flanger

    def reset(self) -> None:
        self.__init__(self.rate)

    def process(self, chunk: np.ndarray) -> np.ndarray:
        x = np.asarray(chunk, dtype=np.float64).reshape(-1)
        if x.size == 0:
            return np.zeros(0, np.float32)
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
        n = x.size
        t = (self._n + np.arange(n, dtype=np.int64)) / self.rate   # absolute time: phase continuity
        self._n += n

        x = x * ((1.0 - RING_DEPTH) + RING_DEPTH * np.sin(2 * np.pi * RING_HZ * t))
        step = 2.0 ** (1 - CRUSH_BITS)
        x += CRUSH_MIX * (np.round(x / step) * step - x)
        x = self._bandpass(x)  # after the modulator: also removes its low sideband and the grit's hiss
        x = self._comb(x)
        x = self._flange(x, t)
        return _soft_limit(x * MAKEUP).astype(np.float32)

    # -- stages ----------------------------------------------------------------------------------
    def _bandpass(self, x: np.ndarray) -> np.ndarray:
        from scipy.signal import sosfilt

        y, self._sos_state = sosfilt(self._sos, x, zi=self._sos_state)
        return y

    def _comb(self, x: np.ndarray) -> np.ndarray:
        """y[n] = x[n] + g·y[n−D], one delay-length block at a time (vectorised, exact)."""
        d = self._comb_d
        buf = np.empty(d + x.size)
        buf[:d] = self._comb_hist
        for i in range(0, x.size, d):
            m = min(d, x.size - i)
            buf[d + i:d + i + m] = x[i:i + m] + COMB_GAIN * buf[i:i + m]
        self._comb_hist = buf[-d:]
        return buf[d:]

    def _flange(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        h = self._fl_max
        buf = np.concatenate([self._fl_hist, x])
        self._fl_hist = buf[-h:]
        delay = (FLANGE_S + FLANGE_DEPTH_S * np.sin(2 * np.pi * FLANGE_HZ * t)) * self.rate
        pos = h + np.arange(x.size) - delay                 # fractional read position in buf
        i0 = np.floor(pos).astype(np.int64)
        frac = pos - i0
        delayed = buf[i0] * (1.0 - frac) + buf[i0 + 1] * frac
        return (1.0 - FLANGE_MIX) * x + FLANGE_MIX * delayed


def droid(samples: np.ndarray, rate: int) -> np.ndarray:
    """The droid effect on a whole clip (a fresh ``DroidEffect``)."""
    return DroidEffect(rate).process(samples)


def _soft_limit(x: np.ndarray) -> np.ndarray:
    """Linear below KNEE, then a tanh curve that approaches CEILING and never reaches it."""
    mag = np.abs(x)
    over = mag > KNEE
    if np.any(over):
        span = CEILING - KNEE
        x = x.copy()
        x[over] = np.sign(x[over]) * (KNEE + span * np.tanh((mag[over] - KNEE) / span))
    return x
