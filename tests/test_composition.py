"""One composition root: the CLI loads paths, settings and logging once and hands them to the app,
so a settings problem found at load reaches the window and the app's own log file is written."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO


def test_a_corrupt_settings_file_is_reported_by_the_app_and_logged(kaytoo_home, speak):
    settings = kaytoo_home / "config" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text("[audio\nthis is not toml")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "KAYTOO_HOME": str(kaytoo_home)}
    run = subprocess.run([sys.executable, "-m", "app", "gui", "--smoke", "--mic-file",
                          str(speak("What time is it?", "what-time"))],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    warning = [line for line in run.stderr.splitlines() if "settings" in line.lower()]
    assert warning, run.stderr                      # said once on the terminal …
    log = (kaytoo_home / "logs" / "kaytoo-gui.log").read_text()
    assert "shown in the window" in log             # … and in the window, in the app's own log
    assert "settings" in log.split("shown in the window", 1)[1].splitlines()[0].lower()
