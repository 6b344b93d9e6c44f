"""Checks and normalisation for a voice's reference clip (what XTTS clones from)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.audio.clip import Clip, rms_dbfs
from app.errors import UserError

REFERENCE_RATE = 24000          # XTTS conditioning rate
MIN_SPEECH_S = 3.0
MAX_S = 30.0
TRIM_TO_S = 20.0
TARGET_DBFS = -20.0
FRAME_S = 0.02


@dataclass
class Prepared:
    samples: np.ndarray          # mono float32 at REFERENCE_RATE, trimmed and normalised
    warnings: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.samples) / REFERENCE_RATE


def prepare(clip: Clip, trim: bool = True) -> Prepared:
    """Validate a clip and return the normalised reference; UserError names what is wrong."""
    from app.audio.clip import resample

    samples = resample(clip, REFERENCE_RATE).samples.astype(np.float32)
    if not np.all(np.isfinite(samples)):
        raise UserError("The clip contains invalid samples (not a number).")
    warnings: list[str] = []
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if peak < 10 ** (-60 / 20):
        raise UserError("The clip is silent; record or choose a clip with speech in it.")
    clipped = float(np.mean(np.abs(samples) >= 0.999))
    if clipped > 0.01:
        raise UserError(f"The clip is badly clipped ({clipped:.1%} of samples at full scale); "
                        "record it again a little quieter.")
    if clipped > 0.001:
        warnings.append("Some samples are clipped; the cloned voice may sound harsh.")

    energy = _frame_dbfs(samples)
    noise_floor = float(np.percentile(energy, 10))
    speech_level = float(np.percentile(energy, 90))
    voiced = energy > max(noise_floor + 10, speech_level - 30)
    if not voiced.any():
        raise UserError("No speech was found in the clip.")
    snr = speech_level - noise_floor
    if snr < 10:
        raise UserError(f"The clip is too noisy (speech only {snr:.0f} dB above the background).")
    if snr < 20:
        warnings.append(f"The background is noisy (speech {snr:.0f} dB above it); a quieter "
                        "room gives a better clone.")
    if speech_level < -45:
        warnings.append("The speech is very quiet; it was amplified.")

    frame = int(REFERENCE_RATE * FRAME_S)
    idx = np.flatnonzero(voiced)
    pad = int(0.15 / FRAME_S)
    start = max(0, idx[0] - pad) * frame
    end = min(len(energy), idx[-1] + 1 + pad) * frame
    samples = samples[start:end]
    speech_s = float(voiced.sum()) * FRAME_S
    if speech_s < MIN_SPEECH_S:
        raise UserError(f"The clip has {speech_s:.1f} seconds of speech; a voice needs at least "
                        f"{MIN_SPEECH_S:.0f} seconds.")
    if len(samples) / REFERENCE_RATE > MAX_S:
        if not trim:
            raise UserError(f"The clip is {len(samples) / REFERENCE_RATE:.0f} seconds long; the "
                            f"limit is {MAX_S:.0f} seconds (allow trimming to keep the best part).")
        samples = _best_window(samples, energy[start // frame:end // frame], frame)
        warnings.append(f"The clip was trimmed to its {TRIM_TO_S:.0f} seconds with the most speech.")
    gain = 10 ** ((TARGET_DBFS - rms_dbfs(samples)) / 20)
    samples = samples * gain
    peak = float(np.max(np.abs(samples)))
    if peak > 0.95:  # peak limit after loudness normalisation
        samples *= 0.95 / peak
    return Prepared(samples.astype(np.float32), warnings)


def _frame_dbfs(samples: np.ndarray) -> np.ndarray:
    frame = int(REFERENCE_RATE * FRAME_S)
    n = max(1, len(samples) // frame)
    frames = samples[: n * frame].reshape(n, frame) if len(samples) >= frame else samples[None, :]
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-6))


def _best_window(samples: np.ndarray, energy: np.ndarray, frame: int) -> np.ndarray:
    """The TRIM_TO_S stretch with the most voiced frames."""
    win = int(TRIM_TO_S / FRAME_S)
    voiced = (energy > np.percentile(energy, 40)).astype(np.int32)
    if len(voiced) <= win:
        return samples[: int(TRIM_TO_S * REFERENCE_RATE)]
    sums = np.convolve(voiced, np.ones(win, dtype=np.int32), mode="valid")
    best = int(np.argmax(sums))
    return samples[best * frame:(best + win) * frame]
