"""Saves killed with SIGKILL leave temp files; the next Kaytoo that finds itself alone sweeps them,
and one started beside a live Kaytoo leaves them (they may be that process's work in progress)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app import paths as paths_mod
from app.settings import Settings, load
from tests.engine_proc import write_settings

SAVER = """
import sys
from pathlib import Path
from app.settings import Settings, save
s = Settings()
n = 0
while True:
    n += 1
    s.ui.ptt_key = f"F{n % 12 + 1}"
    save(Path(sys.argv[1]), s)
"""


def kaytoo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          timeout=300)


def wait_for(found, what: str, timeout: float = 60):
    """Poll the file system until ``found()`` returns something (a condition, not a fixed delay)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hit = found()
        if hit:
            return hit
        time.sleep(0.001)
    raise AssertionError(f"{what} did not appear within {timeout} s")


def temp_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".new-"))


def test_settings_saves_killed_midway_leave_a_whole_file_and_no_leftovers_after_the_next_start():
    p = paths_mod.resolve().ensure()
    write_settings(tiers=["pyttsx3"])
    kills = 0
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(p.settings_file)])
        wait_for(lambda: list(p.config.glob(".settings.toml.*.tmp")), "a settings temp file")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        kills += 1
        settings, warning = load(p.settings_file)   # old or new, never half
        assert warning is None and isinstance(settings, Settings)
    assert kills == 3
    out = kaytoo("voices", "list")
    assert out.returncode == 0, out.stderr
    assert temp_files(p.config) == []


def test_a_voice_add_killed_midway_is_swept_by_the_next_start(speak):
    p = paths_mod.resolve().ensure()
    clip = speak("This is my narrator voice, reading a short sentence for the test.")
    proc = subprocess.Popen([sys.executable, "-m", "app", "voices", "add", "Narrator", str(clip)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: list(p.voices.glob(".new-*")), "a half-built voice folder")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    out = kaytoo("voices", "list", "--json")
    assert out.returncode == 0, out.stderr
    assert temp_files(p.data) == []
    assert "Narrator" not in out.stdout or (p.voices / "narrator" / "voice.json").is_file()


def test_leftovers_are_kept_while_another_kaytoo_runs():
    p = paths_mod.resolve().ensure()
    stale = p.config / ".settings.toml.abcd1234.tmp"
    stale.write_text("half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    mine = p.config / "notes.txt"
    mine.write_text("the user's own file")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom app import leftovers, paths\n"
         "lock = leftovers.hold_and_sweep(paths.resolve().ensure())\n"
         "print('held', flush=True)\nsys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not stale.exists()          # the holder was alone at its start: it swept
        stale.write_text("half")
        os.utime(stale, (old, old))
        assert kaytoo("voices", "list").returncode == 0
        assert stale.exists()              # not alone: another Kaytoo's save may be in progress
    finally:
        holder.stdin.close()
        holder.wait(30)
    assert kaytoo("voices", "list").returncode == 0
    assert not stale.exists() and mine.read_text() == "the user's own file"
