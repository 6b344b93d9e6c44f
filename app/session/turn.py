"""One push-to-talk turn: transcribe → decide → speak. Shared by `kaytoo turn` and the desktop app.

``engine`` is anything with ``transcribe`` and ``speak`` (the in-process EngineCore or an
EngineClient talking to an engine process), so both paths run exactly this code.
"""
from __future__ import annotations

import enum
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator, Protocol

import numpy as np

from app.assistant import Action
from app.engines.protocol import Fallback, SpeechReport, Transcript
from app.settings.model import Settings


class TurnState(str, enum.Enum):
    IDLE = "idle"
    LISTENING = "listening"     # the key is held
    THINKING = "thinking"       # transcribing, deciding, waiting for the first audio
    SPEAKING = "speaking"


class TurnEvents(Protocol):
    """What a turn reports while it runs (on the turn's thread)."""

    def heard(self, transcript: Transcript) -> None: ...
    def reply_sentence(self, text: str) -> None: ...
    def first_audio(self, seconds: float) -> None: ...


@dataclass
class Timings:
    stt_s: float = 0.0
    first_audio_s: float | None = None      # from the start of the turn (release)
    total_s: float = 0.0
    first_sound_s: float | None = None      # release → first sample at the device (the app)
    spoken_s: float | None = None           # release → the reply played out (the app)


@dataclass
class TurnResult:
    heard: str
    intent: str
    heard_alternatives: list[str]    # the n-best the assistant chose from, best first
    confidence: float | None         # how sure the hearing was (0..1)
    reply: str
    spoken: str                      # what was actually said (less than reply when cut)
    cut: bool
    tier: str | None
    fallbacks: list[Fallback]
    timings: Timings
    action: Action = field(default_factory=Action)
    sample_rate: int = 48000
    audio_s: float = 0.0
    played_fraction: float = 1.0     # of the reply's audio, when cut
    underruns: int = 0

    def to_dict(self) -> dict:
        """Plain data for JSON and for the window (action values that are objects become dicts)."""
        d = asdict(self)
        d["action"] = {"kind": self.action.kind, "value": _plain(self.action.value)}
        return d


def run_turn(engine, assistant, samples16k: np.ndarray, voice: str | None,
             on_chunk: Callable[[np.ndarray], None], cancel: threading.Event | None = None,
             events: TurnEvents | None = None, tier: str = "auto",
             language: str | None = None, transcript: Transcript | None = None) -> TurnResult:
    """``transcript``: already heard (decoded while the key was held); skips transcription."""
    cancel = cancel or threading.Event()
    t0 = time.monotonic()
    if transcript is None:
        transcript = engine.transcribe(samples16k, language)
    stt_s = round(time.monotonic() - t0, 4)
    if events:
        events.heard(transcript)

    reply = assistant.respond(transcript.text, transcript.alternatives, transcript.confidence)
    said: list[str] = []

    def sentences() -> Iterator[str]:
        for s in reply.sentences:
            said.append(s)
            if events:
                events.reply_sentence(s)
            yield s

    speech = engine.speak(sentences(), voice, tier, cancel)
    first_audio_s = None
    for chunk in speech:
        if first_audio_s is None:
            first_audio_s = round(time.monotonic() - t0, 4)
            if events:
                events.first_audio(first_audio_s)
        on_chunk(chunk)
    report: SpeechReport = speech.report

    cut = cancel.is_set()
    full = " ".join(said)
    spoken = " ".join(report.sentences) if cut else full
    if cut and hasattr(assistant, "note_cut"):
        assistant.note_cut(spoken)
    return TurnResult(
        heard=transcript.text, intent=reply.intent, heard_alternatives=transcript.alternatives,
        confidence=transcript.confidence, reply=full, spoken=spoken, cut=cut,
        tier=report.tier, fallbacks=list(report.fallbacks),
        timings=Timings(stt_s=stt_s, first_audio_s=first_audio_s,
                        total_s=round(time.monotonic() - t0, 4)),
        action=reply.action or Action(), sample_rate=speech.rate, audio_s=report.audio_s)


def settings_after(action: Action, settings: Settings) -> Settings | None:
    """The settings a spoken command changes for good (voice, speed, volume), or None.

    The app applies them live; ``kaytoo turn`` saves them so the next command hears the change.
    """
    kind, value = action.kind, action.value
    new = settings.model_copy(deep=True)
    if kind == "switch_voice" and value:
        new.voice.active = str(value)
    elif kind in ("speed", "volume") and value:
        setattr(new.tts, kind, new.tts.clamped(kind, round(getattr(new.tts, kind) + float(value), 2)))
    else:
        return None
    return new


def _plain(value):
    """Action values must survive JSON (Timer objects, also in a list, become dicts)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in asdict(value).items()}
    return str(value)
