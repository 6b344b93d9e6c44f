"""The smaller things a new user meets: friendly device names, the playing state of "Hear
Kaytoo", the window's size, place and dock tab kept, the remote-engine hint not cut off, readable
line lengths on a wide screen."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from app import paths as paths_mod
from app.settings import Settings
from app.settings.merge import with_changes
from app.ui.conversation import ConversationView
from app.ui.first_run import FirstRunWizard
from app.ui.settings_dialog import SettingsDialog


def test_device_lists_show_friendly_names(qtbot):
    d = SettingsDialog(Settings(), ["pulse", "default", "vmic"], ["pulse", "HDMI 0"])
    qtbot.addWidget(d)
    labels = [d.input.itemText(i) for i in range(d.input.count())]
    assert labels == ["System default", "PulseAudio sound server (pulse)",
                      "ALSA default device (default)", "vmic"]
    assert [d.input.itemData(i) for i in range(d.input.count())] == [None, "pulse", "default", "vmic"]


def test_hear_kaytoo_shows_that_it_plays_and_stops(qtbot):
    w = FirstRunWizard(Settings(), ["pulse"], ["pulse"], store=None)
    qtbot.addWidget(w)
    asked, stopped = [], []
    w.preview_voice.connect(asked.append)
    w.stop_preview.connect(lambda: stopped.append(1))
    w.voice.clip_seconds = 0.05
    w.voice.preview.click()
    assert asked == ["Kaytoo"] and "playing" in w.voice.preview.text()
    qtbot.waitUntil(lambda: w.voice.preview.text() == "▶ Hear Kaytoo", timeout=5000)  # played out
    w.voice.clip_seconds = 60
    w.voice.preview.click()
    w.voice.preview.click()                      # stop
    assert stopped == [1] and w.voice.preview.text() == "▶ Hear Kaytoo"


def test_remote_engine_hint_is_not_cut_off(qtbot):
    d = SettingsDialog(Settings(), [], [])
    qtbot.addWidget(d)
    d.show()
    hint = d.remote.placeholderText()
    assert d.remote.width() >= d.remote.fontMetrics().horizontalAdvance(hint) + 16


def test_window_size_place_and_dock_tab_are_kept(qtbot):
    from app.ui.app import assemble, voice_library

    paths = paths_mod.resolve().ensure()
    ui = assemble(paths, Settings(), voice_library(paths), probe_online=False)
    w = ui.window
    qtbot.addWidget(w)
    w.show()
    w.resize(700, 520)          # within the offscreen screen (800×600): Qt keeps windows on it
    w.move(40, 30)
    w.open_panel("video")
    assert w.front_dock() == "video"
    size = (w.width(), w.height())   # (at least the window's minimum width)
    assert size[1] == 520
    deltas = []
    w.settings_applied.connect(deltas.append)
    w.close()
    assert deltas and deltas[-1]["ui"]["dock_tab"] == "video"
    if w.video_dock is not None:
        w.video_dock.widget().shutdown()
    saved = with_changes(Settings(), deltas[-1])

    again = assemble(paths, saved, voice_library(paths), probe_online=False)
    w2 = again.window
    qtbot.addWidget(w2)
    w2.show()
    assert (w2.width(), w2.height()) == size
    assert w2.front_dock() == "video"
    w2.video_dock.widget().shutdown()


def test_lines_stay_readable_on_a_wide_screen(qtbot):
    view = ConversationView()
    qtbot.addWidget(view)
    view.resize(1900, 900)
    view.show()
    view.begin_turn("tell me a story")
    view.add_sentence("word " * 200)
    card = view.cards[-1]
    def chars() -> float:
        return card.reply.width() / card.reply.fontMetrics().averageCharWidth()
    qtbot.waitUntil(lambda: 0 < chars() < 100)       # not ~300 across the whole screen
    view.resize(500, 600)
    qtbot.waitUntil(lambda: card.width() > 400)   # a narrow window still uses its width
