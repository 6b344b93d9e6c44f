"""First run: devices (with a test tone and a mic check), the bundled voice, the optional XTTS
licence, and the XTTS download with a cancellable, resumable progress bar.

Sound checks are forwarded to the controller (it owns the devices); the download is a job.
``result_settings()`` is the settings to apply when the wizard is accepted.
"""
from __future__ import annotations

import threading
import urllib.parse

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QRadioButton, QVBoxLayout, QWizard, QWizardPage)

from app.errors import UserError
from app.net import https_target, unreachable
from app.settings.model import Settings
from app.ui.jobs import Job, Jobs
from app.ui.level_meter import LevelMeter
from app.ui.settings_dialog import fill_devices

XTTS = "xtts-v2"
LICENCE_TEXT = (
    "<p>Kaytoo can speak in a voice cloned from a short clip using <b>Coqui XTTS v2</b>. "
    "Its model weights are released under the <b>Coqui Public Model License (CPML)</b>, which "
    "allows <b>non-commercial use only</b>: you may not use the model or its output for "
    "commercial purposes.</p>"
    "<p>Without it Kaytoo still speaks, fully offline, with the Piper voice (and the system "
    "voice as a last resort); the cloned voices in your library are then not used.</p>"
    "<p>Do you accept the CPML for your use of XTTS v2?</p>")


def _mb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


class DevicesPage(QWizardPage):
    def __init__(self, settings: Settings, inputs: list[str], outputs: list[str]):
        super().__init__()
        self.setTitle("Microphone and speaker")
        self.setSubTitle("Choose the devices, play a test tone, and check that the microphone hears you.")
        self.input, self.output = QComboBox(), QComboBox()
        for box, names, current in ((self.input, inputs, settings.audio.input_device),
                                    (self.output, outputs, settings.audio.output_device)):
            fill_devices(box, names, current)
        self.tone = QPushButton("Play a test tone")
        self.check = QPushButton("Check the microphone (3 s)")
        self.meter = LevelMeter()
        self.result = QLabel("")
        self.result.setWordWrap(True)
        layout = QVBoxLayout(self)
        for label, box, button in (("Speaker:", self.output, self.tone),
                                   ("Microphone:", self.input, self.check)):
            row = QHBoxLayout()
            row.addWidget(QLabel(label))
            row.addWidget(box, 1)
            row.addWidget(button)
            layout.addLayout(row)
        layout.addWidget(self.meter)
        layout.addWidget(self.result)
        layout.addStretch(1)


class VoicePage(QWizardPage):
    HEAR, PLAYING = "▶ Hear Kaytoo", "■ Stop (playing…)"

    def __init__(self, clip_seconds: float = 12.5):
        super().__init__()
        self.setTitle("Kaytoo's voice")
        self.setSubTitle("The built-in persona voice works offline from the first minute.")
        self.preview = QPushButton(self.HEAR)
        self.clip_seconds = clip_seconds
        self.played = QTimer(self)          # back to "Hear" when the clip has played out
        self.played.setSingleShot(True)
        self.played.timeout.connect(self.show_stopped)
        text = QLabel("You can add your own voices later in the voice library (a 6–20 second clip "
                      "of clear speech, or record one with the microphone).")
        text.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)

    @property
    def playing(self) -> bool:
        return self.played.isActive()

    def show_playing(self) -> None:
        self.preview.setText(self.PLAYING)
        self.played.start(int(self.clip_seconds * 1000) + 300)

    def show_stopped(self) -> None:
        self.played.stop()
        self.preview.setText(self.HEAR)


class LicencePage(QWizardPage):
    def __init__(self, accepted: bool):
        super().__init__()
        self.setTitle("Cloned voices (optional)")
        text = QLabel(LICENCE_TEXT)
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        self.accept_btn = QRadioButton("Accept the CPML (non-commercial use) and use XTTS v2")
        self.decline_btn = QRadioButton("Do not use XTTS; speak with the offline Piper voice")
        group = QButtonGroup(self)
        group.addButton(self.accept_btn)
        group.addButton(self.decline_btn)
        (self.accept_btn if accepted else self.decline_btn).setChecked(True)
        self.accept_btn.toggled.connect(self._choice_changed)
        self._choice_changed()
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.accept_btn)
        layout.addWidget(self.decline_btn)
        layout.addStretch(1)

    @property
    def accepted(self) -> bool:
        return self.accept_btn.isChecked()

    def _choice_changed(self, *_) -> None:
        # The wizard shows Finish on a final page and Next otherwise; setFinalPage makes it
        # re-read both (also when the user came back here from the download page).
        self.setFinalPage(not self.accepted)

    def nextId(self) -> int:
        # The download page only follows an accepted licence.
        return super().nextId() if self.accepted else -1


class DownloadPage(QWizardPage):
    def __init__(self, store, jobs: Jobs):
        super().__init__()
        self.store, self.jobs = store, jobs
        self.setTitle("Download the cloning model")
        self.job: Job | None = None
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.start_btn = QPushButton("Download")
        self.cancel_btn = QPushButton("Cancel download")
        self.cancel_btn.setEnabled(False)
        self.start_btn.clicked.connect(self.start_download)
        self.cancel_btn.clicked.connect(self.cancel_download)
        row = QHBoxLayout()
        row.addWidget(self.start_btn)
        row.addWidget(self.cancel_btn)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        layout.addLayout(row)
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.refresh()

    def _info(self):
        return next((m for m in self.store.known() if m.name == XTTS), None)

    def _partial_bytes(self) -> int:
        return self.store.partial_bytes(XTTS)

    def refresh(self) -> None:
        info = self._info()
        if info is None:
            self.status.setText("XTTS v2 is not in the model catalogue.")
            self.start_btn.setEnabled(False)
        elif info.installed:
            self.status.setText("XTTS v2 is installed. You can finish.")
            self.bar.setValue(1000)
            self.start_btn.setEnabled(False)
        else:
            partial = self._partial_bytes()
            size = _mb(info.size_bytes)
            if partial:
                self.status.setText(f"XTTS v2 ({size}): {_mb(partial)} already downloaded. "
                                    "Resume, or finish now and download it later.")
                self.start_btn.setText("Resume download")
                self.bar.setValue(int(1000 * partial / max(1, info.size_bytes)))
            else:
                self.status.setText(f"XTTS v2 is {size}. Download it now, or finish and download "
                                    "it later (Kaytoo → First-run setup); Kaytoo speaks with Piper "
                                    "meanwhile.")
                self.start_btn.setText("Download")
            self.start_btn.setEnabled(True)

    def start_download(self) -> Job:
        store = self.store

        warnings: list[str] = []

        def work(job: Job):
            try:
                return store.download(XTTS, lambda done, total, what="": job.report(done, total, what),
                                      job.cancel, warn=warnings.append)
            except UserError as e:
                offline = offline_reason(store.base_url)
                if offline is None:
                    raise
                raise UserError(offline) from e

        job = Job(work, "The download")
        job.signals.progress.connect(self._progress)
        job.signals.finished.connect(lambda _: self._ended(" ".join(["Downloaded and checked.", *warnings,
                                                                     "You can finish."])))
        job.signals.failed.connect(lambda why: self._ended(why))
        job.signals.cancelled.connect(lambda: self._ended("Cancelled; what was downloaded is kept "
                                                          "and the next download resumes from it."))
        self.job = job
        self.start_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self.status.setText("Downloading…")
        return self.jobs.start(job)

    def cancel_download(self) -> None:
        if self.job is not None:
            self.job.cancel.set()

    def _progress(self, done: int, total: int, what: str) -> None:
        """Bytes while downloading; then the conversion for ONNX Runtime, step by step."""
        if total:
            self.bar.setValue(int(1000 * done / total))
            self.status.setText(f"XTTS v2: {what}…" if what else
                                f"Downloading XTTS v2: {_mb(done)} of {_mb(total)}")

    def _ended(self, text: str) -> None:
        self.cancel_btn.setEnabled(False)
        self.job = None
        self.refresh()
        self.status.setText(text)


def offline_reason(url: str) -> str | None:
    """The one plain sentence for a download that failed because the host cannot be reached
    (None when it can: then the download's own sentence says what went wrong)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or url
    if parts.scheme == "https" and parts.port is None:
        target, port, _ = https_target(host)     # through the proxy when one applies
    else:
        target, port = host, parts.port or 80
    if unreachable(target, port, 3.0) is None:
        return None
    return (f"The model could not be downloaded: no network connection ({host} could not be "
            "reached). Kaytoo speaks with Piper meanwhile; download it later from "
            "Kaytoo → First-run setup.")


class FirstRunWizard(QWizard):
    test_tone = Signal(object)        # output device name (None: default)
    mic_check = Signal(object)        # input device name
    preview_voice = Signal(str)       # voice name
    stop_preview = Signal()

    def __init__(self, settings: Settings, inputs: list[str], outputs: list[str], store,
                 jobs: Jobs | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Welcome to Kaytoo")
        self.settings = settings.model_copy(deep=True)
        self.jobs = jobs or Jobs()
        self.devices = DevicesPage(self.settings, inputs, outputs)
        self.voice = VoicePage()
        self.licence = LicencePage(self.settings.tts.xtts_consent)
        self.download = DownloadPage(store, self.jobs)
        self.pages = [self.devices, self.voice, self.licence, self.download]
        self.page_ids = [self.addPage(p) for p in self.pages]
        self.devices.tone.clicked.connect(lambda: self.test_tone.emit(self.devices.output.currentData()))
        self.devices.check.clicked.connect(self._check_mic)
        self.voice.preview.clicked.connect(self._hear)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self._stop_check = threading.Event()

    def _hear(self) -> None:
        if self.voice.playing:
            self.voice.show_stopped()
            self.stop_preview.emit()
        else:
            self.voice.show_playing()
            self.preview_voice.emit("Kaytoo")

    def _check_mic(self) -> None:
        self.devices.check.setEnabled(False)
        self.devices.result.setText("Listening… say something.")
        self.mic_check.emit(self.devices.input.currentData())

    def show_level(self, dbfs: float) -> None:
        self.devices.meter.set_level(dbfs)

    def show_mic_result(self, peak_dbfs: float) -> None:
        self.devices.check.setEnabled(True)
        if peak_dbfs > -45:
            self.devices.result.setText(f"The microphone hears you (loudest {peak_dbfs:.0f} dBFS).")
        elif peak_dbfs > -90:
            self.devices.result.setText(f"The microphone is very quiet ({peak_dbfs:.0f} dBFS): "
                                        "move closer or raise its level in the system settings.")
        else:
            self.devices.result.setText("The microphone heard nothing: check that it is plugged in "
                                        "and not muted.")

    def show_message(self, text: str) -> None:
        self.devices.result.setText(text)
        self.devices.check.setEnabled(True)

    def result_settings(self) -> Settings:
        s = self.settings.model_copy(deep=True)
        s.audio.input_device = self.devices.input.currentData()
        s.audio.output_device = self.devices.output.currentData()
        s.tts.xtts_consent = self.licence.accepted
        s.ui.first_run_done = True
        return s

    def done(self, result: int) -> None:
        self.download.cancel_download()   # closing the wizard stops a download (kept for resume)
        super().done(result)
