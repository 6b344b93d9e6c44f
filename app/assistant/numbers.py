"""Numbers and durations as people say them: "twenty five", "5 min", "half an hour"."""
from __future__ import annotations

import re

UNITS = {"zero": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5,
         "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
         "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
         "eighteen": 18, "nineteen": 19, "couple": 2, "few": 3}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90}
UNIT_SECONDS = {"second": 1, "sec": 1, "secs": 1, "seconds": 1, "s": 1,
                "minute": 60, "minutes": 60, "min": 60, "mins": 60, "minuets": 60, "minets": 60,
                "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600, "h": 3600}
_NUM = r"(?:\d+(?:\.\d+)?|(?:%s)(?:[ -](?:%s))?)" % (
    "|".join(sorted(list(UNITS) + list(TENS), key=len, reverse=True)),
    "|".join(sorted(UNITS, key=len, reverse=True)))
_DURATION = re.compile(
    rf"(?P<num>{_NUM})(?:\s+(?:of\s+)?)?\s*(?P<half>and a half\s+)?(?P<unit>{'|'.join(sorted(UNIT_SECONDS, key=len, reverse=True))})\b"
    r"(?P<half2>\s+and a half)?")


def words_to_number(text: str) -> float | None:
    text = text.strip().lower().replace("-", " ")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    total = 0
    for word in text.split():
        if word in TENS:
            total += TENS[word]
        elif word in UNITS:
            total += UNITS[word]
        elif word in ("and", "of"):
            continue
        else:
            return None
    return float(total)


def parse_duration(text: str) -> float | None:
    """Seconds in a phrase like "five minutes", "1 hour and 30 minutes", "half an hour"."""
    text = text.lower()
    text = re.sub(r"\bhalf an hour\b|\ba half hour\b", "30 minutes", text)
    text = re.sub(r"\bquarter of an hour\b|\ba quarter hour\b", "15 minutes", text)
    text = re.sub(r"\ba (couple|few)\b", r"\1", text)
    total = 0.0
    found = False
    for m in _DURATION.finditer(text):
        n = words_to_number(m.group("num"))
        if n is None:
            continue
        if m.group("half") or m.group("half2"):
            n += 0.5
        total += n * UNIT_SECONDS[m.group("unit")]
        found = True
    return total if found and total > 0 else None


def say_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    parts = []
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    return " and ".join(parts) if parts else "no time at all"
