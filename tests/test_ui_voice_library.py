"""The voice library's problems are shown in the panel, a clip is checked before it is named, a
name already taken is offered another, and Undo works after the name was used again."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from app import paths as paths_mod
from app.runtime import asset_dir
from app.ui.voice_panel import VoicePanel
from app.voices.library import VoiceLibrary

LONG = ("The quick brown fox jumps over the lazy dog, and then it runs back across the field "
        "to do it all over again.")


@pytest.fixture
def panel(qtbot):
    paths = paths_mod.resolve().ensure()
    p = VoicePanel(VoiceLibrary(paths.voices, asset_dir() / "voices"))
    p.refresh("Kaytoo")
    qtbot.addWidget(p)
    p.show()
    p.messages = []
    p.message.connect(p.messages.append)
    p.asked = []
    p.answers = []

    def ask_name(title, label, suggestion):   # the user's answers, in order
        p.asked.append((label, suggestion))
        return p.answers.pop(0) if p.answers else None
    p.ask_name = ask_name
    return p


def settle(qtbot, panel, job) -> None:
    assert job.done.wait(60)
    qtbot.waitUntil(lambda: panel.busy_jobs == 0)


def test_a_bad_clip_is_refused_in_the_panel_before_any_name_is_asked(panel, qtbot, tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 5, np.float32), 16000)
    settle(qtbot, panel, panel.check_file(silent))
    qtbot.waitUntil(lambda: panel.error.isVisible())
    assert "silent" in panel.error.text() and panel.asked == []
    assert panel.names() == ["Kaytoo"]


def test_a_good_clip_is_named_after_the_check(panel, qtbot, speak):
    panel.answers = ["Narrator"]
    settle(qtbot, panel, panel.check_file(speak(LONG, "narrator-long")))
    qtbot.waitUntil(lambda: "Narrator" in panel.names(), timeout=60000)
    assert "usable" in panel.asked[0][0] and panel.asked[0][1] == "narrator-long-en-us-16000"[:40]
    assert panel.error.isHidden()


def test_a_taken_name_is_offered_another(panel, qtbot, speak, tmp_path):
    clip = speak(LONG, "narrator-long")
    settle(qtbot, panel, panel.add_file("Narrator", clip))
    qtbot.waitUntil(lambda: "Narrator" in panel.names())
    zip_path = tmp_path / "narrator.zip"
    settle(qtbot, panel, panel.export("Narrator", zip_path))

    panel.answers = ["Narrator Two"]
    settle(qtbot, panel, panel.import_zip(zip_path))         # the same name again
    qtbot.waitUntil(lambda: "Narrator Two" in panel.names(), timeout=60000)
    label, suggestion = panel.asked[-1]
    assert "already a voice named 'Narrator'" in label and suggestion == "Narrator 2"

    panel.answers = []                                        # cancelled: the reason stays shown
    settle(qtbot, panel, panel.add_file("narrator", clip))
    qtbot.waitUntil(lambda: panel.error.isVisible())
    assert "already a voice named 'Narrator'" in panel.error.text()


def test_undo_after_a_reimport_restores_under_another_name(panel, qtbot, speak, tmp_path):
    settle(qtbot, panel, panel.add_file("Narrator", speak(LONG, "narrator-long")))
    qtbot.waitUntil(lambda: "Narrator" in panel.names())
    zip_path = tmp_path / "narrator.zip"
    settle(qtbot, panel, panel.export("Narrator", zip_path))
    panel.select("Narrator")
    assert panel.delete_selected()
    settle(qtbot, panel, panel.import_zip(zip_path))          # the name is used again
    qtbot.waitUntil(lambda: "Narrator" in panel.names())
    assert panel.buttons["undo"].isEnabled()

    panel.answers = ["Narrator restored"]
    assert panel.undo()
    assert "already a voice named 'Narrator'" in panel.asked[-1][0]
    assert panel.asked[-1][1] == "Narrator restored"
    assert {"Narrator", "Narrator restored"} <= set(panel.names())
    assert not panel.buttons["undo"].isEnabled() and panel.error.isHidden()
    assert panel.messages[-1] == "Restored 'Narrator restored'."


def test_problems_stay_in_the_panel(panel, qtbot):
    assert not panel.rename("Kaytoo", "Other")                 # a built-in voice
    assert panel.error.isVisible() and "built-in" in panel.error.text()
