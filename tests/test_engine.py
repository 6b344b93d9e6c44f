"""Black-box: the real engine process speaking Wyoming over stdio."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from app.audio import clip
from app.engines.client import EngineClient
from app.engines.protocol import from_pcm16
from app.errors import UserError
from tests.engine_proc import engine_cmd, write_settings


def normalised(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum() or c == " ").strip()


@pytest.fixture
def engine():
    write_settings(tiers=["piper", "pyttsx3"])
    client = EngineClient.over_process(engine_cmd(), timeout=120)
    yield client
    client.close()


def test_describe_transcribe_and_synthesize(engine, speak):
    info = engine.info()
    assert info["asr"][0]["models"][0]["name"] == "tiny.en"
    tts = info["tts"][0]
    assert tts["supports_synthesize_streaming"] is True
    assert any(v["name"] == "Kaytoo" for v in tts["voices"])

    question = clip.load(speak("What time is it?"), clip.STT_RATE)
    tr = engine.transcribe(question.samples)
    assert normalised(tr.text) == "what time is it"
    assert tr.language == "en" and tr.stt_s > 0

    speech = engine.speak(["Affirmative. It is ten past three.", "Nothing else to report."])
    audio = np.concatenate(list(speech))
    assert speech.rate == 48000
    assert len(audio) / speech.rate > 1.5
    assert clip.rms_dbfs(audio) > -35  # speech, not silence
    assert speech.report.tier == "piper" and speech.report.first_audio_s > 0


def test_plain_wyoming_synthesize_event(tmp_path):
    """A generic Wyoming peer (e.g. Home Assistant) sends one `synthesize` and reads audio."""
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.event import read_event, write_event
    from wyoming.tts import Synthesize

    write_settings(tiers=["pyttsx3"])
    proc = subprocess.Popen(engine_cmd(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        write_event(Synthesize(text="Hello from the engine.").event(), proc.stdin)
        proc.stdin.flush()
        rate, pcm = None, b""
        while True:
            event = read_event(proc.stdout)
            assert event is not None, "engine closed the pipe"
            if AudioStart.is_type(event.type):
                rate = AudioStart.from_event(event).rate
            elif AudioChunk.is_type(event.type):
                pcm += AudioChunk.from_event(event).audio
            elif AudioStop.is_type(event.type):
                break
        assert rate == 48000 and len(pcm) > 48000  # > 0.5 s of 16-bit audio
        assert clip.rms_dbfs(from_pcm16(pcm)) > -35
    finally:
        proc.terminate()
        proc.wait(10)


def test_errors_come_back_as_error_events(engine):
    with pytest.raises(UserError, match="nothing to say"):
        list(engine.speak(["   "]))
    # The connection is still usable after an error.
    assert engine.info()["tts"]


def test_refuses_non_loopback_without_allow_remote():
    out = subprocess.run(engine_cmd("tcp://0.0.0.0:10399"), capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "only loopback" in out.stderr and "Traceback" not in out.stderr


def test_client_streams_text_and_the_engine_splits_it(engine):
    """Pieces from a generator go out as text, each ending a line; the engine's one splitter
    decides the sentences (a short one is joined to the next, as XTTS needs)."""
    def pieces():
        yield "Yes."
        yield "The weather today is sunny and warm."
        yield "Tomorrow it will rain in the afternoon."

    speech = engine.speak(pieces())
    audio = np.concatenate(list(speech))
    assert len(audio) / speech.rate > 2.0
    assert speech.report.sentences == ["Yes. The weather today is sunny and warm.",
                                       "Tomorrow it will rain in the afternoon."]
