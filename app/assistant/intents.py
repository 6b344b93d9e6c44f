"""What the user asked for, from what Whisper wrote.

Whisper's text is cleaned first (case, punctuation, filler and politeness words, the wake word in
its many spellings), misheard command words are corrected against a small vocabulary, then precise
rules are tried in order, and last the whole utterance is compared fuzzily with example phrases.
Commands are decided here, locally; only what matches nothing may go to the optional LLM.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from app.assistant.numbers import SMALL, TENS, UNIT_SECONDS, VAGUE, parse_duration

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# "Kaytoo" as Whisper spells it: K2, K-2, Kay too, Kato, Cato, Kaito, Katu, K2SO...
NAME = re.compile(
    r"\b(?:k\s?2(?:\s?so)?|k\s?two|kay\s?(?:too|two|to|tu|2)|kaytoo|kayto|kaytu|katu|kato|cato|"
    r"kaito|kaido|kai\s?to|kay\s?tow|kate\s?(?:too|two|to)|k\s?too|katoo|kaitu|kaytwo)\b")
# The name as a vocative is dropped; as a voice ("switch to Kaytoo", "the Kaytoo voice") it stays.
VOCATIVE = re.compile(r"(?<!\bto )(?<!\bthe )(?<!\buse )(?<!\blike )(?<!\bas )(?<!called )"
                      r"(?<!named )\bkaytoo\b(?!'s| voice)")
FILLERS = re.compile(
    r"\b(?:u+h+|u+m+|e+r+m*|a+h+|h+m+|mhm|oh|please|kindly|just|actually|basically|"
    r"(?<!what )(?:could|can|would|will) you(?: please)?|i want you to|i'd like you to|"
    r"i need you to|i would like you to|would you mind|for me|right now)\b")
LEADING = re.compile(
    r"^(?:(?:so|okay|ok|alright|all right|right|and|now|hey|yes|yeah|um|uh|well(?! done))\s+)+")
TELL_ME = re.compile(r"^(?:tell me|do you know|i want to know|i'd like to know|let me know|"
                     r"can i ask)\s+")
HALLUCINATIONS = {"you", "thanks for watching", "thank you for watching", "please subscribe",
                  "subscribe", "bye bye bye"}

# Words the rules rely on: a misheard one ("minuets", "timmer") is corrected to the nearest.
TARGETS = set("""
timer timers minute minutes second seconds hour hours remind reminder reminders cancel voice voices
switch narrator slower faster louder softer quieter repeat library video panel joke jokes thanks
hello morning afternoon evening today what list open help speak stop volume alarm countdown
monday tuesday wednesday thursday friday saturday sunday
""".split())
# Real words that sit near a target ("times" is not "timers"): never corrected.
PROTECT = set("""
times timing timid tiger tired title dinner winner diner liner finer mother other brother minus
minuet secondly hourly house horse hurry hours ours cancer candle voiced choice choices invoice
noise noises twitch switches stitch libraries panels panic joker thinks think things thing hollow
yellow fellow mourning evenings dated dates toady wheat listen lists opens helps helper speaks
spoke stomp alarms alarming counted country counter slowly flower power tower shower lighter
sofas offer after later letter lower faster master father sister poster roster plaster remain
remains remember reminds remedy remind reminded repent recent seconds second softly softer sooner
louis loader lover older holder folder hello helps whats where which while white today toddy
thank thanked joked timed hourly listed opened stopped helped switched changed repeated
""".split())


@dataclass
class Intent:
    name: str
    slots: dict = field(default_factory=dict)
    text: str = ""          # the cleaned utterance the rules saw


def clean(heard: str, keep: Iterable[str] = (), correct: bool = True) -> str:
    """Lower-case words without punctuation, fillers or the wake word; misheard command words
    corrected unless ``correct`` is False; ``keep`` are words never corrected (voice names)."""
    text = heard.lower().replace("’", "'").replace("‘", "'").replace("&", " and ")
    text = re.sub(r"(?<=\w)-(?=\w)", " ", text)                 # "five-minute", "K-2"
    text = re.sub(r"[^\w\s'.:]", " ", text)
    text = re.sub(r"(?<!\d)[.:]|[.:](?!\d)", " ", text)         # keep 1.5 and 3:10
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    text = " ".join(text.split())
    if correct:
        text = _correct(text, {w.lower() for name in keep for w in re.findall(r"[\w']+", name)})
    said = text
    text = VOCATIVE.sub(" ", NAME.sub("kaytoo", text))
    for _ in range(2):  # "uh, could you just..." peels in layers
        text = FILLERS.sub(" ", text)
        text = " ".join(text.split())
        text = LEADING.sub("", text)
        text = TELL_ME.sub("", text)
    if not text and re.search(r"\b(?:hey|hi|hello|yo|hiya)\b|kaytoo", NAME.sub("kaytoo", said)):
        return "hello"  # "Hey Kaytoo." on its own is a greeting
    return text


def _correct(text: str, keep: set[str]) -> str:
    from rapidfuzz import fuzz, process

    words = text.split()
    for i, w in enumerate(words):
        if len(w) < 5 or w in TARGETS or w in PROTECT or w in keep or not w.isalpha():
            continue
        best = process.extractOne(w, TARGETS, scorer=fuzz.ratio,
                                  score_cutoff=84 if len(w) < 7 else 80)
        if best:
            words[i] = best[0]
    return " ".join(words)


def match(heard: str, voices: Iterable[str] = (), fuzzy: bool = True) -> Intent:
    """The intent of one utterance. ``voices`` protects voice names from spelling correction;
    ``fuzzy=False`` turns off correction and example matching (the benchmark's baseline)."""
    voices = list(voices)
    text = clean(heard, voices, correct=fuzzy)
    if not text or text in HALLUCINATIONS:
        return Intent("nothing_heard", {}, text)
    # Free text (a reminder's label, a voice's name) is taken from the uncorrected words.
    raw = clean(heard, correct=False) if fuzzy else text
    for name, rule in RULES:
        m = rule.search(text)
        if not m:
            continue
        if name in ("speed", "volume") and len(text.split()) > 5 and not _ABOUT_SPEECH.search(text):
            continue                        # "how do I slow down aging" is not about my voice
        if name in SOCIAL:
            rest = " ".join((text[:m.start()] + " " + text[m.end():]).split())
            if len(rest.split()) >= 3:      # "thanks, and why is the sky blue?": the rest counts
                inner = match(rest, voices, fuzzy)
                if inner.name != "nothing_heard":
                    return inner
        return _finish(Intent(name, {}, text), raw, rule)
    seconds = parse_duration(text)
    if seconds and (_only_duration(text) or re.search(r"\btime\b", text)):
        # "five minutes" after "how long?"; "time for ten minutes" (Whisper lost the r of timer)
        return Intent("timer_set", {"seconds": seconds}, text)
    if fuzzy:
        return _fuzzy(text)
    return Intent("unknown", {}, text)


SOCIAL = ("greeting", "thanks")
_ABOUT_SPEECH = re.compile(r"\b(?:speak|speaking|talk|talking|say|saying|read|reading|voice|you're|"
                           r"you are|your)\b")

# -- rules, tried in order: the first that matches wins ------------------------------------------
_TIMER = r"(?:timers?|alarms?|countdowns?|count downs?)"
_REMINDER = r"(?:reminders?)"
_DAYS = "|".join(WEEKDAYS)
_NUMWORD = "(?:" + "|".join([r"\d+(?:\.\d+)?", r"the(?= hours?\b| howers?\b)", "a", "an", "and",
                               "half", "quarter", "of", "hundred", *VAGUE, *SMALL, *TENS]) + ")"
_UNIT = "(?:" + "|".join(sorted(map(re.escape, UNIT_SECONDS), key=len, reverse=True)) + ")"
_LONG_UNIT = "(?:" + "|".join(sorted((u for u in UNIT_SECONDS if len(u) > 2), key=len,
                                     reverse=True)) + ")"   # not "s", "m", "h": "what's", "i'm"
# A duration phrase inside a sentence ("in 10 minutes", "for an hour and a half").
DURATION_PHRASE = re.compile(
    rf"\b(?:(?:in|for|after|within)\s+)?(?:{_NUMWORD}\s+)+{_UNIT}\b"
    rf"(?:\s+(?:and\s+)?(?:{_NUMWORD}\s+)*{_UNIT}\b|\s+and\s+a\s+half\b)*")

RULES: list[tuple[str, re.Pattern]] = [(n, re.compile(p)) for n, p in [
    ("reminder_set", r"\breminds? me\b|\b(?:set|create|add|make|give me|new)\b.*\breminder\b|"
                     r"^reminder\b"),
    ("timer_cancel", rf"\b(?:cancel|council|counsel|stop|delete|remove|clear|kill|end|turn off|"
                     rf"switch off|forget|abort|dismiss|drop|scrap)\b.*\b(?:{_TIMER}|{_REMINDER})\b|"
                     rf"\b(?:{_TIMER}|{_REMINDER})\b.*\b(?:off|cancel|cancelled|canceled)$|"
                     rf"^(?:no|never mind|forget)\b.*\b(?:{_TIMER}|{_REMINDER})\b"),
    ("timers_list", rf"\b(?:list|show|what|what's|which|any|how many|how long|how much|check|"
                    rf"status|left|remaining|tell|are there|do i have)\b.*\b(?:{_TIMER}|{_REMINDER})\b|"
                    rf"\b(?:{_TIMER}|{_REMINDER})\b.*\b(?:left|remaining|status|running|going)\b|"
                    rf"\bhow (?:much time|long) (?:is |do i have |have i got )?(?:left|remaining)\b|"
                    rf"\btime (?:left|remaining)\b"),
    ("timer_set", rf"\b{_TIMER}\b|\bwake me\b.*\bin\b|\bcount down\b|"
                  rf"\b(?:set|start|begin|run|give me|make|put)\b.*\b\d*{_LONG_UNIT}\b"),
    ("stop", r"^(?:(?:stop|be quiet|quiet|shut up|silence|hush|shush|shh+|halt|enough|"
             r"that's enough|that is enough|cancel|never mind|nevermind|forget it|pause|"
             r"stop it|okay stop)\s*)+(?:\s*(?:it|that|talking|speaking|now|already|for now|"
             r"for a moment|kaytoo))*$|\bstop (?:talking|speaking)\b|\bshut up\b|\bbe quiet\b"),
    ("repeat", r"\b(?:repeat|say (?:that|it|this) again|come again|what did you (?:just )?say|"
               r"pardon|once more|one more time|didn't (?:catch|hear|get) (?:that|it|you)|"
               r"(?:say|read) (?:that|it) (?:again|one more time))\b|^(?:again|sorry|what)$|"
               r"^say\b.*\bagain$|^what was that$"),
    ("speed", r"\b(?P<slower>slower|slow down|slow it down|too fast|more slowly|less fast|"
              r"not so fast|slowly|slowing)\b|"
              r"\b(?P<faster>faster|speed up|speed it up|quicker|more quickly|too slow|hurry up)\b"),
    ("volume", r"\b(?P<softer>softer|quieter|more quietly|volume down|turn (?:it|the volume|yourself) "
               r"down|turn down|decrease (?:the )?volume|lower (?:your|the) (?:voice|volume)|too loud|"
               r"not so loud|less loud|lower volume|reduce (?:the )?volume)\b|"
               r"\b(?P<louder>louder|speak up|volume up|turn (?:it|the volume|yourself) up|turn up|"
               r"increase (?:the )?volume|raise (?:your|the) (?:voice|volume)|too quiet|too soft|"
               r"can't hear you|cannot hear you|more volume|higher volume|pump up)\b"),
    ("open_panel", r"\b(?:open|show|go to|display|bring up|take me to|launch|switch to|pull up|"
                   r"view)\b.*\b(?P<panel>voice library|library|video panel|video|videos|"
                   r"voices panel|voice panel|voice settings)\b|"
                   r"\bopen\b.*\b(?P<panel3>voices?)\b|^(?P<panel2>voice library|video panel)$"),
    ("list_voices", r"\b(?:list|what|which|show|name|tell|read|available)\b.*\bvoices\b|"
                    r"\bhow many voices\b|\bvoices (?:do you have|are there|available|can you do)\b|"
                    r"^voices$|\bwhat voices\b|\bother voices\b"),
    ("switch_voice", r"^(?:switch|change|swap)(?: (?:your|the|my))?\s+voices?$|"
                     r"\b(?:different|another|new|other|next) voice\b"),
    ("switch_voice", r"\b(?:switch|change|swap|set|go|turn)\b(?: back)?(?: (?:your|the|my))?"
                     r"(?: voice)?\s+(?:to|into)\s+(?:the\s+|a\s+|an\s+)?(?P<voice>.+?)(?:'s)?"
                     r"(?:\s+voice)?$|"
                     r"\buse\s+(?:the\s+|a\s+)?(?:voice\s+(?:of\s+|called\s+|named\s+)?)?"
                     r"(?P<voice2>.+?)(?:'s)?(?:\s+voice)?$|"
                     r"\b(?:talk|speak|sound)\s+like\s+(?:a\s+|an\s+|the\s+)?(?P<voice3>.+)$|"
                     r"^(?:the\s+)?(?P<voice4>.+?)\s+voice$"),
    ("day", rf"\b(?:what day|which day|day is it|day of the week|day today|what's the day|"
            rf"what is the day)\b|\b(?:is it|is today|it's|today is|is this)\s+(?:a\s+)?"
            rf"(?P<weekday>{_DAYS})\b"),
    ("date", r"\b(?:the date|what date|today's date|date today|date is it)\b|^date$|"
             r"\b(?:what|which) (?:month|year) is it\b|\bwhat(?:'s| is) today\b"),
    ("time", r"\b(?:what time|what's the time|what is the time|time is it|the time|time now|"
             r"current time|what hour|time please|got the time|time it is)\b|^time$|"
             r"^(?:what's|what is) the time\b"),
    ("help", r"\b(?:what can you do|your commands|what commands|what do you do|what can i say|"
             r"what can i ask|how do (?:i|you) work|how does this work|what are you capable of|"
             r"your features|what should i say|what are your skills)\b|"
             r"^(?:help|help me|i need help|need help|what do you know|commands)$"),
    ("how_are_you", r"\bhow are (?:you|things|ya)\b|\bhow's it going\b|\bhow is it going\b|"
                    r"\bhow do you feel\b|\bhow have you been\b|\bare you (?:ok|okay|alright|well)\b|"
                    r"\bwhat's up\b|\bhow's life\b|\bhow you doing\b|\bhow's your day\b"),
    ("who_are_you", r"\b(?:who are you|your name|who am i talking to|introduce yourself|who made you|"
                    r"who built you|who is this|who is kaytoo|about yourself)\b|^what are you$"),
    ("joke", r"\b(?:jokes?|joking|funny|make me laugh|pun|humou?r|amuse me)\b"),
    ("thanks", r"\b(?:thank you(?: (?:very|so) much| kindly| a lot)?|thanks(?: (?:very|so) much| a lot|"
               r" a bunch)?|thankyou|cheers|(?:much |really )?appreciated?(?: it)?|good job|well done|"
               r"nice one|great job|good work|good droid|good boy)\b"),
    ("greeting", r"^(?:hello there|hi there|hey there|hello|hi|hey|greetings|good (?:morning|afternoon|"
                 r"evening|day)|morning|evening|afternoon|howdy|yo|hiya|g'day|sup)\b"),
]]

EXAMPLES: dict[str, list[str]] = {
    "time": ["what time is it", "what's the time", "tell me the time", "the time", "current time"],
    "date": ["what's the date", "what is the date today", "today's date", "what date is it"],
    "day": ["what day is it", "what day of the week is it", "which day is today"],
    "greeting": ["hello", "good morning", "good evening", "good afternoon", "hello there"],
    "how_are_you": ["how are you", "how are you doing", "how's it going"],
    "joke": ["tell me a joke", "say something funny", "make me laugh"],
    "thanks": ["thank you", "thanks", "thank you very much", "much appreciated"],
    "who_are_you": ["who are you", "what's your name", "what are you"],
    "help": ["what can you do", "help me", "what are your commands"],
    "repeat": ["repeat that", "say that again", "what did you say", "come again"],
    "list_voices": ["list voices", "list the voices", "what voices do you have"],
    "timers_list": ["list timers", "what timers are running", "how long is left on my timer"],
    "stop": ["stop", "be quiet", "stop talking", "shut up"],
    "speed": ["speak slower", "speak faster", "slow down", "speed up"],
    "volume": ["speak louder", "speak softer", "speak up", "louder please"],
    "timer_cancel": ["cancel the timer", "cancel all timers", "stop the timer"],
}


# Below this a near-miss is not trusted: "how old are you" (85) must stay a question for the LLM.
FUZZY_CUTOFF = 86


def _fuzzy(text: str) -> Intent:
    from rapidfuzz import fuzz

    best, score = "unknown", 0.0
    for name, phrases in EXAMPLES.items():
        for p in phrases:
            s = max(fuzz.ratio(text, p), fuzz.token_sort_ratio(text, p))
            if s > score:
                best, score = name, s
    if score < FUZZY_CUTOFF:
        return Intent("unknown", {}, text)
    # Re-run the rules on the example, so slots (direction, ...) come with it.
    for p in EXAMPLES[best]:
        if max(fuzz.ratio(text, p), fuzz.token_sort_ratio(text, p)) == score:
            hit = match(p, fuzzy=False)  # the example's slots (direction, ...)
            return Intent(best, hit.slots, text) if hit.name == best else Intent(best, {}, text)
    return Intent(best, {}, text)


def _only_duration(text: str) -> bool:
    rest = DURATION_PHRASE.sub(" ", text)
    return not re.sub(r"\b(?:for|in|a|an|the|timer|set|about|like|maybe)\b", " ", rest).strip()


# -- slots -----------------------------------------------------------------------------------
_PRONOUNS = {"my": "your", "me": "you", "i": "you", "i'm": "you're", "myself": "yourself",
             "mine": "yours", "our": "your", "we": "you", "us": "you", "i'll": "you'll",
             "i've": "you've", "am": "are"}


def _finish(intent: Intent, raw: str, rule: re.Pattern) -> Intent:
    """Fill the slots: the rule's named groups (from the uncorrected words when they match too),
    durations, labels and which timer."""
    t, name = intent.text, intent.name
    m = rule.search(raw) or rule.search(t)
    s = {k: v for k, v in m.groupdict().items() if v}
    source = raw if rule.search(raw) else t
    if name in ("timer_set", "reminder_set"):
        seconds = parse_duration(t)
        if seconds:
            s["seconds"] = seconds
        label = _reminder_label(source) if name == "reminder_set" else _timer_label(source)
        if label:
            s["label"] = label
    elif name == "timer_cancel":
        which = _which_timer(source)
        s = {"which": which} if which else {}
        seconds = parse_duration(t)
        if seconds:
            s["seconds"] = seconds
    elif name == "speed":
        s = {"dir": "slower" if "slower" in s else "faster"}
    elif name == "volume":
        s = {"dir": "softer" if "softer" in s else "louder"}
    elif name == "open_panel":
        panel = s.get("panel", "") or s.get("panel2", "") or s.get("panel3", "")
        s = {"panel": "video" if "video" in panel else "voices"}
    elif name == "switch_voice":
        voice = next((s[k] for k in ("voice", "voice2", "voice3", "voice4") if s.get(k)), "")
        voice = re.sub(r"^(?:the|a|an|voice|voice of|voice called|one called)\s+", "", voice.strip())
        voice = re.sub(r"\s+(?:voice|one|instead|now|again|please)$", "", voice)
        s = {"voice": voice} if voice and voice not in _NOT_A_VOICE else {}
    intent.slots = s
    return intent


_NOT_A_VOICE = {"voice", "voices", "another", "different", "other", "new", "next", "switch",
                "change", "swap", "it", "that", "this"}


def _swap_person(text: str) -> str:
    return " ".join(_PRONOUNS.get(w, w) for w in text.split())


def _strip_duration(text: str) -> str:
    return " ".join(DURATION_PHRASE.sub(" ", text).split())


def _reminder_label(t: str) -> str:
    m = re.search(r"\b(?:reminds? me|reminder)\b(?P<rest>.*)$", t)
    rest = _strip_duration(m.group("rest") if m else t)
    m = re.search(r"\b(?:to|that|about|of)\s+(?P<what>.+)$", rest)
    if not m:
        return ""
    what = m.group("what").strip()
    if m.group(0).startswith("about"):
        what = "about " + what
    return _swap_person(what)


_LABEL_STOP = {"a", "an", "the", "my", "set", "start", "timer", "for", "new", "one", "please",
               "minute", "second", "hour", "and"}


def _timer_label(t: str) -> str:
    t = _strip_duration(t)
    m = re.search(r"\b(?:called|named|labelled|labeled|for the|for my)\s+(?P<label>.+)$", t)
    if m:
        return re.sub(r"\s+(?:timer|for)$", "", m.group("label"))
    m = re.search(r"\b(?:a|an|the|my|set|start|make)\s+(?P<label>[\w' ]+?)\s+timer\b", t)
    if m:
        words = [w for w in m.group("label").split()
                 if w not in _LABEL_STOP and w not in UNIT_SECONDS and not w.isdigit()
                 and parse_duration(f"{w} minutes") is None]
        return " ".join(words)
    return ""


_WHICH_STOP = {"cancel", "stop", "delete", "remove", "clear", "kill", "end", "turn", "off",
               "switch", "forget", "abort", "dismiss", "drop", "scrap", "the", "my", "a", "that",
               "this", "timer", "timers", "reminder", "reminders", "alarm", "alarms", "countdown",
               "for", "to", "about", "no", "never", "mind", "of", "on", "please", "and", "it"}


def _which_timer(t: str) -> str:
    """What names the timer to cancel: "all", a label ("oven"), or "" for the only/any one."""
    if re.search(r"\b(?:all|every|both|everything)\b", t):
        return "all"
    words = [w for w in _strip_duration(t).split() if w not in _WHICH_STOP]
    return _swap_person(" ".join(words))
