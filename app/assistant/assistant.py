"""The assistant: heard text in, a reply (sentences + an action for the front end) out."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator

from app.assistant.intents import Intent, match
from app.assistant.numbers import parse_duration, say_duration
from app.assistant.persona import Persona
from app.assistant.timers import Timer, Timers


@dataclass
class Action:
    kind: str = "none"
    value: object = None


@dataclass
class Reply:
    intent: str
    sentences: Iterator[str]
    action: Action = field(default_factory=Action)
    _said: list[str] | None = field(default=None, repr=False)

    def text(self) -> str:
        if self._said is None:
            self._said = list(self.sentences)
            self.sentences = iter(self._said)
        return " ".join(self._said)


@dataclass
class Turn:
    heard: str
    reply: str
    cut: bool = False


class Assistant:
    def __init__(self, voices: Callable[[], list[str]] = lambda: [], settings=None,
                 clock: Callable[[], datetime] = datetime.now, timers: Timers | None = None):
        self.voices, self.settings, self.clock, self.timers = voices, settings, clock, timers
        self.persona = Persona()
        self.history: list[Turn] = []

    def respond(self, heard: str) -> Reply:
        intent = match(heard)
        handler = getattr(self, f"_{intent.name}", None)
        text, action = handler(intent) if handler else (self.persona.line(intent.name), Action())
        if intent.name == "unknown" and self.settings is not None and getattr(
                self.settings, "llm_url", None):
            from app.assistant.llm import ask

            return self._remember(heard, Reply("llm", ask(self, heard, fallback=text), action))
        return self._remember(heard, Reply(intent.name, iter(split(text)), action))

    def note_cut(self, spoken: str) -> None:
        """The user barged in: history keeps only what was actually heard."""
        if self.history:
            self.history[-1].reply, self.history[-1].cut = spoken, True

    def timer_due_text(self, timer: Timer) -> str:
        if timer.label:
            return self.persona.line("reminder_due", label=timer.label)
        return self.persona.line("timer_due", duration=say_duration(timer.seconds))

    # -- bookkeeping ----------------------------------------------------------------------
    def _remember(self, heard: str, reply: Reply) -> Reply:
        turn = Turn(heard, "")
        self.history.append(turn)
        inner = reply.sentences

        def recording() -> Iterator[str]:
            for s in inner:
                turn.reply = f"{turn.reply} {s}".strip() if not turn.cut else turn.reply
                yield s

        reply.sentences = recording()
        return reply

    # -- intents --------------------------------------------------------------------------
    def _time(self, _: Intent):
        now = self.clock()
        return self.persona.line("time", time=now.strftime("%I:%M %p").lstrip("0")), Action()

    def _date(self, _: Intent):
        now = self.clock()
        return self.persona.line("date", date=f"{now:%A, %B} {now.day}, {now.year}"), Action()

    def _day(self, _: Intent):
        return self.persona.line("day", day=f"{self.clock():%A}"), Action()

    def _stop(self, _: Intent):
        return self.persona.line("stop"), Action("stop")

    def _repeat(self, _: Intent):
        last = next((t.reply for t in reversed(self.history) if t.reply), None)
        return (last or self.persona.line("repeat_none")), Action("repeat")

    def _speed(self, i: Intent):
        slower = i.slots.get("dir", "").startswith("slow")
        return (self.persona.line("speed_slower" if slower else "speed_faster"),
                Action("speed", -0.15 if slower else 0.15))

    def _volume(self, i: Intent):
        up = i.slots.get("dir", "") in ("louder", "speak up", "volume up", "turn it up")
        return (self.persona.line("volume_louder" if up else "volume_softer"),
                Action("volume", 0.2 if up else -0.2))

    def _list_voices(self, _: Intent):
        names = self.voices()
        return (self.persona.line("list_voices", count=_count(len(names), "voice"),
                                  voices=_and(names)), Action("list_voices", names))

    def _switch_voice(self, i: Intent):
        from rapidfuzz import fuzz, process

        wanted = i.slots.get("voice", "").strip()
        names = self.voices()
        best = process.extractOne(wanted, names, scorer=fuzz.WRatio, score_cutoff=70) if names else None
        if not best:
            return (self.persona.line("switch_voice_unknown", voice=wanted or "that",
                                      voices=_and(names) or "none"), Action())
        return self.persona.line("switch_voice", voice=best[0]), Action("switch_voice", best[0])

    def _open_panel(self, i: Intent):
        panel = "video" if "video" in i.slots.get("panel", "") else "voices"
        label = "video panel" if panel == "video" else "voice library"
        return self.persona.line("open_panel", panel=label), Action("open_panel", panel)

    def _timer_set(self, i: Intent):
        return self._start_timer(parse_duration(i.slots["_text"]), "")

    def _reminder_set(self, i: Intent):
        seconds = parse_duration(i.slots.get("when") or i.slots.get("when2") or i.slots["_text"])
        return self._start_timer(seconds, (i.slots.get("label") or "").strip() or "do that thing")

    def _start_timer(self, seconds: float | None, label: str):
        if not seconds:
            return self.persona.line("timer_no_duration"), Action()
        timer = self.timers.add(seconds, label) if self.timers else None
        key = "reminder_set" if label else "timer_set"
        text = self.persona.line(key, duration=say_duration(seconds), label=label)
        return text, Action("timer_set", timer or {"seconds": seconds, "label": label})

    def _timers_list(self, _: Intent):
        pending = self.timers.pending() if self.timers else []
        if not pending:
            return self.persona.line("timers_none"), Action("timers_list", [])
        import time

        now = time.monotonic()
        items = _and([f"{t.label or 'timer'} with {say_duration(t.remaining(now))} left"
                      for t in pending])
        return (self.persona.line("timers_list", count=_count(len(pending), "timer"), items=items),
                Action("timers_list", [t.id for t in pending]))

    def _timer_cancel(self, _: Intent):
        gone = self.timers.cancel() if self.timers else []
        return (self.persona.line("timer_cancel", count=_count(len(gone), "timer")),
                Action("timer_cancel", [t.id for t in gone]))


def split(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Za-z0-9])", text.strip())
    return [p[0].upper() + p[1:] for p in parts if p]


def _count(n: int, noun: str) -> str:
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    return f"{words[n] if n < len(words) else n} {noun}{'' if n == 1 else 's'}"


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
