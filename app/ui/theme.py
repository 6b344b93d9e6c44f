"""Light and dark palettes (Fusion style), the few style rules the custom widgets need, and a
clearly visible keyboard focus ring and check-box edge in both themes (Fusion's are faint,
and its unticked box nearly vanishes on a dark background)."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPalette, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory

DARK = {"window": "#161b22", "base": "#0d1117", "alt": "#1f2630", "text": "#e6edf3",
        "mid": "#30363d", "button": "#21262d", "highlight": "#1f6feb", "muted": "#8b949e",
        "focus": "#58a6ff", "edge": "#8b949e"}
LIGHT = {"window": "#f4f6f8", "base": "#ffffff", "alt": "#eaeef2", "text": "#1f2328",
         "mid": "#c9d1d9", "button": "#f6f8fa", "highlight": "#0969da", "muted": "#57606a",
         "focus": "#0550ae", "edge": "#57606a"}

STYLE = """
QFrame#turnCard {{ background: {alt}; border: 1px solid {mid}; border-radius: 10px; }}
QLabel#turnHeard {{ font-size: 12pt; }}
QLabel#turnReply {{ font-size: 12pt; }}
QLabel#turnMeta {{ color: {muted}; font-size: 9.5pt; }}
QLabel#placeholder {{ color: {muted}; font-size: 11pt; padding: 40px; }}
QLabel#title {{ font-size: 15pt; font-weight: 700; letter-spacing: 3px; }}
QLabel#subtitle {{ color: {muted}; }}
QDockWidget::title {{ padding: 6px; font-weight: 600; }}
QStatusBar QLabel {{ padding: 0 6px; }}
QAbstractItemView:focus, QScrollArea#conversationView:focus, QTextEdit:focus, QPlainTextEdit:focus
    {{ border: 2px solid {focus}; border-radius: 4px; }}
QLabel#voiceBanner {{ color: {muted}; }}
"""

S = QStyle


class KaytooStyle(QProxyStyle):
    """Fusion plus a 2 px focus ring on the focused control and a visible edge on unticked boxes."""

    RINGED = {S.ControlElement.CE_PushButton, S.ControlElement.CE_TabBarTab}
    RINGED_COMPLEX = {S.ComplexControl.CC_ComboBox, S.ComplexControl.CC_SpinBox,
                      S.ComplexControl.CC_Slider, S.ComplexControl.CC_ToolButton}
    BOXES = {S.PrimitiveElement.PE_IndicatorCheckBox, S.PrimitiveElement.PE_IndicatorRadioButton,
             S.PrimitiveElement.PE_IndicatorItemViewItemCheck}

    def __init__(self, colours: dict[str, str]):
        super().__init__(QStyleFactory.create("Fusion"))
        self.focus, self.edge = QColor(colours["focus"]), QColor(colours["edge"])

    def _ring(self, painter, rect, radius: float = 4.0) -> None:
        painter.save()
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        painter.setPen(QPen(self.focus, 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(QRectF(rect).adjusted(1, 1, -1, -1), radius, radius)
        painter.restore()

    def drawPrimitive(self, element, option, painter, widget=None) -> None:
        super().drawPrimitive(element, option, painter, widget)
        if element in self.BOXES and not option.state & S.StateFlag.State_On:
            painter.save()
            painter.setRenderHint(painter.RenderHint.Antialiasing)
            painter.setPen(QPen(self.edge, 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            radius = option.rect.height() / 2 if element == S.PrimitiveElement.PE_IndicatorRadioButton else 2
            painter.drawRoundedRect(QRectF(option.rect).adjusted(1, 1, -1, -1), radius, radius)
            painter.restore()
        elif element == S.PrimitiveElement.PE_FrameFocusRect:
            self._ring(painter, option.rect, 3)
        elif element == S.PrimitiveElement.PE_PanelLineEdit and option.state & S.StateFlag.State_HasFocus:
            self._ring(painter, option.rect)

    def drawControl(self, element, option, painter, widget=None) -> None:
        super().drawControl(element, option, painter, widget)
        if element in self.RINGED and option.state & S.StateFlag.State_HasFocus:
            self._ring(painter, option.rect)

    def drawComplexControl(self, control, option, painter, widget=None) -> None:
        super().drawComplexControl(control, option, painter, widget)
        if control in self.RINGED_COMPLEX and option.state & S.StateFlag.State_HasFocus:
            self._ring(painter, option.rect)



def apply_theme(app: QApplication, theme: str) -> None:
    """``theme`` is system, dark or light; "system" keeps the platform's palette."""
    if theme == "system":
        app.setStyle(QStyleFactory.create("Fusion"))
        app.setPalette(app.style().standardPalette())
        colours = DARK if app.palette().window().color().lightness() < 128 else LIGHT
        app.setStyle(KaytooStyle(colours))
    else:
        colours = DARK if theme == "dark" else LIGHT
        app.setStyle(KaytooStyle(colours))
        app.setPalette(_palette(colours))
    app.setStyleSheet(STYLE.format(**colours))


def _palette(c: dict[str, str]) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    for r, key in ((role.Window, "window"), (role.Base, "base"), (role.AlternateBase, "alt"),
                   (role.Text, "text"), (role.WindowText, "text"), (role.ButtonText, "text"),
                   (role.Button, "button"), (role.Mid, "mid"), (role.Highlight, "highlight"),
                   (role.ToolTipBase, "alt"), (role.ToolTipText, "text"),
                   (role.PlaceholderText, "muted")):
        p.setColor(r, QColor(c[key]))
    p.setColor(role.HighlightedText, QColor("#ffffff"))
    p.setColor(role.BrightText, QColor("#ff7b72"))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(c["muted"]))
    return p
