"""Front ends tried in the command bench and rejected (bench/results/stt.md): WebRTC noise
suppression (webrtc-noise-gain, as Home Assistant's assist pipeline), RNNoise (pyrnnoise's
library, 48 kHz frames of 480), spectral gating (noisereduce) and an energy focus on the loudest
talker. None is in the app; the packages (pyproject's bench extra; pyrnnoise installed with
--no-deps, its ctypes binding only) are only needed to re-run these configurations."""
from __future__ import annotations

import ctypes
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from app.audio.clip import resample_array


def webrtc(audio: np.ndarray, level: int) -> np.ndarray:
    """WebRTC's noise suppressor (``level`` 1-4, no automatic gain) on 10 ms int16 frames."""
    from webrtc_noise_gain import AudioProcessor

    processor, frame = AudioProcessor(0, level), 160
    pcm = np.zeros(-(-len(audio) // frame) * frame, np.int16)   # the last frame padded
    pcm[:len(audio)] = np.round(np.clip(audio, -1.0, 1.0) * 32767)
    out = np.empty_like(pcm)
    for i in range(0, len(pcm), frame):
        out[i:i + frame] = np.frombuffer(processor.Process10ms(pcm[i:i + frame].tobytes()).audio,
                                         np.int16)
    return out[:len(audio)].astype(np.float32) / 32767


@lru_cache(maxsize=1)
def _rnnoise_lib():
    # pyrnnoise's package __init__ imports audiolab (file I/O); its ctypes binding stands alone.
    spec = importlib.util.find_spec("pyrnnoise")
    path = Path(spec.submodule_search_locations[0]) / "rnnoise.py"
    module_spec = importlib.util.spec_from_file_location("_rnnoise_binding", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def rnnoise(audio: np.ndarray) -> np.ndarray:
    rn = _rnnoise_lib()
    x = resample_array(audio, 16000, 48000) * 32767
    n = rn.FRAME_SIZE
    frames = -(-len(x) // n)
    buf = np.zeros(frames * n, np.float32)
    buf[:len(x)] = x
    state = rn.create()
    try:
        for i in range(0, len(buf), n):
            frame = np.ascontiguousarray(buf[i:i + n])
            ptr = frame.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            rn.lib.rnnoise_process_frame(state, ptr, ptr)
            buf[i:i + n] = frame
    finally:
        rn.destroy(state)
    return resample_array(buf[:len(x)] / 32767, 48000, 16000)[:len(audio)]


def spectral_gate(audio: np.ndarray, stationary: bool) -> np.ndarray:
    import noisereduce

    return noisereduce.reduce_noise(y=audio, sr=16000, stationary=stationary,
                                    n_jobs=1).astype(np.float32)


FRONTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    **{f"webrtc{n}": (lambda a, n=n: webrtc(a, n)) for n in (1, 2, 3, 4)},
    "rnnoise": rnnoise,
    "nr-stationary": lambda a: spectral_gate(a, True),
    "nr": lambda a: spectral_gate(a, False),
}


def loudest_span(audio: np.ndarray, below_db: float = 6.0, pad_s: float = 0.25) -> np.ndarray:
    """The dominant talker: the span from the first to the last 100 ms whose level is within
    ``below_db`` of the clip's loud level (95th percentile), padded; quieter talkers before and
    after are cut (those under the command stay)."""
    frame = 320
    n = len(audio) // frame
    if n < 10:
        return audio
    power = np.mean(audio[:n * frame].reshape(n, frame) ** 2, axis=1)
    smooth = np.convolve(power, np.ones(5) / 5, mode="same")
    level = 10 * np.log10(smooth + 1e-12)
    loud = np.flatnonzero(level > np.percentile(level, 95) - below_db)
    pad = int(pad_s * 16000)
    start, end = max(0, loud[0] * frame - pad), min(len(audio), (loud[-1] + 1) * frame + pad)
    return audio[start:end]


FRONTS["focus6"] = loudest_span
FRONTS["focus10"] = lambda a: loudest_span(a, 10.0)
