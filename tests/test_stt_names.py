"""The assistant's name, spelled as it is when Whisper heard something near it where a name is
said (app/engines/stt/names.py), and left alone everywhere else. Text in, text out."""
from __future__ import annotations

import pytest

from app.engines.stt.names import fix_name


@pytest.mark.parametrize("heard, shown", [
    ("Kay too, set a timer for 30 seconds.", "Kaytoo, set a timer for 30 seconds."),
    ("Okay, do. Set a timer for 45 seconds.", "Kaytoo. Set a timer for 45 seconds."),
    ("Okay, do, set a timer for seven minutes.", "Kaytoo, set a timer for seven minutes."),
    ("Kaytooth, what time is it?", "Kaytoo, what time is it?"),
    ("Hey Kaydo, stop.", "Hey Kaytoo, stop."),
    ("Thanks a lot, Kay too.", "Thanks a lot, Kaytoo."),
    ("Cheers, Cato!", "Cheers, Kaytoo!"),
    ("Kaito", "Kaytoo"),
])
def test_a_name_said_to_the_assistant_is_spelled_as_its_name(heard, shown):
    assert fix_name(heard) == shown


@pytest.mark.parametrize("heard", [
    "Okay, stop.", "Okay, thanks.", "Okay.", "Take two.", "Hi, Kate.", "Go to.",
    "Okay do set a timer", "Can I do? Set a timer for seven minutes.",
    "Switch to the Kay too voice.",      # not said to the assistant: the grammar's voice matching
    "Set a timer for two minutes, Kato style.", "Hello Kaytoo.", "", "   ", "...",
])
def test_anything_else_is_left_as_heard(heard):
    assert fix_name(heard) == heard



def test_whisper_gives_every_english_hypothesis_with_the_name_spelled(tmp_path, speak):
    """Whatever tiny.en hears in the clip, the transcript is the unspelled one with fix_name
    applied to each hypothesis (the same decode twice: decoding is deterministic)."""
    from app.audio.clip import load
    from app.engines.models import ModelStore
    from app.engines.stt.whisper import RATE, WhisperStt

    folder = ModelStore(tmp_path / "models").path_for("tiny.en")
    audio = load(speak("Kaytoo, set a timer for two minutes."), rate=RATE).samples
    raw = WhisperStt(folder, nbest=5, spell_name=False).transcribe(audio)
    spelled = WhisperStt(folder, nbest=5).transcribe(audio)
    assert spelled.alternatives == list(dict.fromkeys(fix_name(t) for t in raw.alternatives))
    assert spelled.text == spelled.alternatives[0] and spelled.confidence == raw.confidence
