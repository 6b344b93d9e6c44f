"""One line above the voice list: why library voices sound like the offline voice for now, with
the button that fixes it ("Get the cloning model" / "Accept the licence in Settings")."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

FIX_LABELS = {"licence": "Accept the licence in Settings", "model": "Get the cloning model",
              "tiers": "Turn it on in Settings"}


class CloningBanner(QWidget):
    fix_requested = Signal(str)         # "licence" | "model" | "tiers"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.why: str | None = None
        self.fix_kind = ""
        self.text = QLabel()
        self.text.setObjectName("voiceBanner")
        self.text.setWordWrap(True)
        self.fix = QPushButton()
        self.fix.setAccessibleName("Make the cloned voice work")
        self.fix.clicked.connect(lambda: self.fix_requested.emit(self.fix_kind))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.text, 1)
        row.addWidget(self.fix, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_status(self, why: str | None, fix: str, has_own_voices: bool) -> None:
        self.why, self.fix_kind = why, fix
        if why is None:
            self.hide()
            return
        who = "Your voices sound" if has_own_voices else "Voices you add will sound"
        self.text.setText(f"{who} like the offline voice for now: {html.escape(why)}.")
        self.fix.setText(FIX_LABELS.get(fix, ""))
        self.fix.setAccessibleName(self.fix.text() or "Make the cloned voice work")
        self.fix.setVisible(fix in FIX_LABELS)
        self.show()
