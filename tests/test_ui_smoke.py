"""`kaytoo gui --smoke`: the real app in a child process, one scripted turn, a picture, exit 0."""
from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtGui import QImage

from tests.conftest import REPO


def run_gui(*args: str, home) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "KAYTOO_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "app", "gui", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_smoke_turn_answers_and_saves_a_screenshot(tmp_path, kaytoo_home, speak):
    shot = tmp_path / "window.png"
    run = run_gui("--smoke", "--mic-file", str(speak("What time is it?", "what-time")),
                  "--screenshot", str(shot), home=kaytoo_home)
    assert run.returncode == 0, run.stderr
    assert "heard: 'What time is it?'" in run.stdout
    assert "reply: It is" in run.stdout and "timings: stt" in run.stdout
    image = QImage(str(shot))
    assert not image.isNull() and image.width() >= 800 and image.height() >= 500


def test_smoke_without_a_question_is_a_usage_error(kaytoo_home, tmp_path):
    run = run_gui("--smoke", home=kaytoo_home)
    assert run.returncode == 2
    assert "--smoke needs --mic-file" in run.stderr
    run = run_gui("--smoke", "--mic-file", str(tmp_path / "missing.wav"), home=kaytoo_home)
    assert run.returncode == 2
    assert "missing.wav does not exist" in run.stderr
