"""A picture tour of the desktop app: drives the real window on a real X display through first
run, a turn, the voice library, settings and the video panel, and saves a screenshot of each into
docs/ (docs/screenshot.png, the README's picture, is the window after the turn).

    xvfb-run -s "-screen 0 1280x800x24" python scripts/tour.py --virtual-audio

Run it from a checkout (it uses a fresh, temporary KAYTOO_HOME, so it meets the app as a new user
does). ``--virtual-audio`` starts a private PulseAudio with a virtual speaker and microphone
(tests/pulse.py), for machines without a sound card. The question asked is
assets/demo/what-time-is-it.wav, used as the microphone. A script, not a test: it polls.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

VOICE_TEXT = ("Good evening. I am the narrator of this story, and I will read it to you slowly, "
              "clearly, and with a little drama, because every good story deserves some.")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "docs", help="where the pictures go")
    p.add_argument("--theme", default="dark", choices=("dark", "light"))
    p.add_argument("--virtual-audio", action="store_true", help="start a private PulseAudio")
    p.add_argument("--timeout", type=float, default=240.0, help="give up on a step after seconds")
    args = p.parse_args()
    if not os.environ.get("DISPLAY"):
        print("tour: needs an X display; run it under xvfb-run (see the top of this file)",
              file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="kaytoo-tour-"))
    os.environ["KAYTOO_HOME"] = str(home)
    os.environ.pop("QT_QPA_PLATFORM", None)            # the real X window, not offscreen
    pulse = None
    if args.virtual_audio:
        from tests.pulse import start_pulse

        pulse = start_pulse()
    try:
        return Tour(args, home).run()
    finally:
        if pulse is not None:   # whatever the tour starts, it stops
            pulse.stop()
        shutil.rmtree(home, ignore_errors=True)


class Tour:
    def __init__(self, args, home: Path):
        from PySide6.QtWidgets import QApplication

        self.args, self.home = args, home
        self.app = QApplication(["kaytoo"])
        self.app.setApplicationName("Kaytoo")
        self.work = home / "tour-files"
        self.work.mkdir()
        self.shots: list[Path] = []

    # -- helpers ---------------------------------------------------------------------------------
    def wait(self, what: str, ready, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.args.timeout)
        while not ready():
            if time.monotonic() > deadline:
                raise SystemExit(f"tour: gave up waiting for {what}")
            self.app.processEvents()
            time.sleep(0.02)

    def settle(self, seconds: float = 0.6) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.02)

    def shot(self, name: str, widget) -> None:
        """What the X server shows of ``widget``'s window (videos included, unlike grab())."""
        top = widget.window()
        top.raise_()
        top.activateWindow()
        self.settle()
        g = top.frameGeometry()
        picture = self.app.primaryScreen().grabWindow(0, g.x(), g.y(), g.width(), g.height())
        path = self.args.out / name
        picture.save(str(path))
        self.shots.append(path)
        print(f"saved {path.relative_to(REPO) if path.is_relative_to(REPO) else path}", flush=True)

    def make_files(self) -> tuple[Path, Path]:
        """A voice clip (espeak-ng) and a short test video (ffmpeg)."""
        raw, clip, video = self.work / "raw.wav", self.work / "narrator.wav", self.work / "clip.mp4"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), VOICE_TEXT], check=True)
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(raw), "-ac", "1",
                        "-ar", "22050", str(clip)], check=True)
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc2=size=640x360:rate=25:duration=4", "-f", "lavfi", "-i",
                        "sine=duration=4", "-c:v", "libx264", "-preset", "ultrafast",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", str(video)], check=True)
        return clip, video

    # -- the tour --------------------------------------------------------------------------------
    def run(self) -> int:
        from PySide6.QtCore import QEvent, Qt
        from PySide6.QtGui import QKeyEvent
        from PySide6.QtWidgets import QTabWidget, QWizard

        from app import paths as paths_mod
        from app.runtime import asset_dir
        from app.settings import Settings, save
        from app.ui.app import assemble, voice_library
        from app.ui.theme import apply_theme

        self.args.out.mkdir(parents=True, exist_ok=True)
        clip, video = self.make_files()
        paths = paths_mod.resolve().ensure()
        settings = Settings()
        settings.ui.theme = self.args.theme
        save(paths.settings_file, settings)
        apply_theme(self.app, settings.ui.theme)
        ui = assemble(paths, settings, voice_library(paths), asset_dir() / "demo" / "what-time-is-it.wav",
                      probe_online=True)
        window, controller = ui.window, ui.controller
        engine: list[str] = []
        done: list[dict] = []
        controller.engine_state.connect(lambda s, _d: engine.append(s))
        controller.turn_done.connect(done.append)
        controller.turn_failed.connect(lambda why: print(f"tour: the turn failed: {why}", flush=True))
        window.move(0, 0)
        window.resize(1180, 720)
        window.show()
        ui.start()
        try:
            # 1. First run, as a new user meets it.
            wizard = window.open_first_run()
            wizard.move(120, 60)
            self.shot("tour-1-first-run.png", wizard)
            wizard.next()
            wizard.next()
            wizard.licence.accept_btn.setChecked(True)
            wizard.next()                                   # the download page …
            wizard.download.start_download()                # … offline: one plain sentence
            self.wait("the download to end", lambda: wizard.download.start_btn.isEnabled())
            self.shot("tour-2-download-offline.png", wizard)
            wizard.back()
            wizard.licence.decline_btn.setChecked(True)     # a choice: Finish, no warning later
            wizard.licence.decline_btn.setFocus()
            self.shot("tour-3-licence.png", wizard)
            wizard.button(QWizard.WizardButton.FinishButton).click()

            # 2. A turn: hold the talk key, let go, hear the answer.
            self.wait("the speech engine", lambda: engine and engine[-1] == "ready")
            key = window.ptt_key
            self.app.sendEvent(window, QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier))
            self.settle(0.4)
            self.app.sendEvent(window, QKeyEvent(QEvent.Type.KeyRelease, key, Qt.KeyboardModifier.NoModifier))
            self.wait("the answer", lambda: bool(done))
            self.wait("the reply to be spoken", lambda: controller.state == "idle")
            self.shot("screenshot.png", window)

            # 3. The voice library: a voice of one's own, and what it sounds like for now.
            panel = window.voice_panel
            panel.add_file("Narrator", clip)
            self.wait("the new voice", lambda: "Narrator" in panel.names())
            panel.select("Narrator")
            self.shot("tour-4-voices.png", window)

            # 4. Settings.
            dialog = window.open_settings()
            dialog.move(160, 60)
            tabs = dialog.findChild(QTabWidget)
            tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == "General"))
            self.shot("tour-5-settings.png", dialog)
            dialog.reject()

            # 5. The video panel: optimise a clip and preview it.
            window.open_panel("video")
            video_panel = window.video_dock.widget()
            video_panel.set_input(video)
            video_panel.set_output_dir(self.work / "out")
            video_panel.set_codec("h264")
            video_panel.start()
            self.wait("the optimised video", lambda: video_panel.result is not None)
            video_panel.play_button.click()
            self.settle(1.5)
            self.shot("tour-6-video.png", window)
            video_panel.stop_preview()
        finally:
            ui.close()
        print(f"tour: {len(self.shots)} pictures in {self.args.out}", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
