"""The pipelined XTTS stream (GPT in a worker thread, HiFiGAN in the caller's) on the tiny model's
ONNX graphs: the same chunks as the serial stream, and cancel, close and errors stop both stages."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from app.engines.tts.base import VoiceRef
from app.engines.tts.xtts import chunk_sizes, windowed_chunks
from app.engines.tts.xtts_onnx import OnnxStreamingDecoder, XttsOnnxBackend
from app.engines.tts.xtts_pipeline import pipelined_chunks
from tests.tiny_xtts import MAX_AUDIO_TOKENS

SENTENCE = "Congratulations, you are being rescued, please do not resist."


@pytest.fixture(scope="module")
def backend(onnx_dir) -> XttsOnnxBackend:
    b = XttsOnnxBackend(onnx_dir, consent=True)
    b.load()
    return b


@pytest.fixture(scope="module")
def voice(speak, tmp_path_factory) -> VoiceRef:
    ref = speak("I have a bad feeling about this. Quiet, there is a fresh one.", name="xtts-reference")
    return VoiceRef("droid", reference_wav=ref, latents_dir=tmp_path_factory.mktemp("latents"))


def _counted(steps, log: list[str]):
    """``steps`` passed through, noting each step and the close (what the worker thread did)."""
    try:
        for item in steps:
            log.append("step")
            yield item
    finally:
        steps.close()
        log.append("closed")


def _parts(backend, voice, seed: int, log: list[str]):
    latents = backend.latents(voice)
    steps = backend.model.generate(backend.tokenizer.encode(SENTENCE.lower()), latents.gpt_cond_latent,
                                   np.random.default_rng(seed))
    return _counted(steps, log), OnnxStreamingDecoder(backend.model, latents.speaker_embedding)


def test_chunk_sizes_repeat_the_last():
    sizes = chunk_sizes(10, (15, 20))
    assert [next(sizes) for _ in range(5)] == [10, 15, 20, 20, 20]
    sizes = chunk_sizes(10, 20)
    assert [next(sizes) for _ in range(3)] == [10, 20, 20]


@pytest.mark.parametrize("codes", [20, (7, 13)])
def test_pipelined_stream_gives_the_serial_streams_chunks(onnx_dir, voice, codes):
    serial = XttsOnnxBackend(onnx_dir, consent=True, seed=3, pipelined=False)
    piped = XttsOnnxBackend(onnx_dir, consent=True, seed=3, pipelined=True)
    assert serial.pipelined is False and piped.pipelined is True
    serial.CHUNK_CODES = piped.CHUNK_CODES = codes
    want, got = list(serial.stream(SENTENCE, voice)), list(piped.stream(SENTENCE, voice))
    assert len(got) == len(want) >= 3
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_cancel_mid_stream_stops_the_gpt_and_the_decoder(backend, voice):
    log: list[str] = []
    steps, decoder = _parts(backend, voice, 1, log)
    cancel = threading.Event()
    stream = pipelined_chunks(steps, decoder, 5, 5, cancel, ahead=1)
    assert next(stream).size
    # bounded: the batch decoded, one waiting, one being filled (the tiny GPT outruns HiFiGAN)
    assert log.count("step") <= 3 * 5
    cancel.set()
    at_cancel, windows = log.count("step"), len(decoder.windows)
    assert list(stream) == []
    # the GPT step under way when cancel came may finish, no other; at most the window under way
    assert log.count("step") - at_cancel <= 1 and log[-1] == "closed"
    assert len(decoder.windows) - windows <= 1
    assert not any(t.name == "xtts-gpt" for t in threading.enumerate())


def test_closing_the_stream_stops_the_worker(backend, voice):
    log: list[str] = []
    steps, decoder = _parts(backend, voice, 1, log)
    stream = pipelined_chunks(steps, decoder, 5, 5, None, ahead=1)
    assert next(stream).size
    stream.close()
    assert log[-1] == "closed" and log.count("step") <= 3 * 5 + 1 < MAX_AUDIO_TOKENS - 3
    assert not any(t.name == "xtts-gpt" for t in threading.enumerate())


def test_a_failing_gpt_fails_the_stream(backend, voice):
    def failing(steps):
        for n, item in enumerate(steps):
            if n == 25:
                raise RuntimeError("the GPT session failed")
            yield item

    log: list[str] = []
    steps, decoder = _parts(backend, voice, 1, [])
    stream = pipelined_chunks(_counted(failing(steps), log), decoder, 10, 20, None)
    with pytest.raises(RuntimeError, match="the GPT session failed"):
        list(stream)
    assert log.count("step") == 25 and log[-1] == "closed"
    assert not any(t.name == "xtts-gpt" for t in threading.enumerate())


def test_serial_and_pipelined_streams_decode_the_same_windows(backend, voice):
    """The same pushes and decode calls in the same order, whichever path runs them."""
    runs = []
    for chunks in (windowed_chunks, pipelined_chunks):
        steps, decoder = _parts(backend, voice, 2, [])
        audio = np.concatenate(list(chunks(steps, decoder, 10, (15, 30), None)))
        runs.append((decoder.windows, audio))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_the_first_chunk_is_decoded_while_the_gpt_waits(backend, voice):
    """The worker hands over the first batch and steps no further until it is decoded; then the
    stages overlap."""
    log: list[str] = []
    steps, decoder = _parts(backend, voice, 1, log)
    decode = decoder.decode
    decoder.decode = lambda final=False: (log.append("decode"), decode(final=final))[1]
    chunks = list(pipelined_chunks(steps, decoder, 10, 20, None))
    assert len(chunks) >= 3 and log.index("decode") == 10    # 10 steps, then the first window alone
    assert log[log.index("decode") + 1] == "step"
