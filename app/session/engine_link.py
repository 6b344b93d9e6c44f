"""The app's way to the speech engine: a supervised local engine process, or a remote Wyoming
server when the settings name one; one kept connection for turns, fresh ones for side jobs, and
waiting for the engine to come back after it was lost. Qt-free.

``engine_factory(settings, on_state)`` builds the engine (a ``Supervisor`` or ``RemoteEngine`` by
default); tests hand in a fake with the same methods: start, stop, wait_ready, client, state.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Protocol

from app.engines.client import EngineClient
from app.engines.remote import RemoteEngine
from app.engines.supervisor import Supervisor
from app.errors import UserError
from app.paths import Paths
from app.settings.model import Settings

StateSink = Callable[[str, str], None]


class Engine(Protocol):
    state: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def wait_ready(self, timeout: float) -> bool: ...
    def client(self, timeout: float = 60.0) -> EngineClient: ...


def default_engine(paths: Paths) -> Callable[[Settings, StateSink], Engine]:
    def build(settings: Settings, on_state: StateSink) -> Engine:
        uri = settings.engine.remote_uri
        return RemoteEngine(uri, on_state) if uri else Supervisor(paths, on_state)
    return build


class EngineLink:
    def __init__(self, settings: Settings, on_state: StateSink,
                 engine_factory: Callable[[Settings, StateSink], Engine]):
        self.settings, self._on_state, self._factory = settings, on_state, engine_factory
        self.engine: Engine | None = None
        self._client: EngineClient | None = None
        self._lock = threading.Lock()
        self._closing = threading.Event()

    def start(self) -> None:
        self.engine = self._factory(self.settings, self._state)
        self.engine.start()

    def stop(self) -> None:
        self._closing.set()
        self.drop()
        if self.engine is not None:
            self.engine.stop()

    def restart(self, settings: Settings) -> None:
        """Stop the engine and start one with ``settings`` (a model or tier changed)."""
        self.settings = settings
        self.drop()
        if self.engine is not None:
            self.engine.stop()
        if not self._closing.is_set():
            self.start()

    @property
    def state(self) -> str:
        return self.engine.state if self.engine is not None else "stopped"

    def wait_ready(self, timeout: float) -> bool:
        return self.engine is not None and self.engine.wait_ready(timeout)

    def client(self, timeout: float = 120.0) -> EngineClient:
        """The kept connection for turns (made once the engine is ready)."""
        with self._lock:
            if self._client is None:
                if not self.wait_ready(timeout):
                    raise UserError("The speech engine is not ready yet; wait a moment and try again.")
                self._client = self.engine.client()
            return self._client

    def fresh_client(self, ready_timeout: float = 60.0, timeout: float = 300.0) -> EngineClient:
        """A connection of its own, for work beside the turns (a sample, a timer, preparing a voice)."""
        if not self.wait_ready(ready_timeout):
            raise UserError("The speech engine is not ready yet.")
        return self.engine.client(timeout=timeout)

    def drop(self) -> None:
        """Forget the kept connection (the engine was lost, or a turn left it out of step)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def wait_back(self, timeout: float = 120.0) -> bool:
        """After a lost connection: let the supervisor notice a dead engine, then wait for ready."""
        proc = getattr(self.engine, "proc", None)
        if proc is not None:
            try:
                proc.wait(5)          # dead (or dying): the supervisor restarts it
            except Exception:         # still running: the connection dropped for another reason
                pass
            deadline = time.monotonic() + 5
            while self.engine.state == "ready" and getattr(self.engine, "proc", None) is proc \
                    and proc.poll() is not None and time.monotonic() < deadline:
                self._closing.wait(0.05)   # the supervisor polls its child every 0.2 s
        return self.wait_ready(timeout)

    def _state(self, state: str, detail: str) -> None:
        if self._closing.is_set() and state != "stopped":
            return
        if state != "ready":
            self.drop()
        self._on_state(state, detail)
