"""The settings dialog: edits a copy of the Settings object and hands back a validated new one.

It does not apply anything: ``applied`` carries the new Settings to the controller (which reopens
devices, restarts the engine only when an engine setting changed) and the window (theme, key).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFormLayout, QHBoxLayout, QKeySequenceEdit, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QPushButton, QSpinBox, QTabWidget,
                               QVBoxLayout, QWidget)

from app.settings.model import TIERS, Settings
from app.ui.conversation import tier_name

LANGUAGES = [("Auto-detect", None), ("English", "en"), ("German", "de"), ("French", "fr"),
             ("Spanish", "es"), ("Italian", "it"), ("Portuguese", "pt"), ("Dutch", "nl"),
             ("Polish", "pl"), ("Japanese", "ja"), ("Chinese", "zh")]
DEFAULT_DEVICE = "System default"
# PortAudio's names for the sound servers and ALSA's virtual devices, as a person would say them
FRIENDLY_DEVICES = {"pulse": "PulseAudio sound server", "pipewire": "PipeWire sound server",
                    "default": "ALSA default device", "sysdefault": "ALSA system default device",
                    "jack": "JACK sound server", "dmix": "ALSA software mixer"}


def device_label(name: str) -> str:
    """What a device list shows for a PortAudio device name (the name itself is kept as data)."""
    friendly = FRIENDLY_DEVICES.get(name.strip().lower())
    return f"{friendly} ({name})" if friendly else name


def fill_devices(box: QComboBox, names: list[str], chosen: str | None) -> None:
    """A device list: the system default first, friendly labels, and a chosen device that is not
    connected now kept as such."""
    box.clear()
    box.addItem(DEFAULT_DEVICE, None)
    for n in names:
        box.addItem(device_label(n), n)
    if chosen and chosen not in names:
        box.addItem(f"{device_label(chosen)} (not connected)", chosen)
    box.setCurrentIndex(max(0, box.findData(chosen)))


class SettingsDialog(QDialog):
    applied = Signal(object)          # the new Settings
    rescan_requested = Signal()       # the user wants the device lists refreshed

    def __init__(self, settings: Settings, inputs: list[str], outputs: list[str],
                 stt_models: list[tuple[str, bool]] | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Kaytoo settings")
        self.setMinimumWidth(600)
        self.original = settings.model_copy(deep=True)
        s = self.original
        self.error = QLabel()
        self.error.setStyleSheet("color:#e5534b")
        self.error.setWordWrap(True)
        self.error.hide()

        tabs = QTabWidget()
        tabs.setAccessibleName("Settings sections")
        # Audio
        audio = QWidget()
        form = QFormLayout(audio)
        self.input = QComboBox()
        self.output = QComboBox()
        self.rate = QSpinBox()
        self.rate.setRange(8000, 192000)
        self.rate.setSingleStep(1000)
        self.rate.setSuffix(" Hz")
        self.rate.setValue(s.audio.output_rate)
        rescan = QPushButton("Refresh device lists")
        rescan.clicked.connect(self.rescan_requested)
        form.addRow("Microphone:", self.input)
        form.addRow("Speaker:", self.output)
        form.addRow("Output rate:", self.rate)
        form.addRow("", rescan)
        self.set_devices(inputs, outputs)
        tabs.addTab(audio, "Audio")

        # Voice output (TTS chain)
        speech = QWidget()
        v = QVBoxLayout(speech)
        v.addWidget(QLabel("Voices to try, in order (unticked ones are never used):"))
        row = QHBoxLayout()
        self.tiers = QListWidget()
        self.tiers.setAccessibleName("Voices to try, in order")
        self.tiers.setMaximumHeight(110)
        enabled = list(s.tts.tiers)
        for name in enabled + [t for t in TIERS if t not in enabled]:
            item = QListWidgetItem(tier_name(name))
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in enabled else Qt.CheckState.Unchecked)
            self.tiers.addItem(item)
        row.addWidget(self.tiers, 1)
        col = QVBoxLayout()
        up, down = QPushButton("Up"), QPushButton("Down")
        up.clicked.connect(lambda: self._move(-1))
        down.clicked.connect(lambda: self._move(+1))
        col.addWidget(up)
        col.addWidget(down)
        col.addStretch(1)
        row.addLayout(col)
        v.addLayout(row)
        form = QFormLayout()
        self.deadlines: dict[str, QDoubleSpinBox] = {}
        for name in TIERS:
            box = QDoubleSpinBox()
            box.setRange(0.2, 60.0)
            box.setSingleStep(0.5)
            box.setSuffix(" s")
            box.setValue(float(s.tts.deadlines.get(name, 3.0)))
            self.deadlines[name] = box
            form.addRow(f"Give up on the {tier_name(name)} after:", box)
        self.speed = QDoubleSpinBox()
        self.speed.setRange(*type(s.tts).limits("speed"))
        self.speed.setSingleStep(0.05)
        self.speed.setValue(s.tts.speed)
        self.volume = QDoubleSpinBox()
        self.volume.setRange(*type(s.tts).limits("volume"))
        self.volume.setSingleStep(0.1)
        self.volume.setValue(s.tts.volume)
        self.droid = QCheckBox("Droid voice effect (metallic, K-2SO-like)")
        self.droid.setChecked(s.tts.droid_effect)
        self.consent = QCheckBox("I accept the XTTS model licence (CPML: non-commercial use only)")
        self.consent.setChecked(s.tts.xtts_consent)
        form.addRow("Speaking speed:", self.speed)
        form.addRow("Volume:", self.volume)
        form.addRow(self.droid)
        form.addRow(self.consent)
        v.addLayout(form)
        tabs.addTab(speech, "Voice")

        # Listening (STT)
        stt = QWidget()
        form = QFormLayout(stt)
        self.stt_model = QComboBox()
        models = stt_models or [(s.stt.model, True)]
        for name, installed in models:
            self.stt_model.addItem(name if installed else f"{name} (not downloaded)", name)
        self._select_data(self.stt_model, s.stt.model, add=True)
        self.language = QComboBox()
        for label, code in LANGUAGES:
            self.language.addItem(f"{label}" + (f" ({code})" if code else ""), code)
        self._select_data(self.language, s.stt.language, add=True)
        self.vad = QCheckBox("Trim silence before transcribing (voice activity detection)")
        self.vad.setChecked(s.stt.vad)
        form.addRow("Speech model:", self.stt_model)
        form.addRow("Language:", self.language)
        form.addRow(self.vad)
        tabs.addTab(stt, "Listening")

        # Engine and appearance
        other = QWidget()
        form = QFormLayout(other)
        self.remote = QLineEdit(s.engine.remote_uri or "")
        self.remote.setPlaceholderText("tcp://host:port — empty: this computer")
        self.remote.setToolTip("Leave empty to run the speech engine on this computer; "
                               "tcp://host:port uses a remote Wyoming server.")
        self.remote.setMinimumWidth(self.remote.fontMetrics().horizontalAdvance(
            self.remote.placeholderText()) + 24)
        self.theme = QComboBox()
        for t in ("system", "dark", "light"):
            self.theme.addItem(t.capitalize(), t)
        self._select_data(self.theme, s.ui.theme)
        self.key = QKeySequenceEdit(QKeySequence(s.ui.ptt_key))
        self.key.setMaximumSequenceLength(1)
        form.addRow("Remote engine:", self.remote)
        form.addRow("Theme:", self.theme)
        form.addRow("Push-to-talk key:", self.key)
        self.global_key = QKeySequenceEdit(QKeySequence(s.ui.global_ptt_key or ""))
        self.global_key.setMaximumSequenceLength(1)
        self.global_key.setClearButtonEnabled(True)
        form.addRow("System-wide key (X11):", self.global_key)
        tabs.addTab(other, "General")

        # Assistant: the optional local LLM for free-form questions
        helper = QWidget()
        form = QFormLayout(helper)
        self.llm_url = QLineEdit(s.assistant.llm_url or "")
        self.llm_url.setPlaceholderText("empty: commands only (e.g. http://127.0.0.1:11434/v1 for Ollama)")
        self.llm_model = QLineEdit(s.assistant.llm_model)
        self.llm_timeout = QDoubleSpinBox()
        self.llm_timeout.setRange(0.5, 120.0)
        self.llm_timeout.setSuffix(" s")
        self.llm_timeout.setValue(s.assistant.llm_timeout_s)
        note = QLabel("Commands are always answered on this computer; only other questions go to "
                      "the language model.")
        note.setWordWrap(True)
        form.addRow("Language model URL:", self.llm_url)
        form.addRow("Model name:", self.llm_model)
        form.addRow("Give up waiting after:", self.llm_timeout)
        form.addRow(note)
        tabs.addTab(helper, "Assistant")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                   QDialogButtonBox.StandardButton.Apply |
                                   QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        self.button_box = buttons
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.tabs = tabs

    # -- building the result ----------------------------------------------------------------------
    def set_devices(self, inputs: list[str], outputs: list[str]) -> None:
        for box, names, current in ((self.input, inputs, self.original.audio.input_device),
                                    (self.output, outputs, self.original.audio.output_device)):
            chosen = box.currentData() if box.count() else current
            fill_devices(box, names, chosen)

    def result_settings(self) -> Settings:
        """The edited settings, validated (raises ValueError with the first problem)."""
        from pydantic import ValidationError

        data = self.original.model_dump()
        data["audio"].update(input_device=self.input.currentData(),
                             output_device=self.output.currentData(), output_rate=self.rate.value())
        tiers = [self.tiers.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.tiers.count())
                 if self.tiers.item(i).checkState() == Qt.CheckState.Checked]
        if not tiers:
            raise ValueError("Tick at least one voice to speak with.")
        data["tts"].update(tiers=tiers,
                           deadlines={n: round(b.value(), 2) for n, b in self.deadlines.items()},
                           speed=round(self.speed.value(), 2), volume=round(self.volume.value(), 2),
                           droid_effect=self.droid.isChecked(), xtts_consent=self.consent.isChecked())
        data["stt"].update(model=self.stt_model.currentData(), language=self.language.currentData(),
                           vad=self.vad.isChecked())
        data["engine"]["remote_uri"] = self.remote.text().strip() or None
        key = self.key.keySequence().toString()
        data["ui"].update(theme=self.theme.currentData(), ptt_key=key or "Space")
        data["ui"]["global_ptt_key"] = self.global_key.keySequence().toString() or None
        data["assistant"].update(llm_url=self.llm_url.text().strip() or None,
                                 llm_model=self.llm_model.text().strip(),
                                 llm_timeout_s=round(self.llm_timeout.value(), 1))
        try:
            return Settings.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            raise ValueError(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None

    def apply(self) -> bool:
        try:
            new = self.result_settings()
        except ValueError as e:
            self.error.setText(str(e))
            self.error.show()
            return False
        self.error.hide()
        self.original = new.model_copy(deep=True)
        self.applied.emit(new)
        return True

    def _ok(self) -> None:
        if self.apply():
            self.accept()

    # -- helpers -----------------------------------------------------------------------------------
    def _move(self, step: int) -> None:
        row = self.tiers.currentRow()
        to = row + step
        if row < 0 or not 0 <= to < self.tiers.count():
            return
        item = self.tiers.takeItem(row)
        self.tiers.insertItem(to, item)
        self.tiers.setCurrentRow(to)

    @staticmethod
    def _select_data(box: QComboBox, value, add: bool = False) -> None:
        i = box.findData(value)
        if i < 0 and add and value is not None:
            box.addItem(str(value), value)
            i = box.count() - 1
        box.setCurrentIndex(max(0, i))
