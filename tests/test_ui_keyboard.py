"""The whole window from the keyboard: Tab follows the layout with a focus ring you can see in
both themes, Return presses the focused button (and uses the voice in the list), Ctrl+, opens
Settings, push-to-talk on the configured key, and every control has an accessible name."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QComboBox, QKeySequenceEdit,
                               QWidget)

from app import paths as paths_mod
from app.settings import Settings
from app.ui.theme import DARK, LIGHT, apply_theme


@pytest.fixture
def window(qtbot):
    from app.ui.app import assemble, voice_library

    paths = paths_mod.resolve().ensure()
    ui = assemble(paths, Settings(), voice_library(paths), probe_online=False)  # not started
    w = ui.window
    qtbot.addWidget(w)
    w.show()
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)
    yield w
    apply_theme(QApplication.instance(), "light")


def tab_chain(w, count: int) -> list[QWidget]:
    seen = []
    for _ in range(count):
        QTest.keyClick(QApplication.focusWidget() or w, Qt.Key.Key_Tab)
        seen.append(QApplication.focusWidget())
    return seen


def focus_pixels(widget: QWidget, colour: str) -> int:
    """How many pixels of the focus colour the widget shows (as drawn right now)."""
    img = widget.grab().toImage()
    want = QColor(colour)
    n = 0
    for y in range(img.height()):
        for x in range(img.width()):
            c = img.pixelColor(x, y)
            if abs(c.red() - want.red()) + abs(c.green() - want.green()) + abs(c.blue() - want.blue()) < 60:
                n += 1
    return n


def test_tab_follows_the_layout(window):
    panel = window.voice_panel
    enabled = [b for b in panel.buttons.values() if b.isEnabled()]
    window.conversation.setFocus()
    chain = tab_chain(window, 1 + len(enabled))
    assert chain[0] is panel.list
    assert chain[1:] == enabled            # the button grid, row by row as it is laid out


@pytest.mark.parametrize("theme,colours", [("dark", DARK), ("light", LIGHT)])
def test_the_focused_control_shows_a_ring_in_both_themes(window, theme, colours):
    apply_theme(QApplication.instance(), theme)
    button = window.voice_panel.buttons["play_ref"]
    window.voice_panel.list.setFocus()
    without = focus_pixels(button, colours["focus"])
    button.setFocus(Qt.FocusReason.TabFocusReason)
    with_ring = focus_pixels(button, colours["focus"])
    perimeter = 2 * (button.width() + button.height())
    assert with_ring - without > perimeter // 2, "the focus ring is hard to see"
    window.voice_panel.list.setFocus(Qt.FocusReason.TabFocusReason)
    assert focus_pixels(window.voice_panel.list, colours["focus"]) > perimeter // 2


def test_unticked_box_is_visible_in_the_dark_theme(qtbot):
    from PySide6.QtWidgets import QCheckBox, QStyle, QStyleOptionButton

    apply_theme(QApplication.instance(), "dark")
    box = QCheckBox("Adaptive HLS")
    qtbot.addWidget(box)
    box.show()
    try:
        opt = QStyleOptionButton()
        box.initStyleOption(opt)
        r = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, opt, box)
        img, bg = box.grab().toImage(), box.palette().window().color().lightness()
        contrast = max(abs(img.pixelColor(x, y).lightness() - bg)
                       for y in range(r.top(), r.bottom() + 1) for x in range(r.left(), r.right() + 1))
        assert contrast > 60, "the unticked box blends into the dark background"   # Fusion: ~11
    finally:
        apply_theme(QApplication.instance(), "light")


def test_return_presses_the_focused_button_and_uses_the_listed_voice(window, qtbot):
    panel = window.voice_panel
    previews, chosen = [], []
    panel.preview_reference.connect(previews.append)
    panel.active_chosen.connect(chosen.append)
    panel.buttons["play_ref"].setFocus()
    with qtbot.waitSignal(panel.preview_reference, timeout=5000):
        QTest.keyClick(panel.buttons["play_ref"], Qt.Key.Key_Return)
    assert previews == ["Kaytoo"]
    panel.list.setFocus()
    QTest.keyClick(panel.list, Qt.Key.Key_Return)
    assert chosen == ["Kaytoo"]


def test_space_on_a_focused_button_presses_it_not_push_to_talk(window, qtbot):
    talks = []
    window.talk_pressed.connect(lambda: talks.append(1))
    button = window.voice_panel.buttons["play_ref"]
    button.setFocus()
    with qtbot.waitSignal(window.voice_panel.preview_reference, timeout=5000):
        QTest.keyClick(button, Qt.Key.Key_Space)
    assert talks == []


def test_ctrl_comma_opens_settings(window, qtbot):
    QTest.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.settings_dialog is not None, timeout=5000)
    window.settings_dialog.reject()


def test_push_to_talk_on_the_configured_key(window, qtbot):
    s = window.settings.model_copy(deep=True)
    s.ui.ptt_key = "F9"
    window.show_settings(s)
    events = []
    window.talk_pressed.connect(lambda: events.append("down"))
    window.talk_released.connect(lambda: events.append("up"))
    window.conversation.setFocus()
    QTest.keyClick(window.conversation, Qt.Key.Key_Space)
    assert events == []                      # Space is no longer the key
    QTest.keyPress(window.conversation, Qt.Key.Key_F9)
    QTest.keyRelease(window.conversation, Qt.Key.Key_F9)
    assert events == ["down", "up"]
    assert "F9" in window.conversation.placeholder.text() and window.talk.key_name == "F9"


def _inside_compound(w: QWidget) -> bool:
    """Parts of a spin box, key editor or combo (its edit field, its popup list)."""
    p = w.parentWidget()
    while p is not None:
        if isinstance(p, (QAbstractSpinBox, QKeySequenceEdit, QComboBox)):
            return True
        p = p.parentWidget()
    return w.objectName().startswith("qt_") or type(w).__name__ == "QListView" and \
        type(w.window()).__name__ == "QComboBoxPrivateContainer"


def test_every_control_has_an_accessible_name(window):
    tops = [window, window.open_settings(), window.open_first_run()]
    unnamed = []
    for top in tops:
        for w in top.findChildren(QWidget):
            if not w.focusPolicy() & Qt.FocusPolicy.TabFocus or _inside_compound(w):
                continue
            ai = QAccessible.queryAccessibleInterface(w)
            if not (ai and ai.text(QAccessible.Text.Name).strip()):
                unnamed.append(f"{type(top).__name__}/{type(w).__name__}")
    for dialog in tops[1:]:
        dialog.reject()
    assert unnamed == []
