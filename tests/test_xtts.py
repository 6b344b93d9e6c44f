"""The XTTS tier on a tiny XTTS v2 built from code (tests/tiny_xtts.py): the real coqui-tts loading
path, speaker latents and their disk cache, bounded streaming, cancel, INT8 and FP16.

Weights are random, so the audio is noise-like: these tests check rates, shapes, caching and the
decoder's cost per chunk, never what is said.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from app.engines.quantize import quantize_gpt_int8
from app.engines.tts.base import TierUnavailable, VoiceRef
from app.engines.tts.xtts import LICENCE_REASON, StreamingDecoder, XttsBackend, half_gpt, model_id
from tests.tiny_xtts import LAYERS, MAX_AUDIO_TOKENS, SPEAKER, WIDTH, build_tiny_xtts

SENTENCE = "Congratulations, you are being rescued."
CODES = MAX_AUDIO_TOKENS - 3   # the tiny GPT never stops early: every sentence is this many codes


@pytest.fixture(scope="module")
def backend(tiny_dir) -> XttsBackend:
    """One loaded tier (CPU, INT8 as the app runs it), shared by the streaming tests."""
    b = XttsBackend(tiny_dir, consent=True, device="cpu")
    b.load()
    return b


@pytest.fixture(scope="module")
def reference(speak) -> Path:
    """A real speech recording (espeak-ng, 16 kHz) used as the voice reference."""
    return speak("I have a bad feeling about this. Quiet, there is a fresh one.", name="xtts-reference")


def _voice(ref: Path, latents_dir: Path | None) -> VoiceRef:
    return VoiceRef("droid", reference_wav=ref, latents_dir=latents_dir)


def _cache_file(backend: XttsBackend, latents_dir: Path, ref: Path) -> Path:
    return latents_dir / f"{backend.model_id}-{hashlib.sha256(ref.read_bytes()).hexdigest()[:16]}.pt"


def _decoded_windows(model) -> tuple[list[int], object]:
    """Record the frame count HiFiGAN decodes at each call (a forward hook on the real decoder)."""
    sizes: list[int] = []
    handle = model.hifigan_decoder.waveform_decoder.register_forward_hook(
        lambda _m, inputs, _out: sizes.append(int(inputs[0].shape[-1])))
    return sizes, handle


# -- availability ------------------------------------------------------------------------------------
def test_check_gives_plain_reasons_and_never_prompts(tmp_path, tiny_dir, monkeypatch):
    monkeypatch.delenv("COQUI_TOS_AGREED", raising=False)
    no_consent = XttsBackend(tiny_dir, consent=False)
    assert no_consent.check() == LICENCE_REASON
    with pytest.raises(TierUnavailable, match="licence"):
        no_consent.load()
    assert "COQUI_TOS_AGREED" not in os.environ  # only consent may set it

    partial = tmp_path / "xtts-v2"
    partial.mkdir()
    shutil.copy(tiny_dir / "config.json", partial / "config.json")
    reason = XttsBackend(partial, consent=True).check()
    assert "not downloaded" in reason and "model.pth" in reason and "vocab.json" in reason
    assert XttsBackend(tiny_dir, consent=True).check() is None


def test_a_corrupt_checkpoint_makes_the_tier_unavailable(tmp_path, tiny_dir):
    broken = tmp_path / "xtts-v2"
    broken.mkdir()
    for name in ("config.json", "vocab.json"):
        shutil.copy(tiny_dir / name, broken / name)
    (broken / "model.pth").write_bytes(b"PK\x03\x04 this is not a checkpoint" * 100)
    with pytest.raises(TierUnavailable, match="could not be loaded"):
        XttsBackend(broken, consent=True).load()


# -- speaker latents ---------------------------------------------------------------------------------
def test_latents_are_computed_once_and_cached_on_disk(tmp_path, tiny_dir, backend, reference):
    latents_dir = tmp_path / "latents"
    voice = _voice(reference, latents_dir)
    before = backend.latents_computed
    first = backend.latents(voice)
    assert backend.latents_computed == before + 1
    cache = _cache_file(backend, latents_dir, reference)
    assert cache.is_file() and [p.name for p in latents_dir.iterdir()] == [cache.name]
    assert tuple(first.gpt_cond_latent.shape) == (1, 32, WIDTH)
    assert tuple(first.speaker_embedding.shape) == (1, 512, 1)
    stamp = cache.stat().st_mtime_ns

    # A new engine (nothing in memory) reads the file back instead of recomputing.
    fresh = XttsBackend(tiny_dir, consent=True, device="cpu", quantize=False)
    again = fresh.latents(voice)
    assert fresh.latents_computed == 0
    assert cache.stat().st_mtime_ns == stamp
    assert torch.equal(again.gpt_cond_latent, first.gpt_cond_latent)
    assert torch.equal(again.speaker_embedding, first.speaker_embedding)


def test_a_changed_reference_gets_a_new_key_and_a_corrupt_cache_is_recomputed(tmp_path, backend, reference):
    latents_dir = tmp_path / "latents"
    other = tmp_path / "other.wav"
    import soundfile as sf

    samples, rate = sf.read(str(reference), dtype="float32")
    sf.write(str(other), samples[: len(samples) // 2] * 0.5, rate)
    corrupt = _cache_file(backend, latents_dir, other)
    latents_dir.mkdir()
    corrupt.write_bytes(b"\x00garbage from a crash" * 10)

    before = backend.latents_computed
    backend.latents(_voice(other, latents_dir))
    assert backend.latents_computed == before + 1          # the corrupt file was not trusted
    data = torch.load(corrupt, weights_only=True)         # ...and was replaced by a good one
    assert tuple(data["gpt_cond_latent"].shape) == (1, 32, WIDTH)

    backend.latents(_voice(reference, latents_dir))
    names = {p.name for p in latents_dir.iterdir()}
    assert names == {_cache_file(backend, latents_dir, reference).name, corrupt.name}
    assert len(names) == 2                                 # another reference, another key


def test_model_id_changes_with_the_model(tmp_path, tiny_dir):
    copy = tmp_path / "xtts-v2"
    copy.mkdir()
    for name in ("config.json", "vocab.json"):
        shutil.copy(tiny_dir / name, copy / name)
    (copy / "model.pth").write_bytes(b"weights v1")
    first = model_id(copy)
    assert model_id(copy) == first
    (copy / "model.pth").write_bytes(b"weights v2, longer")
    assert model_id(copy) != first
    second = model_id(copy)
    (copy / "config.json").write_text((tiny_dir / "config.json").read_text() + "\n")
    assert model_id(copy) != second


# -- streaming ---------------------------------------------------------------------------------------
def test_stream_yields_24khz_float32_chunks_with_a_bounded_decode_each(backend, reference, tmp_path):
    voice = _voice(reference, tmp_path / "latents")
    backend.latents(voice)
    windows, hook = _decoded_windows(backend.model)
    try:
        chunks = list(backend.stream(SENTENCE, voice))
    finally:
        hook.remove()
    assert backend.sample_rate == 24000
    assert len(chunks) >= 3
    assert all(c.dtype == np.float32 and c.ndim == 1 and c.size for c in chunks)
    audio = np.concatenate(chunks)
    assert np.isfinite(audio).all() and float(np.sqrt(np.mean(audio ** 2))) > 1e-4
    # As long as a one-shot decode of the same number of codes: nothing lost or doubled at joins.
    with torch.inference_mode():
        one_shot = backend.model.hifigan_decoder(torch.zeros(1, CODES, WIDTH),
                                                 g=backend.latents(voice).speaker_embedding)
    assert audio.size == one_shot.shape[-1]
    # Every full chunk decodes the same number of frames, whatever came before it.
    assert len(windows) == len(chunks)
    middle = windows[1:-1]
    assert middle and max(middle) - min(middle) <= 2

    # coqui's own inference_stream re-decodes everything so far: its windows grow.
    coqui_windows, hook = _decoded_windows(backend.model)
    latents = backend.latents(voice)
    try:
        list(backend.model.inference_stream(SENTENCE, "en", latents.gpt_cond_latent,
                                            latents.speaker_embedding, stream_chunk_size=20))
    finally:
        hook.remove()
    assert len(coqui_windows) >= 3 and coqui_windows == sorted(coqui_windows)
    assert coqui_windows[-1] > 2 * max(middle)


@pytest.mark.parametrize("speed", [1.0, 0.8])
def test_windowed_decoding_joins_into_the_one_shot_decode(backend, speed):
    model = backend.model
    gen = torch.Generator().manual_seed(7)
    latents = torch.randn(1, 130, WIDTH, generator=gen)
    speaker = torch.nn.functional.normalize(torch.randn(1, 512, generator=gen), dim=1).unsqueeze(-1)
    with torch.inference_mode():
        z = latents
        if speed != 1.0:
            z = torch.nn.functional.interpolate(z.transpose(1, 2), scale_factor=1 / speed,
                                                mode="linear").transpose(1, 2)
        expected = model.hifigan_decoder(z, g=speaker).reshape(-1).numpy()
    decoder = StreamingDecoder(model.hifigan_decoder, speaker, length_scale=1 / speed)
    parts, start = [], 0
    for size in [10] + [20] * 6:
        decoder.push(latents[:, start:start + size])
        start += size
        parts.append(decoder.decode())
    parts.append(decoder.decode(final=True))
    got = np.concatenate(parts)
    assert got.size == expected.size
    assert np.abs(got - expected).max() <= 1e-5 * max(1.0, float(np.abs(expected).max()))
    full_windows = decoder.windows[1:-2]
    assert max(full_windows) - min(full_windows) <= 2 * (1 + int(1 / speed))


def test_cancel_stops_the_stream_within_one_step(backend, reference, tmp_path):
    voice = _voice(reference, tmp_path / "latents")
    steps: list[int] = []
    hook = backend.model.gpt.gpt_inference.register_forward_hook(lambda *_: steps.append(1))
    cancel = threading.Event()
    try:
        stream = backend.stream(SENTENCE, voice, cancel=cancel)
        first = next(stream)
        assert first.size
        cancel.set()
        at_cancel = len(steps)
        rest = list(stream)
        after = len(steps) - at_cancel

        steps.clear()
        already = list(backend.stream(SENTENCE, voice, cancel=cancel))  # cancelled before it starts
    finally:
        hook.remove()
    assert rest == [] and after <= 1
    assert already == [] and steps == []
    assert len(list(backend.stream("Affirmative.", voice))) >= 2  # the lock was released


def test_builtin_speaker_serves_a_voice_without_reference(backend):
    chunks = list(backend.stream("Affirmative.", VoiceRef(SPEAKER)))
    assert len(chunks) >= 2 and all(c.dtype == np.float32 for c in chunks)
    assert len(list(backend.stream("...", None))) == 0  # nothing to say, nothing computed


# -- precision -----------------------------------------------------------------------------------------
def test_load_keeps_the_hub_checkpoint_untouched_and_int8_tracks_float(tiny_dir, reference, tmp_path):
    from transformers.pytorch_utils import Conv1D

    checkpoint = tiny_dir / "model.pth"
    before = checkpoint.stat()
    b = XttsBackend(tiny_dir, consent=True, device="cpu", quantize=False)
    b.load()
    after = checkpoint.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert b.precision == "fp32"

    model = b.model
    latents = b.latents(_voice(reference, tmp_path / "latents"))
    tokens = torch.tensor([model.tokenizer.encode("hello there, friend", lang="en")], dtype=torch.int32)
    codes = torch.randint(0, 1024, (1, 40), generator=torch.Generator().manual_seed(1))

    def gpt_latents():
        with torch.inference_mode():
            return model.gpt(tokens, torch.tensor([tokens.shape[-1]]), codes, torch.tensor([40 * 1024]),
                             cond_latents=latents.gpt_cond_latent, return_attentions=False,
                             return_latent=True)

    float_out = gpt_latents()
    report = quantize_gpt_int8(model)
    int8_out = gpt_latents()

    assert report.converted == 4 * LAYERS            # c_attn, c_proj, c_fc, mlp c_proj per block
    assert report.quantized == 4 * LAYERS + 1        # ...plus the audio-code head
    assert report.max_conversion_error < 1e-5
    assert report.bytes_after < 0.6 * report.bytes_before
    assert not any(isinstance(m, Conv1D) for m in model.gpt.gpt.modules())
    blocks = list(model.gpt.gpt.modules())
    assert not any(isinstance(m, torch.nn.Linear) for m in blocks)
    assert sum(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in blocks) == 4 * LAYERS
    assert model.gpt.gpt_inference.lm_head[1] is model.gpt.mel_head
    cosine = torch.nn.functional.cosine_similarity(float_out.flatten(), int8_out.flatten(), dim=0)
    assert float(cosine) > 0.99
    assert float((int8_out - float_out).abs().mean()) < 0.05 * float(float_out.abs().mean())
    # The quantized model still streams (as the app runs it on a CPU).
    assert len(list(b.stream("Affirmative.", _voice(reference, tmp_path / "latents")))) >= 2


def test_quantizing_without_conversion_leaves_the_blocks_in_float():
    from TTS.tts.layers.xtts.gpt import GPT
    from transformers.pytorch_utils import Conv1D

    gpt = GPT(layers=LAYERS, model_dim=WIDTH, heads=4, max_text_tokens=50, max_mel_tokens=60,
              number_text_tokens=100, num_audio_tokens=1026, start_audio_token=1024,
              stop_audio_token=1025, use_perceiver_resampler=True)
    gpt.init_gpt_for_inference(kv_cache=True)
    report = quantize_gpt_int8(gpt, convert_conv1d=False)
    assert report.converted == 0 and report.quantized == 1   # only the head was an nn.Linear
    assert sum(isinstance(m, Conv1D) for m in gpt.gpt.modules()) == 4 * LAYERS
    assert report.bytes_after > 0.75 * report.bytes_before


def test_fp16_decode_path_streams(tiny_dir, reference, tmp_path):
    """The CUDA setting's precision change, run on the CPU (no GPU here): dtypes must line up."""
    b = XttsBackend(tiny_dir, consent=True, device="cpu", quantize=False)
    b.load()
    half_gpt(b.model)
    assert b.model.gpt.gpt.h[0].attn.c_attn.weight.dtype == torch.float16
    chunks = list(b.stream("Affirmative.", _voice(reference, tmp_path / "latents")))
    assert len(chunks) >= 2 and all(c.dtype == np.float32 and np.isfinite(c).all() for c in chunks)


# -- the tier in the app ---------------------------------------------------------------------------
def test_say_speaks_with_the_cloned_voice_once_the_model_is_installed_and_accepted(tiny_dir,
                                                                                  kaytoo_home):
    """`kaytoo say --tier xtts` as a real process: XTTS serves with nothing falling back, and
    the bundled voice's latents are cached for the next reply."""
    import json
    import subprocess
    import sys

    import soundfile as sf

    from app import paths as paths_mod
    from app.settings import Settings, save

    paths = paths_mod.resolve().ensure()
    shutil.copytree(tiny_dir, paths.models / "xtts-v2")
    settings = Settings()
    settings.tts.xtts_consent = True
    save(paths.settings_file, settings)
    out = kaytoo_home / "reply.wav"
    run = subprocess.run([sys.executable, "-m", "app", "say", "Affirmative.", "--tier", "xtts",
                          "--out", str(out), "--json"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["tier"] == "xtts" and data["fallbacks"] == [], data
    audio, rate = sf.read(str(out), dtype="float32")
    assert rate == 48000 and len(audio) / rate == pytest.approx(data["audio_s"], abs=0.05)
    assert float(np.sqrt(np.mean(audio ** 2))) > 1e-3           # not silence
    cached = [p for folder in (paths.data, paths.cache) for p in folder.rglob("xtts2-*.pt")]
    assert len(cached) == 1, "the voice's latents were cached on disk"
