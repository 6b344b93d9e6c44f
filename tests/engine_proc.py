"""Helpers to run the real engine process in tests."""
from __future__ import annotations

import sys

from app.settings import Settings, save
from app import paths as paths_mod


def engine_cmd(uri: str = "stdio://") -> list[str]:
    return [sys.executable, "-m", "app", "engine", "--uri", uri]


def write_settings(**tts) -> Settings:
    """Settings for the test's KAYTOO_HOME (the engine process reads them at start). The local
    tiers get patient first-audio deadlines: these tests check which tier speaks, and a busy
    machine must not turn that into a fallback (tests/test_chain.py covers the deadlines)."""
    p = paths_mod.resolve().ensure()
    s = Settings()
    s.tts.deadlines.update(piper=60.0, pyttsx3=60.0)
    for k, v in tts.items():
        setattr(s.tts, k, v)
    save(p.settings_file, s)
    return s


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(proc, port: int, tries: int = 1200) -> None:
    """Until the engine accepts TCP connections; fails the test if it exits first."""
    import socket
    import subprocess

    import pytest

    for _ in range(tries):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            try:
                proc.wait(0.1)  # doubles as the check that the engine did not die
                pytest.fail(f"the engine exited with {proc.returncode}")
            except subprocess.TimeoutExpired:
                pass
    proc.kill()
    pytest.fail("the engine did not start listening")
