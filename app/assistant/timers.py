"""Timers and reminders that speak when due. One scheduler thread, a condition to wake it."""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Timer:
    id: int
    seconds: float
    label: str
    due: float = field(repr=False)

    def remaining(self, now: float) -> float:
        return max(0.0, self.due - now)


class Timers:
    def __init__(self, on_due: Callable[[Timer], None], clock: Callable[[], float] = time.monotonic):
        self.on_due, self.clock = on_due, clock
        self._timers: list[Timer] = []
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="timers", daemon=True)
        self._thread.start()

    def add(self, seconds: float, label: str = "") -> Timer:
        with self._cond:
            timer = Timer(next(self._ids), seconds, label, self.clock() + seconds)
            self._timers.append(timer)
            self._cond.notify_all()
        return timer

    def cancel(self, which: str | None = None) -> list[Timer]:
        """Cancel timers whose label contains ``which`` (all when None)."""
        with self._cond:
            gone = [t for t in self._timers if which is None or which.lower() in t.label.lower()]
            self._timers = [t for t in self._timers if t not in gone]
            self._cond.notify_all()
        return gone

    def pending(self) -> list[Timer]:
        with self._cond:
            return sorted(self._timers, key=lambda t: t.due)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                now = self.clock()
                due = [t for t in self._timers if t.due <= now]
                self._timers = [t for t in self._timers if t.due > now]
                if not due:
                    wait = min((t.due - now for t in self._timers), default=None)
                    self._cond.wait(wait)
                    continue
            for t in due:
                try:
                    self.on_due(t)
                except Exception:  # a listener bug must not stop other timers
                    import logging

                    logging.getLogger(__name__).exception("timer callback failed")
