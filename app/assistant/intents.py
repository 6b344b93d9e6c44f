"""What the user asked for. Rules first (precise), then fuzzy matching on example phrases
(robust to Whisper's spellings). Commands never leave the machine."""
from __future__ import annotations

import re
from dataclasses import dataclass

FILLERS = re.compile(
    r"\b(uh+|um+|er+|hmm+|please|could you|can you|would you|will you|kindly|just|okay|ok|so|"
    r"hey|hi there|kaytoo|kay too|k2|k 2|kato|cato|katu|k two|like|tell me|i want to know|"
    r"i'd like to know|do you know)\b")

EXAMPLES: dict[str, list[str]] = {
    "time": ["what time is it", "what's the time", "the time", "current time", "time now"],
    "date": ["what's the date", "what is the date today", "today's date", "what date is it"],
    "day": ["what day is it", "what day of the week is it", "which day is today"],
    "greeting": ["hello", "good morning", "good evening", "good afternoon", "hi"],
    "how_are_you": ["how are you", "how are you doing", "how's it going"],
    "joke": ["tell me a joke", "say something funny", "make me laugh"],
    "thanks": ["thank you", "thanks", "cheers", "much appreciated"],
    "who_are_you": ["who are you", "what's your name", "what are you"],
    "help": ["what can you do", "help", "what are your commands", "how do i use you"],
    "repeat": ["repeat that", "say that again", "what did you say", "come again", "pardon"],
    "list_voices": ["list voices", "what voices do you have", "which voices are there"],
    "timers_list": ["list timers", "what timers are running", "how long is left on my timer"],
}


@dataclass
class Intent:
    name: str
    slots: dict


def clean(heard: str) -> str:
    text = heard.lower().replace("’", "'")
    text = re.sub(r"[^\w\s':.-]", " ", text)
    text = re.sub(r"(?<!\d)[.:](?!\d)", " ", text)
    text = FILLERS.sub(" ", text)
    return " ".join(text.split())


def match(heard: str) -> Intent:
    text = clean(heard)
    if not text:
        return Intent("nothing_heard", {})
    for name, rule in RULES:
        m = rule.search(text)
        if m:
            return Intent(name, {"_text": text, **{k: v for k, v in m.groupdict().items() if v}})
    return _fuzzy(text)


RULES: list[tuple[str, re.Pattern]] = [(n, re.compile(p)) for n, p in [
    ("timer_cancel", r"\b(cancel|stop|delete|remove|clear)\b.*\b(timers?|reminders?|alarms?)\b"),
    ("timers_list", r"\b(list|show|what|which|any|how many|how long)\b.*\b(timers?|reminders?)\b"
                    r"(?!\s+for)"),
    ("reminder_set", r"\bremind me\b(?:\s+(?:in|after)\s+(?P<when>.+?))?(?:\s+to\s+(?P<label>.+?))?"
                     r"(?:\s+(?:in|after)\s+(?P<when2>.+))?$"),
    ("timer_set", r"\b(set|start|make|create|put)\b.*\b(timer|alarm)\b|\btimer for\b|"
                  r"\b(timer|alarm) (?:of|in)\b"),
    ("stop", r"^(stop|stop it|stop talking|be quiet|quiet|shut up|silence|enough|hush|"
             r"that's enough|cancel|never mind|nevermind)$"),
    ("repeat", r"\b(repeat|say (that|it) again|come again|what did you say)\b"),
    ("speed", r"\b(?P<dir>slower|slow down|faster|speed up|quicker)\b"),
    ("volume", r"\b(?P<dir>louder|softer|quieter|speak up|volume up|volume down|turn it "
               r"(up|down)|lower your voice)\b"),
    ("list_voices", r"\b(list|what|which|show)\b.*\bvoices\b"),
    ("switch_voice", r"\b(switch|change|swap|use|set|go)\b(?: your| the)?(?: voice)?\s+(?:to|with)?"
                     r"\s*(?:the\s+)?(?P<voice>[\w' -]+?)(?:\s+voice)?$"),
    ("open_panel", r"\b(open|show|go to|display)\b.*\b(?P<panel>voice library|voices|library|"
                   r"video panel|video|videos)\b"),
    ("time", r"\b(what time|time is it|the time|time now|current time|what's the time)\b"),
    ("date", r"\b(the date|what date|today's date|date today)\b"),
    ("day", r"\b(what day|which day|day is it|day of the week)\b"),
    ("help", r"\b(what can you do|help|your commands|what do you do)\b|^what do$"),
    ("how_are_you", r"\bhow are (you|things)\b|\bhow's it going\b"),
    ("who_are_you", r"\b(who are you|your name|what are you)\b"),
    ("joke", r"\b(joke|funny|make me laugh)\b"),
    ("thanks", r"\b(thank|thanks|cheers|appreciate)"),
    ("greeting", r"^(hello|hi|hey|greetings|good (morning|afternoon|evening)|howdy|yo)\b"),
]]


def _fuzzy(text: str) -> Intent:
    from rapidfuzz import fuzz

    best, score = "unknown", 0.0
    for name, phrases in EXAMPLES.items():
        for p in phrases:
            s = fuzz.ratio(text, p)
            if s > score:
                best, score = name, s
    return Intent(best if score >= 80 else "unknown", {"_text": text})
