"""Starts the desktop app: window on the Qt main thread, controller on its own QThread.

``--smoke --mic-file Q.wav --screenshot out.png`` runs one scripted turn with the file as the
microphone (pressing and releasing the push-to-talk key like a user), saves a picture of the
window and exits: 0 when Kaytoo answered, non-zero with a one-line reason otherwise.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import QThread

    from app.paths import Paths
    from app.settings.model import Settings
    from app.ui.controller import Controller
    from app.ui.main_window import MainWindow
    from app.voices.library import VoiceLibrary


def add_gui_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``kaytoo gui`` (the CLI's one parser for them)."""
    p.add_argument("--smoke", action="store_true", help="one scripted turn, then exit")
    p.add_argument("--mic-file", type=Path, help="use this audio file as the microphone")
    p.add_argument("--screenshot", type=Path, help="save a PNG of the window (smoke mode)")
    p.add_argument("--timeout", type=float, default=240.0, help="smoke mode: give up after seconds")
    p.add_argument("--theme", choices=("system", "dark", "light"), help="override the theme")
    p.add_argument("--hold", type=float, default=0.0,
                   help="smoke mode: keep the window up this many seconds after the turn "
                        "(for a screen capture; 'screenshot ready' is printed when it may be taken)")


def run_gui(args: argparse.Namespace, paths: "Paths", settings: "Settings",
            warning: str | None = None) -> int:
    """``args`` as parsed with ``add_gui_arguments``; paths, settings (and the warning their load
    gave) come from the one composition root, the CLI. Bad usage raises UserError (exit code 2)."""
    from app.errors import UserError

    if args.smoke and args.mic_file is None:
        raise UserError("gui: --smoke needs --mic-file AUDIO (the question to ask).")
    if args.mic_file is not None and not args.mic_file.is_file():
        raise UserError(f"gui: {args.mic_file} does not exist or is not a file.")

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or
                                                 os.environ.get("WAYLAND_DISPLAY") or
                                                 os.environ.get("QT_QPA_PLATFORM")):
        if not args.smoke:
            raise UserError("gui: no display was found; start it inside a desktop session, or run "
                            "'kaytoo turn --in Q.wav --out A.wav' for a headless turn.")
        os.environ["QT_QPA_PLATFORM"] = "offscreen"   # a smoke run needs no screen

    from app.runtime import prepare_qt

    prepare_qt()   # the frozen app's Qt paths, set only when a window is made
    from PySide6.QtWidgets import QApplication

    from app.ui.theme import apply_theme

    if args.theme:
        settings.ui.theme = args.theme
    app = QApplication.instance() or QApplication(["kaytoo"])
    app.setApplicationName("Kaytoo")
    apply_theme(app, settings.ui.theme)
    ui = assemble(paths, settings, voice_library(paths), args.mic_file, probe_online=True)
    if warning:  # the settings file was repaired or set aside at load: say so in the window
        logging.getLogger(__name__).warning("shown in the window: %s", warning)
        ui.window.show_message(warning)
    outcome = {"code": 0}
    if args.smoke:
        smoke = _script_smoke(app, ui, args, outcome)  # noqa: F841 (kept alive)
        ui.window.move(0, 0)   # a screen capture under Xvfb (no window manager) finds it at the origin
        if args.hold > 0:      # … and fills the screen with it
            ui.window.resize(app.primaryScreen().availableSize())
    elif not settings.ui.first_run_done:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(300, ui.window.open_first_run)
    ui.window.show()
    ui.start()
    app.aboutToQuit.connect(ui.close)
    code = app.exec()
    return outcome["code"] if args.smoke else code


@dataclass
class Ui:
    window: "MainWindow"
    controller: "Controller"
    thread: "QThread"

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        from PySide6.QtCore import QMetaObject, Qt

        if self.window.video_dock is not None:  # an encode in progress is cancelled, not orphaned
            self.window.video_dock.widget().shutdown()
        if not self.thread.isRunning():
            return
        # shutdown runs on the controller's thread (where its objects live), then the thread ends.
        QMetaObject.invokeMethod(self.controller, "shutdown",
                                 Qt.ConnectionType.BlockingQueuedConnection)
        self.thread.quit()
        self.thread.wait(15000)


def voice_library(paths: "Paths") -> "VoiceLibrary":
    from app.runtime import asset_dir
    from app.voices.library import VoiceLibrary

    return VoiceLibrary(paths.voices, asset_dir() / "voices")


def assemble(paths: "Paths", settings: "Settings", voices: "VoiceLibrary",
             mic_file: Path | None = None, probe_online: bool = True, **session_options) -> Ui:
    """Build the window and the controller (not started) and wire their signals.

    The one place the two meet, used by the app and by tests; the voice library is built once
    and shared by the session and the voice panel.
    """
    from PySide6.QtCore import QThread

    from app.engines.models import ModelStore
    from app.ui.controller import Controller
    from app.ui.jobs import Jobs
    from app.ui.main_window import MainWindow
    from app.ui.voice_panel import VoicePanel

    controller = Controller(paths, settings, voices, mic_file, probe_online=probe_online,
                            **session_options)
    panel = VoicePanel(voices, input_device=lambda: controller.settings.audio.input_device,
                       jobs=Jobs())
    panel.refresh(settings.voice.active)
    try:
        store = ModelStore(paths.models)
    except Exception:  # a bad mirror variable must not stop the window
        store = None
    def video_panel():
        from app.ui.video_panel import VideoPanel

        return VideoPanel()

    window = MainWindow(panel, settings, store, video_panel)
    thread = QThread()
    thread.setObjectName("controller")
    controller.moveToThread(thread)
    thread.started.connect(controller.start)

    # window → controller
    window.talk_pressed.connect(controller.press)
    window.talk_released.connect(controller.release)
    window.settings_applied.connect(controller.apply_settings)
    window.rescan_requested.connect(controller.refresh_devices)
    window.test_tone.connect(controller.test_tone)
    window.mic_check.connect(controller.mic_check)
    window.preview_voice.connect(controller.preview_reference)
    window.stop_audio.connect(controller.stop_audio)
    panel.active_chosen.connect(controller.set_voice)
    panel.preview_reference.connect(controller.preview_reference)
    panel.speak_sample.connect(controller.speak_sample)
    panel.voice_added.connect(controller.prepare_voice)
    panel.message.connect(window.show_message)
    panel.fix_requested.connect(window.fix_cloning)

    # controller → window
    controller.state_changed.connect(window.show_state)
    controller.engine_state.connect(window.show_engine)
    controller.level.connect(window.show_level)
    controller.heard.connect(window.show_heard)
    controller.reply_sentence.connect(window.show_reply_sentence)
    controller.turn_done.connect(window.show_turn)
    controller.turn_failed.connect(window.show_turn_failed)
    controller.reply_cut.connect(window.conversation.cut_reply)
    controller.announce.connect(window.conversation.announce)
    controller.voice_changed.connect(window.show_voice)
    controller.voice_progress.connect(panel.show_progress)
    controller.cloning_status.connect(panel.set_cloning)
    controller.message.connect(window.show_message)
    controller.online_changed.connect(window.show_online)
    controller.devices_changed.connect(window.show_devices)
    controller.mic_checked.connect(window.show_mic_result)
    controller.settings_changed.connect(window.show_settings)
    controller.open_panel.connect(window.open_panel)
    # Device names for the dialogs, listed once now; "Refresh audio devices" lists them again.
    from app.audio import devices

    window.show_devices(devices.names("input"), devices.names("output"))
    return Ui(window, controller, thread)


def _script_smoke(app, ui: Ui, args, outcome: dict):
    """One turn: wait for the engine, hold the talk key, release, wait for the answer, screenshot."""
    from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Slot
    from PySide6.QtGui import QKeyEvent

    window, controller = ui.window, ui.controller

    class Smoke(QObject):
        """Lives on the GUI thread, so the controller's signals reach it there (queued)."""

        def key(self, kind) -> None:
            app.sendEvent(window, QKeyEvent(kind, window.ptt_key, Qt.KeyboardModifier.NoModifier))

        @Slot(str, str)
        def ready(self, state: str, detail: str) -> None:
            if state == "ready" and not outcome.get("pressed"):
                outcome["pressed"] = True
                self.key(QEvent.Type.KeyPress)
                QTimer.singleShot(300, lambda: self.key(QEvent.Type.KeyRelease))
            elif state == "failed":
                self.finish(1, f"the speech engine failed: {detail}")

        @Slot(dict)
        def done(self, result: dict) -> None:
            tim = result["timings"]
            print(f"heard: {result['heard']!r}\nreply: {result['reply']}\ntier: {result['tier']}\n"
                  f"timings: stt {tim['stt_s']} s, first audio {tim['first_audio_s']} s, "
                  f"first sound {tim.get('first_sound_s')} s, reply synthesized {tim['total_s']} s, "
                  f"reply played out {tim.get('spoken_s')} s", flush=True)
            ok = bool(result["reply"])
            if args.hold > 0:
                QTimer.singleShot(300, lambda: print("screenshot ready", flush=True))
            QTimer.singleShot(500 + int(args.hold * 1000),
                              lambda: self.finish(0 if ok else 1, "" if ok else "no reply"))

        @Slot(str)
        def failed(self, why: str) -> None:
            self.finish(1, why)

        def finish(self, code: int, why: str) -> None:
            if outcome.get("finished"):
                return
            outcome["finished"] = True
            if args.screenshot:
                window.grab().save(str(args.screenshot))
            if why:
                print(f"kaytoo gui: smoke turn failed: {why}", file=sys.stderr)
            outcome["code"] = code
            app.quit()

    smoke = Smoke(window)
    controller.engine_state.connect(smoke.ready)
    controller.turn_done.connect(smoke.done)
    controller.turn_failed.connect(smoke.failed)
    QTimer.singleShot(int(args.timeout * 1000), lambda: smoke.finish(1, "timed out"))
    return smoke
