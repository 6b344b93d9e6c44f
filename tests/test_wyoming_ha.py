"""Home Assistant's wyoming integration, replayed against a real engine process over TCP.

Each test makes the calls HA makes (homeassistant/components/wyoming: info with a 1 s timeout,
STT from 20 ms microphone chunks paced in real time, one-shot and streaming TTS as its LLM
pipeline sends them) with the wyoming package's own async client, as HA does.
"""
from __future__ import annotations

import asyncio
import re
import subprocess

import numpy as np
import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.info import Describe, Info
from wyoming.tts import (Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop,
                         SynthesizeStopped, SynthesizeVoice)

from app.audio import clip
from app.engines.protocol import from_pcm16, to_pcm16
from tests.engine_proc import engine_cmd, free_port, wait_listening, write_settings

HA_INFO_TIMEOUT, HA_INFO_TRIES = 1.0, 4     # what HA allows `describe` before giving up
TEXT = ("The weather today is sunny and warm. Tomorrow it will rain in the afternoon, so the "
        "roads may be wet. Remember to take an umbrella when you go out.")


def start_engine(home, monkeypatch, **settings) -> tuple[subprocess.Popen, int]:
    monkeypatch.setenv("KAYTOO_HOME", str(home))
    s = write_settings(tiers=settings.pop("tiers", ["piper", "pyttsx3"]))
    if settings:
        from app import paths as paths_mod
        from app.settings import save

        for k, v in settings.items():
            setattr(s.stt, k, v)
        save(paths_mod.resolve().ensure().settings_file, s)
    port = free_port()
    proc = subprocess.Popen(engine_cmd(f"tcp://127.0.0.1:{port}"))
    wait_listening(proc, port)
    return proc, port


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        proc, port = start_engine(tmp_path_factory.mktemp("home"), mp)
        yield port
        proc.terminate()
        proc.wait(30)


def run(coro):
    return asyncio.run(coro)


async def ha_info(port: int) -> Info:
    """HA's load_wyoming_info: describe, wait up to 1 s for info, 4 tries."""
    for _ in range(HA_INFO_TRIES):
        try:
            async with AsyncTcpClient("127.0.0.1", port) as client:
                await client.write_event(Describe().event())
                while True:
                    event = await asyncio.wait_for(client.read_event(), HA_INFO_TIMEOUT)
                    assert event is not None
                    if Info.is_type(event.type):
                        return Info.from_event(event)
        except asyncio.TimeoutError:
            continue
    pytest.fail("no info within HA's timeout on any of its tries")


async def ha_tts_oneshot(port: int, text: str) -> tuple[list, bytes, int | None]:
    """HA's async_get_tts_audio: one synthesize, audio until audio-stop or a closed connection.
    Returns the events that were not audio, the PCM and its rate."""
    others, pcm, rate = [], b"", None
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice(name="Kaytoo")).event())
        while True:
            event = await asyncio.wait_for(client.read_event(), 300)
            if event is None:
                others.append(None)
                break
            if AudioStop.is_type(event.type):
                break
            if AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                pcm, rate = pcm + chunk.audio, chunk.rate
            else:
                others.append(event)
    return others, pcm, rate


async def ha_tts_stream(port: int, pieces: list[str]) -> tuple[bytes, int]:
    """HA's streaming TTS: synthesize-start, the LLM's text as synthesize-chunks, the one-shot
    copy for old servers, synthesize-stop; audio until synthesize-stopped."""
    pcm, rate = b"", 0
    async with AsyncTcpClient("127.0.0.1", port) as client:
        voice = SynthesizeVoice(name="Kaytoo")
        await client.write_event(SynthesizeStart(voice=voice).event())
        for piece in pieces:
            await client.write_event(SynthesizeChunk(text=piece).event())
        await client.write_event(Synthesize(text="".join(pieces), voice=voice).event())
        await client.write_event(SynthesizeStop().event())
        while True:
            event = await asyncio.wait_for(client.read_event(), 300)
            assert event is not None, "the engine closed the stream"
            assert not Error.is_type(event.type), event.data
            if AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                pcm, rate = pcm + chunk.audio, chunk.rate
            elif SynthesizeStopped.is_type(event.type):
                return pcm, rate


async def ha_stt(port: int, samples16k: np.ndarray, language: str | None = "en") -> str:
    """HA's async_process_audio_stream: 20 ms microphone chunks as they are recorded."""
    pcm = to_pcm16(samples16k)
    fmt = dict(rate=16000, width=2, channels=1)
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Transcribe(language=language).event())
        await client.write_event(AudioStart(**fmt).event())
        for i in range(0, len(pcm), 640):  # 20 ms of 16 kHz 16-bit mono
            await client.write_event(AudioChunk(audio=pcm[i:i + 640], **fmt).event())
            await asyncio.sleep(0.02)  # pacing: a microphone delivers in real time
        await client.write_event(AudioStop().event())
        while True:
            event = await asyncio.wait_for(client.read_event(), 300)
            assert event is not None
            if Transcript.is_type(event.type):
                return Transcript.from_event(event).text


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def recall(heard: str, said: str) -> float:
    got = set(words(heard))
    want = words(said)
    return sum(w in got for w in want) / len(want)


def seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


# -- info ----------------------------------------------------------------------------------------
def test_info_has_what_ha_reads(engine):
    info = run(ha_info(engine))
    asr = info.asr[0]
    assert asr.installed and asr.models[0].installed
    assert asr.models[0].languages == ["en"]          # tiny.en: English only
    tts = next(t for t in info.tts if t.installed)    # HA uses the first installed program
    assert tts.supports_synthesize_streaming
    kaytoo = next(v for v in tts.voices if v.name == "Kaytoo")
    assert kaytoo.installed and kaytoo.languages == ["en"]
    assert kaytoo.description == "Kaytoo"             # HA labels the voice with this
    for program in (asr, tts):
        assert program.attribution.url.startswith("https://") and "invalid" not in program.attribution.url


def test_info_answers_at_once_when_gtts_cannot_resolve(tmp_path, monkeypatch):
    """gTTS first, behind a proxy that never answers: describe must not wait for its probe."""
    monkeypatch.setenv("HTTPS_PROXY", "http://10.255.255.1:9")  # a blackhole address
    proc, port = start_engine(tmp_path / "home", monkeypatch, tiers=["gtts", "piper"])
    try:
        info = run(ha_info(port))
        assert info.tts[0].installed  # Piper serves; the online tier is not probed for this
    finally:
        proc.terminate()
        proc.wait(30)


def test_multilingual_model_advertises_its_languages(tmp_path, monkeypatch):
    from app.engines.models import ModelStore

    proc, port = start_engine(tmp_path / "home", monkeypatch, model="base")
    try:
        info = run(ha_info(port))
        model = info.asr[0].models[0]
        assert model.name == "base"
        assert {"en", "de", "fr", "es"} <= set(model.languages)
        from app import paths as paths_mod

        assert model.installed == (ModelStore(paths_mod.resolve().models).path_for("base") is not None)
    finally:
        proc.terminate()
        proc.wait(30)


# -- speech to text ------------------------------------------------------------------------------
def test_stt_from_realtime_20ms_chunks(engine, speak):
    question = clip.load(speak("What time is it?"), clip.STT_RATE)
    text = run(ha_stt(engine, question.samples))
    assert "time" in words(text)


# -- text to speech ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def oneshot(engine):
    others, pcm, rate = run(ha_tts_oneshot(engine, TEXT))
    assert None not in others and rate
    return pcm, rate


@pytest.mark.parametrize("size", ["1", "4", "word"])
def test_streaming_in_llm_sized_chunks_sounds_like_the_one_shot(engine, oneshot, size):
    if size == "word":
        pieces = re.findall(r"\s*\S+", TEXT)
    else:
        n = int(size)
        pieces = [TEXT[i:i + n] for i in range(0, len(TEXT), n)]
    pcm, rate = run(ha_tts_stream(engine, pieces))
    one_pcm, one_rate = oneshot
    ratio = seconds(pcm, rate) / seconds(one_pcm, one_rate)
    assert 0.8 < ratio < 1.25, f"streamed {seconds(pcm, rate):.1f} s vs one-shot {seconds(one_pcm, one_rate):.1f} s"

    # Whisper reads the streamed speech back about as well as the one-shot's.
    def heard(pcm: bytes, rate: int) -> str:
        samples = clip.resample(clip.Clip(from_pcm16(pcm), rate), clip.STT_RATE).samples
        return run(ha_stt_fast(engine, samples))

    streamed, reference = recall(heard(pcm, rate), TEXT), recall(heard(one_pcm, one_rate), TEXT)
    assert streamed >= 0.6 and streamed >= reference - 0.2, (streamed, reference)


async def ha_stt_fast(port: int, samples16k: np.ndarray) -> str:
    """The STT call without real-time pacing (for reading synthesized speech back)."""
    fmt = dict(rate=16000, width=2, channels=1)
    pcm = to_pcm16(samples16k)
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(**fmt).event())
        for i in range(0, len(pcm), 32000):
            await client.write_event(AudioChunk(audio=pcm[i:i + 32000], **fmt).event())
        await client.write_event(AudioStop().event())
        while True:
            event = await asyncio.wait_for(client.read_event(), 300)
            assert event is not None
            if Transcript.is_type(event.type):
                return Transcript.from_event(event).text


@pytest.mark.parametrize("text, says", [("", "empty"), ("   \n ", "empty"),
                                        ("*** ### ---", "no words"), ("word " * 1200, "too long")])
def test_oneshot_that_cannot_be_spoken_ends_the_request(engine, text, says):
    """HA's one-shot path ignores `error` and waits for audio-stop or a closed connection."""
    others, pcm, _ = run(ha_tts_oneshot(engine, text))
    assert pcm == b""
    errors = [e for e in others if e is not None and Error.is_type(e.type)]
    assert len(errors) == 1 and says in Error.from_event(errors[0]).text
    assert Error.from_event(errors[0]).code == "invalid_input"
    assert others[-1] is None  # the connection was closed: HA stops waiting


def test_a_model_that_is_not_downloaded_is_not_installed(tmp_path, monkeypatch):
    from app import paths as paths_mod
    from app.engines.models import ModelStore

    monkeypatch.setenv("KAYTOO_HOME", str(tmp_path / "home"))
    if ModelStore(paths_mod.resolve().models).path_for("small") is not None:
        pytest.skip("the small model is installed here")
    proc, port = start_engine(tmp_path / "home", monkeypatch, model="small")
    try:
        info = run(ha_info(port))
        assert info.asr[0].installed is False and info.asr[0].models[0].installed is False
    finally:
        proc.terminate()
        proc.wait(30)
