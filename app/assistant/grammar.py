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
import itertools
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml
from hassil import (Group, Intents, ListReference, RecognizeResult, RuleReference, TextChunk,
                    TextSlotList, parse_sentence, recognize_all, sample_intents)
from hassil.errors import HassilError
from hassil.parser import ParseError

from app.assistant.numbers import NUMBER_WORDS, duration_only, parse_duration

log = logging.getLogger(__name__)

BUILTIN = Path(__file__).with_name("sentences")
# Said instead of a name, these mean the default voice: "switch back to your normal voice".
DEFAULT_VOICE_WORDS = ("default", "normal", "usual", "original", "standard", "regular", "own",
                       "old", "real", "droid")
DEFAULT_VOICE = "kaytoo"
_PRONOUNS = {"my": "your", "me": "you", "i": "you", "i'm": "you're", "myself": "yourself",
             "mine": "yours", "our": "your", "we": "you", "us": "you", "i'll": "you'll",
             "i've": "you've", "am": "are"}


GUESSED_VOICE = 0.7     # certainty of a match whose voice name is not in the library
CORRECTED = 0.6         # certainty of a match found only after correcting misheard words
NEAREST = 0.4           # the grammar sentence nearest to what was heard: a change is always asked
# How alike a heard text and a grammar sentence must be (rapidfuzz, 0-100) to be taken for it:
# below this "how old are you" (85 against "how are you") would stop being a question.
NEAREST_CUTOFF = 88
SAMPLES_PER_INTENT = 3000


@dataclass
class Intent:
    name: str
    slots: dict = field(default_factory=dict)
    text: str = ""            # what the grammar saw
    certainty: float = 1.0    # 1: every word as the grammar has it; lower for guesses

    @property
    def exact(self) -> bool:
        return self.certainty >= 1.0


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
        self.vocabulary = _vocabulary(self.intents)
        skip = sorted({w.lower() for w in self.intents.skip_words if w.strip()}, key=len, reverse=True)
        either = "|".join(map(re.escape, skip))
        self._skip = re.compile(rf"^(?:(?:{either})\b\s*)+|(?:\s*\b(?:{either}))+$") if skip else None
        self._samples: tuple[tuple[str, ...], list[str]] | None = None   # (voices, sentences)

    def match(self, text: str, voices: Iterable[str] = ()) -> Intent | None:
        """The best grammar match for the whole of ``text``, with its values read, or None."""
        voices = list(voices)
        results = recognize_all(text, self.intents, slot_lists={"voice": _voice_list(voices)})
        # Most literal words matched first ("remind me to {label} in {duration}" over "remind me
        # to {label}"), then list values over wildcards (a library voice over a guessed one).
        for r in sorted(results, key=_rank):
            # hassil leaves skip words in a wildcard at the end ("four minutes please")
            texts = {k: self._unskip(e.text) if e.is_wildcard else e.text
                     for k, e in r.entities.items()}
            # Only "a 10 minute pasta timer" has a name inside the duration's words.
            named = "{duration} <timer>" in (getattr(r.intent_sentence, "text", "") or "")
            intent = _read(r.intent.name, {k: e.value for k, e in r.entities.items()}, texts, text,
                           named)
            if intent is not None:
                if (r.intent_metadata or {}).get("heard_voice"):
                    intent.certainty = GUESSED_VOICE
                return intent
        return None

    def _unskip(self, text: str) -> str:
        return " ".join((self._skip.sub(" ", text.lower()) if self._skip else text).split())

    def corrections(self, text: str, keep: Iterable[str] = ()) -> list[str]:
        """``text`` with words the grammar does not know replaced by near ones it does ("tiger" →
        "timer", "quite" → "quieter" or "quiet"), nearest first; ``keep`` (voice names) and numbers
        are left alone. At most ``MAX_VARIANTS``; [] when no word was replaced."""
        from rapidfuzz import fuzz, process

        kept = {w for name in keep for w in name.lower().split()}
        options: list[list[tuple[str, float]]] = []
        for w in text.split():
            bare = w.strip(".,!?;:")
            near = [] if (len(bare) < 4 or bare in self.vocabulary or bare in kept
                          or bare in NUMBER_WORDS or not bare.isalpha()) else process.extract(
                bare, self.vocabulary, scorer=fuzz.ratio, limit=2,
                score_cutoff=80 if len(bare) > 4 else 75)
            options.append([(w.replace(bare, n), s) for n, s, _ in near] or [(w, 100.0)])
        if all(len(o) == 1 and o[0][1] == 100.0 for o in options):
            return []
        variants = sorted(itertools.islice(itertools.product(*options), 64),
                          key=lambda v: -sum(s for _, s in v))
        return [" ".join(w for w, _ in v) for v in variants[:MAX_VARIANTS]]

    def nearest(self, text: str, voices: Iterable[str] = ()) -> Intent | None:
        """The intent of the grammar sentence nearest to ``text`` (a word dropped or added:
        "how are doing"), with its values, if one is near enough; else None."""
        from rapidfuzz import fuzz, process

        voices = list(voices)
        if self._samples is None or self._samples[0] != tuple(voices):
            # One way of asking ("tell me"), and at most SAMPLES_PER_INTENT sentences of each
            # intent, keep the scan short; a voice switch is never guessed from a near sentence.
            sampled = sample_intents(
                self.intents, slot_lists={"voice": _voice_list(voices)},
                expansion_rules={"ask": parse_sentence("tell me", keep_text=True)},
                intent_names=set(self.intents.intents) - {"switch_voice"},
                max_sentences_per_intent=SAMPLES_PER_INTENT)
            self._samples = (tuple(voices), sorted({s for _, s in sampled}))
        hits = [process.extractOne(text, self._samples[1], scorer=scorer,
                                   score_cutoff=NEAREST_CUTOFF)
                for scorer in (fuzz.ratio, fuzz.token_sort_ratio)]
        hits = [h for h in hits if h]
        return self.match(max(hits, key=lambda h: h[1])[0], voices) if hits else None


MAX_VARIANTS = 4


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


def _vocabulary(intents: Intents) -> frozenset[str]:
    """Every literal word of every template, rule and list value."""
    words: set[str] = set(w for s in intents.skip_words for w in s.lower().split())

    def walk(e) -> None:
        if isinstance(e, TextChunk):
            words.update(e.text.lower().split())
        elif isinstance(e, Group):
            for item in e.items:
                walk(item)

    for intent in intents.intents.values():
        for block in intent.data:
            for sentence in block.sentences:
                walk(sentence.expression)
    for rule in intents.expansion_rules.values():
        walk(rule.expression)
    for slot_list in intents.slot_lists.values():
        for value in getattr(slot_list, "values", []):
            walk(value.text_in)
    return frozenset(w for w in words if w.isalpha())


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


# Slots Kaytoo reads; a value from any other list (a user's own {food}) names the timer.
KNOWN = {"duration", "label", "voice", "voice_heard", "weekday", "panel", "panel_full", "dir",
         "which", "about"}


def _read(name: str, values: dict, texts: dict, text: str, named: bool = False) -> Intent | None:
    """Slots from hassil's entities; None when a captured value does not hold (not a duration)."""
    slots: dict = {}
    extra = [str(v) for k, v in values.items() if k not in KNOWN and v not in (None, "")]
    if extra and "label" not in texts:
        texts["label"] = " ".join(extra)
    if "duration" in values:
        seconds = duration_only(str(texts["duration"]))
        if seconds is None and named and "label" not in texts:
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
