"""Runs the engine process for the GUI: spawn, wait for it to answer, notice death, restart.

The engine is a separate process so a model that crashes or hangs never takes the window down.
State changes are reported through ``on_state(state, detail)`` from a background thread.
"""
from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from typing import Callable

from app.runtime import engine_command, stop_child
from app.engines.client import EngineClient, EngineGone
from app.paths import Paths

log = logging.getLogger(__name__)

StateSink = Callable[[str, str], None]
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
MAX_RESTARTS_PER_MINUTE = 5
READY_TIMEOUT_S = 120.0


class Supervisor:
    def __init__(self, paths: Paths, on_state: StateSink | None = None,
                 extra_args: list[str] | None = None):
        self.paths = paths.ensure()
        self.on_state = on_state or (lambda state, detail: None)
        self.extra_args = extra_args or []
        self.socket_path = paths.runtime / f"engine-{os.getpid()}.sock"
        self.uri = f"unix://{self.socket_path}"
        self.state = "stopped"
        self.proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._restarts: list[float] = []

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="engine-supervisor", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> bool:
        return self._ready.wait(timeout)

    def client(self, timeout: float = 60.0) -> EngineClient:
        return EngineClient(self.uri, timeout)

    def stop(self) -> None:
        self._stop.set()
        self._terminate()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.socket_path.unlink(missing_ok=True)  # in case the engine could not clean up
        self._set("stopped", "")

    # -- internals ---------------------------------------------------------------------------
    def _set(self, state: str, detail: str) -> None:
        self.state = state
        if state != "ready":
            self._ready.clear()
        log.info("engine %s %s", state, detail)
        try:
            self.on_state(state, detail)
        except Exception:  # a broken listener must not kill supervision
            log.exception("engine state listener failed")

    def _spawn(self) -> subprocess.Popen:
        self.socket_path.unlink(missing_ok=True)
        log_file = open(self.paths.logs / "engine-stderr.log", "ab")
        try:
            return subprocess.Popen(engine_command(self.uri, self.extra_args),
                                    stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
        finally:
            log_file.close()

    def _wait_ready(self, proc: subprocess.Popen) -> str | None:
        """None once the engine answers ``describe``; else why it did not."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._stop.is_set():
            if proc.poll() is not None:
                last = self._last_stderr_line()
                return (f"the engine exited with code {proc.returncode} while starting"
                        + (f": {last}" if last else ""))
            if self.socket_path.exists():
                try:
                    with EngineClient(self.uri, timeout=10) as c:
                        c.info()
                    return None
                except (EngineGone, OSError):
                    pass
            if time.monotonic() > deadline:
                return "the engine did not answer within two minutes"
            self._stop.wait(0.1)
        return "stopped"

    def _watch(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            self._set("starting" if attempt == 0 else "restarting",
                      "" if attempt == 0 else f"attempt {attempt}")
            self.proc = proc = self._spawn()
            problem = self._wait_ready(proc)
            if problem is None:
                self._set("ready", self.uri)
                self._ready.set()
                attempt = 0   # a later crash starts counting its own restarts afresh
                while not self._stop.is_set() and proc.poll() is None:
                    self._stop.wait(0.2)
                if self._stop.is_set():
                    return
                problem = f"the engine stopped unexpectedly (exit code {proc.returncode})"
            if self._stop.is_set():
                return
            self._terminate()
            now = time.monotonic()
            self._restarts = [t for t in self._restarts if now - t < 60] + [now]
            if len(self._restarts) > MAX_RESTARTS_PER_MINUTE:
                self._set("failed", f"{problem}; gave up after {MAX_RESTARTS_PER_MINUTE} restarts "
                                    "in a minute (see the log)")
                return
            self._set("restarting", problem)
            self._stop.wait(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1

    def _last_stderr_line(self) -> str:
        try:
            lines = (self.paths.logs / "engine-stderr.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return next((ln.strip() for ln in reversed(lines) if ln.strip()), "")[:300]

    def _terminate(self) -> None:
        if self.proc is not None:
            stop_child(self.proc)
