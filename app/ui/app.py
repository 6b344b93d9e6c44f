"""Starts the desktop app: window on the Qt main thread, controller on its own QThread.

``--smoke --mic-file Q.wav --screenshot out.png`` runs one scripted turn with the file as the
microphone, saves a picture of the window and exits (0 on success).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Slot


def run_gui(argv: list[str]) -> int:
    from PySide6.QtWidgets import QApplication

    from app import paths as paths_mod
    from app.settings import load

    p = argparse.ArgumentParser(prog="kaytoo gui")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--mic-file", type=Path)
    p.add_argument("--screenshot", type=Path)
    p.add_argument("--timeout", type=float, default=240.0)
    args = p.parse_args(argv[1:])

    import os

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or
                                                 os.environ.get("WAYLAND_DISPLAY") or
                                                 os.environ.get("QT_QPA_PLATFORM")):
        if not args.smoke:
            from app.errors import UserError

            raise UserError("No display was found; run 'kaytoo turn --in Q.wav --out A.wav' for a "
                            "headless turn, or start the app inside a desktop session.")
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a smoke run works without a screen
    paths = paths_mod.resolve().ensure()
    settings, warning = load(paths.settings_file)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Kaytoo")
    ui = assemble(paths, settings, args.mic_file)
    window, controller, thread = ui.window, ui.controller, ui.thread
    if warning:
        window.show_message(warning)

    outcome = {"code": 0}
    if args.smoke:
        _script_smoke(app, window, controller, args, outcome)
    window.show()
    thread.start()
    app.aboutToQuit.connect(ui.close)
    code = app.exec()
    return outcome["code"] if args.smoke else code


@dataclass
class Ui:
    window: "MainWindow"
    controller: "Controller"
    thread: "QThread"

    def close(self) -> None:
        from PySide6.QtCore import QMetaObject, Qt

        # shutdown runs on the controller's thread, then the thread ends.
        QMetaObject.invokeMethod(self.controller, "shutdown",
                                 Qt.ConnectionType.BlockingQueuedConnection)
        self.thread.quit()
        self.thread.wait(15000)


def assemble(paths, settings, mic_file: Path | None = None) -> Ui:
    """Build the window and the controller (not started) and connect them. Used by the app and tests."""
    from PySide6.QtCore import QThread

    from app.bootstrap import asset_dir
    from app.ui.controller import Controller
    from app.ui.main_window import MainWindow
    from app.ui.voice_panel import VoicePanel
    from app.voices.library import VoiceLibrary

    panel = VoicePanel(VoiceLibrary(paths.voices, asset_dir() / "voices"))
    window = MainWindow(panel)
    controller = Controller(paths, settings, mic_file)
    thread = QThread()
    controller.moveToThread(thread)
    thread.started.connect(controller.start)
    window.talk_pressed.connect(controller.press)
    window.talk_released.connect(controller.release)
    panel.active_chosen.connect(controller.set_voice)
    panel.message.connect(window.show_message)
    controller.state_changed.connect(window.show_state)
    controller.engine_state.connect(window.show_engine)
    controller.level.connect(window.show_level)
    controller.heard.connect(window.show_heard)
    controller.reply_sentence.connect(window.show_reply_sentence)
    controller.turn_done.connect(window.show_turn)
    controller.voice_changed.connect(window.show_voice)
    controller.voice_changed.connect(panel.refresh)  # bound slots: queued onto the GUI thread
    controller.message.connect(window.show_message)
    controller.open_panel.connect(window.open_panel)
    return Ui(window, controller, thread)


def _script_smoke(app, window, controller, args, outcome: dict) -> None:
    """One turn: wait for the engine, hold talk, release, wait for the answer, screenshot, quit."""
    if args.mic_file is None:
        print("kaytoo: --smoke needs --mic-file", file=sys.stderr)
        outcome["code"] = 2
        QTimer.singleShot(0, app.quit)
        return
    script = _SmokeScript(app, window, args.screenshot, outcome)  # lives on the GUI thread
    outcome["script"] = script
    controller.engine_state.connect(script.engine_state)
    controller.turn_done.connect(script.turn_done)
    controller.message.connect(script.message)
    QTimer.singleShot(int(args.timeout * 1000), lambda: script.finish(1, "timed out"))


class _SmokeScript(QObject):
    """Drives the smoke turn from the GUI thread (slots run where this object lives)."""

    def __init__(self, app, window, screenshot: Path | None, outcome: dict):
        super().__init__()
        self.app, self.window, self.screenshot, self.outcome = app, window, screenshot, outcome

    @Slot(str, str)
    def engine_state(self, state: str, detail: str) -> None:
        if state == "ready" and not self.outcome.get("pressed"):
            self.outcome["pressed"] = True
            self.window.talk_pressed.emit()
            QTimer.singleShot(300, self.window.talk_released.emit)
        elif state == "failed":
            self.finish(1, f"engine failed: {detail}")

    @Slot(dict)
    def turn_done(self, result: dict) -> None:
        print(f"heard: {result['heard']!r}\nreply: {result['reply']}\n"
              f"tier: {result['tier']}\ntimings: {result['timings']}")
        QTimer.singleShot(400, lambda: self.finish(0 if result["reply"] else 1, ""))

    @Slot(str)
    def message(self, text: str) -> None:
        print(f"kaytoo: {text}", file=sys.stderr)

    def finish(self, code: int, why: str) -> None:
        if self.outcome.get("finished"):
            return
        self.outcome["finished"] = True
        if self.screenshot:
            self.window.grab().save(str(self.screenshot))
        if why:
            print(f"kaytoo: smoke turn failed: {why}", file=sys.stderr)
        self.outcome["code"] = code
        self.app.quit()
