"""The main window: push-to-talk (button and held key), level meter, conversation, status bar and
the voice library dock. It only shows what the controller reports and forwards what the user does.
"""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractSlider,
                               QAbstractSpinBox, QApplication, QComboBox, QDockWidget, QHBoxLayout,
                               QKeySequenceEdit, QLabel, QLineEdit, QMainWindow, QPlainTextEdit,
                               QTextEdit, QVBoxLayout, QWidget)

from app.settings.merge import changes
from app.settings.model import Settings
from app.ui.conversation import ConversationView
from app.ui.first_run import FirstRunWizard
from app.ui.level_meter import LevelMeter
from app.ui.ptt_button import PttButton
from app.ui.settings_dialog import SettingsDialog
from app.ui.status_bar import StatusBar
from app.ui.theme import apply_theme
from app.ui.voice_panel import VoicePanel

TEXT_ENTRY = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox, QKeySequenceEdit)
KEY_CONTROLS = (QAbstractButton, QAbstractItemView, QAbstractSlider, QComboBox)  # Space acts on them
RETURN_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter)
SETTINGS_KEY = "Ctrl+,"


def key_code(name: str) -> int:
    """Qt key code for a settings name like "Space" or "F9" (Space when it cannot be parsed)."""
    seq = QKeySequence(name or "Space")
    if seq.isEmpty():
        return int(Qt.Key.Key_Space.value)
    return int(seq[0].key().value)


class MainWindow(QMainWindow):
    talk_pressed = Signal()
    talk_released = Signal()
    settings_applied = Signal(object)     # the changes (app.settings.merge) a dialog or the wizard made
    rescan_requested = Signal()
    test_tone = Signal(object)
    mic_check = Signal(object)
    preview_voice = Signal(str)
    stop_audio = Signal()

    def __init__(self, voice_panel: VoicePanel, settings: Settings, model_store=None,
                 video_panel=None):
        """``video_panel`` is a callable making the video panel on first use (it starts Qt's
        multimedia stack, which is slow and noisy), or None when there is none."""
        super().__init__()
        self.setWindowTitle("Kaytoo")
        self.resize(1100, 700)
        self.settings = settings.model_copy(deep=True)
        self.model_store = model_store
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.settings_dialog = None
        self.first_run = None
        self.holding = False
        self.ptt_key = key_code(self.settings.ui.ptt_key)

        title = QLabel("KAYTOO")
        title.setObjectName("title")
        subtitle = QLabel("Hold to talk. Release to send. Press again to interrupt.")
        subtitle.setObjectName("subtitle")
        head = QHBoxLayout()
        head.addWidget(title)
        head.addSpacing(12)
        head.addWidget(subtitle, 1)

        self.conversation = ConversationView()
        self.meter = LevelMeter()
        self.meter.setAccessibleName("Microphone level")
        self.talk = PttButton()
        self.talk.set_key_name(self.settings.ui.ptt_key)
        self.talk.set_state("idle")
        self.talk.pressed.connect(self._press)
        self.talk.released.connect(self._release)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.addLayout(head)
        layout.addWidget(self.conversation, 1)
        layout.addWidget(self.meter)
        layout.addWidget(self.talk)
        self.setCentralWidget(central)

        self.voice_panel = voice_panel
        voice_panel.voice_added.connect(self._update_hint)
        self.voice_dock = QDockWidget("Voice library", self)
        self.voice_dock.setObjectName("voices")
        self.voice_dock.setWidget(voice_panel)
        self.voice_dock.setMinimumWidth(360)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.voice_dock)
        self.video_dock = None
        self.video_factory = video_panel

        for dock in (self.voice_dock,):
            dock.setAccessibleName(dock.windowTitle())
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self._menus()
        self._update_hint()
        self._restore_layout()
        QApplication.instance().installEventFilter(self)

    def _menus(self) -> None:
        menu = self.menuBar().addMenu("&Kaytoo")
        settings_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
        if QKeySequence(SETTINGS_KEY) not in settings_keys:
            settings_keys.append(QKeySequence(SETTINGS_KEY))   # Linux desktops have no standard one
        for text, shortcuts, slot in (("&Settings…", settings_keys, self.open_settings),
                                      ("&First-run setup…", [], self.open_first_run),
                                      ("&Refresh audio devices", [], self.rescan_requested.emit),
                                      ("&Quit", QKeySequence.keyBindings(QKeySequence.StandardKey.Quit),
                                       self.close)):
            action = QAction(text, self)
            action.setShortcuts(shortcuts)
            action.triggered.connect(slot)
            menu.addAction(action)
        view = self.menuBar().addMenu("&View")
        view.addAction(self.voice_dock.toggleViewAction())
        if self.video_factory is not None:
            action = QAction("&Video panel", self)
            action.triggered.connect(lambda: self.open_panel("video"))
            view.addAction(action)

    # -- where the window was -----------------------------------------------------------------
    def _restore_layout(self) -> None:
        ui = self.settings.ui
        if ui.dock_tab == "video" and self.video_factory is not None:
            self.open_panel("video")
        if ui.window_state:
            self.restoreState(QByteArray.fromBase64(ui.window_state.encode()))
        if ui.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(ui.window_geometry.encode()))

    def front_dock(self) -> str:
        """The dock tab in front: the video panel when it is shown over the voice library."""
        video = self.video_dock
        if video is not None and video.isVisible() and not video.visibleRegion().isEmpty():
            return "video"
        return "voices"

    def layout_settings(self) -> Settings:
        """The settings with the window's size, place and dock tab as they are now."""
        s = self.settings.model_copy(deep=True)
        s.ui.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
        s.ui.window_state = bytes(self.saveState().toBase64()).decode()
        s.ui.dock_tab = self.front_dock()
        return s

    def closeEvent(self, event) -> None:
        self.settings_applied.emit(changes(self.settings, self.layout_settings()))
        super().closeEvent(event)

    # -- push to talk: button and held key ----------------------------------------------------
    def _press(self) -> None:
        if not self.holding:
            self.holding = True
            self.talk_pressed.emit()

    def _release(self) -> None:
        if self.holding:
            self.holding = False
            self.talk_released.emit()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.KeyPress and event.key() in RETURN_KEYS and self._return_clicks(obj):
            return True
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and self._ptt_event(event):
            if not event.isAutoRepeat():
                if kind == QEvent.Type.KeyPress:
                    self.talk.setDown(True)
                    self._press()
                else:
                    self.talk.setDown(False)
                    self._release()
            return True
        if kind == QEvent.Type.ApplicationDeactivate and self.holding:
            # The key release will go to another window: do not stay stuck listening.
            self.talk.setDown(False)
            self._release()
        return False

    def _return_clicks(self, obj: QObject) -> bool:
        """Return on a focused button of this window presses it, as in a dialog (Qt does that only
        in dialogs; lists handle Return themselves: the voice list uses the voice)."""
        focus = QApplication.focusWidget()
        if obj is not focus or not isinstance(focus, QAbstractButton) or focus is self.talk:
            return False
        if QApplication.activeModalWidget() is not None or QApplication.activeWindow() is not self:
            return False
        if focus.isEnabled():
            focus.animateClick()
        return True

    def _ptt_event(self, event) -> bool:
        if event.key() != self.ptt_key:
            return False
        if QApplication.activeModalWidget() is not None:
            return False
        active = QApplication.activeWindow()
        if active is not None and active is not self:
            return False
        focus = QApplication.focusWidget()
        if isinstance(focus, TEXT_ENTRY) or (isinstance(focus, QComboBox) and focus.isEditable()):
            return False  # typing a space into a field is not a question
        if focus is not self.talk and isinstance(focus, KEY_CONTROLS):
            return False  # Space presses the focused button, ticks the box, picks in the list
        return True

    # -- showing what the controller reports ----------------------------------------------------
    def show_state(self, state: str) -> None:
        self.talk.set_state(state)
        if state != "listening":
            self.meter.clear()

    def show_level(self, dbfs: float) -> None:
        if self.talk.state == "listening":
            self.meter.set_level(dbfs)
        if self.first_run is not None:
            self.first_run.show_level(dbfs)

    def show_engine(self, state: str, detail: str) -> None:
        self.status.set_engine(state, detail)

    def show_online(self, online: bool) -> None:
        self.status.set_online(online)

    def show_voice(self, name: str) -> None:
        self.status.set_voice(name)
        self.voice_panel.refresh(name)
        self._update_hint()

    def _update_hint(self, *_) -> None:
        self.conversation.set_hint(self.voice_panel.names(), self.voice_panel.active,
                                   self.settings.ui.ptt_key or "Space")

    def fix_cloning(self, fix: str) -> None:
        """The voice panel's "Get the cloning model" / "Accept the licence in Settings" button."""
        if fix == "model":
            wizard = self.open_first_run()
            if wizard is not None:
                wizard.licence.accept_btn.setChecked(True)
                for _ in range(2):
                    wizard.next()    # to the licence page, with the licence already chosen
        else:
            self.open_settings()

    def show_message(self, text: str) -> None:
        self.status.show_message(text)
        if self.first_run is not None and self.first_run.isVisible() and text:
            self.first_run.show_message(text)

    def show_heard(self, text: str) -> None:
        self.conversation.begin_turn(text)

    def show_reply_sentence(self, text: str) -> None:
        self.conversation.add_sentence(text)

    def show_turn(self, t: dict) -> None:
        self.conversation.finish_turn(t)

    def show_turn_failed(self, why: str) -> None:
        self.conversation.fail_turn(why)
        self.status.show_message(why)

    def show_devices(self, inputs: list, outputs: list) -> None:
        self.inputs, self.outputs = list(inputs), list(outputs)
        if self.settings_dialog is not None:
            self.settings_dialog.set_devices(self.inputs, self.outputs)

    def show_settings(self, settings: Settings) -> None:
        """The controller's settings now in force: apply the window's own (theme, key)."""
        theme_changed = settings.ui.theme != self.settings.ui.theme
        self.settings = settings.model_copy(deep=True)
        self.ptt_key = key_code(settings.ui.ptt_key)
        self.talk.set_key_name(settings.ui.ptt_key)
        self._update_hint()
        if theme_changed:
            apply_theme(QApplication.instance(), settings.ui.theme)

    def open_panel(self, which: str) -> None:
        if which == "video" and self.video_dock is None and self.video_factory is not None:
            try:
                panel = self.video_factory()
            except Exception as e:  # e.g. QtMultimedia missing: the rest of the window works
                self.video_factory = None
                self.show_message(f"The video panel could not be opened ({e}).")
                return
            if hasattr(panel, "message"):
                panel.message.connect(self.show_message)
            self.video_dock = QDockWidget("Video", self)
            self.video_dock.setObjectName("video")
            self.video_dock.setWidget(panel)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.video_dock)
            self.tabifyDockWidget(self.voice_dock, self.video_dock)
        dock = self.video_dock if which == "video" else self.voice_dock
        if dock is None:
            self.show_message("The video panel is not available (Qt's multimedia module is missing).")
            return
        dock.show()
        dock.raise_()

    def show_mic_result(self, peak: float) -> None:
        if self.first_run is not None:
            self.first_run.show_mic_result(peak)

    # -- dialogs ---------------------------------------------------------------------------------
    def open_settings(self):
        models = None
        if self.model_store is not None:
            models = [(m.name, m.installed) for m in self.model_store.known() if m.kind == "stt"]
        base = self.settings.model_copy(deep=True)
        dialog = SettingsDialog(self.settings, self.inputs, self.outputs, models, self)
        dialog.applied.connect(lambda new: self.settings_applied.emit(changes(base, new)))
        dialog.rescan_requested.connect(self.rescan_requested)
        dialog.finished.connect(lambda *_: setattr(self, "settings_dialog", None))
        self.settings_dialog = dialog
        dialog.open()
        return dialog

    def open_first_run(self):
        if self.model_store is None:
            return None
        base = self.settings.model_copy(deep=True)
        wizard = FirstRunWizard(self.settings, self.inputs, self.outputs, self.model_store, parent=self)
        wizard.test_tone.connect(self.test_tone)
        wizard.mic_check.connect(self.mic_check)
        wizard.preview_voice.connect(self.preview_voice)
        wizard.stop_preview.connect(self.stop_audio)
        wizard.accepted.connect(
            lambda: self.settings_applied.emit(changes(base, wizard.result_settings())))
        wizard.finished.connect(lambda *_: setattr(self, "first_run", None))
        self.first_run = wizard
        wizard.open()
        return wizard
