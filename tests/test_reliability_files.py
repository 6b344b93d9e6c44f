"""Nothing lands outside Kaytoo's folders, and a user's own output follows the user's umask."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine_proc import write_settings


def kaytoo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def test_piper_writes_nothing_into_the_users_home(tmp_path, kaytoo_home):
    """onnxruntime keeps telemetry state in ~/.cache/Microsoft/DeveloperTools unless told not to."""
    write_settings(tiers=["piper"])
    home = tmp_path / "user-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "ORT_DISABLE_TELEMETRY")}
    env["HOME"] = str(home)
    out = kaytoo("say", "Hello there.", "--tier", "piper", "--out", str(tmp_path / "a.wav"), env=env)
    assert out.returncode == 0, out.stderr
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_wav_from_say_follows_the_umask(tmp_path, kaytoo_home, umask, mode):
    write_settings(tiers=["pyttsx3"])
    wav = tmp_path / "a.wav"
    out = subprocess.run([sys.executable, "-c",
                          f"import os, sys; os.umask({umask}); from app.cli import main; "
                          f"sys.exit(main(['say', 'Hi.', '--out', {str(wav)!r}]))"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert wav.stat().st_mode & 0o777 == mode


def test_private_files_stay_private_whatever_the_umask(tmp_path):
    from app import atomic

    tmp_path = tmp_path / "files"   # a folder of its own (the test's KAYTOO_HOME is beside it)
    tmp_path.mkdir()
    old = os.umask(0o000)
    try:
        atomic.write_text(tmp_path / "secret", "x", private=True)
        atomic.write_text(tmp_path / "shared", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "shared").stat().st_mode & 0o777 == 0o666
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["secret", "shared"]


def test_a_runtime_folder_made_by_another_user_is_refused_not_taken_over(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("making a folder owned by another user needs root")
    tmp = tmp_path / "tmp"
    trap = tmp / f"kaytoo-{os.getuid()}"
    trap.mkdir(parents=True)
    trap.chmod(0o777)
    os.chown(trap, 65534, 65534)          # nobody made it first, world-writable
    env = {k: v for k, v in os.environ.items()
           if k not in ("KAYTOO_HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
                        "XDG_CACHE_HOME", "XDG_STATE_HOME")}
    env.update(TMPDIR=str(tmp), HOME=str(tmp_path / "home"))
    out = kaytoo("voices", "list", env=env)
    assert out.returncode == 2 and "belongs to another user" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    st = trap.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (65534, 0o777)   # neither chmodded nor used
    assert list(trap.iterdir()) == []
