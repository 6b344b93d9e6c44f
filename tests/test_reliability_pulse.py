"""Whatever the test suite starts, it stops: the session's PulseAudio is gone when pytest ends."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO
from tests.pulse import _alive

CHILD_TEST = '''
from pathlib import Path


def test_uses_the_virtual_card(pulse):
    pid = (Path(pulse) / "pulse" / "pid").read_text().split()[0]
    Path({out!r}).write_text(pid + " " + pulse)
'''


def test_the_session_pulseaudio_is_stopped_when_pytest_ends(tmp_path):
    out = tmp_path / "pid"
    (tmp_path / "test_child.py").write_text(CHILD_TEST.format(out=str(out)))
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "PULSE_SERVER")}
    env["PYTHONPATH"] = str(REPO)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-p", "tests.conftest", str(tmp_path / "test_child.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    pid, runtime = out.read_text().split()
    assert not _alive(int(pid)), "the PulseAudio daemon the session started is still running"
    assert not os.path.exists(runtime)   # and its private runtime folder is gone
