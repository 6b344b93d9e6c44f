"""Timers fire on their own thread when due, in order; cancelled ones never fire; listing and
cancelling by id, label or all; the thread survives a bad callback and stops on close."""
from __future__ import annotations

import threading

import pytest

from app.assistant import Assistant, Timer, Timers


class Fired:
    """Collects due timers; ``wait(n)`` blocks until n have fired (or the timeout)."""

    def __init__(self) -> None:
        self.timers: list[Timer] = []
        self.threads: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, timer: Timer) -> None:
        with self._cond:
            self.timers.append(timer)
            self.threads.append(threading.current_thread().name)
            self._cond.notify_all()

    def wait(self, n: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.timers) >= n, timeout)


@pytest.fixture
def fired():
    return Fired()


@pytest.fixture
def timers(fired):
    t = Timers(fired)
    yield t
    t.close()


def test_a_timer_fires_on_the_scheduler_thread(timers, fired):
    timer = timers.add(0.05, "tea")
    assert timers.pending() == [timer]
    assert fired.wait(1)
    assert fired.timers == [timer] and fired.threads[0] != threading.current_thread().name
    assert timers.pending() == []


def test_timers_fire_in_due_order_whatever_the_order_added(timers, fired):
    late = timers.add(0.15, "late")
    early = timers.add(0.05, "early")
    assert timers.pending() == [early, late]
    assert fired.wait(2)
    assert fired.timers == [early, late]


def test_a_cancelled_timer_never_fires(timers, fired):
    doomed = timers.add(0.05, "doomed")
    kept = timers.add(0.1, "kept")
    assert timers.cancel("doomed") == [doomed]
    assert fired.wait(1)            # "kept" fired; "doomed" was due earlier and would be first
    assert fired.timers == [kept]


def test_cancel_by_id_label_and_all(timers):
    a, b, c = timers.add(100, "pasta"), timers.add(200, "Check the oven"), timers.add(300)
    assert timers.cancel(b.id) == [b]
    assert timers.cancel("nothing like it") == []
    assert timers.cancel("PASTA") == [a]
    assert timers.pending() == [c]
    d = timers.add(50)
    assert timers.cancel() == [d, c] and timers.pending() == []


def test_remaining_follows_the_clock(fired):
    now = [1000.0]
    with Timers(fired, clock=lambda: now[0]) as t:
        timer = t.add(100, "eggs")
        now[0] += 40
        assert t.remaining(timer) == 60
        now[0] += 100
        assert t.remaining(timer) == 0


def test_bad_durations_are_refused(timers):
    for seconds in (0, -5, 2 * 24 * 3600):
        with pytest.raises(ValueError):
            timers.add(seconds)


def test_a_failing_callback_does_not_stop_the_others():
    fired = Fired()

    def on_due(timer: Timer) -> None:
        if timer.label == "bad":
            raise RuntimeError("listener bug")
        fired(timer)

    with Timers(on_due) as t:
        t.add(0.02, "bad")
        good = t.add(0.06, "good")
        assert fired.wait(1) and fired.timers == [good]


def test_a_callback_may_add_timers_without_deadlock():
    fired = Fired()
    t = Timers(lambda timer: (fired(timer), timer.label == "first" and t.add(0.02, "second")))
    try:
        t.add(0.02, "first")
        assert fired.wait(2, 2) and [x.label for x in fired.timers] == ["first", "second"]
    finally:
        t.close()


def test_close_stops_the_thread_and_drops_pending(fired):
    t = Timers(fired)
    t.add(3600, "never")
    t.close()
    assert not t._thread.is_alive() and fired.timers == []
    with pytest.raises(RuntimeError):
        t.add(1)
    t.close()  # twice is fine


def test_a_spoken_timer_speaks_when_due(fired):
    """The front end's path: respond() sets it, on_due gets the Timer, timer_due_text says it."""
    with Timers(fired) as t:
        kaytoo = Assistant(timers=t)
        reply = kaytoo.respond("Uh, set a timer for one second please.")
        assert reply.action.value.seconds == 1
        assert fired.wait(1, timeout=5)
        assert kaytoo.timer_due_text(fired.timers[0]) in (
            "Your one second timer is done.", "Time is up. That was your one second timer.",
            "The one second timer has finished. As promised.")
        assert "no timers" in kaytoo.respond("list my timers").text().lower()
