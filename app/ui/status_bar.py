"""The status bar: engine state, online/offline, active voice, and the latest message."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

ENGINE_TEXT = {"ready": ("engine ready", "#3fb950"), "starting": ("engine starting…", "#d29922"),
               "restarting": ("engine restarting…", "#d29922"), "failed": ("engine failed", "#f85149"),
               "stopped": ("engine stopped", "#8b949e")}


class StatusBar(QStatusBar):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.engine = QLabel()
        self.network = QLabel()
        self.voice = QLabel()
        self.note = QLabel()
        self.note.setObjectName("statusNote")
        self.engine.setObjectName("statusEngine")
        self.addWidget(self.engine)
        self.addWidget(self.note, 1)
        self.addPermanentWidget(self.network)
        self.addPermanentWidget(self.voice)
        self.engine_state = "starting"
        self.set_engine("starting", "")
        self.set_online(None)
        self.set_voice("")

    def set_engine(self, state: str, detail: str) -> None:
        self.engine_state = state
        text, colour = ENGINE_TEXT.get(state, (state, "#8b949e"))
        self.engine.setText(f"<span style='color:{colour}'>●</span> {text}")
        self.engine.setToolTip(detail or text)
        if state in ("restarting", "failed") and detail:
            self.show_message(f"The speech engine is {state}: {detail}")

    def set_online(self, online: bool | None) -> None:
        if online is None:
            self.network.setText("network: checking…")
        else:
            self.network.setText("online" if online else "offline")
            self.network.setToolTip("The online voice (Google) can be used." if online else
                                    "No internet: the offline voices are used.")

    def set_voice(self, name: str) -> None:
        self.voice.setText(f"voice: {name}" if name else "voice: –")

    def show_message(self, text: str) -> None:
        self.note.setText(text)
        self.note.setToolTip(text)
