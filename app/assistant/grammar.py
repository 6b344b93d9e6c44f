"""The command grammar: sentence templates in YAML (Home Assistant's format, matched by hassil).

The built-in sentences ship in app/assistant/sentences/; the user's own, in
``<config folder>/sentences/*.yaml``, are added to them. A user file that cannot be read or parsed
is skipped with one plain sentence in ``Grammar.problems``; the built-in grammar still works.
Voice names are a list filled at run time from the library. What hassil captured is checked here
(a duration must read as one), so a wildcard cannot turn any sentence into a command.
"""
from __future__ import annotations

import copy
import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml
from hassil import Group, Intents, ListReference, RecognizeResult, RuleReference, TextSlotList, recognize_all
from hassil.errors import HassilError
from hassil.parser import ParseError

from app.assistant.numbers import duration_only, parse_duration

log = logging.getLogger(__name__)

BUILTIN = Path(__file__).with_name("sentences")
# Said instead of a name, these mean the default voice: "switch back to your normal voice".
DEFAULT_VOICE_WORDS = ("default", "normal", "usual", "original", "standard", "regular", "own",
                       "old", "real", "droid")
DEFAULT_VOICE = "kaytoo"
_PRONOUNS = {"my": "your", "me": "you", "i": "you", "i'm": "you're", "myself": "yourself",
             "mine": "yours", "our": "your", "we": "you", "us": "you", "i'll": "you'll",
             "i've": "you've", "am": "are"}


@dataclass
class Intent:
    name: str
    slots: dict = field(default_factory=dict)
    text: str = ""          # what the grammar saw
    exact: bool = True      # False when a value was guessed (a voice name not in the library)


class Grammar:
    def __init__(self, user_dir: Path | None = None):
        """``user_dir``: the folder of the user's own sentence files (None: built-in only)."""
        self.problems: list[str] = []
        base = _builtin_dict()
        merged = copy.deepcopy(base)
        for path in sorted(user_dir.glob("*.yaml")) if user_dir and user_dir.is_dir() else []:
            trial = copy.deepcopy(merged)
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
                if not isinstance(data, dict) or not isinstance(data.get("intents", {}), dict):
                    raise ValueError("it needs an 'intents:' section (see docs/commands.md)")
                data.setdefault("language", "en")
                _merge(trial, data)
                _compile(trial)
            except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError, KeyError, TypeError,
                    AssertionError, HassilError, ParseError) as e:
                problem = f"Your sentences file {path} was skipped: {_plain(e)}."
                log.warning(problem)
                self.problems.append(problem)
                continue
            merged = trial
        self.intents = _compile(merged)

    def match(self, text: str, voices: Iterable[str] = ()) -> Intent | None:
        """The best grammar match for the whole of ``text``, with its values read, or None."""
        voices = list(voices)
        results = recognize_all(text, self.intents, slot_lists={"voice": _voice_list(voices)})
        # Most literal words matched first ("remind me to {label} in {duration}" over "remind me
        # to {label}"), then list values over wildcards (a library voice over a guessed one).
        for r in sorted(results, key=_rank):
            intent = _read(r.intent.name, {k: e.value for k, e in r.entities.items()},
                           {k: e.text for k, e in r.entities.items()}, text)
            if intent is not None:
                intent.exact = not (r.intent_metadata or {}).get("heard_voice")
                return intent
        return None


def _rank(r: RecognizeResult) -> tuple:
    wild = [e for e in r.entities_list if e.is_wildcard]
    return (-r.text_chunks_matched, len(wild), sum(len(e.text or "") for e in wild))


@functools.lru_cache(maxsize=1)
def _builtin_text() -> str:
    return (BUILTIN / "en.yaml").read_text(encoding="utf-8")


def _builtin_dict() -> dict:
    return yaml.safe_load(_builtin_text())


def _compile(data: dict) -> Intents:
    """Intents with every template parsed and every {list} and <rule> it names defined, so a
    mistake in a user's file shows when it is loaded, not in the middle of a command."""
    intents = Intents.from_dict(data)
    for intent in intents.intents.values():
        for block in intent.data:
            rules = {**intents.expansion_rules, **block.expansion_rules}
            lists = {*intents.slot_lists, *block.slot_lists}
            for sentence in block.sentences:
                _check(sentence.expression, rules, lists, intent.name, set())
    return intents


def _check(e, rules: dict, lists: set, intent: str, seen: set) -> None:
    if isinstance(e, ListReference) and e.list_name not in lists:
        raise ValueError(f"intent '{intent}' uses the list {{{e.list_name}}}, which is not defined")
    if isinstance(e, RuleReference):
        if e.rule_name not in rules:
            raise ValueError(f"intent '{intent}' uses the rule <{e.rule_name}>, which is not defined")
        if e.rule_name not in seen:
            _check(rules[e.rule_name].expression, rules, lists, intent, seen | {e.rule_name})
    if isinstance(e, Group):
        for item in e.items:
            _check(item, rules, lists, intent, seen)


def _merge(base: dict, new: dict) -> None:
    """hassil's merge (lists extend, mappings merge), with the user's types checked first."""
    from hassil.util import merge_dict

    for name, body in new.get("intents", {}).items():
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ValueError(f"intent '{name}' needs a 'data:' list of sentence blocks")
        for block in body["data"]:
            if not isinstance(block, dict) or not isinstance(block.get("sentences"), list):
                raise ValueError(f"each block of intent '{name}' needs a 'sentences:' list")
    merge_dict(base, new)


def _plain(e: Exception) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:200].rstrip(".")


def _voice_list(voices: list[str]) -> TextSlotList:
    pairs = [(v.lower(), v) for v in voices]
    default = next((v for v in voices if v.lower() == DEFAULT_VOICE), voices[0] if voices else None)
    if default is not None:
        pairs += [(w, default) for w in DEFAULT_VOICE_WORDS if w not in {p[0] for p in pairs}]
    return TextSlotList.from_tuples(pairs, allow_template=False)


def _read(name: str, values: dict, texts: dict, text: str) -> Intent | None:
    """Slots from hassil's entities; None when a captured value does not hold (not a duration)."""
    slots: dict = {}
    if "duration" in values:
        seconds = duration_only(str(texts["duration"]))
        if seconds is None and name == "timer_set" and "label" not in texts:
            seconds, texts["label"] = _duration_then_label(str(texts["duration"]))
        if seconds is None:
            return None
        slots["seconds"] = seconds
    if name in ("timer_set", "reminder_set") and "label" in texts:
        label = _label(texts["label"])
        if name == "timer_set" and (parse_duration(f"{label} minutes") or not label):
            return None                  # "set a five timer": a number is not a name
        if label:
            slots["label"] = ("about " if values.get("about") else "") + label
    elif name == "timer_cancel":
        if values.get("which") == "all":
            slots["which"] = "all"
        elif "label" in texts:
            which = _label(texts["label"])
            seconds = duration_only(f"{which} minutes" if which.isdigit() else which)
            if seconds:
                slots["seconds"] = seconds
            elif which:
                slots["which"] = which
    elif name in ("speed", "volume"):
        slots["dir"] = values["dir"]
    elif name == "open_panel":
        slots["panel"] = values.get("panel") or values.get("panel_full") or "voices"
    elif name == "day" and "weekday" in values:
        slots["weekday"] = values["weekday"]
    elif name == "switch_voice":
        voice = values.get("voice") or _label(texts.get("voice_heard", ""))
        if voice and "voice_heard" in texts and voice in ("it", "that", "this", "something"):
            return None
        if voice:
            slots["voice"] = voice
    return Intent(name, slots, text)


def _duration_then_label(text: str) -> tuple[float | None, str]:
    """"10 minute pasta" → (600, "pasta"): hassil cannot split two wildcards side by side."""
    words = text.split()
    for cut in range(len(words) - 1, 0, -1):
        seconds = duration_only(" ".join(words[:cut]))
        if seconds:
            return seconds, " ".join(words[cut:])
    return None, ""


def _label(text: str) -> str:
    words = [w for w in str(text).strip(" .,!?").split() if w not in ("please", "now")]
    return " ".join(_PRONOUNS.get(w.lower(), w.lower()) for w in words)
