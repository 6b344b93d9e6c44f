"""XTTS's audio front end in numpy: what coqui computes with torchaudio before its networks.

- ``resample``: torchaudio.functional.resample's default (windowed sinc, Hann, 6 zero crossings,
  rolloff 0.99), ported so that a reference at any rate gives the same samples without torch.
- ``mel``: torchaudio.transforms.MelSpectrogram (centred STFT with reflect padding, power 2,
  HTK mel scale, optional Slaney area norm).
- ``gpt_mel`` / ``speaker_mel``: the two spectrograms XTTS feeds its conditioning encoder (22.05 kHz,
  log, later divided by the checkpoint's mel statistics inside the graph) and its speaker encoder
  (16 kHz, pre-emphasised, power; the log is taken inside the graph).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def resample(x: np.ndarray, orig: int, new: int) -> np.ndarray:
    """Resample mono float audio like torchaudio.functional.resample with its defaults."""
    x = np.asarray(x, np.float32).reshape(-1)
    if orig == new:
        return x
    kernels, width, orig_r, new_r = _sinc_kernels(orig, new)
    padded = np.pad(x.astype(np.float64), (width, width + orig_r))
    frames = sliding_window_view(padded, kernels.shape[1])[::orig_r]
    y = (frames @ kernels.T).reshape(-1)
    return y[:math.ceil(new_r * x.size / orig_r)].astype(np.float32)


@lru_cache(maxsize=8)
def _sinc_kernels(orig: int, new: int, zeros: int = 6, rolloff: float = 0.99):
    g = math.gcd(orig, new)
    orig, new = orig // g, new // g
    base = min(orig, new) * rolloff
    width = math.ceil(zeros * orig / base)
    idx = np.arange(-width, width + orig, dtype=np.float64)[None, :] / orig
    t = (np.arange(0, -new, -1, dtype=np.float64)[:, None] / new + idx) * base
    t = np.clip(t, -zeros, zeros)
    window = np.cos(t * math.pi / zeros / 2) ** 2
    t = t * math.pi
    with np.errstate(invalid="ignore", divide="ignore"):
        sinc = np.where(t == 0, 1.0, np.sin(t) / t)
    return sinc * window * (base / orig), width, orig, new


def _window(kind: str, win_length: int, n_fft: int) -> np.ndarray:
    n = np.arange(win_length)
    if kind == "hann":      # torch.hann_window (periodic)
        w = 0.5 - 0.5 * np.cos(2 * math.pi * n / win_length)
    else:                   # torch.hamming_window (periodic)
        w = 0.54 - 0.46 * np.cos(2 * math.pi * n / win_length)
    left = (n_fft - win_length) // 2
    return np.pad(w, (left, n_fft - win_length - left))


@lru_cache(maxsize=8)
def _mel_filters(n_freqs: int, f_max: float, n_mels: int, sample_rate: int, slaney: bool) -> np.ndarray:
    """torchaudio.functional.melscale_fbanks with the HTK scale: [n_freqs, n_mels]."""
    freqs = np.linspace(0, sample_rate // 2, n_freqs)
    m_max = 2595.0 * math.log10(1.0 + f_max / 700.0)
    f_pts = 700.0 * (10 ** (np.linspace(0.0, m_max, n_mels + 2) / 2595.0) - 1.0)
    f_diff = np.diff(f_pts)
    slopes = f_pts[None, :] - freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = np.maximum(0.0, np.minimum(down, up))
    if slaney:
        fb *= (2.0 / (f_pts[2:n_mels + 2] - f_pts[:n_mels]))[None, :]
    return fb


def mel(x: np.ndarray, sample_rate: int, n_fft: int, hop: int, win_length: int, n_mels: int,
        window: str, f_max: float, slaney: bool) -> np.ndarray:
    """Power mel spectrogram [n_mels, frames] of mono audio, as torchaudio's MelSpectrogram."""
    x = np.asarray(x, np.float64).reshape(-1)
    padded = np.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
    frames = sliding_window_view(padded, n_fft)[::hop] * _window(window, win_length, n_fft)
    power = np.abs(np.fft.rfft(frames, axis=-1)) ** 2                     # [frames, freqs]
    fb = _mel_filters(n_fft // 2 + 1, f_max, n_mels, sample_rate, slaney)
    return (power @ fb).T.astype(np.float32)


def gpt_mel(audio_22k: np.ndarray) -> np.ndarray:
    """The conditioning encoder's input before normalisation: log mel [1, 80, frames]."""
    m = mel(audio_22k, 22050, n_fft=2048, hop=256, win_length=1024, n_mels=80, window="hann",
            f_max=8000.0, slaney=True)
    return np.log(np.maximum(m, 1e-5))[None]


def speaker_mel(audio_16k: np.ndarray) -> np.ndarray:
    """The speaker encoder's input: pre-emphasised power mel [1, 64, frames]."""
    x = np.asarray(audio_16k, np.float32).reshape(-1)
    if x.size < 2:
        raise ValueError("the reference is too short")
    prev = np.concatenate([x[1:2], x[:-1]])    # reflect pad by one sample, as coqui's PreEmphasis
    emphasised = x - 0.97 * prev
    return mel(emphasised, 16000, n_fft=512, hop=160, win_length=400, n_mels=64, window="hamming",
               f_max=8000.0, slaney=False)[None]


def interpolate_linear(z: np.ndarray, scale: float) -> np.ndarray:
    """torch.nn.functional.interpolate(z, scale_factor=scale, mode="linear") on the last axis."""
    n = z.shape[-1]
    out = int(math.floor(n * scale))
    src = np.maximum((np.arange(out, dtype=np.float64) + 0.5) / scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    lam = (src - i0).astype(z.dtype)
    return z[..., i0] * (1 - lam) + z[..., i1] * lam


def latent_grid(latents: np.ndarray, args: dict, length_scale: float = 1.0) -> np.ndarray:
    """GPT latents [codes, width] → HiFiGAN's input [1, width, frames], resampled as coqui's
    HifiDecoder does (code stride / output hop, then output / input sample rate)."""
    z = np.asarray(latents, np.float32).T[None]
    if length_scale != 1.0:
        z = interpolate_linear(z, length_scale)
    z = interpolate_linear(z, args["gpt_code_stride_len"] / args["output_hop_length"])
    if args["output_sample_rate"] != args["input_sample_rate"]:
        z = interpolate_linear(z, args["output_sample_rate"] / args["input_sample_rate"])
    return z
