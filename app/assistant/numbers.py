"""Numbers and durations as people say them ("twenty five", "5 min", "half an hour", "an hour and
a half"), and the reverse: times, dates and durations as words a voice can read."""
from __future__ import annotations

import re

from app.text.normalize import MONTHS
from app.text.normalize import number_words as spell  # num2words, as the voices' text front-end

SMALL = {"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
         "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
         "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
         "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
        "seventy": 70, "eighty": 80, "ninety": 90}
# Vague quantities people use with a unit: "a couple of minutes", "a few seconds".
VAGUE = {"couple": 2, "pair": 2, "few": 3, "several": 5}
UNIT_SECONDS = {
    "second": 1, "seconds": 1, "sec": 1, "secs": 1, "s": 1, "seconde": 1, "secondes": 1,
    "minute": 60, "minutes": 60, "min": 60, "mins": 60, "m": 60, "minuets": 60, "minuet": 60,
    "minits": 60, "minit": 60, "minets": 60, "minet": 60, "minuts": 60, "minut": 60,
    "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600, "h": 3600, "hower": 3600, "howers": 3600,
}

# Words that belong to numbers and durations: never "corrected" into command words.
NUMBER_WORDS = frozenset([*SMALL, *TENS, *VAGUE, *UNIT_SECONDS, "hundred", "thousand", "half",
                          "quarter"])


# -- reading numbers ---------------------------------------------------------------------------
def tokens(text: str) -> list[str]:
    """Lower-case words with digits split from letters ("5min" → "5 min") and hyphens as spaces."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"(\d)([a-z])", r"\1 \2", text)
    text = re.sub(r"([a-z])(\d)", r"\1 \2", text)
    text = re.sub(r"(?<!\d)[.,](?!\d)|[^\w\s.,']", " ", text)
    return [t.strip(".,'") or t for t in text.split() if t.strip(".,'")]


def parse_number(words: list[str], i: int = 0) -> tuple[float, int] | None:
    """The number spoken at words[i] ("twenty five", "1.5", "a hundred and ten", "one and a half",
    "half an", "a couple of") and the index after it, or None when no number starts there."""
    if i >= len(words):
        return None
    w, nxt = words[i], words[i + 1] if i + 1 < len(words) else ""
    # Fractions and vague amounts stand alone: "half an hour", "a quarter of an hour", "a few".
    if w in ("a", "an") and nxt in ("half", "quarter") or w in ("half", "quarter"):
        j = i + 1 if w in ("half", "quarter") else i + 2
        frac = 0.5 if "half" in words[i:j] else 0.25
        j += 1 if j < len(words) and words[j] == "of" else 0
        j += 1 if j < len(words) and words[j] in ("a", "an") else 0
        return frac, j
    if w in ("a", "an") and nxt in VAGUE or w in VAGUE:
        amount, j = (w, i + 1) if w in VAGUE else (nxt, i + 2)
        j += 1 if j < len(words) and words[j] == "of" else 0
        return float(VAGUE[amount]), j
    if w in ("a", "an") and nxt not in ("hundred", "thousand") or w == "the" and UNIT_SECONDS.get(
            nxt) == 3600:  # Whisper writes "the hour" for "an hour" often enough
        return _and_a_half(words, 1.0, i + 1)
    if re.fullmatch(r"\d+(\.\d+)?", w):
        return _and_a_half(words, float(w), i + 1)
    j, total, current, seen = i, 0, 0, False
    while j < len(words):
        w = words[j]
        if w in ("a", "an") and not seen:
            j += 1                                      # "a hundred"
            continue
        if w in SMALL and (not seen or current % 100 == 0 and current >= 100 or
                           current % 10 == 0 and current >= 20 and current % 100 and SMALL[w] < 10):
            current += SMALL[w]                         # "five", "hundred and five", "twenty five"
        elif w in TENS and (not seen or current % 100 == 0 and current >= 100):
            current += TENS[w]
        elif w == "hundred" and current < 100:
            current = (current or 1) * 100
        elif w == "thousand" and total == 0:
            total, current = (current or 1) * 1000, 0
        elif w == "and" and seen and current >= 100 and j + 1 < len(words) and \
                (words[j + 1] in SMALL or words[j + 1] in TENS):
            pass                                        # "a hundred and ten"
        else:
            break
        seen, j = True, j + 1
    if not seen:
        return None
    return _and_a_half(words, float(total + current), j)


def _and_a_half(words: list[str], value: float, j: int) -> tuple[float, int]:
    """"one and a half", "two and half": only when a unit follows, so "an hour and a half" reads
    as one hour plus half of it (handled by the caller)."""
    for tail in (["and", "a", "half"], ["and", "half"]):
        end = j + len(tail)
        if words[j:end] == tail and end < len(words) and _is_unit(words[end]):
            return value + 0.5, end
    return value, j


def words_to_number(text: str) -> float | None:
    """The whole text as one number ("twenty five" → 25), else None."""
    words = tokens(text)
    parsed = parse_number(words) if words else None
    return parsed[0] if parsed and parsed[1] == len(words) else None


def _is_unit(word: str) -> bool:
    return word in UNIT_SECONDS


def parse_duration(text: str) -> float | None:
    """Seconds in a phrase like "five minutes", "1 hour and 30 minutes", "half an hour",
    "an hour and a half", "5 min", "a couple of minutes"; None when it names no duration."""
    words = tokens(text)
    total, found, i, unit_end, last_unit = 0.0, False, 0, -1, 0
    while i < len(words):
        parsed = parse_number(words, i)
        if parsed is None:
            i += 1
            continue
        value, j = parsed
        if j < len(words) and _is_unit(words[j]):
            last_unit = UNIT_SECONDS[words[j]]
            total, found, i = total + value * last_unit, True, j + 1
            if words[i:i + 3] in (["and", "a", "half"], ["and", "the", "half"]):  # "an hour and a half"
                total, i = total + last_unit / 2, i + 3
            unit_end = i
            continue
        implied = (i == unit_end or i == unit_end + 1 and words[unit_end] == "and") and \
            words[i] not in ("a", "an")                     # "an hour and a" lost its "half"
        if found and implied and last_unit > 1 and value < 60 and (j == len(words) or words[j] == "to"):
            total, i = total + value * (last_unit // 60), j  # "an hour thirty", "five minutes and ten"
            continue
        i = max(j, i + 1)
    return total if found and total > 0 else None


def duration_only(text: str) -> float | None:
    """Seconds when ``text`` is nothing but a duration ("five minutes", "an hour and a half",
    "10 min please"), else None: "the pasta" or "five minutes to check the oven" are not."""
    words = tokens(text)
    if not words or any(w not in _DURATION_WORDS and w not in UNIT_SECONDS and w not in SMALL
                        and w not in TENS and w not in VAGUE and not re.fullmatch(r"\d+(\.\d+)?", w)
                        for w in words):
        return None
    return parse_duration(text)


_DURATION_WORDS = {"a", "an", "and", "the", "half", "quarter", "of", "hundred", "thousand", "for",
                   "in", "please", "now", "about", "like", "maybe", "just", "only", "so", "okay",
                   "ok", "well", "right", "at"}


# -- saying numbers --------------------------------------------------------------------------
def number_words(n: int) -> str:
    """Cardinal words for |n| < 1,000,000 ("twenty-five"); larger numbers stay digits."""
    return spell(n) if abs(n) < 1_000_000 else str(n)


def ordinal_words(n: int) -> str:
    """"first", "twenty-second", "thirty-first"."""
    return spell(n, "ordinal")


def year_words(year: int) -> str:
    """2026 → "twenty twenty-six", 2005 → "two thousand and five", 1999 → "nineteen ninety-nine"."""
    if 2000 <= year < 2010:
        return number_words(year)
    high, low = divmod(year, 100)
    if 1000 <= year < 10000 and low != 0:
        return f"{number_words(high)} " + (f"oh {number_words(low)}" if low < 10 else number_words(low))
    if 1000 <= year < 10000:
        return f"{number_words(high)} hundred" if year % 1000 else number_words(year)
    return number_words(year)


def say_time(hour: int, minute: int) -> str:
    """A time of day as a person says it: "ten past three in the afternoon", "quarter to four"."""
    if minute == 0 and hour == 0:
        return "midnight"
    if minute == 0 and hour == 12:
        return "noon"
    next_hour = (hour + 1) % 24
    if minute == 0:
        phrase = f"{_clock_hour(hour)} o'clock"
    elif minute == 15:
        phrase = f"quarter past {_clock_hour(hour)}"
    elif minute == 30:
        phrase = f"half past {_clock_hour(hour)}"
    elif minute == 45:
        phrase = f"quarter to {_clock_hour(next_hour)}"
    elif minute % 5 == 0 and minute < 30:
        phrase = f"{number_words(minute)} past {_clock_hour(hour)}"
    elif minute % 5 == 0:
        phrase = f"{number_words(60 - minute)} to {_clock_hour(next_hour)}"
    elif minute < 10:
        phrase = f"{_clock_hour(hour)} oh {number_words(minute)}"
    else:
        phrase = f"{_clock_hour(hour)} {number_words(minute)}"
    part = ("in the afternoon" if hour == 12 else "at night" if hour < 5 or hour >= 21
            else "in the morning" if hour < 12 else "in the afternoon" if hour < 18 else "in the evening")
    return f"{phrase} {part}"


def _clock_hour(hour: int) -> str:
    return number_words(hour % 12 or 12)


def say_date(year: int, month: int, day: int, weekday: str) -> str:
    """"Sunday, the twenty-second of November, twenty twenty-six"."""
    return f"{weekday}, the {ordinal_words(day)} of {MONTHS[month - 1]}, {year_words(year)}"


def say_duration(seconds: float) -> str:
    """"five minutes", "an hour and a half", "two hours and ten minutes", "half an hour"."""
    seconds = int(round(seconds))
    special = {30 * 60: "half an hour", 90 * 60: "an hour and a half", 15 * 60: "a quarter of an hour",
               90: "a minute and a half", 3600: "an hour", 60: "a minute"}
    if seconds in special:
        return special[seconds]
    parts = []
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{'one' if n == 1 else number_words(n)} {unit}{'s' if n != 1 else ''}")
    if not parts:
        return "no time at all"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def duration_adjective(seconds: float) -> str:
    """A duration before a noun: "five minute", "two hour", "ninety second"."""
    seconds = int(round(seconds))
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{number_words(seconds // size)} {unit}"
    if seconds >= 60 and seconds % 30 == 0:
        return f"{number_words(seconds // 60)} and a half minute"
    return f"{number_words(seconds)} second"


def count_words(n: int, noun: str) -> str:
    """"no timers", "one timer", "three timers"."""
    return f"{'no' if n == 0 else number_words(n)} {noun}{'' if n == 1 else 's'}"
