"""The controller's turn state machine with the real engine process and the virtual sound card:
a held-key turn, barge-in, an engine crash, and settings applied live."""
from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from app.settings.merge import changes
from tests.ui_harness import build, wait_ready


def hold_key(window, kind) -> None:
    QApplication.sendEvent(window, QKeyEvent(kind, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier))


def turn(qtbot, ui, log, count_before: int = 0, timeout_ms: int = 60000) -> dict:
    hold_key(ui.window, QEvent.Type.KeyPress)
    qtbot.waitUntil(lambda: bool(log.states and log.states[-1] == "listening"), timeout=5000)
    hold_key(ui.window, QEvent.Type.KeyRelease)
    qtbot.waitUntil(lambda: bool(len(log.done) + len(log.failed) > count_before), timeout=timeout_ms)
    qtbot.waitUntil(lambda: bool(log.states[-1] == "idle"), timeout=10000)
    assert not log.failed, log.failed
    return log.done[-1]


@pytest.fixture
def question(speak):
    return speak("What time is it?", "what-time")


def test_held_key_turn_goes_through_every_state_and_reports_timings(qtbot, pulse, question):
    ui, log = build(qtbot, question)
    try:
        wait_ready(qtbot, log)
        result = turn(qtbot, ui, log)
        states = [s for s in log.states if s != "idle"]
        assert states[:3] == ["listening", "thinking", "speaking"]
        assert "time" in result["heard"].lower()
        assert result["intent"] == "time" and result["reply"].startswith("It is")
        assert result["tier"] in ("piper", "pyttsx3") and not result["cut"]
        tim = result["timings"]
        assert 0 < tim["stt_s"] < tim["first_audio_s"] <= tim["total_s"]
        assert tim["first_sound_s"] and tim["first_sound_s"] > 0   # played on the virtual speaker
        card = ui.window.conversation.current
        assert card.done and "It is" in card.reply.text() and "first sound" in card.meta.text()
        assert ui.window.talk.state == "idle"
    finally:
        ui.close()


def test_barge_in_cuts_the_answer_silences_it_and_listens(qtbot, pulse, speak):
    from app.audio.capture import Recorder

    ui, log = build(qtbot, speak("What time is it?", "what-time"))
    try:
        wait_ready(qtbot, log)
        hold_key(ui.window, QEvent.Type.KeyPress)
        hold_key(ui.window, QEvent.Type.KeyRelease)
        qtbot.waitUntil(lambda: bool("speaking" in log.states), timeout=60000)
        qtbot.waitUntil(lambda: bool(log.first_sound), timeout=10000)       # it is audible now

        hold_key(ui.window, QEvent.Type.KeyPress)                      # barge in
        qtbot.waitUntil(lambda: bool(log.done and log.states[-1] == "listening"), timeout=30000)
        cut = log.done[-1]
        assert cut["cut"] is True and cut["played_fraction"] < 1.0
        player = ui.controller.session.audio.player
        assert player.buffer.done and player.buffer.buffered_s == 0
        card = ui.window.conversation.current
        assert "cut off" in card.reply.text()

        # The virtual speaker is silent now: what comes back on the microphone is quiet.
        rec = Recorder(None)
        rec.start()
        assert rec.wait_flowing(10)
        quiet = threading.Event()
        while rec.seconds < 0.6 and not quiet.wait(0.05):   # as long as it takes under load
            pass
        heard = rec.stop()
        assert np.abs(heard[len(heard) // 2:]).max() < 0.01

        hold_key(ui.window, QEvent.Type.KeyRelease)                    # the next question is answered
        qtbot.waitUntil(lambda: bool(len(log.done) == 2), timeout=60000)
        qtbot.waitUntil(lambda: bool(log.states[-1] == "idle"), timeout=10000)
        assert log.done[-1]["cut"] is False and log.done[-1]["reply"]
    finally:
        ui.close()


def test_engine_crash_shows_restarting_and_the_next_turn_works(qtbot, question):
    ui, log = build(qtbot, question)
    try:
        wait_ready(qtbot, log)
        proc = ui.controller.session.link.engine.proc
        os.kill(proc.pid, signal.SIGKILL)
        qtbot.waitUntil(lambda: bool("restarting" in log.engine), timeout=20000)
        assert ui.window.isVisible()
        wait_ready(qtbot, log)
        result = turn(qtbot, ui, log)
        assert result["reply"]
    finally:
        ui.close()


def test_a_crash_during_a_turn_fails_that_turn_only(qtbot, question):
    ui, log = build(qtbot, question)
    try:
        wait_ready(qtbot, log)
        proc = ui.controller.session.link.engine.proc
        hold_key(ui.window, QEvent.Type.KeyPress)
        qtbot.waitUntil(lambda: bool(log.states[-1] == "listening"), timeout=5000)
        hold_key(ui.window, QEvent.Type.KeyRelease)
        qtbot.waitUntil(lambda: bool("thinking" in log.states), timeout=5000)
        os.kill(proc.pid, signal.SIGKILL)
        # The question is asked again once the engine is back, so the turn is still answered.
        qtbot.waitUntil(lambda: bool(log.failed or log.done), timeout=120000)
        qtbot.waitUntil(lambda: bool(log.states[-1] == "idle"), timeout=10000)
        assert "restarting" in log.engine
        assert not log.failed, log.failed
        assert log.done[-1]["reply"]
        assert ui.window.conversation.current.done
        wait_ready(qtbot, log)
        count = len(log.done)
        log.failed.clear()
        assert turn(qtbot, ui, log, count)["reply"]
    finally:
        ui.close()


def test_settings_apply_live_and_restart_the_engine_only_when_needed(qtbot, question):
    ui, log = build(qtbot, question)
    try:
        wait_ready(qtbot, log)
        starts = log.engine.count("starting")
        base = ui.controller.settings.model_copy(deep=True)
        s = base.model_copy(deep=True)
        s.ui.theme = "dark"
        s.ui.ptt_key = "F9"
        ui.window.settings_applied.emit(changes(base, s))
        qtbot.waitUntil(lambda: bool(log.settings), timeout=5000)
        assert ui.window.settings.ui.theme == "dark" and ui.window.ptt_key == Qt.Key.Key_F9.value
        assert QApplication.instance().palette().window().color().lightness() < 128
        assert log.engine.count("starting") == starts          # no engine restart for the look

        s2 = log.settings[-1].model_copy(deep=True)
        s2.tts.speed = 1.3
        ui.window.settings_applied.emit(changes(log.settings[-1], s2))
        qtbot.waitUntil(lambda: bool(log.engine.count("starting") == starts + 1), timeout=20000)
        wait_ready(qtbot, log)
        from app import paths as paths_mod
        from app.settings import load

        saved, _ = load(paths_mod.resolve().settings_file)
        assert saved.tts.speed == 1.3 and saved.ui.ptt_key == "F9"
    finally:
        ui.close()
        from app.ui.theme import apply_theme

        apply_theme(QApplication.instance(), "system")


def test_switching_voice_and_unknown_voice(qtbot, question):
    ui, log = build(qtbot, question)
    try:
        qtbot.waitUntil(lambda: bool(ui.window.status.voice.text() == "voice: Kaytoo"), timeout=10000)
        ui.window.voice_panel.active_chosen.emit("No Such Voice")
        qtbot.waitUntil(lambda: bool(any("No Such Voice" in m for m in log.messages)), timeout=5000)
        assert ui.controller.settings.voice.active == "Kaytoo"
    finally:
        ui.close()


def test_a_timer_set_by_voice_speaks_when_due(qtbot, pulse, speak):
    ui, log = build(qtbot, speak("Set a timer for three seconds.", "timer-3s"))
    try:
        wait_ready(qtbot, log)
        result = turn(qtbot, ui, log)
        assert result["intent"] == "timer_set", result
        view = ui.window.conversation
        # The timer may go off while its confirmation is still being spoken: it gets a card of
        # its own and waits for the turn to end before speaking; the turn keeps its card.
        qtbot.waitUntil(lambda: any("TIMER" in c.heard.text() for c in view.cards), timeout=30000)
        timer_card = next(c for c in view.cards if "TIMER" in c.heard.text())
        assert "timer is done" in timer_card.reply_text
        turn_card = next(c for c in view.cards if "TIMER" not in c.heard.text())
        assert turn_card.done and "three seconds" in turn_card.reply_text
        assert len(view.cards) == 2
        qtbot.waitUntil(lambda: bool(log.said), timeout=30000)         # and it was spoken
        assert log.said[0][0] == timer_card.reply_text and log.said[0][1]   # a busy machine may
        # hand it to the system voice: which voice spoke is the chain's business, not this test's
    finally:
        ui.close()


def test_voice_previews_play_the_reference_and_speak_a_sample(qtbot, pulse, question):
    from app.session.session import SAMPLE_SENTENCE

    ui, log = build(qtbot, question)
    try:
        wait_ready(qtbot, log)
        qtbot.waitUntil(lambda: bool(log.states and log.states[-1] == "idle"), timeout=10000)
        panel = ui.window.voice_panel
        panel.select("Kaytoo")
        panel.buttons["play_ref"].click()
        qtbot.waitUntil(lambda: bool(any("reference clip of 'Kaytoo'" in m for m in log.messages)),
                        timeout=10000)
        assert ui.controller.session.audio.player.wait_first_sample(10)     # it reached the speaker
        panel.buttons["play_sample"].click()
        qtbot.waitUntil(lambda: bool(log.said), timeout=60000)
        assert log.said[0][0] == SAMPLE_SENTENCE and log.said[0][1]
        # the worker thread reports "said", then the sample: a loaded machine may deliver the
        # second a moment later
        qtbot.waitUntil(lambda: any(m.startswith("Sample spoken by the") for m in log.messages),
                        timeout=10000)
    finally:
        ui.close()


class Progress(QObject):
    """The controller's voice-preparation reports, received on the GUI thread."""

    def __init__(self, controller):
        super().__init__()
        self.steps: list[tuple[str, float]] = []
        controller.voice_progress.connect(self.step)

    @Slot(str, float)
    def step(self, text: str, fraction: float) -> None:
        self.steps.append((text, fraction))


def test_a_new_voice_is_prepared_for_cloning_in_the_background(qtbot, tiny_dir, speak, question):
    """With XTTS installed and its licence accepted, adding a voice in the library computes its
    cloning latents on the thread pool, with progress, and caches them for its first reply."""
    import shutil

    from app import paths as paths_mod
    from app.settings import Settings

    paths = paths_mod.resolve().ensure()
    shutil.copytree(tiny_dir, paths.models / "xtts-v2")
    settings = Settings()
    settings.tts.xtts_consent = True
    ui, log = build(qtbot, question, settings)
    progress = Progress(ui.controller)
    try:
        wait_ready(qtbot, log)
        clip = speak("The quick brown fox jumps over the lazy dog, and then it runs back across "
                     "the field to do it all over again.", "narrator-long")
        job = ui.window.voice_panel.add_file("Narrator", clip)
        assert job.done.wait(60)
        qtbot.waitUntil(lambda: any("ready for cloning" in m or "in advance" in m for m in log.messages), timeout=180000)
        assert any("ready for cloning" in m for m in log.messages), log.messages
        assert any(0 < f < 1 and "Narrator" in t for t, f in progress.steps), progress.steps
        assert progress.steps[-1] == ("", 1.0)
        narrator = paths.voices / "narrator"
        assert len(list((narrator / "latents").glob("xtts2-*.pt"))) == 1, sorted(narrator.rglob("*"))
    finally:
        ui.close()
