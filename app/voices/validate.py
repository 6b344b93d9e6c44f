"""Checks and normalisation for a voice's reference clip (what XTTS clones the voice from).

``prepare(clip)`` either raises ``UserError`` with one plain sentence naming the problem, or returns
the reference: mono, 24 kHz, rumble and DC removed, leading/trailing silence trimmed, at most
30 seconds (a longer clip is cut to its best 15-20 s between pauses), loudness-normalised to about
-20 dBFS RMS under a -1 dBFS peak ceiling, with warnings for problems that are tolerable.

Speech is told from background by 20 ms frame energies: the quiet end of their distribution is
the background, the loud end the speech; the gap between them is the signal-to-noise estimate.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.audio.clip import Clip, resample_array, rms_dbfs
from app.errors import UserError

REFERENCE_RATE = 24000          # XTTS conditions at 22.05/24 kHz; 24 kHz 16-bit is plenty
MIN_SPEECH_S = 3.0
MAX_S = 30.0
TRIM_MIN_S, TRIM_MAX_S = 15.0, 20.0
MAX_INPUT_S = 600.0             # longer than this is a recording session, not a voice sample
TARGET_DBFS = -20.0
CEILING = 10 ** (-1.0 / 20)     # -1 dBFS peak limit
FRAME_S = 0.02
PAD_S = 0.2                     # silence kept before the first and after the last word
SILENT_DBFS = -70.0             # peak below this: nothing recorded (16-bit noise is ~-90)
QUIET_ERROR_DBFS, QUIET_WARN_DBFS = -55.0, -40.0
SNR_ERROR_DB, SNR_WARN_DB = 14.0, 20.0   # estimates run ~7 dB above true SNR (white noise)
STEADY_DB = 4.0                # loud and quiet frames this close: no speech, a steady sound
CLIP_ERROR, CLIP_WARN = 0.02, 0.001   # share of speech samples stuck at full scale


@dataclass(frozen=True)
class Analysis:
    """What the checks measured; stored in voice.json so a warning can be explained later."""

    speech_s: float             # voiced time, short gaps between words included
    speech_dbfs: float          # level of the loud (speech) frames
    noise_dbfs: float           # level of the quiet (background) frames
    snr_db: float
    clipped: float              # share of speech samples stuck at full scale

    def to_dict(self) -> dict:
        return {k: round(float(v), 4 if k == "clipped" else 1) for k, v in self.__dict__.items()}


@dataclass
class Prepared:
    samples: np.ndarray          # mono float32 at REFERENCE_RATE, trimmed and normalised
    analysis: Analysis
    warnings: list[str] = field(default_factory=list)
    trimmed_from_s: float | None = None   # set when a too-long clip was cut down

    @property
    def rate(self) -> int:
        return REFERENCE_RATE

    @property
    def seconds(self) -> float:
        return len(self.samples) / REFERENCE_RATE


def prepare(clip: Clip, trim: bool = True) -> Prepared:
    """Validate a clip and return the normalised reference; UserError names what is wrong."""
    samples = np.asarray(clip.samples, dtype=np.float32)
    if samples.ndim == 2:  # (frames, channels) from a microphone
        samples = samples.mean(axis=1, dtype=np.float32)
    if clip.rate <= 0 or samples.ndim != 1 or len(samples) == 0:
        raise UserError("The clip contains no audio.")
    if not np.all(np.isfinite(samples)):
        raise UserError("The clip contains invalid samples (not a number); it may be damaged.")
    length = len(samples) / clip.rate
    if length > MAX_INPUT_S:
        raise UserError(f"The clip is {length / 60:.0f} minutes long; choose a clip under "
                        f"{MAX_INPUT_S / 60:.0f} minutes (a voice needs 3 to 30 seconds of speech).")
    stuck = _stuck_at_full_scale(samples)  # before resampling, which rounds off flat tops

    x = _highpass(resample_array(samples, clip.rate, REFERENCE_RATE))
    if float(np.max(np.abs(x))) < 10 ** (SILENT_DBFS / 20):
        raise UserError("The clip is silent; choose or record a clip with speech in it.")
    energy = frame_dbfs(x)
    noise = float(np.percentile(energy, 10))
    speech = float(np.percentile(energy, 95))
    if speech < SILENT_DBFS:
        raise UserError("The clip is silent; choose or record a clip with speech in it.")
    voiced = _voiced(energy, noise, speech)
    first, last = int(np.argmax(voiced)), len(voiced) - int(np.argmax(voiced[::-1]))
    speech_s = float(voiced.sum()) * FRAME_S
    clipped = stuck / max(1.0, speech_s * clip.rate)
    analysis = Analysis(speech_s, speech, noise, speech - noise, clipped)

    warnings: list[str] = []
    if analysis.snr_db < STEADY_DB:
        raise UserError("No speech was found in the clip; it holds only a steady sound (noise, hum "
                        "or a tone).")
    if speech < QUIET_ERROR_DBFS:
        raise UserError(f"The speech is too quiet ({speech:.0f} dBFS) to use; record closer to the "
                        "microphone or turn its level up.")
    if analysis.snr_db < SNR_ERROR_DB:
        raise UserError(f"The clip is too noisy: the speech is only {analysis.snr_db:.0f} dB louder "
                        "than the background; record it in a quieter place.")
    if clipped > CLIP_ERROR:
        raise UserError(f"The clip is badly distorted: {clipped:.1%} of the speech is clipped at "
                        "full scale; record it again a little quieter.")
    if speech < QUIET_WARN_DBFS:
        warnings.append(f"The speech is quiet ({speech:.0f} dBFS); it was amplified, and so was "
                        "any background noise.")
    if analysis.snr_db < SNR_WARN_DB:
        warnings.append(f"The background is noisy (speech only {analysis.snr_db:.0f} dB above it); "
                        "a quieter room gives a better clone.")
    if clipped > CLIP_WARN:
        warnings.append(f"Some of the speech is clipped ({clipped:.1%} of it at full scale); the "
                        "cloned voice may sound harsh.")

    spoken_s = (last - first) * FRAME_S
    if spoken_s < MIN_SPEECH_S or speech_s < MIN_SPEECH_S:
        if spoken_s < MIN_SPEECH_S:
            raise UserError(f"The clip is {spoken_s:.1f} seconds long without its silences; a voice "
                            f"needs at least {MIN_SPEECH_S:.0f} seconds of speech.")
        raise UserError(f"The clip has only {speech_s:.1f} seconds of speech; a voice needs at "
                        f"least {MIN_SPEECH_S:.0f} seconds of speech.")

    pad = int(PAD_S / FRAME_S)
    first, last = max(0, first - pad), min(len(voiced), last + pad)
    trimmed_from = None
    if (last - first) * FRAME_S > MAX_S:
        if not trim:
            raise UserError(f"The clip is {(last - first) * FRAME_S:.0f} seconds long; a voice "
                            f"reference may be at most {MAX_S:.0f} seconds (let Kaytoo trim it, or "
                            "cut it shorter yourself).")
        trimmed_from = (last - first) * FRAME_S
        a, b = best_window(voiced[first:last])
        first, last = first + a, first + b
        warnings.append(f"The clip was {trimmed_from:.0f} seconds long; it was trimmed to its "
                        f"best {(last - first) * FRAME_S:.0f} seconds of speech.")
    frame = int(REFERENCE_RATE * FRAME_S)
    x = _fade(x[first * frame:last * frame])
    return Prepared(_normalise(x), analysis, warnings, trimmed_from)


def frame_dbfs(samples: np.ndarray, rate: int = REFERENCE_RATE) -> np.ndarray:
    """RMS level of each FRAME_S frame in dBFS (at least one frame)."""
    frame = int(rate * FRAME_S)
    n = max(1, len(samples) // frame)
    frames = samples[: n * frame].reshape(n, frame) if len(samples) >= frame else samples[None, :]
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-7))


def best_window(voiced: np.ndarray) -> tuple[int, int]:
    """Frames [a, b) of a TRIM_MIN_S-TRIM_MAX_S stretch that starts and ends in a pause and holds
    the most speech; a plain TRIM_MAX_S window if the speech never pauses long enough."""
    lo, hi = int(TRIM_MIN_S / FRAME_S), int(TRIM_MAX_S / FRAME_S)
    cuts = _pause_centres(voiced)
    count = np.concatenate([[0], np.cumsum(voiced, dtype=np.int64)])
    best, best_score = None, -1
    for i, a in enumerate(cuts):
        for b in cuts[i + 1:]:
            if b - a > hi:
                break
            if b - a >= lo and count[b] - count[a] > best_score:
                best, best_score = (int(a), int(b)), int(count[b] - count[a])
    if best is None:
        sums = count[hi:] - count[:-hi]
        a = int(np.argmax(sums))
        best = (a, a + hi)
    return best


def _voiced(energy: np.ndarray, noise: float, speech: float) -> np.ndarray:
    """Frames louder than the background, with gaps under 0.3 s (between words) filled in."""
    voiced = energy > max(noise + 8.0, speech - 35.0, SILENT_DBFS - 5.0)
    idx = np.flatnonzero(voiced)
    gap = int(0.3 / FRAME_S)
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= gap:
            voiced[a:b] = True
    return voiced


def _pause_centres(voiced: np.ndarray, min_pause_s: float = 0.15) -> np.ndarray:
    """Frame indices in the middle of each pause (plus both ends): places to cut without a click."""
    padded = np.concatenate([[True], voiced, [True]]).astype(np.int8)
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)
    centres = [(s + e) // 2 for s, e in zip(starts, ends) if e - s >= min_pause_s / FRAME_S]
    return np.unique(np.array([0, *centres, len(voiced)], dtype=np.int64))


def _stuck_at_full_scale(samples: np.ndarray) -> int:
    """Samples in runs of 3+ at the clip's own ceiling: flat tops a clipping recorder leaves."""
    peak = float(np.max(np.abs(samples)))
    if peak < 0.9:  # nowhere near full scale
        return 0
    at = np.abs(samples) >= peak * 0.999
    padded = np.concatenate([[0], at.astype(np.int8), [0]])
    edges = np.diff(padded)
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    return int(runs[runs >= 3].sum())


def _highpass(x: np.ndarray) -> np.ndarray:
    """Remove DC and rumble below ~60 Hz, which carry no voice but skew levels and the clone."""
    from scipy.signal import butter, sosfiltfilt

    if len(x) < 64:
        return (x - x.mean()).astype(np.float32)
    sos = butter(2, 60.0, btype="highpass", fs=REFERENCE_RATE, output="sos")
    return sosfiltfilt(sos, x.astype(np.float64)).astype(np.float32)


def _fade(x: np.ndarray, seconds: float = 0.01) -> np.ndarray:
    n = min(len(x) // 2, int(seconds * REFERENCE_RATE))
    if n:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def _normalise(x: np.ndarray) -> np.ndarray:
    """About TARGET_DBFS RMS; peaks above the ceiling are limited (not the whole clip turned down,
    which would leave a peaky clip far too quiet)."""
    for _ in range(2):  # limiting lowers the RMS a little: a second pass gets closer to target
        x = x * np.float32(10 ** ((TARGET_DBFS - rms_dbfs(x)) / 20))
        x = _limit(x)
    return np.clip(x, -CEILING, CEILING).astype(np.float32)


def _limit(x: np.ndarray, hold_s: float = 0.005) -> np.ndarray:
    """Zero-overshoot peak limiter: the gain each sample needs, min-held over ±2w and then averaged
    over ±w, is never above what that sample needs (every held value in its average saw it), and
    changes smoothly, so peaks are caught without the click of hard clipping."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    need = np.minimum(1.0, CEILING / np.maximum(np.abs(x), 1e-9))
    if need.min() >= 1.0:
        return x
    w = max(1, int(hold_s * REFERENCE_RATE))
    gain = uniform_filter1d(minimum_filter1d(need, 4 * w + 1), 2 * w + 1)
    return (x * gain).astype(np.float32)
