"""Which sentences of a transcript the person at the microphone said.

Whisper writes down all the speech it hears. In a room where others talk (a television, a
colleague on the phone) it may put their sentence beside the user's: "Set a timer. Can you use
Marvin's voice?". The person holding the key is the one nearest the microphone, so a sentence
whose words lie where the audio is much quieter than the loudest sentence's was someone else's,
and it is dropped. Whisper's own word timings (cross-attention alignment) place the sentences;
one-sentence transcripts, the usual case, are left alone and cost nothing.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from app.audio.clip import STT_RATE as RATE

FRAMES_PER_S = 50           # 20 ms frames, Whisper's alignment step
FRAME = RATE // FRAMES_PER_S
QUIET_DB = 8.0              # bench/RESULTS.md: 6-10 dB drop the same sentences at 15 dB babble
LOUD_PERCENTILE = 90        # a sentence's level: its louder frames (pauses between words are not it)
SENTENCE_END = re.compile(r"(?<=[.?!])\s+")

Word = tuple[str, float, float]     # (word as written, start s, end s)


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text.strip()) if s]


def frame_levels(audio: np.ndarray) -> np.ndarray:
    """dB (full scale) of each 20 ms frame."""
    n = len(audio) // FRAME
    frames = audio[:n * FRAME].astype(np.float64).reshape(n, FRAME)
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-10)


def sentence_spans(parts: Sequence[str], words: Sequence[Word]) -> list[tuple[float, float] | None]:
    """(start, end) of each sentence: its words found by counting the letters written so far
    (the aligner's words carry their own spaces and punctuation)."""
    ends = np.cumsum([len(p.replace(" ", "")) for p in parts])
    spans: list[list[float] | None] = [None] * len(parts)
    written, k = 0, 0
    for word, start, end in words:
        written += len(word.replace(" ", ""))
        while k < len(parts) - 1 and written > ends[k]:
            k += 1
        span = spans[k]
        spans[k] = [start, end] if span is None else [span[0], end]
    return [tuple(s) if s else None for s in spans]


def nearest_talker(text: str, words: Sequence[Word], audio: np.ndarray,
                   quiet_db: float = QUIET_DB) -> str:
    """``text`` without the sentences spoken more than ``quiet_db`` below its loudest one.
    ``words`` are the aligner's timings of ``text`` in ``audio`` (16 kHz mono)."""
    parts = sentences(text)
    if len(parts) < 2 or not words:
        return text
    levels_db = frame_levels(audio)
    levels: list[float | None] = []
    for span in sentence_spans(parts, words):
        if span is None:
            levels.append(None)
            continue
        first = min(int(span[0] * FRAMES_PER_S), len(levels_db) - 1)
        frames = levels_db[max(0, first):max(first + 1, int(span[1] * FRAMES_PER_S))]
        levels.append(float(np.percentile(frames, LOUD_PERCENTILE)) if len(frames) else None)
    known = [lv for lv in levels if lv is not None]
    if not known:
        return text
    loudest = max(known)
    return " ".join(p for p, lv in zip(parts, levels) if lv is None or lv >= loudest - quiet_db)
