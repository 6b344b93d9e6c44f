"""Timers and reminders that fire a callback when due. One scheduler thread waits on a condition,
so adding or cancelling wakes it at once and nothing polls."""
from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger(__name__)

MAX_SECONDS = 24 * 3600


@dataclass
class Timer:
    id: int
    seconds: float                  # the duration asked for
    label: str = ""                 # "pasta" for a timer, "check the oven" for a reminder
    due: float = field(default=0.0, repr=False)   # on the Timers clock (monotonic)
    kind: str = "timer"             # "timer" | "reminder"

    def remaining(self, now: float) -> float:
        return max(0.0, self.due - now)


class Timers:
    """Thread-safe. ``on_due(timer)`` runs on the scheduler thread; keep it short or hand off."""

    def __init__(self, on_due: Callable[[Timer], None], clock: Callable[[], float] = time.monotonic):
        self.on_due, self.clock = on_due, clock
        self._timers: list[Timer] = []
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="kaytoo-timers", daemon=True)
        self._thread.start()

    def add(self, seconds: float, label: str = "", kind: str = "timer") -> Timer:
        if not 0 < seconds <= MAX_SECONDS:
            raise ValueError(f"a timer must last between 0 and {MAX_SECONDS} seconds, not {seconds}")
        with self._cond:
            if self._closed:
                raise RuntimeError("the timers are closed")
            timer = Timer(next(self._ids), float(seconds), label, self.clock() + seconds, kind)
            self._timers.append(timer)
            self._cond.notify_all()
        return timer

    def cancel(self, which: str | int | None = None) -> list[Timer]:
        """Cancel and return timers: all when ``which`` is None or "all"; by id when an int;
        else those whose label contains ``which`` (case-insensitive)."""
        with self._cond:
            if which is None or which == "all":
                gone = list(self._timers)
            elif isinstance(which, int):
                gone = [t for t in self._timers if t.id == which]
            else:
                gone = [t for t in self._timers if which.lower() in t.label.lower()]
            self._timers = [t for t in self._timers if t not in gone]
            self._cond.notify_all()
        return sorted(gone, key=lambda t: t.due)

    def pending(self) -> list[Timer]:
        with self._cond:
            return sorted(self._timers, key=lambda t: t.due)

    def remaining(self, timer: Timer) -> float:
        return timer.remaining(self.clock())

    def close(self) -> None:
        """Stop the scheduler; pending timers are dropped without firing."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(5)

    def __enter__(self) -> "Timers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                now = self.clock()
                due = sorted((t for t in self._timers if t.due <= now), key=lambda t: t.due)
                if not due:
                    wait = min((t.due - now for t in self._timers), default=None)
                    self._cond.wait(wait)
                    continue
                self._timers = [t for t in self._timers if t not in due]
            for t in due:  # outside the lock: the callback may add or cancel timers
                try:
                    self.on_due(t)
                except Exception:  # a listener's bug must not stop the other timers
                    log.exception("timer callback failed")
