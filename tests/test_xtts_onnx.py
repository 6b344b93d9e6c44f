"""XTTS v2 on ONNX Runtime against coqui's torch model, on the tiny XTTS built in tests.

Stated tolerances (float32 on both sides; what differs is kernel order and our numpy front end):
- graphs on fixed inputs (reference.npz): max abs error ≤ 1e-4 (speaker embedding, latents,
  present keys/values, HiFiGAN audio), logits ≤ 1e-3 (they reach |1e4| through the stop bias);
- per step over a whole sentence (57 codes, coqui's own sampled codes fed back): latents max abs
  ≤ 1e-3, logits ≤ 1e-2 + 1e-5·|logit| against coqui's mel head on its own latents (measured: 9.5e-4
  and 0.02 on the stop logit at -1e4);
- conditioning from a real recording through the numpy front end (resampling, STFT, mel) vs coqui's
  get_conditioning_latents: GPT latents max abs ≤ 2e-3 · max|latents|, speaker embedding
  max abs ≤ 2e-3 (it is L2-normalised) (measured: 4.4e-6 on a range of 2.5, and 1.2e-6);
- the streamed ONNX audio vs a one-shot torch HiFiGAN decode of the same latents: max abs ≤ 1e-3.
"""
from __future__ import annotations

import shutil

import numpy as np
import onnxruntime as ort
import pytest
import torch

from app.engines.tts.base import VoiceRef
from app.engines.tts.xtts_onnx import XttsOnnxBackend
from app.engines.xtts_onnx.export import example_inputs, load_xtts, modules, run_torch
from app.engines.xtts_onnx.runner import XttsOnnx, gpt_graphs, pick_providers
from tests.tiny_xtts import MAX_AUDIO_TOKENS

CODES = MAX_AUDIO_TOKENS - 3


@pytest.fixture(scope="module")
def coqui(onnx_dir):
    return load_xtts(onnx_dir)


@pytest.fixture(scope="module")
def runner(onnx_dir) -> XttsOnnx:
    return XttsOnnx(onnx_dir)


@pytest.fixture(scope="module")
def reference(speak):
    return speak("I have a bad feeling about this. Quiet, there is a fresh one.", name="xtts-reference")


def _close(a, b, tol, rtol=0.0):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    err = float((np.abs(a - b) - rtol * np.abs(b)).max())
    assert err <= tol, f"max error {err:.3g} > {tol:.3g} (+ {rtol:g} x |value|)"
    return err


def test_graphs_match_torch_on_fixed_inputs(onnx_dir, coqui, runner):
    ref = np.load(onnx_dir / "onnx" / "reference.npz")
    for graph, session in runner.sessions.items():
        feed = {i.name: ref[f"{graph}/in/{i.name}"] for i in session.get_inputs()}
        for out, value in zip(session.get_outputs(), session.run(None, feed)):
            if f"{graph}/out/{out.name}" not in ref.files:
                continue
            assert value.shape == ref[f"{graph}/out/{out.name}"].shape
            _close(value, ref[f"{graph}/out/{out.name}"], 1e-3 if out.name == "logits" else 1e-4)
    # the stored references are coqui's own outputs, not the graphs' (re-run torch on them)
    torch_out = run_torch(modules(coqui)["speaker"], example_inputs(coqui)["speaker"])[0]
    _close(torch_out, ref["speaker/out/embedding"], 1e-6)


def test_every_weight_is_named_by_its_checkpoint_key(onnx_dir):
    import json

    checkpoint = torch.load(onnx_dir / "model.pth", map_location="cpu", weights_only=False)["model"]
    manifest = json.loads((onnx_dir / "onnx" / "manifest.json").read_text())
    for graph, tensors in manifest["graphs"].items():
        for t in tensors:
            assert t["name"] in checkpoint, f"{graph}: {t['name']} is not a checkpoint key"
            assert list(checkpoint[t["name"]].shape) == t["shape"]
    # none merged away (equal-valued weights, e.g. zero biases, must stay distinct tensors)
    gpt = {t["name"] for t in manifest["graphs"]["gpt"]}
    assert {k for k in checkpoint if k.startswith("gpt.gpt.h.")} <= gpt
    assert len({t["name"] for g in manifest["graphs"].values() for t in g}) == sum(map(len, manifest["graphs"].values()))


def test_hifigan_convolutions_are_2d_and_the_rewrite_refuses_what_it_cannot_lift(onnx_dir):
    """onnxruntime's fast convolutions are 2-D only: the exported and the packaged HiFiGAN run
    every convolution as 2-D (their outputs are checked against torch above); a graph with an
    operation the rewrite cannot lift is refused, not silently changed."""
    import onnx
    from onnx import helper

    from app.engines.xtts_onnx.conv2d import lift_to_2d
    from app.engines.xtts_onnx.convert import GRAPHS_DIR

    for path in (onnx_dir / "onnx" / "hifigan.onnx", GRAPHS_DIR / "hifigan.onnx"):
        nodes = onnx.load(str(path), load_external_data=False).graph.node
        kernels = [next(a.ints for a in n.attribute if a.name == "kernel_shape")
                   for n in nodes if n.op_type in ("Conv", "ConvTranspose")]
        assert len(kernels) == 83 and all(len(k) == 2 and k[0] == 1 for k in kernels)
    graph = helper.make_graph([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 1])], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4, 8])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 8, 4])])
    with pytest.raises(ValueError, match="cannot lift Transpose"):
        lift_to_2d(graph)


def test_gpt_steps_match_coqui_generation(coqui, runner):
    gpt = coqui.gpt
    tokens = coqui.tokenizer.encode("congratulations, you are being rescued.", lang="en")
    cond = torch.randn(1, 32, gpt.model_dim, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        inputs = gpt.compute_embeddings(cond, torch.tensor([tokens], dtype=torch.int32))
        gen = gpt.get_generator(fake_inputs=inputs, do_sample=False, num_beams=1, num_return_sequences=1,
                                output_attentions=False, output_hidden_states=True,
                                return_dict_in_generate=False)
        expected = [(int(code), latent[0].float().numpy()) for code, latent in gen]
        head_logits = [gpt.mel_head(torch.from_numpy(lat)).numpy() for _, lat in expected]
    steps = runner.steps(tokens, cond.numpy())
    logits, latent = next(steps)
    for (code, want_latent), want_logits in zip(expected, head_logits):  # coqui's sampled codes fed back
        _close(latent, want_latent, 1e-3)
        _close(logits, want_logits, 1e-2, rtol=1e-5)   # the stop code's logit sits near -1e4
        logits, latent = steps.send(code)
    assert len(expected) == CODES
    greedy = list(runner.generate(tokens, cond.numpy(), np.random.default_rng(0), greedy=True))
    assert len(greedy) == CODES


def test_sampling_distribution_matches_transformers_processors():
    from transformers import (LogitsProcessorList, RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                              TopKLogitsWarper, TopPLogitsWarper)

    from app.engines.xtts_onnx.runner import distribution

    rng = np.random.default_rng(7)
    for _ in range(20):
        logits = (rng.standard_normal(1026) * 4).astype(np.float32)
        ids = rng.integers(0, 1026, size=12)
        seen = np.zeros(1026, bool)
        seen[ids] = True
        processors = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(2.0), TemperatureLogitsWarper(0.85),
                                          TopKLogitsWarper(50), TopPLogitsWarper(0.85)])
        scores = processors(torch.from_numpy(ids)[None], torch.from_numpy(logits)[None].clone())
        want = torch.softmax(scores, -1)[0].numpy()
        got = distribution(logits, seen, 0.85, 50, 0.85, 2.0)
        assert set(np.flatnonzero(got)) == set(np.flatnonzero(want))
        _close(got, want, 1e-5)


def test_conditioning_from_a_recording_matches_coqui(coqui, runner, reference):
    import soundfile

    cfg = coqui.config
    with torch.inference_mode():
        gpt, spk = coqui.get_conditioning_latents(
            audio_path=str(reference), max_ref_length=cfg.max_ref_len, gpt_cond_len=cfg.gpt_cond_len,
            gpt_cond_chunk_len=cfg.gpt_cond_chunk_len, sound_norm_refs=cfg.sound_norm_refs)
    samples, rate = soundfile.read(reference, dtype="float32")
    got_gpt, got_spk = runner.conditioning(samples, rate)
    assert got_gpt.shape == tuple(gpt.shape) and got_spk.shape == tuple(spk.shape)
    _close(got_gpt, gpt.numpy(), 2e-3 * float(gpt.abs().max()))
    _close(got_spk, spk.numpy(), 2e-3)


def test_tier_streams_a_cloned_voice_like_a_one_shot_torch_decode(onnx_dir, coqui, reference, tmp_path):
    backend = XttsOnnxBackend(onnx_dir, consent=True, seed=1)
    assert backend.check() is None
    voice = VoiceRef("droid", reference_wav=reference, latents_dir=tmp_path)
    chunks = list(backend.stream("Congratulations, you are being rescued.", voice))
    assert backend.sample_rate == 24000 and len(chunks) >= 3
    assert all(c.dtype == np.float32 and c.ndim == 1 and np.isfinite(c).all() for c in chunks)
    cached = list(tmp_path.glob(f"{backend.model_id}-*.npz"))
    assert len(cached) == 1 and backend.latents_computed == 1

    # The same codes' latents decoded at once by coqui's HiFiGAN give the same audio.
    latents = backend.latents(voice)
    tokens = backend.tokenizer.encode("congratulations, you are being rescued.")
    codes = list(XttsOnnx(onnx_dir).generate(tokens, latents.gpt_cond_latent, np.random.default_rng(5)))
    assert len(codes) == CODES
    stream = np.concatenate(list(_stream(backend, codes, latents)))
    with torch.inference_mode():
        z = torch.from_numpy(np.stack([lat for _, lat in codes]))[None]
        one_shot = coqui.hifigan_decoder(z, g=torch.from_numpy(latents.speaker_embedding)).reshape(-1).numpy()
    assert stream.size == one_shot.size
    _close(stream, one_shot, 1e-3)

    again = XttsOnnxBackend(onnx_dir, consent=True)   # a new process reads the cache, computes nothing
    again.latents(voice)
    assert again.latents_computed == 0


def test_quantized_gpt_follows_float32(onnx_dir, tmp_path, runner):
    """gpt.int8.onnx (the prompt, per-channel INT8) then gpt.int4.onnx (the steps, block-wise 4-bit
    weights) against the float32 graph, teacher-forced over a sentence: latents cosine ≥ 0.99 at
    every step (measured ≥ 0.999 on the tiny random model)."""
    import onnx

    from app.engines.xtts_onnx.quantize import PROMPT_GPT, QUANTIZED_GPT, quantize_gpt

    folder = tmp_path / "onnx"
    shutil.copytree(onnx_dir / "onnx", folder)
    quantize_gpt(folder)
    for name, op in ((QUANTIZED_GPT, "MatMulNBits"), (PROMPT_GPT, "DynamicQuantizeMatMul")):
        ops = [n.op_type for n in onnx.load(str(folder / name), load_external_data=False).graph.node]
        assert ops.count(op) == 4 * runner.layers and "MatMul" not in ops   # the code head is a Gemm
    (tmp_path / "config.json").write_bytes((onnx_dir / "config.json").read_bytes())
    int4 = XttsOnnx(tmp_path)
    assert int4.precision == "int4" and runner.precision == "fp32"
    # on CUDA (onnxruntime-gpu) the float32 GPT would run: the 4-bit kernels are tested on the CPU only
    assert int4.device == "cpu" and pick_providers(ort.get_available_providers()) == ["CPUExecutionProvider"]
    assert pick_providers(["CUDAExecutionProvider", "CPUExecutionProvider"])[0] == "CUDAExecutionProvider"
    assert [p.name for p in gpt_graphs(folder, "CUDAExecutionProvider")] == ["gpt.onnx", "gpt.onnx"]
    assert [p.name for p in gpt_graphs(folder, "CPUExecutionProvider")] == [QUANTIZED_GPT, PROMPT_GPT]
    cond = np.random.default_rng(4).standard_normal((1, 32, runner.width)).astype(np.float32)
    tokens = [5, 9, 17, 3, 2, 11, 40]
    a, b = runner.steps(tokens, cond), int4.steps(tokens, cond)
    (_, la), (_, lb) = next(a), next(b)
    for code in np.random.default_rng(5).integers(0, 1024, CODES):
        cosine = float(la @ lb / (np.linalg.norm(la) * np.linalg.norm(lb)))
        assert cosine >= 0.99
        (_, la), (_, lb) = a.send(int(code)), b.send(int(code))


def _stream(backend, codes, latents):
    from app.engines.tts.xtts_onnx import OnnxStreamingDecoder

    decoder = OnnxStreamingDecoder(backend.model, latents.speaker_embedding)
    for i, (_, latent) in enumerate(codes, 1):
        decoder.push(latent)
        if i % 7 == 0:
            yield decoder.decode()
    yield decoder.decode(final=True)


def test_the_key_value_cache_grows_without_changing_a_step(runner):
    """The cache buffers start small here (2 codes of headroom) and are doubled, their contents
    copied, several times over a sentence: every step equals a run whose buffers never grow."""
    cond = np.random.default_rng(6).standard_normal((1, 32, runner.width)).astype(np.float32)
    tokens = [5, 9, 17, 3, 2, 11, 40]
    small, large = runner.steps(tokens, cond, headroom=2), runner.steps(tokens, cond, headroom=CODES + 1)
    (ls, xs), (ll, xl) = next(small), next(large)
    for code in np.random.default_rng(7).integers(0, 1024, CODES):
        np.testing.assert_array_equal(ls, ll)
        np.testing.assert_array_equal(xs, xl)
        (ls, xs), (ll, xl) = small.send(int(code)), large.send(int(code))


def test_a_voices_conditioning_cache_gives_the_same_steps(runner):
    """The conditioning latents' keys and values, computed once per voice and put before the text,
    give the steps of a prompt run whole (float32: equal to 1e-5), and are computed once per voice."""
    cond = np.random.default_rng(8).standard_normal((1, 32, runner.width)).astype(np.float32)
    tokens = [5, 9, 17, 3, 2, 11, 40]
    runner._voices.clear()
    for sentence in range(2):
        reused, whole = runner.steps(tokens, cond), runner.steps(tokens, cond, reuse_voice=False)
        (lr, xr), (lw, xw) = next(reused), next(whole)
        for code in np.random.default_rng(9).integers(0, 1024, 20):
            _close(lr, lw, 1e-4, rtol=1e-5)
            _close(xr, xw, 1e-5)
            (lr, xr), (lw, xw) = reused.send(int(code)), whole.send(int(code))
    assert len(runner._voices) == 1
