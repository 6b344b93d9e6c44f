"""Scoring a transcript: the project's real Assistant decides; WER on normalised words, strict
(the project's own normaliser) and as the field reports it (Whisper's English normaliser)."""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from bench.commands.corpus import ALL_VOICES, Utterance

CLOCK = datetime(2026, 12, 4, 15, 10)   # a Friday afternoon, the same every run


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


@dataclass
class Verdict:
    ok: bool        # intent and key value right (of what was done, or asked about)
    intent: str     # what the assistant did ("confirm" when it asked)
    wrong: bool     # a state-changing action was taken that the utterance did not mean
    asked: bool     # answered "Did you mean ...?" instead of acting
    heard: str      # the hypothesis acted on (one of the n best)


class Judge:
    """One real Assistant for a whole run (building one per utterance made re-scoring take
    minutes), put back to the same state before every utterance: no history, nothing held for a
    "yes", one 5-minute "pasta" timer running (so "cancel the timer" has something to cancel).
    Built-in sentences only, on a fixed clock."""

    def __init__(self, confirm_below: float | None = None):
        from app.assistant import Assistant, Timers

        self.timers = Timers(lambda timer: None)
        extra = {} if confirm_below is None else {"confirm_below": confirm_below}
        self.kaytoo = Assistant(voices=lambda: list(ALL_VOICES), clock=lambda: CLOCK,
                                timers=self.timers, sentences_dir=None, **extra)

    def close(self) -> None:
        self.timers.close()

    def __enter__(self) -> "Judge":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def reset(self) -> None:
        self.kaytoo.history.clear()
        self.kaytoo.pending = None
        self.timers.cancel("all")
        self.timers.add(300, "pasta")

    def intent(self, heard: str) -> str:
        """The intent the assistant gives to ``heard`` alone (no n-best, no confidence)."""
        self.reset()
        reply = self.kaytoo.respond(heard)
        reply.text()
        return reply.intent

    def turn(self, u: Utterance, heard: str, alternatives: list[str] | None = None,
             confidence: float | None = None) -> Verdict:
        """One turn as the app has it: the text heard, with its n-best and confidence when given
        (then a weak guess at a change is asked about, and counted right if the question is)."""
        self.reset()
        reply = self.kaytoo.respond(heard, alternatives, confidence)
        reply.text()
        if reply.intent == "confirm":
            intent = self.kaytoo.pending[0]
            ok = intent.name in u.intents and (u.key is None or _slot_key(intent) == u.key)
            return Verdict(ok, "confirm", False, True, self.kaytoo.pending[2])
        ok = reply.intent in u.intents and (u.key is None or key_of(reply.action) == u.key)
        return Verdict(ok, reply.intent, not ok and reply.action.kind in STATE_CHANGING, False,
                       reply.heard or heard)


def _slot_key(intent) -> tuple[str, object] | None:
    """The key value of a command held for a "yes", in the corpus's terms."""
    from app.assistant.assistant import best_voice

    s = intent.slots
    if intent.name in ("timer_set", "reminder_set") and s.get("seconds"):
        return ("seconds", round(float(s["seconds"])))
    if intent.name in ("speed", "volume"):
        return ("dir", s.get("dir"))
    if intent.name == "switch_voice":
        return ("voice", best_voice(s.get("voice", ""), list(ALL_VOICES)))
    return None


def words(text: str) -> list[str]:
    """The strict normaliser (the project's own): lower case, punctuation out, digits as words;
    fillers ("uh"), contractions and spellings count as written."""
    from num2words import num2words

    t = text.lower().replace("’", "'").replace("-", " ")
    t = re.sub(r"(\d+(?:\.\d+)?)", lambda m: f" {num2words(float(m.group(1)) if '.' in m.group(1) else int(m.group(1)))} ", t)
    t = t.replace("-", " ").replace(",", " ")
    t = re.sub(r"[^a-z' ]+", " ", t)
    return t.split()


@functools.cache
def _whisper_normaliser() -> Callable[[str], str]:
    """Whisper's EnglishTextNormalizer (transformers' copy of OpenAI's), with OpenAI's British ->
    American spelling table as the whisper-normalizer package ships it (english.json)."""
    from importlib.resources import files

    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    table = files("whisper_normalizer").joinpath("normalizers/english.json").read_text()
    return EnglishTextNormalizer(json.loads(table))


def whisper_words(text: str) -> list[str]:
    """The normaliser Whisper's papers and the Open ASR leaderboard score with: fillers ("uh",
    "um", "hmm") out, numbers as digits ("twelve minutes" = "12 minutes"), contractions
    expanded, spellings standardised."""
    return _whisper_normaliser()(text).split()


def word_errors(ref: str, hyp: str,
                normalise: Callable[[str], list[str]] = words) -> tuple[int, int]:
    """(word edits, reference words) after ``normalise`` on both sides: ``words`` (strict, digits
    as words) or ``whisper_words`` (Whisper's English normaliser)."""
    import jiwer

    r, h = " ".join(normalise(ref)), " ".join(normalise(hyp))
    if not r:
        return len(h.split()), 0
    if not h:
        return len(r.split()), len(r.split())
    out = jiwer.process_words(r, h)
    return out.substitutions + out.deletions + out.insertions, len(r.split())
