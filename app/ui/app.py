"""Starts the desktop app: window on the Qt main thread, controller on its own QThread.

``--smoke --mic-file Q.wav --screenshot out.png`` runs one scripted turn with the file as the
microphone, saves a picture of the window and exits (0 on success).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run_gui(argv: list[str]) -> int:
    from PySide6.QtCore import QThread, QTimer
    from PySide6.QtWidgets import QApplication

    from app import paths as paths_mod
    from app.bootstrap import asset_dir
    from app.settings import load
    from app.ui.controller import Controller
    from app.ui.main_window import MainWindow
    from app.ui.voice_panel import VoicePanel
    from app.voices.library import VoiceLibrary

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

    panel = VoicePanel(VoiceLibrary(paths.voices, asset_dir() / "voices"))
    window = MainWindow(panel)
    controller = Controller(paths, settings, args.mic_file)
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
    controller.voice_changed.connect(lambda name: panel.refresh(name))
    controller.message.connect(window.show_message)
    controller.open_panel.connect(lambda which: window.voice_dock.show() if which == "voices"
                                  else window.show_message("The video panel is not built yet."))
    if warning:
        window.show_message(warning)

    outcome = {"code": 0}
    if args.smoke:
        _script_smoke(app, window, controller, args, outcome)
    window.show()
    thread.start()
    app.aboutToQuit.connect(lambda: (controller.shutdown(), thread.quit(), thread.wait(15000)))
    code = app.exec()
    return outcome["code"] if args.smoke else code


def _script_smoke(app, window, controller, args, outcome: dict) -> None:
    """One turn: wait for the engine, hold talk, release, wait for the answer, screenshot, quit."""
    from PySide6.QtCore import QTimer

    if args.mic_file is None:
        print("kaytoo: --smoke needs --mic-file", file=sys.stderr)
        outcome["code"] = 2
        QTimer.singleShot(0, app.quit)
        return

    def ready(state: str, detail: str) -> None:
        if state == "ready" and not outcome.get("pressed"):
            outcome["pressed"] = True
            window.talk_pressed.emit()
            QTimer.singleShot(300, window.talk_released.emit)
        elif state == "failed":
            finish(1, f"engine failed: {detail}")

    def done(result: dict) -> None:
        print(f"heard: {result['heard']!r}\nreply: {result['reply']}\ntier: {result['tier']}\n"
              f"timings: {result['timings']}")
        QTimer.singleShot(400, lambda: finish(0 if result["reply"] else 1, ""))

    def finish(code: int, why: str) -> None:
        if outcome.get("finished"):
            return
        outcome["finished"] = True
        if args.screenshot:
            window.grab().save(str(args.screenshot))
        if why:
            print(f"kaytoo: smoke turn failed: {why}", file=sys.stderr)
        outcome["code"] = code
        app.quit()

    controller.engine_state.connect(ready)
    controller.turn_done.connect(done)
    controller.message.connect(lambda m: print(f"kaytoo: {m}", file=sys.stderr))
    QTimer.singleShot(int(args.timeout * 1000), lambda: finish(1, "timed out"))
