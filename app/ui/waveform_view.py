"""Draws a clip's waveform from min/max peaks (computed once per clip, not per paint)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget


def peaks(samples: np.ndarray, buckets: int) -> np.ndarray:
    """(buckets, 2) array of per-bucket (min, max)."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if samples.size == 0 or buckets <= 0:
        return np.zeros((0, 2), np.float32)
    buckets = min(buckets, samples.size)
    edges = np.linspace(0, samples.size, buckets + 1).astype(np.int64)
    lo = np.minimum.reduceat(samples, edges[:-1])
    hi = np.maximum.reduceat(samples, edges[:-1])
    return np.stack([lo, hi], axis=1)


class WaveformView(QWidget):
    BUCKETS = 600

    def __init__(self, parent=None):
        super().__init__(parent)
        self.peaks = np.zeros((0, 2), np.float32)
        self.seconds = 0.0
        self.setMinimumHeight(56)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Waveform")

    def sizeHint(self) -> QSize:
        return QSize(260, 64)

    def set_samples(self, samples: np.ndarray, rate: int) -> None:
        self.peaks = peaks(samples, self.BUCKETS)
        self.seconds = len(samples) / rate if rate else 0.0
        self.update()

    def clear(self) -> None:
        self.peaks = np.zeros((0, 2), np.float32)
        self.seconds = 0.0
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), self.palette().base())
        mid = h / 2
        p.setPen(self.palette().mid().color())
        p.drawLine(0, int(mid), w, int(mid))
        n = len(self.peaks)
        if n:
            scale = max(1e-3, float(np.max(np.abs(self.peaks))))
            xs = np.linspace(0, w, n)
            top = [QPointF(x, mid - hi / scale * (mid - 3)) for x, (_, hi) in zip(xs, self.peaks)]
            bottom = [QPointF(x, mid - lo / scale * (mid - 3)) for x, (lo, _) in zip(xs, self.peaks)]
            poly = QPolygonF(top + bottom[::-1])
            colour = QColor("#39c5bb")
            p.setPen(colour)
            colour.setAlpha(150)
            p.setBrush(colour)
            p.drawPolygon(poly)
        if self.seconds:
            p.setPen(self.palette().text().color())
            p.drawText(self.rect().adjusted(4, 2, -4, -2),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, f"{self.seconds:.1f} s")
        p.end()
