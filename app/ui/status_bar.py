"""The status bar: engine state, online/offline, active voice, and the latest message.

Nothing stale: a new engine state replaces what the previous one said (a note shown while the
engine was down is cleared once it is ready), and a voice change clears a note about the last one.
"""
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
        self.voice_name = ""
        self._note_while_down = False
        self.set_engine("starting", "")
        self.set_online(None)
        self.set_voice("")

    def set_engine(self, state: str, detail: str) -> None:
        self.engine_state = state
        text, colour = ENGINE_TEXT.get(state, (state, "#8b949e"))
        if state == "restarting" and detail.startswith("attempt "):
            text = f"engine restarting ({detail})…"
        self.engine.setText(f"<span style='color:{colour}'>●</span> {text}")
        self.engine.setToolTip(detail or text)
        if state != "ready" and self.note.text():
            self._note_while_down = True   # e.g. "Restarting the speech engine to apply …"
        if state in ("restarting", "failed") and detail and not detail.startswith("attempt "):
            self.show_message(f"The speech engine is {state}: {detail}")
        elif state == "ready" and self._note_while_down:
            self.show_message("")   # what was said while it was down is over

    def set_online(self, online: bool | None) -> None:
        if online is None:
            self.network.setText("network: checking…")
        else:
            self.network.setText("online" if online else "offline")
            self.network.setToolTip("The online voice (Google) can be used." if online else
                                    "No internet: the offline voices are used.")

    def set_voice(self, name: str) -> None:
        if self.voice_name and name != self.voice_name:
            self.show_message("")   # a note about the previous voice would contradict the label
        self.voice_name = name
        self.voice.setText(f"voice: {name}" if name else "voice: –")

    def show_message(self, text: str) -> None:
        self._note_while_down = bool(text) and self.engine_state != "ready"
        self.note.setText(text)
        self.note.setToolTip(text)
