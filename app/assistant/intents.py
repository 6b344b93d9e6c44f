"""What the user asked for, from what Whisper wrote.

The text is normalised (case, hyphens, the wake word in its many spellings) and matched whole
against the command grammar (app/assistant/grammar.py, sentences in YAML). When the whole does not
match, its sentences are tried one by one: "Thank you. Now set a timer" is a timer; "Thanks! And
why is the sky blue?" is a question. Commands are decided here, locally; only what matches nothing
may go to the optional LLM.
"""
from __future__ import annotations

import functools
import re
from typing import Iterable

from app.assistant.grammar import CORRECTED, NEAREST, Grammar, Intent

__all__ = ["Intent", "match", "normalise", "is_question", "understand"]

# "Kaytoo" as Whisper spells it: K2, K-2, Kay too, Kato, Cato, Kaito, Katu, K2SO...
NAME = re.compile(
    r"\b(?:k\s?2(?:\s?so)?|k\s?two|kay\s?(?:too|two|to|tu|2)|kaytoo|kayto|kaytu|katu|kato|cato|"
    r"kaito|kaido|kai\s?to|kay\s?tow|kate\s?(?:too|two|to)|k\s?too|katoo|kaitu|kaytwo)\b")
# Hesitations carry nothing, wherever they fall ("set a timer for uh five minutes").
HESITATION = re.compile(r"\b(?:u+h+|u+m+|uhm|e+r+m*|a+h+|h+m+|mm+|mhm)\b[,.]?")
FILLER = {"oh", "huh", "so", "and", "well"}
LEADING = {"so", "okay", "ok", "alright", "and", "now", "right", "oh", "yo"}
HALLUCINATIONS = {"you", "thanks for watching", "thank you for watching", "please subscribe",
                  "subscribe", "bye bye bye"}
# Intents that change something: asked about on a weak guess, never guessed from part of a sentence.
CHANGES = {"switch_voice", "speed", "volume", "timer_set", "reminder_set", "timer_cancel"}
SOCIAL = {"greeting", "thanks", "how_are_you", "dismiss", "affirm", "deny"}
# In front of a command, these make it a question about it, not noise before it.
ASKING = {"how", "why", "what", "what's", "whats", "when", "where", "who", "which"}
QUESTION_WORDS = {"what", "what's", "whats", "who", "who's", "why", "how", "how's", "when",
                  "where", "where's", "which", "is", "are", "was", "were", "can", "could", "do",
                  "does", "did", "will", "would", "should", "shall", "tell", "explain", "define",
                  "describe", "find", "search", "look", "calculate", "convert", "translate"}


@functools.lru_cache(maxsize=1)
def builtin() -> Grammar:
    """The shipped grammar alone (what ``match`` uses when given none)."""
    return Grammar()


def normalise(heard: str) -> str:
    """Lower case, plain apostrophes, hyphens as spaces, the wake word spelt one way, a sentence
    said twice in a row said once."""
    text = _once(heard.lower().replace("’", "'").replace("‘", "'").replace("&", " and "))
    text = re.sub(r"(?<=\w)-(?=\w)", " ", text)          # "five-minute", "K-2"
    words = HESITATION.sub(" ", NAME.sub("kaytoo", text)).split()
    while len(words) > 1 and words[0].strip(",.") in LEADING:   # "so, okay, what can you do"
        words = words[1:]
    return " ".join(words)


def _once(text: str) -> str:
    """Whisper, lost in noise, writes a sentence again and again ("can you use luna's voice? can
    you use luna's voice?"): each sentence that repeats the one before it is dropped."""
    kept: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        if not kept or _words(sentence) != _words(kept[-1]):
            kept.append(sentence)
    return " ".join(kept)


def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+(?:\.\d+)?", text)


TOLERANCE = ("exact", "corrected", "nearest")
RANK_WEIGHT = 0.75     # a guess one place lower in the n-best list is trusted this much less
DISPUTING = 3          # the n-best places whose other value for the same change makes it a question


def match(heard: str, voices: Iterable[str] = (), grammar: Grammar | None = None,
          tolerance: str = "nearest") -> Intent:
    """The intent of one utterance; ``voices`` are the library's names (a list in the grammar).
    ``tolerance``: "exact" (as heard), "corrected" (also misheard words), "nearest" (also the
    nearest grammar sentence, the slowest: a scan of every sentence the grammar can make)."""
    grammar = grammar or builtin()
    level = TOLERANCE.index(tolerance)
    voices = list(voices)
    text = normalise(heard)
    words = [w.strip("'") for w in _words(text)]
    if not words or " ".join(words) in HALLUCINATIONS or all(w in FILLER for w in words):
        return Intent("nothing_heard", {}, text)
    found = _match(text, voices, grammar)
    if found is not None or level == 0:
        return found or Intent("unknown", {}, text)
    # Misheard words ("set a tiger"), then a word lost or added ("how are doing"): weaker
    # matches, which a change is asked about before it is done.
    for fixed in grammar.corrections(text, voices):
        found = _match(fixed, voices, grammar)
        if found is not None:
            found.certainty = min(found.certainty, CORRECTED)
            return found
    found = _inside(_words(text), voices, grammar)
    if found is not None:
        return found
    found = _like_a_voice(text, voices, grammar) or _names_a_voice(text, voices, grammar)
    if found is not None:
        return found
    if level == 1:
        return Intent("unknown", {}, text)
    bare = " ".join(w for w in _words(text) if w not in FILLER)
    found = grammar.nearest(bare, voices)
    if found is not None:
        found.certainty = min(found.certainty, NEAREST)
        return found
    return Intent("unknown", {}, text)


def _inside(words: list[str], voices: list[str], grammar: Grammar) -> Intent | None:
    """A command inside misheard words: after a misheard wake word ("they can do, what time is
    it"), or, for a change, with up to three words of noise either side ("can you send a timer
    for two minutes"), fewest words dropped first. A change found so is always asked about.
    Words in front that ask, other than of Kaytoo ("how do I slow down ageing", but not "how
    could you set a timer", Whisper's "uh, could you"), make it a question about the rest."""
    n = len(words)
    for dropped in range(1, min(6, n - 1) + 1):
        for lead in range(min(3, dropped), -1, -1):
            if dropped - lead > 3:
                break
            front = {w.lower() for w in words[:lead]}
            if front & ASKING and "you" not in front:   # "how could you set ..." still asks Kaytoo
                continue
            found = grammar.match(" ".join(words[lead:n - (dropped - lead)]), voices)
            if found is None or found.name == "switch_voice" or (
                    found.name not in CHANGES and dropped != lead) or (
                    found.name in CHANGES and not found.slots):
                continue
            found.certainty = min(found.certainty,
                                  NEAREST if found.name in CHANGES else CORRECTED)
            return found
    return None


def _like_a_voice(text: str, voices: list[str], grammar: Grammar) -> Intent | None:
    """"Huck like Marvin", "pock like Luna": one misheard word, then "like" and a voice of the
    library (not a guessed name): "talk like …", asked about."""
    m = re.fullmatch(r"[\w']+,? like (.+?)[.!?]*", text)
    found = grammar.match(f"talk like {m[1]}", voices) if m else None
    if found is None or found.name != "switch_voice" or not found.exact:
        return None
    found.certainty = NEAREST
    return found


# Words that come with a voice switch however the rest is misheard ("with voice to sherlock").
SWITCHING = {"voice", "like", "switch", "use", "talk", "speak", "sound", "change"}


def _names_a_voice(text: str, voices: list[str], grammar: Grammar) -> Intent | None:
    """A voice of the library named whole, with a switching word, in a sentence nothing else
    matched ("please do the narrator voice", "can't you voice the marvin"): a switch to it,
    asked about. A sentence that asks ("which voice is marvin") is a question, not a switch."""
    words = _words(text)
    if not words or words[0] in ASKING or not SWITCHING & set(words):
        return None
    said = " " + " ".join(w.removesuffix("'s") for w in words) + " "
    # the assistant's own name is how it is spoken to, not which voice ("kaytoo, use ...")
    named = [v for v in voices if f" {_as_said(v)} " in said and normalise(v) != "kaytoo"]
    return _asked_switch(named[0], voices, grammar) if len(named) == 1 else None


def _as_said(text: str) -> str:
    """``text`` (a voice's name, a clause) as its words appear in normalised text."""
    return " ".join(_words(text.lower()))


def _asked_switch(voice: str, voices: list[str], grammar: Grammar) -> Intent | None:
    """A switch to a library voice that a guess led to: asked about before it is done."""
    found = grammar.match(f"switch to {voice}", voices)
    if found is None or found.name != "switch_voice" or not found.exact:
        return None
    found.certainty = NEAREST
    return found


def _match(text: str, voices: list[str], grammar: Grammar) -> Intent | None:
    whole = grammar.match(text, voices)
    if whole is not None:
        return whole
    clauses = [c for c in re.split(r"[.!?;,]+(?:\s+|$)", text) if _words(c)]
    if len(clauses) > 1:
        found = [grammar.match(c, voices) for c in clauses]
        commands = [i for i in found if i is not None and i.name not in SOCIAL]
        if commands:
            return _voice_after(commands[0], clauses[found.index(commands[0]) + 1:], voices,
                                grammar)
        if all(found):                  # "Thank you, that will be all": the last word counts
            return found[-1]
    return None


def _voice_after(intent: Intent, rest: list[str], voices: list[str], grammar: Grammar) -> Intent:
    """"Change your voice, Luna": a switch without its voice, then a clause that is a voice of the
    library and nothing else, is a switch to that voice (a pause Whisper wrote for "to"), asked."""
    if intent.name != "switch_voice" or intent.slots.get("voice") or not rest:
        return intent
    named = [v for v in voices if _as_said(v) == _as_said(rest[0])]
    return (_asked_switch(named[0], voices, grammar) if named else None) or intent


def is_question(heard: str) -> bool:
    """A free question ("What is the capital of France?"), as opposed to an unknown order."""
    words = _words(normalise(heard))
    words = [w for w in words if w not in FILLER and w not in ("kaytoo", "hey", "please")]
    return heard.rstrip().endswith("?") or bool(words and words[0] in QUESTION_WORDS)


def _incomplete(intent: Intent) -> bool:
    """A change that would have to ask what to: which voice, how long."""
    key = {"switch_voice": "voice", "timer_set": "seconds", "reminder_set": "seconds"}.get(intent.name)
    return key is not None and intent.slots.get(key) is None


def _disagree(a: Intent, b: Intent) -> bool:
    """Two matches of one change that would do different things: a value both hold differs.
    Labels ("pasta", "call my mother") are said back, not acted on; a guess without the value
    ("remind me to one minute to …") disputes nothing."""
    return any(a.slots.get(k) is not None and b.slots.get(k) is not None and a.slots[k] != b.slots[k]
               for k in ("seconds", "dir", "voice", "which", "panel"))


def understand(heard: str, alternatives: list[str], confidence: float | None, voices: list[str],
               grammar: Grammar) -> tuple[Intent, str, float | None]:
    """Among the speech-to-text's guesses (``heard`` first, then ``alternatives``), the intent of
    the best one the grammar matches, the text it came from, and how sure that is: ``confidence``
    times RANK_WEIGHT per place down the list times the match's certainty (None when there is
    nothing to doubt: typed text matched as is). The top guess when none matches (chat, LLM)."""
    hyps = [heard] + [a for a in alternatives if a and a.strip() != heard.strip()]
    found: list[tuple[int, Intent, str]] = []
    # Every guess as heard first, then with misheard words corrected; only the top guess is
    # compared with every grammar sentence (slow), and only when nothing else matched.
    for tolerance, tried in (("exact", hyps), ("corrected", hyps), ("nearest", hyps[:1])):
        for rank, text in enumerate(tried):
            intent = match(text, voices, grammar, tolerance)
            if intent.name != "unknown" and (rank == 0 or intent.name != "nothing_heard"):
                found.append((rank, intent, text))
        if found:
            break
    if not found:
        return match(heard, voices, grammar, "exact"), heard, confidence
    # A change heard without what it changes to ("change your voice, luna": no voice) yields to
    # the same change whole lower in the list ("change your voice to luna").
    score, intent, text = max(((RANK_WEIGHT ** r * i.certainty, i, t) for r, i, t in found),
                              key=lambda f: f[0] * (RANK_WEIGHT ** 2 if _incomplete(f[1]) else 1.0))
    if intent.name in CHANGES and any(r < DISPUTING and i.exact and i.name == intent.name
                                      and _disagree(i, intent) for r, i, _ in found):
        # the guesses agree on the command, not on its value ("count down for a minute" /
        # "count down four minutes"): it is asked about, never done on the first guess
        score = min(score, NEAREST)
    if confidence is None and score == 1.0:
        return intent, text, None
    return intent, text, round((1.0 if confidence is None else confidence) * score, 3)
