"""The OpenAI-style speech API of a real engine process, with the official `openai` client as
the peer (as Open WebUI or SillyTavern would call it)."""
from __future__ import annotations

import io
import socket
import subprocess
import urllib.error
import urllib.request

import openai
import pytest
import soundfile as sf

from app.audio import clip
from tests.engine_proc import engine_cmd, write_settings

KEY = "test-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(proc: subprocess.Popen, port: int) -> None:
    for _ in range(1200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answered (401 without a key)
        except OSError:
            try:
                proc.wait(0.1)  # doubles as the check that the engine did not die
                pytest.fail(f"the engine exited with {proc.returncode}")
            except subprocess.TimeoutExpired:
                pass
    pytest.fail("the HTTP API did not come up")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    key_file = home / "key.txt"
    key_file.write_text(KEY + "\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KAYTOO_HOME", str(home))
        write_settings(tiers=["piper", "pyttsx3"])
        port = free_port()
        proc = subprocess.Popen(engine_cmd(f"tcp://127.0.0.1:{free_port()}") +
                                ["--http", f"127.0.0.1:{port}", "--api-key-file", str(key_file)])
        wait_http(proc, port)
        yield openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0,
                            timeout=300)
        proc.terminate()
        proc.wait(30)


def speech(api, fmt: str, text: str = "Affirmative. The door is open, and I am not going through it.",
           **kw) -> bytes:
    with api.audio.speech.with_streaming_response.create(
            model="tts-1", voice="Kaytoo", input=text, response_format=fmt, **kw) as r:
        return b"".join(r.iter_bytes())


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac", "opus"])
def test_speech_in_every_container_format(api, fmt, tmp_path):
    data = speech(api, fmt)
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(data)
    audio = clip.load(path)  # soundfile or ffmpeg decode it: a real file of that format
    assert len(audio.samples) / audio.rate > 1.5
    assert clip.rms_dbfs(audio.samples) > -35


def test_speech_pcm_is_24khz_16bit_and_speed_shortens_it(api):
    normal = speech(api, "pcm")
    fast = speech(api, "pcm", speed=2.0)
    assert len(normal) % 2 == 0 and len(normal) / 2 / 24000 > 1.5
    assert len(fast) < 0.7 * len(normal)


def test_streamed_wav_is_readable(api):
    data = speech(api, "wav", "One. Two. Three. Four. Five. Six, and that is all.")
    samples, rate = sf.read(io.BytesIO(data[44:]), format="RAW", subtype="PCM_16", samplerate=24000,
                            channels=1)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(samples) / rate > 1.0


def test_transcription_formats(api, speak):
    wav = speak("What time is it?")
    with open(wav, "rb") as f:
        j = api.audio.transcriptions.create(model="whisper-1", file=f, language="en")
    assert "time" in j.text.lower()
    with open(wav, "rb") as f:
        text = api.audio.transcriptions.create(model="whisper-1", file=f, response_format="text")
    assert "time" in str(text).lower()
    with open(wav, "rb") as f:
        v = api.audio.transcriptions.create(model="whisper-1", file=f, response_format="verbose_json")
    assert v.language == "en" and v.duration > 0.5


def test_models_and_voices(api):
    ids = {m.id for m in api.models.list()}
    assert {"tts-1", "whisper-1"} <= ids
    voices = api.get("/audio/voices", cast_to=object)
    assert any(v["name"] == "Kaytoo" for v in voices["voices"])


def test_errors_are_openai_shaped(api, tmp_path):
    with pytest.raises(openai.NotFoundError) as e:
        api.audio.speech.create(model="tts-1", voice="Nobody-Here", input="Hello.")
    assert e.value.body["code"] == "voice_not_found"
    with pytest.raises(openai.NotFoundError):
        api.audio.speech.create(model="no-such-model", voice="Kaytoo", input="Hello.")
    with pytest.raises(openai.BadRequestError) as e:
        api.audio.speech.create(model="tts-1", voice="Kaytoo", input="   ")
    assert "empty" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:
        api.audio.speech.create(model="tts-1", voice="Kaytoo", input="word " * 1200)
    assert "too long" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        api.audio.speech.create(model="tts-1", voice="Kaytoo", input="Hi.", response_format="aac")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not audio")
    with pytest.raises(openai.BadRequestError):
        with open(not_audio, "rb") as f:
            api.audio.transcriptions.create(model="whisper-1", file=f)
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (25 * 1024 * 1024 + 1))
    with pytest.raises(openai.APIStatusError) as e:
        with open(big, "rb") as f:
            api.audio.transcriptions.create(model="whisper-1", file=f)
    assert e.value.status_code == 413


def test_key_is_required(api):
    bad = api.with_options(api_key="wrong")
    with pytest.raises(openai.AuthenticationError) as e:
        bad.models.list()
    assert e.value.body["code"] == "invalid_api_key"


@pytest.mark.parametrize("extra, says", [
    ([], "--allow-remote"),
    (["--allow-remote"], "--api-key-file"),
])
def test_non_loopback_needs_allow_remote_and_a_key(extra, says):
    write_settings(tiers=["pyttsx3"])
    out = subprocess.run(engine_cmd("tcp://127.0.0.1:10399") + ["--http", "0.0.0.0:18080", *extra],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "non-loopback" in out.stderr and says in out.stderr
