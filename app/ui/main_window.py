"""The main window: push-to-talk, level meter, conversation, status, and the voice dock.
Only shows and forwards: every action goes to the controller through a signal."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeyEvent
from PySide6.QtWidgets import (QDockWidget, QHBoxLayout, QLabel, QMainWindow, QProgressBar,
                               QPushButton, QTextBrowser, QVBoxLayout, QWidget)

from app.ui.voice_panel import VoicePanel

STATE_TEXT = {"idle": "Hold to talk (or hold Space)", "listening": "Listening… release to send",
              "thinking": "Thinking…", "speaking": "Speaking… press to interrupt"}
TIER_NAMES = {"xtts": "cloned voice (XTTS)", "piper": "offline voice (Piper)",
              "gtts": "online voice (Google)", "pyttsx3": "system voice"}


class MainWindow(QMainWindow):
    talk_pressed = Signal()
    talk_released = Signal()

    def __init__(self, voice_panel: VoicePanel):
        super().__init__()
        self.setWindowTitle("Kaytoo")
        self.resize(980, 640)
        self._reply_open = False

        self.conversation = QTextBrowser()
        self.conversation.setOpenExternalLinks(False)
        self.conversation.setFont(QFont("DejaVu Sans", 11))
        self.talk = QPushButton(STATE_TEXT["idle"])
        self.talk.setMinimumHeight(72)
        self.talk.setFont(QFont("DejaVu Sans", 14, QFont.Weight.Bold))
        self.talk.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space goes to the window, not a click
        self.talk.pressed.connect(self.talk_pressed)
        self.talk.released.connect(self.talk_released)
        self.meter = QProgressBar()
        self.meter.setRange(-60, 0)
        self.meter.setValue(-60)
        self.meter.setTextVisible(False)
        self.meter.setMaximumHeight(10)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.conversation, 1)
        layout.addWidget(self.meter)
        layout.addWidget(self.talk)
        self.setCentralWidget(central)

        self.voice_dock = QDockWidget("Voice library", self)
        self.voice_dock.setWidget(voice_panel)
        self.voice_dock.setObjectName("voices")
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.voice_dock)

        self.engine_label, self.voice_label, self.note = QLabel("engine: starting"), QLabel(), QLabel()
        bar = self.statusBar()
        bar.addWidget(self.engine_label)
        bar.addWidget(self.note, 1)
        bar.addPermanentWidget(self.voice_label)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # -- held key -----------------------------------------------------------------------------
    def keyPressEvent(self, e: QKeyEvent) -> None:
        if e.key() == Qt.Key.Key_Space and not e.isAutoRepeat():
            self.talk.setDown(True)
            self.talk_pressed.emit()
        else:
            super().keyPressEvent(e)

    def keyReleaseEvent(self, e: QKeyEvent) -> None:
        if e.key() == Qt.Key.Key_Space and not e.isAutoRepeat():
            self.talk.setDown(False)
            self.talk_released.emit()
        else:
            super().keyReleaseEvent(e)

    # -- showing what the controller reports -------------------------------------------------
    def show_state(self, state: str) -> None:
        self.talk.setText(STATE_TEXT.get(state, state))
        if state != "listening":
            self.meter.setValue(-60)

    def show_level(self, dbfs: float) -> None:
        self.meter.setValue(int(max(-60, min(0, dbfs))))

    def show_engine(self, state: str, detail: str) -> None:
        text = {"ready": "engine ready", "starting": "engine starting…",
                "restarting": "engine restarting…", "failed": "engine failed",
                "stopped": "engine stopped"}.get(state, state)
        self.engine_label.setText(text)
        if state in ("restarting", "failed") and detail:
            self.note.setText(detail)

    def show_voice(self, name: str) -> None:
        self.voice_label.setText(f"voice: {name}")

    def open_panel(self, which: str) -> None:
        if which == "voices":
            self.voice_dock.show()
            self.voice_dock.raise_()
        else:
            self.show_message("The video panel is not built yet.")

    def show_message(self, text: str) -> None:
        self.note.setText(text)

    def show_heard(self, text: str) -> None:
        self._reply_open = False
        shown = html.escape(text) if text else "<i>(nothing heard)</i>"
        self.conversation.append(f"<p><b>You:</b> {shown}</p>")

    def show_reply_sentence(self, text: str) -> None:
        if not self._reply_open:
            self.conversation.append(f"<p><b>Kaytoo:</b> {html.escape(text)}</p>")
            self._reply_open = True
        else:
            self.conversation.insertPlainText(" " + text)

    def show_turn(self, t: dict) -> None:
        self._reply_open = False
        tim = t["timings"]
        first = f"{tim['first_audio_s']:.2f} s" if tim.get("first_audio_s") else "–"
        parts = [f"heard in {tim['stt_s']:.2f} s", f"first sound {first}",
                 f"total {tim['total_s']:.2f} s", TIER_NAMES.get(t.get("tier") or "", "no voice")]
        falls = "; ".join(f"{TIER_NAMES.get(f['tier'], f['tier'])} skipped: {f['reason']}"
                          for f in t.get("fallbacks", []))
        cut = " — <b>cut off here</b>" if t.get("cut") else ""
        line = " · ".join(parts) + cut + (f"<br>{html.escape(falls)}" if falls else "")
        self.conversation.append(f"<p style='color:#777; font-size:9pt'>{line}</p>")
