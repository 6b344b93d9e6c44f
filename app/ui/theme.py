"""Light and dark palettes (Fusion style) and the few style rules the custom widgets need."""
from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

DARK = {"window": "#161b22", "base": "#0d1117", "alt": "#1f2630", "text": "#e6edf3",
        "mid": "#30363d", "button": "#21262d", "highlight": "#1f6feb", "muted": "#8b949e"}
LIGHT = {"window": "#f4f6f8", "base": "#ffffff", "alt": "#eaeef2", "text": "#1f2328",
         "mid": "#c9d1d9", "button": "#f6f8fa", "highlight": "#0969da", "muted": "#57606a"}

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
"""


def apply_theme(app: QApplication, theme: str) -> None:
    """``theme`` is system, dark or light; "system" keeps the platform's palette."""
    app.setStyle(QStyleFactory.create("Fusion"))
    if theme == "system":
        app.setPalette(app.style().standardPalette())
        colours = DARK if app.palette().window().color().lightness() < 128 else LIGHT
    else:
        colours = DARK if theme == "dark" else LIGHT
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
