"""Record a new voice from the microphone: a countdown, then recording with a level meter.

The dialog only shows and forwards: the device work is ``jobs.MicRecording``'s.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QVBoxLayout)

from app.errors import UserError
from app.ui.jobs import MicRecording
from app.ui.level_meter import LevelMeter

PROMPT = ("Read this aloud in your normal voice: “The quick brown fox jumps over the lazy dog. "
          "I am a droid, and I will tell you the odds whether you ask or not.”")


class RecordDialog(QDialog):
    recorded = Signal(str, object, int)   # name, samples, rate

    def __init__(self, device: str | None = None, countdown_s: int = 3, max_s: float = 20.0,
                 parent=None):
        super().__init__(parent)
        self.setWindowTitle("Record a voice")
        self.device, self.countdown_s, self.max_s = device, countdown_s, max_s
        self.recording: MicRecording | None = None
        self.samples: np.ndarray | None = None
        self.rate = 0
        self.remaining = countdown_s

        self.prompt = QLabel(PROMPT)
        self.prompt.setWordWrap(True)
        self.big = QLabel("Press Start, wait for the countdown, then speak for 6 to 20 seconds.")
        self.big.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.big.setWordWrap(True)
        f = QFont(self.big.font())
        f.setPointSizeF(f.pointSizeF() * 1.4)
        self.big.setFont(f)
        self.meter = LevelMeter()
        self.name = QLineEdit("My voice")
        self.start_btn, self.stop_btn = QPushButton("Start"), QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.start_btn.clicked.connect(self.begin)
        self.stop_btn.clicked.connect(self.finish)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save |
                                        QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addWidget(self.big)
        layout.addWidget(self.meter)
        row = QHBoxLayout()
        row.addWidget(self.start_btn)
        row.addWidget(self.stop_btn)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Name:"))
        row.addWidget(self.name, 1)
        layout.addLayout(row)
        layout.addWidget(self.buttons)

        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._count)
        self._clock = QTimer(self)
        self._clock.setInterval(200)
        self._clock.timeout.connect(self._show_time)

    def begin(self) -> None:
        self.start_btn.setEnabled(False)
        self.remaining = self.countdown_s
        try:   # open now: the device gets the countdown to start delivering
            self.recording = MicRecording(self.device)
            self.recording.level.connect(self.meter.set_level)
            self.recording.open()
        except UserError as e:
            self.recording = None
            self.big.setText(str(e))
            self.start_btn.setEnabled(True)
            return
        if self.remaining <= 0:
            self._record()
            return
        self.big.setText(f"Recording in {self.remaining}…")
        self._tick.start()

    def _count(self) -> None:
        self.remaining -= 1
        if self.remaining > 0:
            self.big.setText(f"Recording in {self.remaining}…")
            return
        self._tick.stop()
        self._record()

    def _record(self) -> None:
        if self.recording is None:
            return
        self.recording.start()
        self.stop_btn.setEnabled(True)
        self.big.setText("● Recording — speak now")
        self._clock.start()

    def _show_time(self) -> None:
        if self.recording is None:
            return
        secs = self.recording.seconds
        self.big.setText(f"● Recording — {secs:.0f} s (stop after 6 to 20 s)")
        if secs >= self.max_s:
            self.finish()

    def finish(self) -> None:
        self._clock.stop()
        self._tick.stop()
        if self.recording is None:
            return
        self.samples, self.rate = self.recording.stop()
        self.recording = None
        self.meter.clear()
        self.stop_btn.setEnabled(False)
        self.start_btn.setEnabled(True)
        self.start_btn.setText("Record again")
        secs = len(self.samples) / self.rate if self.rate else 0.0
        self.big.setText(f"Recorded {secs:.1f} s. Name it and press Save.")
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(secs > 0)

    def _save(self) -> None:
        if self.samples is None or not len(self.samples):
            return
        self.recorded.emit(self.name.text(), self.samples, self.rate)
        self.accept()

    def reject(self) -> None:
        if self.recording is not None:
            self.recording.stop()
            self.recording = None
        super().reject()
