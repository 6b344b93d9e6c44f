"""Widgets on their own (offscreen): they show what they are told and forward what the user does."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLineEdit

from app import paths as paths_mod
from app.runtime import asset_dir
from app.settings import Settings
from app.ui.conversation import ConversationView, fallback_text, timings_text
from app.ui.level_meter import LevelMeter
from app.ui.main_window import MainWindow
from app.ui.ptt_button import PttButton
from app.ui.status_bar import StatusBar
from app.ui.voice_panel import VoicePanel
from app.ui.waveform_view import WaveformView, peaks
from app.voices.library import VoiceLibrary

TURN = {"heard": "what time is it", "reply": "It is ten past nine. You are welcome.",
        "tier": "piper", "cut": False, "underruns": 0,
        "fallbacks": [{"tier": "xtts", "reason": "the XTTS licence has not been accepted"}],
        "timings": {"stt_s": 0.41, "first_audio_s": 0.82, "first_sound_s": 0.9, "total_s": 1.2}}


@pytest.fixture
def window(qtbot):
    paths = paths_mod.resolve().ensure()
    panel = VoicePanel(VoiceLibrary(paths.voices, asset_dir() / "voices"))
    w = MainWindow(panel, Settings())
    qtbot.addWidget(w)
    w.show()
    return w


def key(widget, kind, code=Qt.Key.Key_Space, auto=False):
    QApplication.sendEvent(widget, QKeyEvent(kind, code, Qt.KeyboardModifier.NoModifier, "", auto))


def test_ptt_button_forwards_press_and_release_and_shows_state(qtbot):
    b = PttButton()
    qtbot.addWidget(b)
    with qtbot.waitSignal(b.pressed):
        qtbot.mousePress(b, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(b.released):
        qtbot.mouseRelease(b, Qt.MouseButton.LeftButton)
    for state, caption in (("listening", "Listening…"), ("speaking", "Speaking…"), ("idle", "Hold to talk")):
        b.set_state(state)
        assert b.caption == caption and b.text() == caption
    assert b.focusPolicy() == Qt.FocusPolicy.NoFocus
    assert not b.grab().isNull()


def test_held_space_presses_once_and_releases_once(window, qtbot):
    pressed, released = [], []
    window.talk_pressed.connect(lambda: pressed.append(1))
    window.talk_released.connect(lambda: released.append(1))
    key(window, QEvent.Type.KeyPress)
    for _ in range(5):  # a held key repeats: these are not new presses
        key(window, QEvent.Type.KeyPress, auto=True)
        key(window, QEvent.Type.KeyRelease, auto=True)
    assert window.talk.isDown()
    key(window, QEvent.Type.KeyRelease)
    assert (len(pressed), len(released)) == (1, 1)
    assert not window.talk.isDown()


def test_space_typed_into_a_field_is_not_push_to_talk(window, qtbot):
    pressed = []
    window.talk_pressed.connect(lambda: pressed.append(1))
    field = QLineEdit(window.centralWidget())
    field.show()
    field.setFocus()
    assert QApplication.focusWidget() is field
    qtbot.keyClick(field, Qt.Key.Key_Space)
    assert pressed == []
    assert field.text() == " "


def test_the_push_to_talk_key_is_configurable(window):
    s = Settings()
    s.ui.ptt_key = "F9"
    window.show_settings(s)
    pressed = []
    window.talk_pressed.connect(lambda: pressed.append(1))
    key(window, QEvent.Type.KeyPress)                       # Space no longer talks
    key(window, QEvent.Type.KeyPress, Qt.Key.Key_F9)
    key(window, QEvent.Type.KeyRelease, Qt.Key.Key_F9)
    assert pressed == [1]
    assert "F9" in window.talk.toolTip()


def test_level_meter_clamps_and_clears(qtbot):
    m = LevelMeter()
    qtbot.addWidget(m)
    m.set_level(-30)
    assert m.fraction == pytest.approx(0.5)
    m.set_level(+6)
    assert m.level_db == 0 and m.peak_db == 0
    m.set_level(-200)
    assert m.level_db == -60 and m.peak_db == 0   # the peak marker falls slowly
    m.clear()
    assert m.fraction == 0 and m.peak_db == -60
    assert not m.grab().isNull()


def test_window_meter_follows_the_level_only_while_listening(window):
    window.show_state("listening")
    window.show_level(-12)
    assert window.meter.level_db == -12
    window.show_state("thinking")
    assert window.meter.level_db == -60
    window.show_level(-12)
    assert window.meter.level_db == -60


def test_conversation_shows_turn_timings_tier_and_fallbacks_in_plain_words(qtbot):
    view = ConversationView()
    qtbot.addWidget(view)
    view.begin_turn("what time is it")
    view.add_sentence("It is ten past nine.")
    view.add_sentence("You are welcome.")
    view.finish_turn(TURN)
    card = view.current
    assert "what time is it" in card.heard.text()
    assert "It is ten past nine. You are welcome." in card.reply.text()
    meta = card.meta.text()
    assert "heard in 0.41 s" in meta and "first sound 0.90 s" in meta and "total 1.20 s" in meta
    assert "spoken by the offline voice (Piper)" in meta
    assert card.notes.text() == ("The cloned voice (XTTS) was skipped: the XTTS licence has not "
                                 "been accepted.")
    assert "cut off" not in card.reply.text()


def test_an_interrupted_answer_is_shown_cut(qtbot):
    view = ConversationView()
    qtbot.addWidget(view)
    view.begin_turn("tell me the odds")
    view.add_sentence("The odds are three thousand seven hundred twenty to one.")
    view.finish_turn({**TURN, "cut": True, "played_fraction": 0.3, "fallbacks": []})
    text = view.current.reply.text()
    assert "cut off" in text and "line-through" in text
    said = text.split("KAYTOO")[1]
    assert said.index("The odds") < said.index("line-through")   # the start was heard
    assert view.current.notes.isHidden()


def test_a_failed_turn_says_why_and_nothing_heard_is_shown(qtbot):
    view = ConversationView()
    qtbot.addWidget(view)
    view.begin_turn("")
    view.fail_turn("The speech engine stopped during that turn; it is restarting.")
    assert "nothing was heard" in view.current.heard.text()
    assert "restarting" in view.current.notes.text()


def test_plain_word_helpers():
    assert fallback_text([]) == ""
    assert fallback_text([{"tier": "gtts", "reason": "no internet connection."}]) == \
        "The online voice (Google) was skipped: no internet connection."
    assert "2 stutters" in timings_text({**TURN, "underruns": 2})


def test_status_bar_shows_engine_network_voice(qtbot):
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.set_engine("restarting", "the engine stopped unexpectedly (exit code -9)")
    assert "restarting" in bar.engine.text()
    assert "exit code -9" in bar.note.text()
    bar.set_online(False)
    assert bar.network.text() == "offline"
    bar.set_online(True)
    assert bar.network.text() == "online"
    bar.set_voice("Narrator")
    assert bar.voice.text() == "voice: Narrator"


def test_waveform_peaks_and_drawing(qtbot):
    t = np.arange(24000) / 24000
    wave = (0.5 * np.sin(2 * np.pi * 5 * t)).astype(np.float32)
    p = peaks(wave, 100)
    assert p.shape == (100, 2)
    assert p[:, 1].max() == pytest.approx(0.5, abs=1e-3) and p[:, 0].min() == pytest.approx(-0.5, abs=1e-3)
    assert peaks(np.zeros(0), 10).shape == (0, 2)
    view = WaveformView()
    qtbot.addWidget(view)
    view.resize(300, 60)
    view.set_samples(wave, 24000)
    assert view.seconds == pytest.approx(1.0)
    image = view.grab().toImage()
    assert image.pixelColor(150, 30) != image.pixelColor(150, 2)  # something was drawn mid-height


def test_window_shows_controller_reports(window):
    window.show_engine("ready", "unix://x")
    window.show_voice("Kaytoo")
    window.show_heard("what time is it")
    window.show_reply_sentence("It is ten past nine.")
    window.show_turn(TURN)
    window.show_message("Hello.")
    assert "engine ready" in window.status.engine.text()
    assert window.status.voice.text() == "voice: Kaytoo"
    assert len(window.conversation.cards) == 1 and window.conversation.current.done
    assert window.status.note.text() == "Hello."
    window.open_panel("voices")
    assert window.voice_dock.isVisible()


def test_online_probe_is_a_real_connection_attempt():
    import socket

    from app.net import is_online

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(1)
        port = listening.getsockname()[1]
        assert is_online(timeout=2, target=("127.0.0.1", port)) is True
    assert is_online(timeout=2, target=("127.0.0.1", port)) is False    # closed now: refused
    assert is_online(timeout=2, target=("name.that.does.not.resolve.invalid", 443)) is False


def test_the_video_panel_is_a_dock_the_assistant_can_open(qtbot):
    from app.ui.video_panel import VideoPanel

    paths = paths_mod.resolve().ensure()
    w = MainWindow(VoicePanel(VoiceLibrary(paths.voices, asset_dir() / "voices")), Settings(),
                   video_panel=VideoPanel)
    qtbot.addWidget(w)
    w.show()
    assert w.video_dock is None              # made on first use
    w.open_panel("video")
    assert w.video_dock.isVisible() and not w.video_dock.visibleRegion().isEmpty()
    w.open_panel("voices")
    assert not w.voice_dock.visibleRegion().isEmpty()
