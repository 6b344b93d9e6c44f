"""Hearing while the key is held: decode what has arrived at each pause, so that at release only
a tail that holds new speech is left to decode (and usually none is).

Whisper's encoder reads one fixed window (30 s, or the core's shorter one), so decoding a prefix
costs as much as decoding the whole command: re-running it on every chunk would only burn the CPU. What pays is decoding at the
right moment. Silero VAD (inside faster-whisper) watches the last second as audio arrives; when
speech is followed by a pause of ``pause_ms`` the audio so far is decoded on a worker thread (at
most one decode in flight). At ``finish()`` the last result is reused when no speech came after the
audio it covered — the common case, since people stop talking before they let go of the key —
otherwise everything is decoded once more. Qt-free; fed from the Wyoming server or the CLI.
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np

from app.engines.protocol import Transcript
from app.engines.stt.whisper import RATE, WhisperStt, _as_mono_float32

CHECK_EVERY_S = 0.05     # how often the VAD looks at the newest audio
AHEAD_S = 0.5            # audio this far ahead of the clock comes from a file, not a held key
WATCH_S = 1.0            # how much of the newest audio it looks at
WINDOW = 512             # Silero's window: speech ends are only known to this many samples


class IncrementalTranscriber:
    def __init__(self, stt: WhisperStt, language: str | None = None, prompt: str | None = None,
                 pause_ms: int = 150):
        self.stt, self.language, self.prompt = stt, language, prompt
        self.pause = int(pause_ms * RATE / 1000)
        self.decodes = 0                        # decodes run for this utterance (tests count them)
        self._chunks: list[np.ndarray] = []
        self._n = 0                             # samples fed so far
        self._checked = 0                       # samples the VAD has looked at
        self._pending = False                   # speech heard that no decode has covered yet
        self._covered_end = -1                  # absolute end of the speech the last decode saw
        self._last: tuple[int, Transcript] | None = None    # (samples covered, result)
        self._cond = threading.Condition()
        self._busy = False
        self._finished = False
        self._t0: float | None = None           # when the first samples came

    def feed(self, samples16k: np.ndarray) -> None:
        """Add 16 kHz mono samples (float32 or int16), from one thread. Returns at once (a VAD
        look of a few milliseconds every 50 ms of audio); decoding runs on a worker thread."""
        audio = _as_mono_float32(samples16k)
        if not len(audio):
            return
        with self._cond:
            if self._finished:
                raise RuntimeError("feed() after finish()")
            self._chunks.append(audio.copy())
            self._n += len(audio)
            now = time.monotonic()
            self._t0 = now if self._t0 is None else self._t0
            if self._n - self._checked < CHECK_EVERY_S * RATE or self._busy:
                return
            if self._n / RATE > now - self._t0 + AHEAD_S:
                return      # faster than real time: all of it will be there at finish()
            self._checked = self._n
            window_start = max(0, self._n - int(WATCH_S * RATE))
            recent = self._audio()[window_start:]
        if not self._pause_after_speech(recent, window_start):
            return
        with self._cond:
            if self._busy or self._finished:
                return
            self._busy, self._pending = True, False
            audio, n = self._audio(), self._n
        threading.Thread(target=self._decode_in_background, args=(audio, n), daemon=True,
                         name="stt-incremental").start()

    @property
    def latest(self) -> Transcript | None:
        """What the last decode during the hold heard (for showing it), or None."""
        with self._cond:
            return self._last[1] if self._last else None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no decode is running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy, timeout)

    def finish(self) -> Transcript:
        """The transcript of everything fed. ``stt_s`` is the time from this call (the release)."""
        t0 = time.perf_counter()
        with self._cond:
            self._finished = True
            self._cond.wait_for(lambda: not self._busy)
            audio, last = self._audio(), self._last
        if last is not None and not self._speech_after(audio, last[0]):
            result = last[1]
        else:
            result = self._decode(audio)
        return replace(result, seconds_audio=len(audio) / RATE, stt_s=time.perf_counter() - t0)

    # -- inside ------------------------------------------------------------------------------
    def _audio(self) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, np.float32)

    def _spans(self, audio: np.ndarray) -> list[dict]:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        # A pause of pause_ms closes a span; no padding: the ends are where speech stopped.
        opts = VadOptions(threshold=0.5, min_silence_duration_ms=self.pause * 1000 // RATE,
                          speech_pad_ms=0)
        return get_speech_timestamps(audio, opts, sampling_rate=RATE)

    def _pause_after_speech(self, recent: np.ndarray, offset: int) -> bool:
        """True when speech not yet decoded is followed by a pause in the newest audio."""
        spans = self._spans(recent)
        if not spans:
            return self._pending
        end = offset + spans[-1]["end"]
        if spans[-1]["end"] >= len(recent):       # still speaking
            self._pending = True
            return False
        if end > self._covered_end + WINDOW:      # a pause after speech no decode has seen
            self._pending = True
        if self._pending:
            self._covered_end = end
            return True
        return False

    def _speech_after(self, audio: np.ndarray, covered: int) -> bool:
        """Did speech go on past what the last decode covered (less its closing pause)?"""
        if covered >= len(audio):
            return False
        spans = self._spans(audio)
        return bool(spans) and spans[-1]["end"] + self.pause > covered + WINDOW

    def _decode(self, audio: np.ndarray) -> Transcript:
        self.decodes += 1
        return self.stt.transcribe(audio, self.language, prompt=self.prompt)

    def _decode_in_background(self, audio: np.ndarray, n: int) -> None:
        result = None
        try:
            result = self._decode(audio)
        except Exception:  # finish() decodes again in the caller's thread and reports the error
            pass
        with self._cond:
            if result is not None:
                self._last = (n, result)
            self._busy = False
            self._cond.notify_all()


def feed_in_real_time(transcriber: IncrementalTranscriber, samples16k: np.ndarray,
                      chunk_s: float = 0.02) -> float:
    """Feed samples in ``chunk_s`` pieces at the pace a microphone delivers them while a key is
    held (paced by the clock, not by sleeping a fixed time per chunk). Returns the release
    moment (``time.monotonic()`` just after the last sample was fed)."""
    step = max(1, int(chunk_s * RATE))
    t0 = time.monotonic()
    for i in range(0, len(samples16k), step):
        transcriber.feed(samples16k[i:i + step])
        delay = t0 + (i + step) / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return time.monotonic()
