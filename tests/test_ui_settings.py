"""The settings dialog edits every section of the Settings object and hands back a valid one."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialogButtonBox

from app import paths as paths_mod
from app.settings import Settings, load, save
from app.ui.settings_dialog import SettingsDialog

INPUTS, OUTPUTS = ["pulse", "USB Headset"], ["pulse", "HDMI"]


def make(qtbot, settings=None):
    d = SettingsDialog(settings or Settings(), INPUTS, OUTPUTS,
                       [("tiny.en", True), ("base", True), ("small", False)])
    qtbot.addWidget(d)
    got = []
    d.applied.connect(got.append)
    return d, got


def test_untouched_dialog_gives_back_the_same_settings(qtbot):
    s = Settings()
    s.tts.deadlines["piper"] = 1.5
    d, got = make(qtbot, s)
    assert d.result_settings() == s


def test_every_section_round_trips_through_the_dialog_and_the_file(qtbot):
    d, got = make(qtbot)
    d.input.setCurrentIndex(d.input.findData("USB Headset"))
    d.output.setCurrentIndex(d.output.findData("HDMI"))
    d.rate.setValue(44100)
    # Untick gTTS and move Piper to the top.
    for i in range(d.tiers.count()):
        if d.tiers.item(i).data(Qt.ItemDataRole.UserRole) == "gtts":
            d.tiers.item(i).setCheckState(Qt.CheckState.Unchecked)
    d.tiers.setCurrentRow(1)
    d._move(-1)
    d.deadlines["xtts"].setValue(6.5)
    d.speed.setValue(1.25)
    d.volume.setValue(0.8)
    d.droid.setChecked(True)
    d.consent.setChecked(True)
    d.stt_model.setCurrentIndex(d.stt_model.findData("base"))
    d.language.setCurrentIndex(d.language.findData("de"))
    d.vad.setChecked(False)
    d.remote.setText("tcp://gpu-box.local:10300")
    d.theme.setCurrentIndex(d.theme.findData("dark"))
    d.key.setKeySequence(QKeySequence("F9"))
    d.global_key.setKeySequence(QKeySequence("F10"))
    d.llm_url.setText(" http://127.0.0.1:11434/v1 ")
    d.llm_model.setText("llama3.2:1b")
    d.llm_timeout.setValue(4.5)
    d.button_box.button(QDialogButtonBox.StandardButton.Ok).click()

    assert len(got) == 1
    s = got[0]
    assert (s.audio.input_device, s.audio.output_device, s.audio.output_rate) == ("USB Headset", "HDMI", 44100)
    assert s.tts.tiers == ["piper", "xtts", "pyttsx3"]
    assert s.tts.deadlines["xtts"] == 6.5
    assert (s.tts.speed, s.tts.volume, s.tts.droid_effect, s.tts.xtts_consent) == (1.25, 0.8, True, True)
    assert (s.stt.model, s.stt.language, s.stt.vad) == ("base", "de", False)
    assert s.engine.remote_uri == "tcp://gpu-box.local:10300"
    assert (s.ui.theme, s.ui.ptt_key, s.ui.global_ptt_key) == ("dark", "F9", "F10")
    assert (s.assistant.llm_url, s.assistant.llm_model, s.assistant.llm_timeout_s) == \
        ("http://127.0.0.1:11434/v1", "llama3.2:1b", 4.5)

    path = paths_mod.resolve().ensure().settings_file
    save(path, s)
    loaded, warning = load(path)
    assert warning is None and loaded == s

    again, _ = make(qtbot, loaded)
    assert again.result_settings() == s


def test_default_devices_and_a_missing_device_are_kept(qtbot):
    s = Settings()
    s.audio.input_device = "Old Headset"
    d, _ = make(qtbot, s)
    assert d.input.currentText() == "Old Headset (not connected)"
    assert d.output.currentText() == "System default"
    result = d.result_settings()
    assert result.audio.input_device == "Old Headset" and result.audio.output_device is None
    d.set_devices(INPUTS + ["Old Headset"], OUTPUTS)   # plugged back in, lists refreshed
    assert d.input.currentText() == "Old Headset"


def test_invalid_choice_is_explained_not_applied(qtbot):
    d, got = make(qtbot)
    for i in range(d.tiers.count()):
        d.tiers.item(i).setCheckState(Qt.CheckState.Unchecked)
    assert not d.apply()
    assert got == [] and not d.error.isHidden()
    assert d.error.text() == "Tick at least one voice to speak with."
