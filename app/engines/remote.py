"""A remote Wyoming server used instead of the local engine process.

It offers the Supervisor's small interface (start, state, wait_ready, client, stop) so the GUI
treats both alike: it probes the server until it answers ``describe``, with backoff, and reports
its state through a callback (the reason in words while it cannot be reached).
"""
from __future__ import annotations

import threading
from typing import Callable

from app.engines.client import EngineClient


class RemoteEngine:
    """A remote Wyoming server used instead of the local engine process (same small interface)."""

    def __init__(self, uri: str, on_state: Callable[[str, str], None]):
        self.uri, self.on_state = uri, on_state
        self.state = "stopped"
        self._ready = threading.Event()
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._probe, name="remote-engine", daemon=True).start()

    def _probe(self) -> None:
        self._set("starting", self.uri)
        delay = 1.0
        while not self._stop.is_set():
            try:
                with EngineClient(self.uri, timeout=10) as c:
                    c.info()
                self._ready.set()
                self._set("ready", self.uri)
                return
            except Exception as e:  # unreachable or not a Wyoming server: keep trying, say why
                self._set("restarting", f"the remote engine {self.uri} is not reachable ({e})")
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _set(self, state: str, detail: str) -> None:
        self.state = state
        self.on_state(state, detail)

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def client(self, timeout: float = 60.0):
        return EngineClient(self.uri, timeout)

    def stop(self) -> None:
        self._stop.set()
        self._set("stopped", "")
