"""Text before speech, part one: normalisation (say numbers, times, symbols as words).

Every TTS tier reads words better than digits and symbols, and each reads them differently (espeak
says "14:05" one way, XTTS garbles it), so the text is made plain once, here, for all tiers.

Normalisation is English-first: for other languages only markup, emoji and plain numbers (through
num2words, when it knows the language) are handled.
"""
from __future__ import annotations

import html
import re
import unicodedata

from app.errors import UserError

MAX_CHARS = 5000
EMPTY_MESSAGE = "There is nothing to say: the text is empty."
UNSPEAKABLE_MESSAGE = "There is nothing to say: the text has no words, only symbols or punctuation."

# -- word tables ---------------------------------------------------------------------------------
# Titles before a name: always expanded, never a sentence end.
TITLES = {
    "mr": "Mister", "mrs": "Missus", "ms": "Miz", "dr": "Doctor", "prof": "Professor",
    "capt": "Captain", "gen": "General", "lt": "Lieutenant", "col": "Colonel", "sgt": "Sergeant",
    "cmdr": "Commander", "gov": "Governor", "rev": "Reverend", "hon": "Honorable", "mt": "Mount",
    "st": "Saint",
}
# Abbreviations that may also end a sentence (a period is kept when the next word is capitalised).
SOFT = {
    "etc": "et cetera", "vs": "versus", "approx": "approximately", "jr": "Junior", "sr": "Senior",
    "inc": "Incorporated", "ltd": "Limited", "corp": "Corporation", "dept": "Department",
    "est": "established", "min": "minutes", "max": "maximum", "no": "number",
}
_LATIN = {"e.g.": "for example", "i.e.": "that is", "a.k.a.": "also known as", "cf.": "compare"}
_NAMES = {"K-2SO": "Kay two ess oh", "R2-D2": "R two D two", "C-3PO": "C three P O"}

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
_MONTH_RE = (r"(Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
             r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")

_CURRENCY = {  # symbol: (unit, units, subunit, subunits)
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "sen", "sen"),
}
_SCALE = {"k": "thousand", "thousand": "thousand", "m": "million", "mn": "million",
          "million": "million", "b": "billion", "bn": "billion", "billion": "billion",
          "t": "trillion", "tn": "trillion", "trillion": "trillion"}

_UNITS = {  # unit as written after a number: (singular, plural)
    "km/h": ("kilometer per hour", "kilometers per hour"), "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"), "m/s": ("meter per second", "meters per second"),
    "km": ("kilometer", "kilometers"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "m": ("meter", "meters"), "mi": ("mile", "miles"),
    "ft": ("foot", "feet"), "in": ("inch", "inches"), "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"), "mg": ("milligram", "milligrams"), "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"), "ml": ("milliliter", "milliliters"),
    "l": ("liter", "liters"), "°c": ("degree Celsius", "degrees Celsius"),
    "°f": ("degree Fahrenheit", "degrees Fahrenheit"), "°": ("degree", "degrees"),
    "hz": ("hertz", "hertz"), "khz": ("kilohertz", "kilohertz"), "mhz": ("megahertz", "megahertz"),
    "ghz": ("gigahertz", "gigahertz"), "kb": ("kilobyte", "kilobytes"), "mb": ("megabyte", "megabytes"),
    "gb": ("gigabyte", "gigabytes"), "tb": ("terabyte", "terabytes"), "ms": ("millisecond", "milliseconds"),
    "s": ("second", "seconds"), "sec": ("second", "seconds"), "secs": ("second", "seconds"),
    "min": ("minute", "minutes"), "mins": ("minute", "minutes"), "h": ("hour", "hours"),
    "hr": ("hour", "hours"), "hrs": ("hour", "hours"), "w": ("watt", "watts"),
    "kw": ("kilowatt", "kilowatts"), "kwh": ("kilowatt hour", "kilowatt hours"), "v": ("volt", "volts"),
    "mah": ("milliamp hour", "milliamp hours"), "db": ("decibel", "decibels"),
}
# Longest first so "km/h" wins over "km" and "ms" over "m".
_UNIT_RE = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"

_SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "×": " times ", "÷": " divided by ",
            "±": " plus or minus ", "≈": " about ", "<": " less than ", ">": " more than ",
            "°": " degrees ", "©": " copyright ", "™": " ", "®": " ", "§": " section ",
            "√": " square root of ", "∞": " infinity ", "π": " pi ", "%": " percent ", "@": " at ",
            "½": " one half ", "¼": " one quarter ", "¾": " three quarters ", "²": " squared ",
            "³": " cubed "}


# -- public API ----------------------------------------------------------------------------------
def normalize(text: str, lang: str = "en") -> str:
    """Rewrite ``text`` as words a TTS voice reads well. Line breaks are kept (they end sentences).

    Raises UserError when the text is empty, unspeakable (only symbols/emoji) or over MAX_CHARS.
    """
    check_size(text)
    english = lang.lower().startswith("en")
    t = _plain(text)
    t = _urls_and_emails(t)
    if english:
        for name, spoken in _NAMES.items():
            t = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", spoken, t, flags=re.I)
        t = re.sub(r"(?<=[^\W\d_])(?=\d)", " ", t)  # "MP3", "v1.2": a letter then digits
        t = _abbreviations(t)
        t = re.sub(r"(?<![\w.])-(?=\.?\d)", " minus ", t)  # before anything eats the digits
        t = re.sub(r"#\s?(?=\d)", " number ", t)
        t = re.sub(r"~\s?(?=\d)", " about ", t)
        t = re.sub(r"(?<![\d.])\d+(?:\.\d+){2,}\b", lambda m: " point ".join(  # versions: 1.2.3
            _read_number(p) for p in m.group(0).split(".")), t)
        t = _currency(t)
        t = _times(t)
        t = _dates(t)
        t = _percent_units(t)
        t = _fractions(t)
        t = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: number_words(int(m.group(1)), "ordinal"), t, flags=re.I)
        t = re.sub(r"(?<![\w.,])(\d{1,4})\s?[-–]\s?(\d{1,4})(?![\w]|[.,]\d)", r"\1 to \2", t)
        t = re.sub(r"(?<=\d)\s?[*×]\s?(?=\d)", " times ", t)
        t = re.sub(r"(?<=\d):(?=\d)", " to ", t)  # a ratio; clock times were read already
    t = re.sub(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)", " ", t)  # "MP3" → "MP 3"
    t = re.sub(rf"(?<![\d.])(?:{_NUM})", lambda m: _read_number(m.group(0), lang), t)
    t = re.sub(r"\d", lambda m: " " + _read_number(m.group(0), lang) + " ", t)
    if english:
        t = "".join(_SYMBOLS.get(c, c) for c in t)
        t = re.sub(r"(?<=[A-Za-z])/(?=[A-Za-z])", " or ", t)
    t = _strip_unspeakable(t)
    t = _tidy(t)
    if not any(c.isalnum() for c in t):
        raise UserError(UNSPEAKABLE_MESSAGE)
    return t


# -- checks --------------------------------------------------------------------------------------
def check_size(text: str) -> None:
    if not isinstance(text, str):
        raise UserError("The text to speak must be a string.")
    if len(text) > MAX_CHARS:
        raise UserError(f"The text is {len(text):,} characters long; the limit is {MAX_CHARS:,} characters.")
    if not text.strip():
        raise UserError(EMPTY_MESSAGE)


# -- normalisation steps -------------------------------------------------------------------------
def _plain(t: str) -> str:
    """Unicode, HTML and Markdown down to plain text."""
    t = unicodedata.normalize("NFC", html.unescape(t))
    t = t.translate({0x2018: "'", 0x2019: "'", 0x201C: '"', 0x201D: '"', 0x2026: "...",
                     0x00A0: " ", 0x202F: " ", 0x2009: " ", 0x2212: "-", 0x2010: "-", 0x2011: "-"})
    t = re.sub(r"\s*[—–]\s*(?!\d)", ", ", t)            # a dash between words is a pause
    t = re.sub(r"```[^\n]*\n?", "\n", t)                 # code fences (keep the code as text)
    t = re.sub(r"<(br|p|div|li|h\d)\b[^>]*>", "\n", t, flags=re.I)
    t = re.sub(r"</?[A-Za-z][^>]*>", " ", t)             # other tags
    t = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", t)     # [text](url) and images
    t = re.sub(r"(?m)^\s{0,3}(?:#{1,6}\s+|>+\s*)", "", t)  # headings, quotes
    t = re.sub(r"(?m)^\s*(?:[-*+•]|\d+[.)])\s+", "", t)  # list bullets / numbers
    t = re.sub(r"(\*\*|__|~~)(.+?)\1", r"\2", t)
    t = re.sub(r"(?<![\w*])[*_](?=\S)(.+?)(?<=\S)[*_](?![\w*])", r"\1", t)
    return t.replace("`", "")


def _urls_and_emails(t: str) -> str:
    def host(h: str) -> str:
        return " dot ".join(p for p in h.split(".") if p)

    def url(m: re.Match) -> str:
        rest = re.sub(r"^(?:https?://)?(?:www\.)?", "", m.group(0), flags=re.I).rstrip("/")
        h, _, path = rest.partition("/")
        words = host(h.split(":")[0].split("@")[-1])
        segs = [s for s in re.split(r"[/?#&=]+", path) if s]
        # Read the host and a short path; a long query string is noise to a listener.
        if segs and len(segs) <= 3 and all(len(s) <= 24 for s in segs):
            words += " slash " + " slash ".join(re.sub(r"[-_.]+", " ", s) for s in segs)
        return f" {words} "

    t = re.sub(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b",
               lambda m: " " + " at ".join(host(p) for p in m.group(0).split("@", 1)) + " ", t)
    t = re.sub(r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)]", url, t, flags=re.I)
    return re.sub(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|dev|ai|edu|gov)\b",
                  lambda m: " " + host(m.group(0)) + " ", t, flags=re.I)


def _abbreviations(t: str) -> str:
    for abbr, spoken in _LATIN.items():
        t = re.sub(rf"(?<!\w){re.escape(abbr)}", f" {spoken} ", t, flags=re.I)

    def title(m: re.Match) -> str:
        return TITLES[m.group(1).lower()] + " "

    t = re.sub(r"\b(" + "|".join(TITLES) + r")\.\s*(?=(?-i:[A-Z]))", title, t, flags=re.I)
    t = re.sub(r"\bSt\.(?=\s*(?:$|[a-z,.;]))", "Street", t)

    def soft(m: re.Match) -> str:
        word, after = m.group(1), m.string[m.end():]
        if word.lower() == "no" and not re.match(r"\s*\d", after):
            return m.group(0)  # "No." only means "number" before digits
        if word.lower() == "min" and not re.search(r"\d\s*$", m.string[:m.start()]):
            return m.group(0)
        # Keep the period when the abbreviation also ended the sentence.
        spoken = SOFT[word.lower()]
        spoken = spoken[0].upper() + spoken[1:] if word[0].isupper() else spoken
        return spoken + ("." if _ends_sentence(after) else "")

    return re.sub(r"\b(" + "|".join(SOFT) + r")\.", soft, t, flags=re.I)


def _ends_sentence(after: str) -> bool:
    return not after.strip() or bool(re.match(r"\s+[A-Z\"']", after))


def _currency(t: str) -> str:
    syms = "".join(re.escape(s) for s in _CURRENCY)

    def money(m: re.Match) -> str:
        sign = "minus " if m.group(1) else ""
        unit, units, sub, subs = _CURRENCY[m.group(2)]
        amount = m.group(3).replace(",", "")
        scale = _SCALE.get((m.group(4) or m.group(5) or "").lower())
        if scale:
            return f"{sign}{_read_number(amount)} {scale} {units}"
        whole, _, frac = amount.partition(".")
        n = int(whole)
        cents = int((frac + "00")[:2]) if frac else 0
        parts = []
        if n or not cents:
            parts.append(f"{number_words(n)} {unit if n == 1 else units}")
        if cents:
            parts.append(f"{number_words(cents)} {sub if cents == 1 else subs}")
        return sign + " and ".join(parts)

    return re.sub(rf"(-)?([{syms}])\s?({_NUM})(?:\s?(thousand|million|billion|trillion|bn|mn)\b|"
                  rf"(?-i:([kmbtKMBT]))\b)?", money, t, flags=re.I)


def _times(t: str) -> str:
    def ampm(m: re.Match, s: str | None) -> str:
        if not s:
            return ""
        dot = "." if m.group(0).endswith(".") and _ends_sentence(m.string[m.end():]) else ""
        return (" AM" if s.lower().startswith("a") else " PM") + dot

    def clock(m: re.Match) -> str:
        h, mins, suffix = int(m.group(1)), int(m.group(2)), m.group(3)
        if h > 24 or mins > 59:
            return m.group(0)
        if mins == 0:
            if suffix:
                return number_words(h) + ampm(m, suffix)
            return number_words(h) + (" hundred" if h > 12 or h == 0 else " o'clock")
        mm = ("oh " + number_words(mins)) if mins < 10 else number_words(mins)
        return f"{number_words(h)} {mm}{ampm(m, suffix)}"

    t = re.sub(r"\b(\d{1,2}):(\d{2})(?:\s?([ap])\.?\s?m\b\.?)?", clock, t, flags=re.I)
    return re.sub(r"\b(\d{1,2})\s?([ap])\.?m\b\.?", lambda m: number_words(int(m.group(1))) + ampm(m, m.group(2))
                  if int(m.group(1)) <= 12 else m.group(0), t, flags=re.I)


def _month(name: str) -> str:
    return next(m for m in MONTHS if m.lower().startswith(name[:3].lower()))


def _date_words(year: int | None, month: int, day: int | None) -> str:
    out = MONTHS[month - 1]
    if day:
        out += " " + number_words(day, "ordinal")
    if year is not None:
        out += ", " + number_words(year, "year")
    return out


def _dates(t: str) -> str:
    def iso(m: re.Match) -> str:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        return _date_words(y, mo, d) if 1 <= mo <= 12 and 1 <= d <= 31 else m.group(0)

    def slashed(m: re.Match) -> str:
        a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        y = y + 2000 if y < 100 else y
        mo, d = (b, a) if a > 12 else (a, b)  # US order unless the first number cannot be a month
        return _date_words(y, mo, d) if 1 <= mo <= 12 and 1 <= d <= 31 else m.group(0)

    def month_day(m: re.Match) -> str:
        d = int(m.group(2))
        if not 1 <= d <= 31:
            return m.group(0)
        return _date_words(int(m.group(3)) if m.group(3) else None, MONTHS.index(_month(m.group(1))) + 1, d)

    def day_month(m: re.Match) -> str:
        d = int(m.group(1))
        if not 1 <= d <= 31:
            return m.group(0)
        out = f"the {number_words(d, 'ordinal')} of {_month(m.group(2))}"
        return out + (", " + number_words(int(m.group(3)), "year") if m.group(3) else "")

    t = re.sub(r"\b(\d{4})-(\d{2})-(\d{2})\b", iso, t)
    t = re.sub(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b", slashed, t)
    t = re.sub(rf"\b{_MONTH_RE}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?", month_day, t)
    t = re.sub(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_RE}\b(?:,?\s+(\d{{4}})\b)?", day_month, t)
    t = re.sub(rf"\b{_MONTH_RE}\s+(\d{{4}})\b", lambda m: f"{_month(m.group(1))} {number_words(int(m.group(2)), 'year')}", t)

    def decade(m: re.Match) -> str:
        w = number_words(int(m.group(1)), "year")
        return w[:-1] + "ies" if w.endswith("y") else w + "s"

    t = re.sub(r"\b(1[1-9]\d0|20\d0)'?s\b", decade, t)
    return re.sub(r"\b(in|since|by|from|until|till|before|after|of|year|around|circa|during|early|late)"
                  r"\s+(1[1-9]\d\d|20\d\d)\b(?![.,]\d)",
                  lambda m: f"{m.group(1)} {number_words(int(m.group(2)), 'year')}", t, flags=re.I)


def _percent_units(t: str) -> str:
    t = re.sub(rf"(-?)({_NUM})\s?%", lambda m: ("minus " if m.group(1) else "")
               + _read_number(m.group(2)) + " percent", t)

    def unit(m: re.Match) -> str:
        n, u = m.group(1), m.group(2)
        key = u.lower() if u.lower() in _UNITS else u
        one, many = _UNITS[key]
        if u.lower() == "in":
            return m.group(0)  # "5 in the box"
        return f"{_read_number(n)} {one if n == '1' else many}"

    return re.sub(rf"({_NUM})\s?({_UNIT_RE})(?![A-Za-z0-9/])", unit, t, flags=re.I)


def _fractions(t: str) -> str:
    def frac(m: re.Match) -> str:
        a, b = int(m.group(1)), int(m.group(2))
        if (a, b) in ((24, 7), (50, 50)):
            return f"{number_words(a)} {number_words(b)}"
        if b == 0 or b > 20 or a >= 100:
            return f"{number_words(a)} over {number_words(b)}"
        den = {2: ("half", "halves"), 4: ("quarter", "quarters")}.get(b)
        if den is None:
            o = number_words(b, "ordinal")
            den = (o, o + "s")
        return f"{number_words(a)} {den[0] if a == 1 else den[1]}"

    return re.sub(r"(?<![\d/.])(\d{1,3})/(\d{1,3})(?![\d/])", frac, t)


def _strip_unspeakable(t: str) -> str:
    out = []
    for c in t:
        cat = unicodedata.category(c)
        if c in "\n\t ":
            out.append(c)
        elif cat[0] in "LNZ" or c in ".,!?;:'\"()-":
            out.append(" " if cat[0] == "Z" else c)
        elif cat[0] == "S" or cat in ("Cf", "Cs", "Co", "Cn", "Cc", "Mn", "Me", "Mc"):
            if cat[0] == "M" and out and unicodedata.category(out[-1])[0] == "L":
                out.append(c)  # accents on letters stay; emoji modifiers and selectors go
            else:
                out.append(" ")
        else:
            out.append(" ")  # brackets, slashes, stars, pipes...
    return "".join(out)


def _tidy(t: str) -> str:
    t = re.sub(r"[ \t]+", " ", t)
    t = re.sub(r" *\n[\s]*", "\n", t)
    t = re.sub(r" +([.,!?;:])", r"\1", t)
    t = re.sub(r"([!?])[!?]+", r"\1", t)
    t = re.sub(r"\.{4,}", "...", t)
    t = re.sub(r"(?<!\.)\.\.(?!\.)", ".", t)
    t = re.sub(r"([,;:])[,;:.]*", r"\1", t)
    t = re.sub(r"(?m)^[\s,;:.]+", "", t)                # no line starts with stray punctuation
    t = re.sub(r"\(\s*\)|\"\s*\"", "", t)
    t = re.sub(r"[ \t]+", " ", t)
    return "\n".join(line.strip() for line in t.split("\n") if line.strip())


# -- numbers -------------------------------------------------------------------------------------
def number_words(n: int, to: str = "cardinal", lang: str = "en") -> str:
    """A number as spoken: ``to`` is "cardinal" (twenty-five), "ordinal" (twenty-fifth) or "year"."""
    from num2words import num2words  # a coqui-tts dependency; pure Python

    try:
        w = num2words(n, to=to, lang=lang)
    except (NotImplementedError, OverflowError):
        w = num2words(n, to=to, lang="en") if lang != "en" else " ".join(_DIGITS[int(d)] for d in str(n))
    return w.replace(",", "")  # "one million, two hundred" would pause mid-number


_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _read_number(s: str, lang: str = "en") -> str:
    """"1,234" → words; "3.05" → "three point zero five"; "007" and very long numbers → digits."""
    s = s.replace(",", "")
    whole, dot, frac = s.partition(".")
    if not whole:
        whole = "0"
    if (len(whole) > 1 and whole.startswith("0")) or len(whole) > 15:
        spoken = " ".join(_digit(d, lang) for d in whole)
    else:
        spoken = number_words(int(whole), lang=lang)
    if dot and frac:
        if not lang.startswith("en"):
            return _words_float(float(s), lang) or f"{spoken} . {' '.join(_digit(d, lang) for d in frac)}"
        spoken += " point " + " ".join(_digit(d, lang) for d in frac)
    return spoken


def _words_float(x: float, lang: str) -> str | None:
    from num2words import num2words

    try:
        return num2words(x, lang=lang).replace(",", "")
    except (NotImplementedError, OverflowError, ValueError):
        return None


def _digit(d: str, lang: str) -> str:
    return _DIGITS[int(d)] if lang.startswith("en") else number_words(int(d), lang=lang)
