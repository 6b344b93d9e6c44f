"""The assistant: heard text in, a reply (sentences + an action for the front end) out."""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from app import paths
from app.assistant import history as hist
from app.assistant import llm
from app.assistant.grammar import Grammar
from app.assistant.history import Turn
from app.assistant.intents import CHANGES, Intent, is_question, understand
from app.assistant.numbers import count_words, duration_adjective, say_date, say_duration, say_time
from app.assistant.persona import LINES, SYSTEM_PROMPT, Persona
from app.assistant.timers import MAX_SECONDS, Timer, Timers
from app.text.sentences import SentenceStream

log = logging.getLogger(__name__)

SPEED_STEP = 0.15
VOLUME_STEP = 0.2
# How sure a match must be (see intents.understand) for a change to be done without asking first.
# Command bench, the app's transcripts (bench/results/stt.md): 0.6 asks 6.8 % of clean turns and
# does 0.6 wrong changes per 100 at 15 dB; 0.7 does 0.3 but asks 12.1 % of clean turns.
CONFIRM_BELOW = 0.6
_USER_SENTENCES = object()   # default: <config folder>/sentences


@dataclass
class Action:
    """Something the front end must do besides speaking."""
    kind: str = "none"   # switch_voice | list_voices | stop | repeat | speed | volume | open_panel |
    #                      timer_set | timer_cancel | timers_list | confirm (value: the question) | none
    value: object = None


@dataclass
class Reply:
    intent: str
    sentences: Iterator[str]       # lazy: the first is ready before the rest (LLM streaming)
    action: Action = field(default_factory=Action)
    heard: str = ""                 # the hypothesis acted on (one of the n-best alternatives)
    confidence: float | None = None  # how sure the match is, 0..1 (None: typed, no STT score)
    _said: list[str] | None = field(default=None, repr=False)

    def text(self) -> str:
        """All sentences joined. Consumes the iterator; ``sentences`` then replays them."""
        if self._said is None:
            self._said = list(self.sentences)
            self.sentences = iter(self._said)
        return " ".join(self._said)


class Assistant:
    def __init__(self, voices: Callable[[], list[str]] = lambda: [], settings=None,
                 clock: Callable[[], datetime] = datetime.now, timers: Timers | None = None,
                 rng: random.Random | None = None, sentences_dir: Path | None | object = _USER_SENTENCES,
                 confirm_below: float = CONFIRM_BELOW):
        """``settings`` is an ``app.settings.model.AssistantSettings`` (None: no LLM);
        ``rng`` picks line variants at random but reproducibly (None: round-robin);
        ``sentences_dir`` holds the user's own sentence files (None: built-in sentences only);
        ``confirm_below``: a change matched less surely than this is asked about first.
        ``problems`` lists, one plain sentence each, user sentence files that were skipped."""
        self.voices, self.settings, self.clock, self.timers = voices, settings, clock, timers
        self.confirm_below = confirm_below
        self.persona = Persona(rng)
        self.history: list[Turn] = []
        if sentences_dir is _USER_SENTENCES:
            sentences_dir = paths.resolve().config / "sentences"
        self.grammar = Grammar(sentences_dir)  # type: ignore[arg-type]
        self.problems: list[str] = self.grammar.problems
        self.pending: tuple[Intent, str, str, float | None] | None = None  # held for "yes"

    # -- the public face ----------------------------------------------------------------------
    def respond(self, heard: str, alternatives: list[str] | None = None,
                confidence: float | None = None) -> Reply:
        """Answer one utterance. ``alternatives``: the speech-to-text n-best texts, best first
        (the first is ``heard``); the best one the grammar matches is acted on. ``confidence``:
        the speech-to-text's, 0..1. A change on a weak guess is asked about first."""
        intent, used, sure = understand(heard, alternatives or [], confidence,
                                        self._voice_names(), self.grammar)
        pending, self.pending = self.pending, None
        if pending is not None:
            if intent.name == "affirm":
                return self._remember(heard, self._act(*pending))
            if intent.name in ("deny", "stop", "dismiss"):
                return self._remember(heard, Reply("deny", iter(split(self.persona.line(
                    "confirm_no"))), Action(), used, sure))
        if (intent.name in CHANGES and sure is not None and sure < self.confirm_below
                and self._acts(intent)):
            question = self._describe_intent(intent)
            self.pending = (intent, heard, used, sure)
            text = self.persona.line("confirm", what=question)
            return self._remember(heard, Reply("confirm", iter(split(text)),
                                               Action("confirm", question), used, sure))
        return self._remember(heard, self._act(intent, heard, used, sure))

    def confirm_pending(self) -> Reply | None:
        """"Yes" by other means (the key pressed again): do the held command, or None if none."""
        if self.pending is None:
            return None
        pending, self.pending = self.pending, None
        return self._remember(pending[1], self._act(*pending))

    def _act(self, intent: Intent, heard: str, used: str, sure: float | None) -> Reply:
        handler = getattr(self, f"_{intent.name}", None)
        if handler is None and intent.name not in LINES:   # a user's intent we cannot do
            intent = Intent("unknown", {}, intent.text)
            handler = self._unknown
        text, action = handler(intent) if handler else (self.persona.line(intent.name), Action())
        if intent.name == "unknown" and self._llm_on():
            reply = self._ask_llm(heard, text)
        else:
            reply = Reply(intent.name, iter(split(text)), action)
        reply.heard, reply.confidence = used, sure
        return reply

    def note_cut(self, spoken: str) -> None:
        """The user barged in: history keeps only what was actually spoken before that."""
        if self.history:
            turn = self.history[-1]
            turn.reply, turn.cut = " ".join(spoken.split()), True

    def timer_due_text(self, timer: Timer) -> str:
        """What to say when a timer or reminder is due."""
        if timer.kind == "reminder":
            return self.persona.line("reminder_due" if timer.label else "reminder_due_bare",
                                     what=_what(timer.label))
        if timer.label:
            return self.persona.line("timer_due_label", label=timer.label)
        return self.persona.line("timer_due", length=duration_adjective(timer.seconds))

    # -- bookkeeping ----------------------------------------------------------------------------
    def _voice_names(self) -> list[str]:
        try:
            return list(self.voices())
        except Exception:  # the library may be mid-change; a command must still be answered
            log.exception("could not list voices")
            return []

    def _llm_on(self) -> bool:
        return bool(self.settings is not None and getattr(self.settings, "llm_url", None))

    def _remember(self, heard: str, reply: Reply) -> Reply:
        """History records each sentence as it is handed out, so a cut reply keeps only those."""
        turn = Turn(heard, "", False, reply.intent)
        self.history.append(turn)
        hist.trim(self.history)
        inner = reply.sentences

        def recording() -> Iterator[str]:
            for s in inner:
                if not turn.cut:
                    turn.reply = f"{turn.reply} {s}".strip()
                yield s

        reply.sentences = recording()
        return reply

    def _ask_llm(self, heard: str, unknown_text: str) -> Reply:
        s = self.settings
        messages = hist.messages(self.history, SYSTEM_PROMPT, heard)
        stream = llm.sentences(llm.stream_reply(s.llm_url, s.llm_model, messages, s.llm_timeout_s),
                               first_within=s.llm_timeout_s)
        try:
            first = next(stream)
        except (llm.LlmError, StopIteration) as e:
            log.warning("LLM unavailable, answering locally: %s", e or "empty reply")
            lines = [self.persona.line("llm_fallback"), *split(unknown_text)]
            return Reply("llm_fallback", iter(lines), Action())

        def rest() -> Iterator[str]:
            yield first
            try:
                yield from stream
            except llm.LlmError as e:  # part of the answer was already spoken
                log.warning("LLM stream broke: %s", e)
                yield self.persona.line("llm_cut")

        return Reply("llm", rest(), Action())

    # -- intents ------------------------------------------------------------------------------
    def _time(self, _: Intent):
        now = self.clock()
        return self.persona.line("time", time=say_time(now.hour, now.minute)), Action()

    def _date(self, _: Intent):
        now = self.clock()
        return self.persona.line("date", date=say_date(now.year, now.month, now.day, f"{now:%A}")), Action()

    def _day(self, i: Intent):
        today = f"{self.clock():%A}"
        asked = i.slots.get("weekday")
        if asked:
            key = "day_yes" if asked == today.lower() else "day_no"
            return self.persona.line(key, day=today), Action()
        return self.persona.line("day", day=today), Action()

    def _unknown(self, i: Intent):
        return self.persona.line("unknown_question" if is_question(i.text) else "unknown"), Action()

    def _dismiss(self, _: Intent):
        return self.persona.line("dismiss"), Action("stop")

    def _acts(self, i: Intent) -> bool:
        """Whether this change would do something (worth asking about) rather than ask back."""
        if i.name == "switch_voice":
            return best_voice(i.slots.get("voice", ""), self._voice_names()) is not None
        if i.name in ("timer_set", "reminder_set"):
            return bool(i.slots.get("seconds")) and i.slots["seconds"] <= MAX_SECONDS
        if i.name == "timer_cancel":
            return bool(self.timers and self.timers.pending())
        return True

    def _describe_intent(self, i: Intent) -> str:
        """The command as the question "Did you mean ...?" says it."""
        s = i.slots
        if i.name in ("speed", "volume"):
            return f"speak {s['dir']}"
        if i.name == "switch_voice":
            return f"switch to the {best_voice(s['voice'], self._voice_names())} voice"
        if i.name == "timer_set":
            called = f" called {s['label']}" if s.get("label") else ""
            return f"set a timer for {say_duration(s['seconds'])}{called}"
        if i.name == "reminder_set":
            what = f" {_what(s['label'])}" if s.get("label") else ""
            return f"remind you in {say_duration(s['seconds'])}{what}"
        if s.get("which") == "all":
            return "cancel all your timers"
        if s.get("seconds"):
            return f"cancel the {duration_adjective(s['seconds'])} timer"
        return f"cancel the {s['which']} timer" if s.get("which") else "cancel the timer"

    def _stop(self, _: Intent):
        return self.persona.line("stop"), Action("stop")

    def _repeat(self, _: Intent):
        last = next((t.reply for t in reversed(self.history)
                     if t.reply and t.intent not in ("stop", "nothing_heard")), None)
        return (last or self.persona.line("repeat_none")), Action("repeat")

    def _speed(self, i: Intent):
        slower = i.slots.get("dir") == "slower"
        return (self.persona.line("speed_slower" if slower else "speed_faster"),
                Action("speed", -SPEED_STEP if slower else SPEED_STEP))

    def _volume(self, i: Intent):
        louder = i.slots.get("dir") == "louder"
        return (self.persona.line("volume_louder" if louder else "volume_softer"),
                Action("volume", VOLUME_STEP if louder else -VOLUME_STEP))

    def _list_voices(self, _: Intent):
        names = self._voice_names()
        if not names:
            return self.persona.line("list_voices_none"), Action("list_voices", [])
        return (self.persona.line("list_voices", count=count_words(len(names), "voice"),
                                  voices=_and(names)), Action("list_voices", names))

    def _switch_voice(self, i: Intent):
        names = self._voice_names()
        wanted = i.slots.get("voice", "")
        if not wanted:
            return self.persona.line("switch_voice_which", voices=_and(names) or "none"), Action()
        best = best_voice(wanted, names)
        if best is None:
            return (self.persona.line("switch_voice_unknown", voice=wanted,
                                      voices=_and(names) or "none"), Action())
        return self.persona.line("switch_voice", voice=best), Action("switch_voice", best)

    def _open_panel(self, i: Intent):
        panel = i.slots.get("panel", "voices")
        label = "video panel" if panel == "video" else "voice library"
        return self.persona.line("open_panel", panel=label), Action("open_panel", panel)

    def _timer_set(self, i: Intent):
        return self._start(i.slots.get("seconds"), i.slots.get("label", ""), "timer")

    def _reminder_set(self, i: Intent):
        return self._start(i.slots.get("seconds"), i.slots.get("label", ""), "reminder")

    def _start(self, seconds: float | None, label: str, kind: str):
        if not seconds:
            return self.persona.line("timer_no_duration"), Action()
        if seconds > MAX_SECONDS:
            return self.persona.line("timer_too_long"), Action()
        timer = (self.timers.add(seconds, label, kind) if self.timers else
                 Timer(0, seconds, label, kind=kind))
        duration = say_duration(seconds)
        if kind == "reminder":
            text = self.persona.line("reminder_set" if label else "reminder_set_bare",
                                     duration=duration, what=_what(label))
        elif label:
            text = self.persona.line("timer_set_label", duration=duration, label=label)
        else:
            text = self.persona.line("timer_set", duration=duration)
        return text, Action("timer_set", timer)

    def _timers_list(self, _: Intent):
        pending = self.timers.pending() if self.timers else []
        if not pending:
            return self.persona.line("timers_none"), Action("timers_list", [])
        items = _and([self._describe(t) for t in pending])
        noun = "timer" if all(t.kind == "timer" for t in pending) else (
            "reminder" if all(t.kind == "reminder" for t in pending) else "timer or reminder")
        count = count_words(len(pending), noun).replace("timer or reminders", "timers and reminders")
        return (self.persona.line("timers_list", count=count, items=items),
                Action("timers_list", pending))

    def _describe(self, t: Timer) -> str:
        left = say_duration(max(1, round(self.timers.remaining(t))))
        if t.kind == "reminder":
            return f"a reminder {_what(t.label)} in {left}" if t.label else f"a reminder in {left}"
        name = t.label or duration_adjective(t.seconds)
        return f"the {name} timer with {left} left"

    def _timer_cancel(self, i: Intent):
        pending = self.timers.pending() if self.timers else []
        if not pending:
            return self.persona.line("timer_cancel_none"), Action("timer_cancel", [])
        which, seconds = i.slots.get("which", ""), i.slots.get("seconds")
        if which == "all" or (not which and not seconds):
            # "cancel the timer" with several running: the newest, as an undo would
            chosen = pending if which == "all" else [max(pending, key=lambda t: t.id)]
        else:
            chosen = _pick_timers(pending, which, seconds)
        if not chosen:
            items = _and([self._describe(t) for t in pending])
            return self.persona.line("timer_cancel_nomatch", items=items), Action()
        gone = [g for t in chosen for g in self.timers.cancel(t.id)]
        noun = "reminder" if all(t.kind == "reminder" for t in gone) else "timer"
        return (self.persona.line("timer_cancel", count=count_words(len(gone), noun)),
                Action("timer_cancel", gone))


def best_voice(wanted: str, names: list[str]) -> str | None:
    """The library voice a spoken name means ("narator" → "Narrator"), or None."""
    from rapidfuzz import fuzz, process, utils

    if not names:
        return None
    hit = process.extractOne(wanted, names, scorer=fuzz.WRatio, processor=utils.default_process,
                             score_cutoff=75)
    return hit[0] if hit else None


def _pick_timers(pending: list[Timer], which: str, seconds: float | None) -> list[Timer]:
    from rapidfuzz import fuzz, utils

    if seconds:
        by_length = [t for t in pending if abs(t.seconds - seconds) < 1]
        if by_length:
            return by_length
    if which:
        scored = [(fuzz.partial_ratio(which, t.label, processor=utils.default_process), t)
                  for t in pending if t.label]
        best = max((s for s, _ in scored), default=0)
        if best >= 80:
            return [t for s, t in scored if s == best]
    return []


def _what(label: str) -> str:
    """A reminder label as the rest of "remind you ...": "to check the oven", "about the meeting"."""
    return label if label.startswith("about ") else f"to {label}"


def split(text: str) -> list[str]:
    """Our own lines into sentences, cut by the engine's one splitter (first letter upper-case,
    for lines that start with a value)."""
    stream = SentenceStream(min_chars=0, speakable=False)
    parts = stream.feed(text.strip()) + stream.close()
    return [p[0].upper() + p[1:] for p in parts if p]


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
