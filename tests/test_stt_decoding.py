"""Decoding options of the Whisper STT: n-best with a confidence, the decoder prompt, the length
bound. Structural checks only: nothing here asserts what the small model hears in one phrase."""
from __future__ import annotations

import numpy as np
import pytest

from app.audio.clip import load
from app.engines.models import ModelStore
from app.engines.protocol import Transcript
from app.engines.stt.prompt import COMMANDS, command_prompt
from app.engines.stt.whisper import RATE, WhisperStt


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return ModelStore(tmp_path_factory.mktemp("models")).path_for("tiny.en")


def clip(speak, text: str) -> np.ndarray:
    return load(speak(text), rate=RATE).samples


def test_nbest_gives_distinct_alternatives_best_first_with_a_confidence(model_dir, speak):
    stt = WhisperStt(model_dir, nbest=5)
    assert stt.beam_size >= 5            # n-best needs a beam at least as wide
    rng = np.random.default_rng(1)
    audio = clip(speak, "set a timer for twenty five minutes and remind me to call grandma rose")
    noisy = audio + rng.normal(0, 0.02, audio.shape).astype(np.float32)
    t = stt.transcribe(noisy)
    assert isinstance(t, Transcript)
    assert len(t.alternatives) >= 2 and len(set(t.alternatives)) == len(t.alternatives)
    assert t.alternatives[0] == t.text and t.text
    assert t.confidence is not None and 0.0 <= t.confidence <= 1.0
    assert t.to_dict()["alternatives"] == t.alternatives


def test_greedy_gives_one_alternative_and_a_confidence(model_dir, speak):
    t = WhisperStt(model_dir).transcribe(clip(speak, "what time is it"))
    assert t.alternatives == [t.text]
    assert t.confidence is not None and 0.0 <= t.confidence <= 1.0


def test_silence_has_no_confidence_and_one_empty_alternative(model_dir):
    t = WhisperStt(model_dir, nbest=3).transcribe(np.zeros(RATE, np.float32))
    assert t.text == "" and t.alternatives == [""] and t.confidence is None


def test_the_prompt_names_the_users_voices_and_reaches_the_decoder(model_dir, speak):
    prompt = command_prompt(["Grandma Rose", "  Pirate   Captain ", ""])
    assert "Grandma Rose" in prompt and "Pirate Captain" in prompt and prompt.startswith(COMMANDS)
    assert command_prompt([]) == COMMANDS
    assert prompt.count(",") < 40 and len(command_prompt([f"v{i}" for i in range(100)])) < 600

    stt = WhisperStt(model_dir)
    audio = clip(speak, "switch to the grandma rose voice")
    plain, prompted = stt.transcribe(audio), stt.transcribe(audio, prompt=prompt)
    # The prompt conditions the decoder: the same audio scores differently (what it hears is
    # for the bench to judge, not for a test).
    assert prompted.text and prompted.confidence != plain.confidence
    assert stt.decodes == 2


def test_a_long_clip_still_decodes_in_windows(model_dir, speak):
    audio = clip(speak, "what time is it")
    long = np.concatenate([audio, np.zeros(31 * RATE, np.float32), audio])
    t = WhisperStt(model_dir, nbest=2, vad=False).transcribe(long)   # no VAD: 33 s stay 33 s
    assert t.alternatives == [t.text] and t.text
    assert t.seconds_audio > 31


def test_core_prompt_holds_the_voice_library_names(speak):
    from app import paths as paths_mod
    from app.engines.core import STT_WINDOW_S, EngineCore
    from app.settings import Settings

    paths = paths_mod.resolve().ensure()
    core = EngineCore(paths, Settings(), backends=[])
    core.voices.add("Grandma Rose", speak("This is grandma rose. I read long stories aloud to the "
                                          "children who cannot sleep at night.",
                                          name="grandma-reference"))
    prompt = core.stt_prompt()
    assert "Grandma Rose" in prompt and "Kaytoo" in prompt
    assert core.stt().window_s == STT_WINDOW_S < 30      # the encoder window the bench chose


def test_a_shorter_encoder_window_still_covers_all_the_speech(model_dir, speak):
    """window_s shortens the encoder's input (whisper.cpp's audio_ctx) but never below the
    speech itself, and keeps the frame count even (the encoder's first conv has stride 2)."""
    short = WhisperStt(model_dir, nbest=2, window_s=15)
    assert WhisperStt._frames(300, 15) == 1500 and WhisperStt._frames(2101, 15) == 2102
    assert WhisperStt._frames(2999, 15) == 3000 and WhisperStt._frames(300, None) == 3000
    t = short.transcribe(clip(speak, "set a timer for twenty five minutes"))
    assert t.text and t.alternatives[0] == t.text and 0.0 <= t.confidence <= 1.0
    # Speech longer than the window: the window grows to hold it (a 20 s clip, no VAD trim).
    audio = clip(speak, "what time is it")
    long = np.concatenate([audio, np.zeros(18 * RATE, np.float32), audio])
    assert WhisperStt(model_dir, vad=False, window_s=15).transcribe(long).text


def test_an_unsure_guess_gets_more_looks_whose_guesses_follow_the_first(model_dir, speak):
    """Structure only: the first look's n best come first, in order, with its confidence; more
    looks (another encoder window, no prompt) only add; a sure guess is not looked at again."""
    rng = np.random.default_rng(3)
    audio = clip(speak, "switch to the pirate captain voice")
    audio = audio + rng.normal(0, 0.05, audio.shape).astype(np.float32)    # about 5 dB
    looks = ((None, True), (20.0, False))
    stts = [WhisperStt(model_dir, nbest=5, window_s=20, more_looks=more, look_again_below=below)
            for more, below in (((), 0.7), (looks, 1.01), (looks, 0.0))]
    first, all_looks, sure = (stt.transcribe(audio, prompt=COMMANDS) for stt in stts)
    assert [stt.looks for stt in stts] == [1, 3, 1]
    assert all_looks.alternatives[:len(first.alternatives)] == first.alternatives
    assert len(set(all_looks.alternatives)) == len(all_looks.alternatives) <= 15
    assert all_looks.text == first.text and all_looks.confidence == first.confidence
    assert sure.alternatives == first.alternatives
