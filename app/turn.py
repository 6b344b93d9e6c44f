"""One push-to-talk turn: transcribe → decide → speak. Shared by `kaytoo turn` and the GUI.

``engine`` is anything with ``transcribe`` and ``speak`` (the in-process EngineCore or an
EngineClient talking to an engine process), so both paths run exactly this code.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import numpy as np

EventSink = Callable[[str, dict], None]


@dataclass
class TurnResult:
    heard: str
    intent: str
    reply: str
    spoken: str                      # what was actually said (less than reply when cut)
    cut: bool
    tier: str | None
    fallbacks: list[dict]
    timings: dict                    # stt_s, first_audio_s (from release), total_s
    action: dict = field(default_factory=dict)
    sample_rate: int = 48000
    audio_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def run_turn(engine, assistant, samples16k: np.ndarray, voice: str | None,
             on_chunk: Callable[[np.ndarray], None], cancel: threading.Event | None = None,
             on_event: EventSink | None = None, tier: str = "auto",
             language: str | None = None) -> TurnResult:
    emit = on_event or (lambda kind, data: None)
    cancel = cancel or threading.Event()
    t0 = time.monotonic()
    transcript = engine.transcribe(samples16k, language)
    stt_s = round(time.monotonic() - t0, 4)
    emit("heard", {"text": transcript.text, "stt_s": stt_s})

    reply = assistant.respond(transcript.text)
    said: list[str] = []

    def sentences() -> Iterator[str]:
        for s in reply.sentences:
            said.append(s)
            emit("reply_sentence", {"text": s})
            yield s

    speech = engine.speak(sentences(), voice, tier, cancel)
    first_audio_s = None
    for chunk in speech:
        if first_audio_s is None:
            first_audio_s = round(time.monotonic() - t0, 4)
            emit("first_audio", {"first_audio_s": first_audio_s})
        on_chunk(chunk)
    report = speech.report
    for f in report.fallbacks:
        emit("fallback", {"tier": f.tier, "reason": f.reason})

    cut = cancel.is_set()
    full = " ".join(said)
    spoken = " ".join(report.sentences) if cut else full
    if cut and hasattr(assistant, "note_cut"):
        assistant.note_cut(spoken)
    action = reply.action
    result = TurnResult(
        heard=transcript.text, intent=reply.intent, reply=full, spoken=spoken, cut=cut,
        tier=report.tier, fallbacks=[{"tier": f.tier, "reason": f.reason} for f in report.fallbacks],
        timings={"stt_s": stt_s, "first_audio_s": first_audio_s,
                 "total_s": round(time.monotonic() - t0, 4)},
        action={"kind": action.kind, "value": _plain(action.value)} if action else {},
        sample_rate=speech.rate, audio_s=report.audio_s)
    emit("done", result.to_dict())
    return result


def settings_after(action: dict, settings):
    """The settings a spoken command changes for good (voice, speed, volume), or None.

    The GUI applies them live; ``kaytoo turn`` saves them so the next command hears the change.
    """
    kind, value = action.get("kind"), action.get("value")
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
