"""Builds the real window + controller (real engine process, real devices) for GUI tests."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Slot

from app import paths as paths_mod
from app.settings import Settings, save


class Log(QObject):
    """Collects the controller's reports on the GUI thread (queued, like the window gets them)."""

    def __init__(self, controller):
        super().__init__()
        self.states: list[str] = []
        self.engine: list[str] = []
        self.done: list[dict] = []
        self.failed: list[str] = []
        self.messages: list[str] = []
        self.first_sound: list[float] = []
        self.settings: list[Settings] = []
        self.said: list[tuple[str, str]] = []
        controller.state_changed.connect(self.state)
        controller.engine_state.connect(self.engine_state)
        controller.turn_done.connect(self.turn_done)
        controller.turn_failed.connect(self.turn_failed)
        controller.message.connect(self.message)
        controller.first_sound.connect(self.sound)
        controller.settings_changed.connect(self.settings_changed)
        controller.said.connect(self.spoke)

    @Slot(str)
    def state(self, s: str) -> None:
        self.states.append(s)

    @Slot(str, str)
    def engine_state(self, s: str, _detail: str) -> None:
        self.engine.append(s)

    @Slot(dict)
    def turn_done(self, d: dict) -> None:
        self.done.append(d)

    @Slot(str)
    def turn_failed(self, why: str) -> None:
        self.failed.append(why)

    @Slot(str)
    def message(self, text: str) -> None:
        self.messages.append(text)

    @Slot(float)
    def sound(self, s: float) -> None:
        self.first_sound.append(s)

    @Slot(str, str)
    def spoke(self, text: str, tier: str) -> None:
        self.said.append((text, tier))

    @Slot(object)
    def settings_changed(self, s) -> None:
        self.settings.append(s)


def build(qtbot, mic_file: Path | None = None, settings: Settings | None = None,
          **session_options):
    """(ui, log) with the controller started; the caller closes ``ui``."""
    from app.ui.app import assemble, voice_library

    paths = paths_mod.resolve().ensure()
    settings = settings or Settings()
    save(paths.settings_file, settings)   # the engine process reads the same file
    ui = assemble(paths, settings, voice_library(paths), mic_file, probe_online=False,
                  **session_options)
    qtbot.addWidget(ui.window)
    log = Log(ui.controller)
    ui.window.show()
    ui.start()
    return ui, log


def wait_ready(qtbot, log: Log, timeout_ms: int = 120000) -> None:
    qtbot.waitUntil(lambda: bool(log.engine and log.engine[-1] == "ready"), timeout=timeout_ms)
