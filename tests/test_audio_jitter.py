"""The jitter buffer: holds playback back for a slow producer, counts underruns, flushes at once.

A hand-driven clock stands in for wall time, so the producer's rate is exact and no test waits.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from app.audio.jitter import JitterBuffer

RATE = 1000  # 1 kHz keeps the numbers readable: 1 sample = 1 ms


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def ramp(n: int, start: int = 0) -> np.ndarray:
    return (np.arange(start, start + n) / 10000).astype(np.float32)


def test_fast_producer_starts_after_the_minimum_lead_and_plays_in_order():
    clock = Clock()
    buf = JitterBuffer(RATE, min_lead_s=0.1, clock=clock)
    buf.push(ramp(50))
    assert not buf.pull(20).any(), "50 ms buffered is below the 100 ms lead: silence"
    buf.push(ramp(100, 50))
    out = np.concatenate([buf.pull(60), buf.pull(90)])
    np.testing.assert_array_equal(out, ramp(150))
    assert buf.first_play == 0.0
    assert buf.played_s == pytest.approx(0.15)


def test_slow_producer_is_held_back_by_the_predicted_shortfall():
    clock = Clock()
    buf = JitterBuffer(RATE, min_lead_s=0.1, max_lead_s=5.0, clock=clock)
    buf.expect(4.0)                       # a four-second reply
    buf.push(ramp(200))                   # first chunk at t=0 (no begin(): rate between chunks)
    clock.t = 0.4
    buf.push(ramp(200, 200))              # 0.2 s of audio per 0.4 s: half real time
    assert buf.speed() == pytest.approx(0.5)
    # remaining 3.6 s at speed 0.5 needs 3.6 * 0.5 / 0.5 = 3.6 s of lead, plus the 0.4 s wait
    # between chunks; 0.4 s buffered is not enough
    assert buf.lead_needed_s() == pytest.approx(4.0)
    assert not buf.pull(10).any()
    assert buf.underruns == 0


def test_slow_producer_with_enough_lead_plays_without_underrun():
    clock = Clock()
    buf = JitterBuffer(RATE, min_lead_s=0.05, max_lead_s=5.0, clock=clock)
    buf.expect(2.0)
    buf.begin()
    produced, played = 0, []
    # Producer: 100 ms of audio every 125 ms (speed 0.8). Consumer: 25 ms blocks every 25 ms.
    for step in range(1, 400):
        clock.t = step * 0.025
        if step % 5 == 0 and produced < 2000:
            buf.push(ramp(100, produced))
            produced += 100
            if produced >= 2000:
                buf.finish()
        played.append(buf.pull(25))
    audio = np.concatenate(played)
    start = int(np.argmax(audio > 0))
    np.testing.assert_array_equal(audio[start:start + 1999], ramp(2000)[1:])
    assert buf.underruns == 0
    assert buf.done


def test_starved_consumer_counts_an_underrun_and_primes_again():
    clock = Clock()
    buf = JitterBuffer(RATE, min_lead_s=0.05, clock=clock)
    buf.push(ramp(60))
    assert buf.pull(60).any()
    assert not buf.pull(30).any()          # nothing there, reply not finished
    assert buf.underruns == 1
    assert not buf.pull(30).any()          # still priming: a silent wait is not a second underrun
    assert buf.underruns == 1
    buf.push(ramp(20, 60))                 # below the lead again: keep waiting
    assert not buf.pull(10).any()
    buf.push(ramp(40, 80))
    np.testing.assert_array_equal(buf.pull(60), ramp(60, 60))


def test_first_chunk_delay_since_begin_sets_the_rate():
    clock = Clock()
    buf = JitterBuffer(RATE, min_lead_s=0.1, max_lead_s=5.0, clock=clock)
    buf.begin()
    buf.expect(3.0)
    clock.t = 1.0
    buf.push(ramp(500))                    # 0.5 s of audio after 1 s of work: speed 0.5
    assert buf.speed() == pytest.approx(0.5)
    assert not buf.pull(10).any(), "2.5 s still to come at half speed needs 2.5 s of lead"
    fast = JitterBuffer(RATE, min_lead_s=0.1, clock=clock)
    fast.begin()
    clock.t = 1.2
    fast.push(ramp(2000))                  # 2 s of audio in 0.2 s (Piper-like): start now
    assert fast.pull(10).any()


def test_finish_plays_a_short_reply_without_waiting_for_the_lead():
    buf = JitterBuffer(RATE, min_lead_s=0.5, clock=Clock())
    buf.push(ramp(30))
    buf.finish()
    np.testing.assert_array_equal(buf.pull(30), ramp(30))
    assert buf.done and buf.underruns == 0


def test_flush_silences_at_once_and_drops_late_chunks():
    buf = JitterBuffer(RATE, min_lead_s=0.01, clock=Clock())
    buf.push(ramp(500))
    assert buf.pull(10).any()
    buf.flush()
    assert buf.done and buf.flushed
    buf.push(ramp(100))                    # the synthesizer had one more chunk in flight
    assert not buf.pull(100).any()
    buf.reset()
    buf.push(ramp(100))
    assert buf.pull(100).any(), "a new reply plays again"


def test_measured_speed_carries_over_to_the_next_reply():
    clock = Clock()
    buf = JitterBuffer(RATE, min_lead_s=0.1, max_lead_s=2.0, clock=clock)
    buf.push(ramp(100))
    clock.t = 1.0
    buf.push(ramp(250))                    # 0.25 s of audio per second: speed 0.25
    buf.finish()
    buf.reset()
    assert buf.speed() == pytest.approx(0.25)
    buf.push(ramp(300))                    # one chunk only: the prior decides
    assert buf.lead_needed_s() == pytest.approx(2.0)   # capped at max_lead_s


def test_concurrent_push_and_pull_lose_nothing():
    buf = JitterBuffer(48000, min_lead_s=0.0)
    total = 48000 * 2
    chunks = [np.full(480, (i % 100 + 1) / 200, np.float32) for i in range(total // 480)]

    def produce() -> None:
        for c in chunks:
            buf.push(c)
        buf.finish()

    t = threading.Thread(target=produce)
    t.start()
    got = []
    while not buf.done:
        got.append(buf.pull(512))
    t.join()
    audio = np.concatenate(got)
    assert np.count_nonzero(audio) == total
