"""A segmented input level meter (dBFS) with a falling peak marker."""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB = -60.0
SEGMENTS = 30
PEAK_FALL_DB_PER_TICK = 1.5


class LevelMeter(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.level_db = FLOOR_DB
        self.peak_db = FLOOR_DB
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(14)
        self.setAccessibleName("Input level")
        self._decay = QTimer(self)
        self._decay.setInterval(50)
        self._decay.timeout.connect(self._fall)

    def sizeHint(self) -> QSize:
        return QSize(300, 14)

    def set_level(self, dbfs: float) -> None:
        self.level_db = max(FLOOR_DB, min(0.0, float(dbfs)))
        if self.level_db > self.peak_db:
            self.peak_db = self.level_db
        if not self._decay.isActive():
            self._decay.start()
        self.update()

    def clear(self) -> None:
        self.level_db = self.peak_db = FLOOR_DB
        self._decay.stop()
        self.update()

    @property
    def fraction(self) -> float:
        return (self.level_db - FLOOR_DB) / -FLOOR_DB

    def _fall(self) -> None:
        self.peak_db = max(self.level_db, self.peak_db - PEAK_FALL_DB_PER_TICK)
        if self.peak_db <= FLOOR_DB:
            self._decay.stop()
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        gap = 2.0
        seg_w = (w - gap * (SEGMENTS - 1)) / SEGMENTS
        lit = int(round(self.fraction * SEGMENTS))
        dim = self.palette().mid().color()
        for i in range(SEGMENTS):
            db = FLOOR_DB + (i + 1) * (-FLOOR_DB / SEGMENTS)
            colour = QColor("#3fb950") if db <= -18 else QColor("#d29922") if db <= -6 else QColor("#f85149")
            if i >= lit:
                colour = dim
                colour.setAlpha(90)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(colour)
            p.drawRoundedRect(QRectF(i * (seg_w + gap), 0, seg_w, h), 2, 2)
        if self.peak_db > FLOOR_DB:
            x = (self.peak_db - FLOOR_DB) / -FLOOR_DB * w
            p.setBrush(self.palette().text().color())
            p.drawRect(QRectF(max(0.0, x - 2), 0, 2, h))
        p.end()
