"""Decoding, resampling and shaping clips. Float32 mono numpy arrays in [-1, 1] throughout."""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app import atomic
from app.errors import UserError
from app.runtime import find_ffmpeg

STT_RATE = 16000


@dataclass
class Clip:
    samples: np.ndarray  # float32, mono
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0


def load(path: Path | str, rate: int | None = None) -> Clip:
    """Read WAV/FLAC/OGG (soundfile) or anything ffmpeg reads (MP3, video) into mono float32."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} does not exist or is not a file.")
    if path.stat().st_size == 0:
        raise UserError(f"{path.name} is empty (0 bytes), not an audio file.")
    clip = _read_soundfile(path) or _read_ffmpeg(path)
    if clip is None:
        raise UserError(f"{path.name} is not an audio file this app can read.")
    if len(clip.samples) == 0:
        raise UserError(f"{path.name} contains no audio samples.")
    return resample(clip, rate) if rate else clip


def from_bytes(data: bytes, rate: int | None = None) -> Clip:
    import soundfile as sf

    try:
        samples, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError/RuntimeError on garbage
        raise UserError(f"The audio data could not be decoded ({e}).") from None
    clip = Clip(samples.mean(axis=1).astype(np.float32), sr)
    return resample(clip, rate) if rate else clip


def _read_soundfile(path: Path) -> Clip | None:
    import soundfile as sf

    try:
        samples, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:
        return None
    return Clip(np.ascontiguousarray(samples.mean(axis=1), dtype=np.float32), int(sr))


def _read_ffmpeg(path: Path, rate: int = 48000) -> Clip | None:
    import subprocess

    ffmpeg = find_ffmpeg()  # PATH, else the bundled static one
    if not ffmpeg:
        return None
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(rate),
           "-f", "f32le", "-"]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0 or not out.stdout:
        return None
    return Clip(np.frombuffer(out.stdout, dtype=np.float32).copy(), rate)


def resample(clip: Clip, rate: int) -> Clip:
    if clip.rate == rate:
        return clip
    return Clip(resample_array(clip.samples, clip.rate, rate), rate)


def resample_array(samples: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(samples.astype(np.float32, copy=False), src, dst).astype(np.float32)


class StreamResampler:
    """Resamples a stream chunk by chunk without clicks at chunk edges (soxr keeps filter state)."""

    def __init__(self, src: int, dst: int):
        self.src, self.dst = src, dst
        self._stream = None
        if src != dst:
            import soxr

            self._stream = soxr.ResampleStream(src, dst, 1, dtype="float32")

    def push(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        samples = samples.astype(np.float32, copy=False)
        if self._stream is None:
            return samples
        return self._stream.resample_chunk(samples, last=last)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """16-bit PCM WAV, written atomically."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(samples, -1, 1), rate, subtype="PCM_16", format="WAV")
    atomic.write_bytes(Path(path), buf.getvalue())


def rms_dbfs(samples: np.ndarray) -> float:
    if len(samples) == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return 20 * np.log10(max(rms, 1e-6))
