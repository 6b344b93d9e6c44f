"""The voice library dock end to end on a real library: add (file, recording), rename, delete and
undo, use, export and import, and the plain reasons shown for bad files."""
from __future__ import annotations

import zipfile

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
    p.refresh("kaytoo")
    qtbot.addWidget(p)
    p.messages = []
    p.message.connect(p.messages.append)
    return p


def run(qtbot, panel, job):
    """Wait for a job and for its outcome to reach the panel (signals are queued to this thread):
    every job ends in exactly one message."""
    before = len(panel.messages)
    assert job.done.wait(60)
    qtbot.waitUntil(lambda: len(panel.messages) > before, timeout=10000)
    assert panel.busy_jobs == 0 and panel.progress.isHidden()
    return job


def test_lists_the_bundled_voice_with_its_details(panel):
    assert "Kaytoo" in panel.names()
    item = panel.list.topLevelItem(0)
    assert item.text(0).startswith("★ Kaytoo")          # the active voice is marked
    assert item.text(1).endswith(" s") and item.text(2) == "en" and item.text(3)
    assert panel.waveform.seconds > 1                   # its reference is drawn
    assert not panel.buttons["delete"].isEnabled()      # the built-in voice cannot be deleted


def test_add_rename_delete_undo_and_use(panel, qtbot, speak):
    added = []
    panel.voice_added.connect(added.append)
    run(qtbot, panel, panel.add_file("Narrator", speak(LONG, "narrator-long")))
    assert "Narrator" in panel.names() and added == ["Narrator"]
    assert panel.selected() == "Narrator"
    assert panel.messages[-1].startswith("Added voice 'Narrator'")
    assert panel.waveform.seconds > 3 and panel.buttons["delete"].isEnabled()

    assert panel.rename("Narrator", "Storyteller")
    assert "Storyteller" in panel.names() and "Narrator" not in panel.names()
    assert not panel.rename("Storyteller", "Kaytoo")            # taken
    assert "already a voice named 'Kaytoo'" in panel.messages[-1]

    chosen = []
    panel.active_chosen.connect(chosen.append)
    panel.select("Storyteller")
    panel.use_selected()
    assert chosen == ["Storyteller"]

    panel.select("Storyteller")
    assert panel.delete_selected()
    assert "Storyteller" not in panel.names()
    assert panel.buttons["undo"].isEnabled() and "Storyteller" in panel.buttons["undo"].text()
    assert panel.undo()
    assert "Storyteller" in panel.names() and panel.selected() == "Storyteller"
    assert not panel.buttons["undo"].isEnabled()


def test_the_active_voice_is_not_deleted(panel, qtbot, speak):
    run(qtbot, panel, panel.add_file("Mine", speak(LONG, "narrator-long")))
    panel.refresh("Mine")
    panel.select("Mine")
    assert not panel.delete_selected()
    assert "voice in use" in panel.messages[-1]


def test_bad_files_show_the_reason(panel, qtbot, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio")
    run(qtbot, panel, panel.add_file("Broken", text))
    assert "notes.wav" in panel.messages[-1] and "not an audio file" in panel.messages[-1]

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 5, np.float32), 16000)
    run(qtbot, panel, panel.add_file("Quiet", silent))
    assert "silent" in panel.messages[-1]

    run(qtbot, panel, panel.add_file("bad/name", silent))
    assert "voice name" in panel.messages[-1]
    assert panel.names() == ["Kaytoo"]


def test_export_and_import_zip(panel, qtbot, speak, tmp_path):
    run(qtbot, panel, panel.add_file("Traveller", speak(LONG, "narrator-long")))
    out = tmp_path / "traveller.zip"
    run(qtbot, panel, panel.export("Traveller", out))
    assert zipfile.ZipFile(out).namelist() == ["voice.json", "reference.wav"]
    panel.select("Traveller")
    assert panel.delete_selected()
    run(qtbot, panel, panel.import_zip(out))
    assert "Traveller" in panel.names()
    assert panel.messages[-1].startswith("Imported voice 'Traveller'")


def test_bad_zips_are_refused_with_a_reason(panel, qtbot, tmp_path):
    not_zip = tmp_path / "voice.zip"
    not_zip.write_bytes(b"PK but not really")
    run(qtbot, panel, panel.import_zip(not_zip))
    assert "not a zip file" in panel.messages[-1]

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../outside.txt", "x")
    run(qtbot, panel, panel.import_zip(evil))
    assert "unsafe path" in panel.messages[-1]

    partial = tmp_path / "partial.zip"
    with zipfile.ZipFile(partial, "w") as z:
        z.writestr("voice.json", '{"name": "Half"}')
    run(qtbot, panel, panel.import_zip(partial))
    assert "missing reference.wav" in panel.messages[-1]
    assert panel.names() == ["Kaytoo"]


def test_add_a_recording(panel, qtbot, speak):
    samples, rate = sf.read(speak(LONG, "narrator-long"), dtype="float32")
    run(qtbot, panel, panel.add_recording("Recorded", samples, rate))
    assert "Recorded" in panel.names()
    assert panel.library.get("Recorded").duration_s > 3


def test_record_a_voice_from_the_microphone_with_a_countdown(panel, qtbot, pulse, speak):
    from app.audio.clip import load
    from app.audio.playback import Player
    from app.ui.record_dialog import RecordDialog

    dialog = RecordDialog(None, countdown_s=1, max_s=20.0)
    qtbot.addWidget(dialog)
    dialog.recorded.connect(lambda name, samples, rate: panel.add_recording(name, samples, rate))
    dialog.show()
    dialog.start_btn.click()
    assert dialog.big.text() == "Recording in 1…"
    assert dialog.recording.recorder.wait_flowing(10)
    qtbot.waitUntil(lambda: dialog.stop_btn.isEnabled(), timeout=5000)   # the countdown ran out
    voice = load(speak(LONG, "narrator-long"), 48000)
    mouth = Player()
    mouth.start()
    try:
        mouth.play_clip(voice.samples, voice.rate)      # the user reads the prompt aloud
        assert mouth.wait_done(30)
    finally:
        mouth.close()
    dialog.finish()
    assert "Recorded" in dialog.big.text()
    dialog.name.setText("Microphone")
    before = len(panel.messages)
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: len(panel.messages) > before, timeout=30000)
    assert "Microphone" in panel.names(), panel.messages[-1]
    assert panel.library.get("Microphone").duration_s > 3
