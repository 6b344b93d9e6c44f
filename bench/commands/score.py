"""Scoring a transcript: the project's real Assistant decides; WER on normalised words."""
from __future__ import annotations

import re
from datetime import datetime

from bench.commands.corpus import ALL_VOICES, Utterance

CLOCK = datetime(2026, 12, 4, 15, 10)   # a Friday afternoon, the same every run


def assistant():
    from app.assistant import Assistant

    return Assistant(voices=lambda: list(ALL_VOICES), clock=lambda: CLOCK)


def key_of(action) -> tuple[str, object] | None:
    """The key value an action carries, in the corpus's terms."""
    kind, value = action.kind, action.value
    if kind in ("timer_set",) and value is not None:
        return ("seconds", round(float(getattr(value, "seconds", 0))))
    if kind == "switch_voice":
        return ("voice", value)
    if kind == "speed":
        return ("dir", "slower" if float(value) < 0 else "faster")
    if kind == "volume":
        return ("dir", "louder" if float(value) > 0 else "softer")
    if kind == "open_panel":
        return ("panel", value)
    return None


# Actions that change something the user must then undo (issue 9's "wrong action").
STATE_CHANGING = {"switch_voice", "speed", "volume", "timer_set", "timer_cancel"}


def understood(u: Utterance, heard: str) -> tuple[bool, str, bool]:
    """(intent and key value right, the intent the assistant chose, a wrong state-changing
    action was taken). A fresh assistant per utterance: no history or timers carry over."""
    reply = assistant().respond(heard)
    reply.text()
    ok = reply.intent in u.intents
    if ok and u.key is not None:
        ok = key_of(reply.action) == u.key
    return ok, reply.intent, (not ok and reply.action.kind in STATE_CHANGING)


def words(text: str) -> list[str]:
    from num2words import num2words

    t = text.lower().replace("’", "'").replace("-", " ")
    t = re.sub(r"(\d+(?:\.\d+)?)", lambda m: f" {num2words(float(m.group(1)) if '.' in m.group(1) else int(m.group(1)))} ", t)
    t = t.replace("-", " ").replace(",", " ")
    t = re.sub(r"[^a-z' ]+", " ", t)
    return t.split()


def word_errors(ref: str, hyp: str) -> tuple[int, int]:
    """(word edits, reference words) after normalising both sides (digits as words)."""
    import jiwer

    r, h = " ".join(words(ref)), " ".join(words(hyp))
    if not h:
        return len(r.split()), len(r.split())
    out = jiwer.process_words(r, h)
    return out.substitutions + out.deletions + out.insertions, len(r.split())
