"""The desktop app, offscreen, with the real engine process behind it."""
from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app import paths as paths_mod
from app.settings import Settings
from app.ui.app import assemble
from tests.conftest import REPO
from tests.engine_proc import write_settings

QUESTION = REPO / "assets/demo/what-time-is-it.wav"
READY_MS = 120_000


def ready(state: str, _detail: str) -> bool:
    return state == "ready"


@pytest.fixture
def ui(qtbot, request):
    mic = getattr(request, "param", QUESTION)
    settings: Settings = write_settings(tiers=["piper", "pyttsx3"])
    built = assemble(paths_mod.resolve().ensure(), settings, mic)
    qtbot.addWidget(built.window)
    built.window.show()
    with qtbot.waitSignal(built.controller.engine_state, timeout=READY_MS, check_params_cb=ready):
        built.thread.start()
    yield built
    built.close()


def test_held_space_runs_a_turn_and_shows_timings(ui, qtbot):
    states = []
    ui.controller.state_changed.connect(states.append)
    with qtbot.waitSignal(ui.controller.turn_done, timeout=60_000) as done:
        QTest.keyPress(ui.window, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: "listening" in states, timeout=5_000)
        QTest.keyRelease(ui.window, Qt.Key.Key_Space)
    result = done.args[0]
    assert result["intent"] == "time" and result["tier"] == "piper"
    qtbot.waitUntil(lambda: states[-1] == "idle", timeout=10_000)
    assert states[:2] == ["listening", "thinking"] and "speaking" in states
    text = ui.window.conversation.toPlainText()
    assert "You: What time is it?" in text and "Kaytoo: It is" in text
    assert "first sound" in text and "offline voice (Piper)" in text
    assert ui.window.engine_label.text() == "engine ready"


def test_voice_panel_lists_and_switches(ui, qtbot, speak):
    panel = ui.window.voice_dock.widget()
    clip = speak("The quick brown fox jumps over the lazy dog. A droid never forgets a face.",
                 name="panelvoice")
    panel.add_file("Narrator", clip)
    names = [panel.list.item(i).data(256) for i in range(panel.list.count())]
    assert names == ["Kaytoo", "Narrator"]
    panel.add_file("Narrator", clip)  # duplicate: refused, said plainly
    assert "already" in ui.window.note.text()
    panel.list.setCurrentRow(1)
    with qtbot.waitSignal(ui.controller.voice_changed, timeout=5_000) as changed:
        panel.buttons["Use"].click()
    assert changed.args == ["Narrator"]
    qtbot.waitUntil(lambda: ui.window.voice_label.text() == "voice: Narrator", timeout=5_000)
    qtbot.waitUntil(lambda: panel.list.currentItem() is not None
                    and panel.list.currentItem().text().startswith("★ Narrator"), timeout=5_000)
    panel.buttons["Delete"].click()
    assert panel.list.count() == 1 and panel.buttons["Undo"].isEnabled(), ui.window.note.text()
    panel.buttons["Undo"].click()
    assert panel.list.count() == 2


def test_engine_crash_does_not_take_the_window_down(ui, qtbot):
    sup = ui.controller.supervisor
    with qtbot.waitSignal(ui.controller.engine_state, timeout=READY_MS, check_params_cb=ready):
        sup.proc.kill()
    assert ui.window.isVisible()
    with qtbot.waitSignal(ui.controller.turn_done, timeout=60_000) as done:
        ui.window.talk_pressed.emit()
        ui.window.talk_released.emit()
    assert done.args[0]["intent"] == "time"


def test_gui_smoke_command(tmp_path):
    shot = tmp_path / "shot.png"
    out = subprocess.run([sys.executable, "-m", "app", "gui", "--smoke", "--mic-file",
                          str(QUESTION), "--screenshot", str(shot)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "heard: 'What time is it?'" in out.stdout
    assert shot.stat().st_size > 10_000
