"""The tier chain: deadlines, starvation, bounded sticky fallback, no repeats, reports."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from app.engines.tts.base import TierUnavailable
from app.engines.tts.chain import TtsChain
from app.engines.tts.pyttsx3 import Pyttsx3Backend
from app.errors import NothingCouldServe, UserError
from tests.tiers import ToneTier

SENTENCES = ["First sentence here.", "Second sentence here.", "Third sentence here."]


def chain(*tiers, **kw) -> TtsChain:
    deadlines = kw.pop("deadlines", {t.name: 2.0 for t in tiers})
    return TtsChain(list(tiers), deadlines=deadlines, out_rate=48000, **kw)


def test_first_tier_speaks_everything_at_output_rate():
    a, b = ToneTier("a"), ToneTier("b")
    speech = chain(a, b).speak(SENTENCES)
    audio = np.concatenate(list(speech))
    r = speech.report
    assert r.tier == "a" and r.tiers == ["a"] and r.fallbacks == []
    assert a.spoken == SENTENCES and b.spoken == []
    assert abs(len(audio) / 48000 - 3 * 0.3) < 0.01  # 3 sentences x 3 chunks x 0.1 s, resampled
    assert r.audio_s == pytest.approx(0.9, abs=0.01)
    assert r.first_audio_s is not None and r.total_s >= r.first_audio_s
    assert r.sentences == SENTENCES


def test_exception_falls_back_and_is_remembered():
    a = ToneTier("a", fail_with=RuntimeError("model exploded"))
    b = ToneTier("b")
    c = chain(a, b, failure_memory_s=60)
    speech = c.speak(SENTENCES)
    list(speech)
    assert speech.report.tier == "b" and b.spoken == SENTENCES
    assert speech.report.fallbacks[0].tier == "a"
    assert "model exploded" in speech.report.fallbacks[0].reason
    # The next reply skips the failed tier without trying it again...
    again = c.speak(["Hello there friend."])
    list(again)
    assert a.loads == 1 and "model exploded" in again.report.fallbacks[0].reason
    # ...unless the user forces it.
    forced = c.speak(["Hello there friend."], tier="a")
    list(forced)
    assert a.loads == 2


def test_unavailable_tier_is_skipped_with_its_reason():
    a = ToneTier("a", reason="the XTTS licence has not been accepted")
    b = ToneTier("b")
    speech = chain(a, b).speak(SENTENCES)
    list(speech)
    assert [(f.tier, f.reason) for f in speech.report.fallbacks] == [
        ("a", "the XTTS licence has not been accepted")]
    assert a.loads == 0


def test_missed_first_audio_deadline_moves_on():
    a = ToneTier("a", stall_after=0)
    b = ToneTier("b")
    speech = chain(a, b, deadlines={"a": 0.2, "b": 2.0}).speak(SENTENCES)
    list(speech)
    a.gate.set()
    assert speech.report.tier == "b" and b.spoken == SENTENCES
    assert "0.2 s deadline" in speech.report.fallbacks[0].reason


def test_a_tier_still_loading_is_passed_over_but_not_marked_failing():
    a, b = ToneTier("a", slow_load=True), ToneTier("b")
    c = chain(a, b, deadlines={"a": 0.2, "b": 2.0})
    first = c.speak(SENTENCES)
    list(first)
    assert first.report.tier == "b" and b.spoken == SENTENCES
    assert first.report.fallbacks[0].reason == "its model was still loading after 0.2 s"
    assert c.recent_failure("a") is None          # free to serve once it has loaded
    a.loaded.set()
    threading.Event().wait(0.1)                   # the abandoned worker finishes the load
    second = c.speak(SENTENCES)
    list(second)
    assert second.report.tier == "a" and second.report.fallbacks == []


def test_a_tier_asked_for_by_name_is_waited_for_while_it_loads():
    a, b = ToneTier("a", slow_load=True), ToneTier("b")
    threading.Timer(0.6, a.loaded.set).start()    # loads in three times its deadline
    speech = chain(a, b, deadlines={"a": 0.2, "b": 2.0}).speak(SENTENCES, tier="a")
    list(speech)
    assert speech.report.tier == "a" and speech.report.fallbacks == []
    assert a.spoken == SENTENCES and b.spoken == []
    assert speech.report.first_audio_s >= 0.5     # the load counts in what the user waited


def test_starving_tier_is_left_without_repeating_finished_sentences():
    # Tier a delivers the first sentence, then stalls mid-way through the second.
    a = ToneTier("a", chunks=3)
    b = ToneTier("b")
    c = chain(a, b, starve_slack_s=0.2)
    original = a.stream

    def stall_second(sentence, voice, speed=1.0, cancel=None):
        if sentence == SENTENCES[1]:
            a.stall_after = 1
        yield from original(sentence, voice, speed, cancel)

    a.stream = stall_second  # type: ignore[method-assign]
    speech = c.speak(SENTENCES)
    list(speech)
    a.gate.set()
    r = speech.report
    assert r.tiers == ["a", "b"]
    assert "slower than real time" in r.fallbacks[0].reason
    assert a.spoken == [SENTENCES[0]]
    assert b.spoken == SENTENCES[1:]  # sentence 1 is not repeated; the cut one restarts whole


def test_every_tier_failing_is_bounded_and_raises():
    a = ToneTier("a", fail_with=RuntimeError("boom"))
    b = ToneTier("b", fail_with=TierUnavailable("offline"))
    with pytest.raises(NothingCouldServe) as e:
        list(chain(a, b).speak(SENTENCES))
    assert "a:" in str(e.value) and "offline" in str(e.value)
    assert a.loads == 1 and b.loads == 1  # each tried once, no cycling


def test_cancel_stops_promptly_and_reports_it():
    a = ToneTier("a", chunks=50)
    cancel = threading.Event()
    speech = chain(a).speak(SENTENCES, cancel=cancel)
    got = []
    for chunk in speech:
        got.append(chunk)
        cancel.set()
    assert speech.report.cancelled
    assert len(got) <= 2


def test_lazy_sentences_are_spoken_as_they_arrive():
    produced = []

    def sentences():
        for s in SENTENCES:
            produced.append(s)
            yield s

    speech = chain(ToneTier("a")).speak(sentences())
    it = iter(speech)
    next(it)
    assert produced == SENTENCES[:1]  # audio started before the reply was complete
    list(it)
    assert produced == SENTENCES


def test_unknown_forced_tier_is_a_user_error():
    with pytest.raises(UserError):
        chain(ToneTier("a")).speak(SENTENCES, tier="nope")


def test_pyttsx3_speaks_for_real():
    speech = chain(Pyttsx3Backend()).speak(["Affirmative. The time is ten past three."])
    audio = np.concatenate(list(speech))
    assert speech.report.tier == "pyttsx3"
    assert len(audio) / 48000 > 1.0
    assert float(np.sqrt(np.mean(audio ** 2))) > 0.01


class ChainClock:
    """The chain's clock, advanced only by the tier below as it works: speed without sleeping."""

    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class SlowTier(ToneTier):
    """Makes audio at ``rtf`` times real time on the chain's clock."""

    def __init__(self, name: str, clock: ChainClock, rtf: float, **kw):
        super().__init__(name, **kw)
        self.clock, self.rtf = clock, rtf

    def stream(self, sentence, voice, speed=1.0, cancel=None):
        for chunk in super().stream(sentence, voice, speed, cancel):
            self.clock.t += self.chunk_s * self.rtf
            yield chunk


def test_a_tier_slower_than_real_time_speaks_a_short_reply_and_leaves_a_long_one_whole():
    clock = ChainClock()
    a, b = SlowTier("a", clock, rtf=1.5), ToneTier("b")
    c = chain(a, b, clock=clock)
    first = c.speak(["One.", "Two."])                  # not measured yet: it speaks, and is timed
    list(first)
    assert first.report.tier == "a" and c.measured_rtf("a") == pytest.approx(1.5, rel=0.05)

    long_reply = ["This is one long sentence that would take many seconds to say, far longer "
                  "than a slow voice could keep ahead of, so playback would stall halfway.",
                  "And here is more."]
    second = c.speak(long_reply)
    list(second)
    assert second.report.tiers == ["b"] and b.spoken == long_reply    # the whole reply, one voice
    why = second.report.fallbacks[0]
    assert why.tier == "a" and "1.5x real time" in why.reason and "all of it" in why.reason
    assert c.recent_failure("a") is None               # a choice for this reply, not a failure

    short = c.speak(["Yes."])                          # a short head start is enough: it speaks
    list(short)
    assert short.report.tiers == ["a"] and short.report.fallbacks == []
