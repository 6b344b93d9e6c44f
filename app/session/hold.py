"""A held key is one hold: X11 auto-repeat can deliver release/press pairs while a key is held
(Xvfb does, and Qt may not flag them as auto-repeat). A release is acted on only when no press of
the same key follows within ``window_s``; a press inside that window continues the hold.

``schedule(delay, fn)`` returns something with ``cancel()`` (``threading.Timer`` by default); tests
pass a manual scheduler so the pairs can be replayed without sleeping.
"""
from __future__ import annotations

import threading
from typing import Callable, Protocol

DEBOUNCE_S = 0.06


class Pending(Protocol):
    def cancel(self) -> None: ...


def _timer(delay: float, fn: Callable[[], None]) -> Pending:
    t = threading.Timer(delay, fn)
    t.daemon = True
    t.start()
    return t


class HoldDebouncer:
    def __init__(self, on_press: Callable[[], None], on_release: Callable[[], None],
                 window_s: float = DEBOUNCE_S,
                 schedule: Callable[[float, Callable[[], None]], Pending] = _timer):
        self.on_press, self.on_release = on_press, on_release
        self.window_s, self._schedule = window_s, schedule
        self._lock = threading.Lock()
        self._held = False
        self._pending: Pending | None = None

    def down(self) -> None:
        with self._lock:
            if self._pending is not None:     # a release a moment ago: the same hold goes on
                self._pending.cancel()
                self._pending = None
                return
            if self._held:                    # auto-repeat press without a release
                return
            self._held = True
        self.on_press()

    def up(self) -> None:
        with self._lock:
            if not self._held or self._pending is not None:
                return
            self._pending = self._schedule(self.window_s, self._release_now)

    def _release_now(self) -> None:
        with self._lock:
            if self._pending is None:
                return
            self._pending = None
            self._held = False
        self.on_release()
