"""The large press-and-hold push-to-talk button. It paints its turn state; pressing only forwards."""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QAbstractButton, QSizePolicy

# state → (caption, hint, colour)
STATES = {
    "idle": ("Hold to talk", "or hold {key}", "#2f7d6d"),
    "listening": ("Listening…", "release to send", "#c0392b"),
    "thinking": ("Thinking…", "press to interrupt", "#b7791f"),
    "speaking": ("Speaking…", "press to interrupt", "#2b6cb0"),
    "disabled": ("Waiting for the engine…", "", "#5a6270"),
}


class PttButton(QAbstractButton):
    """Emits ``pressed``/``released`` like any button; never takes focus (Space is the window's)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.state = "idle"
        self.key_name = "Space"
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(84)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAccessibleName("Push to talk")

    def sizeHint(self) -> QSize:
        return QSize(420, 84)

    def set_state(self, state: str) -> None:
        self.state = state if state in STATES else "idle"
        caption, hint, _ = STATES[self.state]
        self.setText(caption)
        self.setToolTip(hint.format(key=self.key_name))
        self.update()

    def set_key_name(self, name: str) -> None:
        self.key_name = name
        self.set_state(self.state)

    @property
    def caption(self) -> str:
        return STATES[self.state][0]

    def paintEvent(self, _event) -> None:
        caption, hint, colour = STATES[self.state]
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(2, 2, -2, -2)
        base = QColor(colour)
        if self.isDown():
            base = base.darker(125)
        elif self.underMouse():
            base = base.lighter(110)
        path = QPainterPath()
        path.addRoundedRect(r, r.height() / 2, r.height() / 2)
        p.fillPath(path, base)
        p.setPen(QPen(base.darker(140), 2))
        p.drawPath(path)

        # A microphone glyph on the left: capsule, cradle and stand.
        cx, cy = r.left() + r.height() * 0.62, r.center().y()
        h = r.height() * 0.42
        p.setPen(QPen(QColor("white"), 3))
        p.setBrush(QColor("white") if self.state == "listening" else Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(QRectF(cx - h * 0.22, cy - h * 0.6, h * 0.44, h * 0.8), h * 0.22, h * 0.22)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawArc(QRectF(cx - h * 0.38, cy - h * 0.45, h * 0.76, h * 0.8), 180 * 16, 180 * 16)
        p.drawLine(int(cx), int(cy + h * 0.35), int(cx), int(cy + h * 0.55))

        p.setPen(QColor("white"))
        f = QFont(self.font())
        f.setPointSizeF(max(12.0, r.height() * 0.2))
        f.setBold(True)
        p.setFont(f)
        text_rect = r.adjusted(r.height() * 1.1, 0, -r.height() * 0.5, 0)
        if hint:
            top = text_rect.adjusted(0, 0, 0, -r.height() * 0.28)
            p.drawText(top, Qt.AlignmentFlag.AlignCenter, caption)
            f.setBold(False)
            f.setPointSizeF(max(9.0, r.height() * 0.12))
            p.setFont(f)
            p.setPen(QColor(255, 255, 255, 210))
            p.drawText(text_rect.adjusted(0, r.height() * 0.42, 0, 0), Qt.AlignmentFlag.AlignCenter,
                       hint.format(key=self.key_name))
        else:
            p.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, caption)
        p.end()
