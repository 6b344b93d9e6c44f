"""The assistant's own name, written the way it is spelled when it was heard as something near it.

tiny.en hears "Kaytoo" as "Kay too", "Kaydo", "Okay, do" or "Cato" even with the name in its
prompt: the word is not English. The name is only corrected where a name is said — addressed to
the assistant: a span of one or two words that stands alone between the start of the utterance
or a greeting and a pause mark (comma, full stop, question or exclamation mark, or the end), as
in "Kay too, set a timer", "Hey Kaydo, stop" or "Thanks a lot, Cato." — and only when it
sounds like the name: its letters, folded to a rough sound (c/q→k, d→t, th→t, the vowels of
"ay", "ai", "ei", "ey" → a, a leading "o" of "okay" dropped), are at least ``ALIKE`` % like the
name's (rapidfuzz ratio). A word inside a sentence ("take two") is never touched.
"""
from __future__ import annotations

import re

NAME = "Kaytoo"
ALIKE = 85               # "kato", "kaydo", "okay do" 100, "kaytooth" 89, "cat" 86; "okay stop" 80, "kate" 75
GREETINGS = ("hey", "hi", "hello", "thanks", "thank you", "cheers", "morning", "good morning",
             "evening", "good evening", "goodbye", "bye", "ok", "okay")
_PAUSE = re.compile(r"[,.!?;:]+")
_GREETING = re.compile(rf"^(?:{'|'.join(sorted(GREETINGS, key=len, reverse=True))})\b\s*",
                       re.IGNORECASE)


def sound(text: str) -> str:
    """A rough spelling-to-sound fold, enough to compare a short name with what was heard."""
    s = re.sub(r"[^a-z]", "", text.lower())
    s = re.sub(r"^o(?=k)", "", s)
    s = s.replace("th", "t").replace("ck", "k").replace("c", "k").replace("q", "k")
    s = s.replace("d", "t")
    s = re.sub(r"(ay|ai|ei|ey)", "a", s)
    return re.sub(r"(.)\1+", r"\1", s)          # "katoo" and "kato" are the same sound


def sounds_like_name(words: str) -> bool:
    from rapidfuzz import fuzz

    return fuzz.ratio(sound(words), sound(NAME)) >= ALIKE


def fix_name(text: str) -> str:
    """``text`` with a misheard name written as ``NAME``; anything else unchanged."""
    out: list[str] = []
    pos = 0
    # Phrases between pause marks; the name is a phrase of its own, or follows a greeting.
    # "Okay, do." is one name split by a comma: two one-word phrases at the start are tried
    # together first.
    parts = [(m.start(), m.end()) for m in re.finditer(r"[^,.!?;:]+", text)]
    i = 0
    while i < len(parts):
        start, end = parts[i]
        if i == 0 and i + 1 < len(parts) and _words(text[start:end]) == 1 \
                and _words(text[parts[1][0]:parts[1][1]]) == 1 \
                and sounds_like_name(text[start:parts[1][1]]):
            out.append(text[pos:start] + _spaced(text[start:parts[1][1]]))
            pos, i = parts[1][1], i + 2
            continue
        phrase = text[start:end]
        greeting = _GREETING.match(phrase.strip())
        lead = len(phrase) - len(phrase.lstrip()) + (greeting.end() if greeting else 0)
        rest = phrase[lead:]
        if 1 <= _words(rest) <= 2 and rest.strip() and sounds_like_name(rest) \
                and not rest.strip().lower() == NAME.lower():
            out.append(text[pos:start + lead] + _spaced(rest))
            pos = end
        i += 1
    out.append(text[pos:])
    return "".join(out)


def _words(text: str) -> int:
    return len(text.split())


def _spaced(span: str) -> str:
    """``NAME`` in place of ``span``, keeping the spaces around it."""
    return span[:len(span) - len(span.lstrip())] + NAME + span[len(span.rstrip()):]
