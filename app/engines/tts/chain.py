"""The tier chain: who speaks, and what happens when they can't.

Unlike a fallback that only reacts to exceptions, this one is
- deadline-driven: a tier that has not produced its first audio in time is abandoned;
- starvation-aware: a tier that produces audio slower than it plays (the player would run dry)
  is abandoned at the next chunk it is late for;
- bounded and sticky: each tier is tried at most once per reply, tiers are only ever left, never
  returned to, and a tier that failed is skipped for ``failure_memory_s``;
- non-repeating: the next tier takes over at the first sentence not yet fully delivered, so a
  finished sentence is never spoken twice (a sentence cut mid-way is restarted whole).
Each tier runs in its own worker thread so the chain can give up on it without waiting.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Iterable, Iterator, Protocol, Sequence

import numpy as np

from app.audio.clip import StreamResampler
from app.engines.protocol import Fallback, SpeechReport, VoiceRef
from app.engines.tts.base import TierUnavailable, TtsBackend
from app.errors import NothingCouldServe, UserError

log = logging.getLogger(__name__)


class Effect(Protocol):
    def process(self, chunk: np.ndarray) -> np.ndarray: ...


FORCED_LOAD_LIMIT_S = 300.0
FORCED_FIRST_AUDIO_S = 60.0  # … and how long it may take to its first audio once loaded
PREBUFFER_MAX_S = 1.0        # a slow tier may make a reply wait this much longer to play without a stall
CHARS_PER_SECOND = 14.0      # speaking rate, to guess how long a sentence will sound
LAST_TIER_SLACK_S = 30.0     # how far behind real time the last tier may fall before it is given up  # how long a tier asked for by name may take to load its model


class _Abandon(Exception):
    """The current tier must be left; the message is the reason shown to the user.

    ``remember``: False when the tier was only still loading; it keeps loading in the background
    and may serve the next reply, so it is not marked as failing."""

    def __init__(self, reason: str, remember: bool = True):
        super().__init__(reason)
        self.remember = remember


class _TierWorker:
    """Runs one backend in a thread: sentences in, ("chunk", samples, rate) / ("end",) / ("error", e) out."""

    def __init__(self, backend: TtsBackend, voice: VoiceRef | None, speed: float,
                 clock: Callable[[], float]):
        self.backend, self.voice, self.speed = backend, voice, speed
        self.loaded_at: float | None = None  # when the model was ready (on the chain's clock)
        self.inbox: queue.Queue[str | None] = queue.Queue()
        self.outbox: queue.Queue[tuple] = queue.Queue()
        self.cancel = threading.Event()
        self._clock = clock
        self.thread = threading.Thread(target=self._run, name=f"tts-{backend.name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.backend.load()
            self.loaded_at = self._clock()
            while not self.cancel.is_set():
                sentence = self.inbox.get()
                if sentence is None or self.cancel.is_set():
                    return
                for chunk in self.backend.stream(sentence, self.voice, self.speed, self.cancel):
                    if self.cancel.is_set():
                        return
                    self.outbox.put(("chunk", chunk, self.backend.sample_rate))
                self.outbox.put(("end",))
        except BaseException as e:  # report everything: the chain decides what it means
            self.outbox.put(("error", e))

    def stop(self) -> None:
        self.cancel.set()
        self.inbox.put(None)


class TtsChain:
    def __init__(self, backends: Sequence[TtsBackend], deadlines: dict[str, float],
                 out_rate: int = 48000, failure_memory_s: float = 120.0, starve_slack_s: float = 1.0,
                 effect: Callable[[int], Effect] | None = None, speed: float = 1.0,
                 volume: float = 1.0, block_s: float = 0.1,
                 clock: Callable[[], float] = time.monotonic):
        self.backends = {b.name: b for b in backends}
        self.deadlines = deadlines
        self.out_rate = out_rate
        self.failure_memory_s = failure_memory_s
        self.starve_slack_s = starve_slack_s
        self.effect = effect
        self.speed, self.volume = speed, volume
        self.block = max(1, int(out_rate * block_s))
        self.clock = clock
        self._failed: dict[str, tuple[float, str]] = {}  # tier -> (until, reason)
        self._rtf: dict[str, float] = {}                # tier -> synthesis time / audio time, last measured
        self._lock = threading.Lock()

    # -- tier bookkeeping -------------------------------------------------------------------
    def order(self, tier: str = "auto") -> list[str]:
        names = list(self.backends)
        if tier == "auto":
            return names
        if tier not in self.backends:
            raise UserError(f"Unknown voice tier '{tier}'; choose one of: auto, {', '.join(names)}.")
        return [tier] + [n for n in names[names.index(tier) + 1:]]

    def remember_failure(self, tier: str, reason: str) -> None:
        with self._lock:
            self._failed[tier] = (self.clock() + self.failure_memory_s, reason)

    def recent_failure(self, tier: str) -> str | None:
        with self._lock:
            until, reason = self._failed.get(tier, (0.0, ""))
            return reason if self.clock() < until else None

    def measured_rtf(self, tier: str) -> float | None:
        with self._lock:
            return self._rtf.get(tier)

    def note_rtf(self, tier: str, rtf: float) -> None:
        with self._lock:
            self._rtf[tier] = rtf

    def status(self) -> dict[str, str | None]:
        """Per tier: why it cannot serve right now, or None if it may."""
        return {n: self.recent_failure(n) or b.check() for n, b in self.backends.items()}

    # -- speaking ----------------------------------------------------------------------------
    def speak(self, sentences: Iterable[str], voice: VoiceRef | None = None, tier: str = "auto",
              cancel: threading.Event | None = None) -> "Speech":
        forced = None if tier == "auto" else tier  # a tier the user asked for is tried even if it failed lately
        return Speech(self, sentences, voice, self.order(tier), forced, cancel or threading.Event())


class Speech:
    """One reply being spoken: iterate for output chunks; ``report`` is complete when iteration ends."""

    def __init__(self, chain: TtsChain, sentences: Iterable[str], voice: VoiceRef | None,
                 order: list[str], forced: str | None, cancel: threading.Event):
        self.chain, self.voice, self.order, self.cancel = chain, voice, order, cancel
        self.forced = forced
        self.rate = chain.out_rate
        self.report = SpeechReport(sample_rate=chain.out_rate)
        self._sentences = iter(sentences)
        self._lead = 0.0   # how much later than its first audio playback may start (a slow tier)
        self._effect = chain.effect(chain.out_rate) if chain.effect else None

    def __iter__(self) -> Iterator[np.ndarray]:
        chain, report = self.chain, self.report
        start = self._start = chain.clock()
        self._play_end = start     # when a real-time player would run out of what it was given
        current: str | None = None  # the sentence not yet fully delivered
        try:
            for name in self.order:
                if self.cancel.is_set():
                    break
                backend = chain.backends[name]
                reason = (None if name == self.forced else chain.recent_failure(name)) or backend.check()
                if reason:
                    report.fallbacks.append(Fallback(name, reason))
                    continue
                if current is None:
                    current = next(self._sentences, None)
                slow = self._too_slow(name, current) if current is not None else None
                if slow:   # decided before it speaks: a reply never changes voice mid-way for speed
                    report.fallbacks.append(Fallback(name, slow))
                    continue
                worker = _TierWorker(backend, self.voice, chain.speed, chain.clock)
                tier_start, spoke = chain.clock(), False
                try:
                    while not self.cancel.is_set():
                        if current is None:
                            current = next(self._sentences, None)
                            if current is None:
                                break
                        yield from self._one_sentence(worker, name, current, tier_start, spoke,
                                                      last=name in (self.order[-1], self.forced))
                        spoke = True
                        report.sentences.append(current)
                        current = None
                except _Abandon as e:
                    report.fallbacks.append(Fallback(name, str(e)))
                    if e.remember:
                        chain.remember_failure(name, str(e))
                    log.warning("tier %s abandoned: %s", name, e)
                    continue
                finally:
                    worker.stop()
                if not report.sentences and not self.cancel.is_set():
                    raise UserError("There is nothing to say: the text is empty.")
                break  # every sentence delivered (or cancelled): the chain is done
            else:
                if current is not None or next(self._sentences, None) is not None:
                    reasons = "; ".join(f"{f.tier}: {f.reason}" for f in report.fallbacks)
                    raise NothingCouldServe(f"No voice could speak ({reasons}).")
        finally:
            report.cancelled = self.cancel.is_set()
            report.total_s = round(chain.clock() - start, 4)
            report.audio_s = round(report.audio_s, 4)

    def _too_slow(self, name: str, sentence: str) -> str | None:
        """Why ``name`` should not speak this reply (it is measured slower than real time and the
        reply would have to wait more than PREBUFFER_MAX_S to play without a stall), or None; then
        ``_lead`` is the head start playback needs. The last tier and a tier asked for by name
        always speak."""
        rtf = self.chain.measured_rtf(name)
        self._lead = 0.0
        if rtf is None or rtf <= 1.0 or name == self.forced or name == self.order[-1]:
            return None
        lead = len(sentence) / (CHARS_PER_SECOND * self.chain.speed) * (rtf - 1.0)
        if lead <= PREBUFFER_MAX_S:
            self._lead = lead
            return None
        return (f"it speaks at {rtf:.1f}x real time on this machine, so this reply would wait "
                f"{lead:.1f} s to play without a stall; the next voice speaks all of it")

    def _one_sentence(self, worker: _TierWorker, name: str, sentence: str, tier_start: float,
                      spoke: bool, last: bool = False) -> Iterator[np.ndarray]:
        chain, report = self.chain, self.report
        worker.inbox.put(sentence)
        now = submitted = chain.clock()
        heard_before = report.audio_s
        # A gap while the reply's next sentence was being written is not the tier's fault.
        self._play_end = max(self._play_end, now)
        resampler: StreamResampler | None = None
        first = True
        while True:
            if self.cancel.is_set():
                return
            waiting = not spoke and first
            # The last tier, or one asked for by name, is not left for being slow: late audio
            # beats none (a busy server), and they asked for that voice.
            starve_at = self._play_end + self._lead + (LAST_TIER_SLACK_S if last
                                                       else chain.starve_slack_s)
            item = self._get(worker, (lambda: self._first_due(worker, name, tier_start))
                             if waiting else (lambda: starve_at))
            if item is None:
                if self.cancel.is_set():
                    return
                raise self._missed(worker, name) if waiting else _Abandon(
                    "it was producing audio slower than real time, so playback would stall")
            if item[0] == "error":
                e = item[1]
                raise _Abandon(str(e) if isinstance(e, TierUnavailable) else
                               f"it failed ({type(e).__name__}: {e})".replace(": )", ")"))
            if item[0] == "end":
                if resampler is not None:
                    yield from self._emit(resampler.push(np.zeros(0, np.float32), last=True), name)
                sounded = report.audio_s - heard_before
                if sounded > 0:   # measured for the next reply's choice (_too_slow); a model
                    # still loading when the sentence went in is not the tier's speaking speed
                    began = max(submitted, worker.loaded_at or submitted)
                    chain.note_rtf(name, (chain.clock() - began) / sounded)
                return
            _, samples, rate = item
            if resampler is None or resampler.src != rate:
                resampler = StreamResampler(rate, chain.out_rate)
            first = False
            yield from self._emit(resampler.push(samples), name)

    # The first audio's deadline. A tier chosen automatically must load and speak within it; a
    # tier the user asked for by name is waited for while it loads (up to FORCED_LOAD_LIMIT_S),
    # then gets a patient deadline from the moment it is ready (they asked for that voice: slow
    # beats another voice; an error still moves on at once). Re-read while waiting: the load may
    # finish meanwhile.
    def _first_due(self, worker: _TierWorker, name: str, tier_start: float) -> float:
        limit = self._limit(name)
        if name != self.forced:
            return tier_start + limit
        if worker.loaded_at is None:
            return tier_start + FORCED_LOAD_LIMIT_S
        return worker.loaded_at + limit

    def _limit(self, name: str) -> float:
        limit = self.chain.deadlines.get(name, 5.0)
        return max(limit, FORCED_FIRST_AUDIO_S) if name == self.forced else limit

    def _missed(self, worker: _TierWorker, name: str) -> _Abandon:
        limit = self._limit(name)
        if worker.loaded_at is not None:
            return _Abandon(f"no audio within its {limit:g} s deadline")
        if name == self.forced:
            return _Abandon(f"its model did not load within {FORCED_LOAD_LIMIT_S:g} s")
        # Not remembered as a failure: the model keeps loading and may serve the next reply.
        return _Abandon(f"its model was still loading after {limit:g} s", remember=False)

    def _get(self, worker: _TierWorker, due: Callable[[], float]) -> tuple | None:
        """Wait for the worker's next item until ``due()``, waking often enough to notice cancel
        (and a deadline that moved)."""
        while True:
            left = due() - self.chain.clock()
            if left <= 0 or self.cancel.is_set():
                return None
            try:
                return worker.outbox.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue

    def _emit(self, samples: np.ndarray, name: str) -> Iterator[np.ndarray]:
        if len(samples) == 0:
            return
        chain, report = self.chain, self.report
        if self._effect is not None:
            samples = self._effect.process(samples)
        if chain.volume != 1.0:
            samples = np.clip(samples * chain.volume, -1.0, 1.0)
        samples = samples.astype(np.float32, copy=False)
        now = chain.clock()
        if report.first_audio_s is None:
            report.first_audio_s = round(now - self._start, 4)
        seconds = len(samples) / chain.out_rate
        self._play_end = max(self._play_end, now) + seconds
        report.audio_s += seconds
        if not report.tiers or report.tiers[-1] != name:
            report.tiers.append(name)
            report.tier = report.tier or name
        for i in range(0, len(samples), chain.block):
            yield samples[i:i + chain.block]
