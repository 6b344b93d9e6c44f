"""The supervisor runs the real engine on a private socket and brings it back after a crash."""
from __future__ import annotations

import os
import signal
import stat
import threading

import numpy as np
import pytest

from app import paths as paths_mod
from app.engines.client import EngineGone
from app.engines.supervisor import Supervisor
from tests.engine_proc import write_settings


class States:
    def __init__(self):
        self.seen: list[tuple[str, str]] = []
        self.cond = threading.Condition()

    def __call__(self, state: str, detail: str) -> None:
        with self.cond:
            self.seen.append((state, detail))
            self.cond.notify_all()

    def wait_for(self, state: str, count: int, timeout: float = 120) -> None:
        with self.cond:
            ok = self.cond.wait_for(
                lambda: sum(s == state for s, _ in self.seen) >= count
                or any(s == "failed" for s, _ in self.seen), timeout)
            ok = ok and not any(s == "failed" for s, _ in self.seen)
        assert ok, f"never reached {state} x{count}: {self.seen}"


def test_kill_during_request_restarts_and_next_request_works():
    write_settings(tiers=["pyttsx3"])
    states = States()
    sup = Supervisor(paths_mod.resolve(), states)
    sup.start()
    try:
        states.wait_for("ready", 1)
        mode = stat.S_IMODE(os.stat(sup.socket_path).st_mode)
        assert mode == 0o600
        assert stat.S_IMODE(os.stat(sup.socket_path.parent).st_mode) == 0o700

        first_pid = sup.proc.pid
        client = sup.client()
        long_reply = ["This is a long reply that keeps the engine busy for a while."] * 30
        with pytest.raises(EngineGone):
            for i, _chunk in enumerate(client.speak(long_reply)):
                if i == 0:
                    os.kill(first_pid, signal.SIGKILL)
        client.close()

        states.wait_for("restarting", 1)
        states.wait_for("ready", 2)
        assert sup.proc.pid != first_pid
        with sup.client() as again:
            audio = np.concatenate(list(again.speak(["Back online."])))
        assert len(audio) > 4800

        os.kill(sup.proc.pid, signal.SIGKILL)          # a second crash counts afresh
        states.wait_for("ready", 3)
        attempts = [d for s, d in states.seen if d.startswith("attempt")]
        assert attempts == ["attempt 1", "attempt 1"], states.seen
    finally:
        sup.stop()
    assert states.seen[-1][0] == "stopped"
    assert not sup.socket_path.exists()


def test_a_remote_engine_is_probed_until_it_answers_then_used():
    """The GUI's remote-engine mode against a real engine serving Wyoming on loopback TCP, started
    only after the probe began: the state says why it waits, then 'ready', and a request works."""
    import socket
    import subprocess

    from app.engines.remote import RemoteEngine
    from tests.engine_proc import engine_cmd

    write_settings(tiers=["pyttsx3"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"tcp://127.0.0.1:{port}"
    states = States()
    remote = RemoteEngine(uri, states)
    remote.start()
    proc = None
    try:
        states.wait_for("restarting", 1, timeout=30)
        assert "is not reachable" in states.seen[-1][1] and not remote.wait_ready(0)
        proc = subprocess.Popen(engine_cmd(uri), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert remote.wait_ready(120), states.seen
        assert remote.state == "ready"
        with remote.client() as client:
            speech = client.speak(["Affirmative."], None, "pyttsx3")
            audio = np.concatenate(list(speech))
        assert speech.report.tier == "pyttsx3" and len(audio) > 0.3 * speech.rate
    finally:
        remote.stop()
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    assert states.seen[-1] == ("stopped", "")
