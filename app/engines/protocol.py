"""What the engine and its clients agree on: Kaytoo's extra Wyoming events, the tier key, error
codes, PCM framing and the result types (and VoiceRef, from app.voices.ref). Client, server and
core import these; nothing here imports an engine implementation, so the GUI side may import this
module freely.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np

from app.errors import NothingCouldServe, UserError
from app.voices.ref import VoiceRef  # noqa: F401  (re-exported: the engine's clients name voices with it)

# Kaytoo's extra events (ignored by other Wyoming peers).
REPORT_EVENT = "kaytoo-speech-report"     # engine → client, before the last audio-stop
CANCEL_EVENT = "kaytoo-cancel"            # client → engine: stop the current synthesis (barge-in)
PREPARE_EVENT = "kaytoo-prepare-voice"    # client → engine {"voice"}: compute its cloning state now
PREPARED_EVENT = "kaytoo-voice-prepared"  # engine → client {"voice", "tier", "reason"}
TIER_KEY = "kaytoo_tier"                  # in synthesize / synthesize-start data: force a tier
CONTEXT_KEY = "kaytoo"                    # in a transcript's context: the whole Transcript
TIERS_KEY = "kaytoo_tiers"                # in info data: {tier: reason it cannot serve, or None}

SAMPLES_PER_CHUNK = 2048                  # audio-chunk size the engine sends

# Error codes in Wyoming `error` events, both ways.
CODE_INVALID_INPUT = "invalid_input"
CODE_NOTHING_COULD_SERVE = "nothing_could_serve"
CODE_INTERNAL = "internal"


def error_code(e: BaseException) -> str:
    if isinstance(e, UserError):
        return CODE_INVALID_INPUT
    if isinstance(e, NothingCouldServe):
        return CODE_NOTHING_COULD_SERVE
    return CODE_INTERNAL


def error_from_code(code: str | None, text: str) -> Exception:
    """The exception a client raises for an `error` event the engine sent."""
    if code == CODE_INVALID_INPUT:
        return UserError(text)
    if code == CODE_NOTHING_COULD_SERVE:
        return NothingCouldServe(text)
    return RuntimeError(text)


def to_pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def from_pcm16(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def pcm_chunks(pcm: bytes, samples_per_chunk: int = SAMPLES_PER_CHUNK) -> Iterator[bytes]:
    """16-bit mono PCM cut into audio-chunk payloads."""
    step = samples_per_chunk * 2
    for i in range(0, len(pcm), step):
        yield pcm[i:i + step]


@dataclass
class Transcript:
    text: str
    language: str        # ISO code the text is in; "" when auto-detect had nothing to go on
    seconds_audio: float
    stt_s: float
    # n-best texts, best first (alternatives[0] == text); [text] when only one was decoded
    alternatives: list[str] = field(default_factory=list)
    confidence: float | None = None      # 0..1 for the chosen hypothesis, None when unknown

    def __post_init__(self) -> None:
        if not self.alternatives:
            self.alternatives = [self.text]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Transcript":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass
class Fallback:
    tier: str
    reason: str


@dataclass
class SpeechReport:
    tier: str | None = None                 # the tier that spoke first
    tiers: list[str] = field(default_factory=list)      # every tier that spoke, in order
    fallbacks: list[Fallback] = field(default_factory=list)
    first_audio_s: float | None = None
    total_s: float = 0.0
    audio_s: float = 0.0
    sample_rate: int = 48000
    sentences: list[str] = field(default_factory=list)  # fully delivered sentences
    cancelled: bool = False

    @property
    def rtf(self) -> float | None:
        return round(self.total_s / self.audio_s, 3) if self.audio_s else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rtf"] = self.rtf
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SpeechReport":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["fallbacks"] = [Fallback(**f) for f in known.get("fallbacks", [])]
        return cls(**known)
