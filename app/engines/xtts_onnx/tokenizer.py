"""XTTS's text front end without coqui-tts: its English cleaning and the BPE vocabulary (vocab.json).

The same steps as coqui's ``VoiceBpeTokenizer.encode`` for English (multilingual_cleaners): drop
double quotes, lower-case, numbers (thousands commas, £/$/€ amounts, decimals, ordinals, integers;
num2words), abbreviations, symbols, collapse whitespace, then ``[en]`` + text with spaces as
``[SPACE]`` through the ``tokenizers`` BPE model. tests/test_xtts_onnx_tokenizer.py checks the ids
against coqui's on a corpus. Other languages are not ported: the tier refuses them.
"""
from __future__ import annotations

import contextlib
import re
from pathlib import Path

from num2words import num2words

LANGUAGES = ("en",)

_ABBREVIATIONS = [(re.compile(rf"\b{short}\.", re.IGNORECASE), full) for short, full in (
    ("mrs", "misess"), ("mr", "mister"), ("dr", "doctor"), ("st", "saint"), ("co", "company"),
    ("jr", "junior"), ("maj", "major"), ("gen", "general"), ("drs", "doctors"), ("rev", "reverend"),
    ("lt", "lieutenant"), ("hon", "honorable"), ("sgt", "sergeant"), ("capt", "captain"),
    ("esq", "esquire"), ("ltd", "limited"), ("col", "colonel"), ("ft", "fort"))]
_SYMBOLS = [(re.compile(re.escape(sym), re.IGNORECASE), word) for sym, word in (
    ("&", " and "), ("@", " at "), ("%", " percent "), ("#", " hash "), ("$", " dollar "),
    ("£", " pound "), ("°", " degree "))]
_ORDINAL = re.compile(r"([0-9]+)(st|nd|rd|th)")
_NUMBER = re.compile(r"[0-9]+")
_CURRENCY = {"GBP": re.compile(r"((£[0-9\.\,]*[0-9]+)|([0-9\.\,]*[0-9]+£))"),
             "USD": re.compile(r"((\$[0-9\.\,]*[0-9]+)|([0-9\.\,]*[0-9]+\$))"),
             "EUR": re.compile(r"(([0-9\.\,]*[0-9]+€)|((€[0-9\.\,]*[0-9]+)))")}
_COMMA_NUMBER = re.compile(r"\b\d{1,3}(,\d{3})*(\.\d+)?\b")
_DECIMAL = re.compile(r"([0-9]+[.,][0-9]+)")
_WHITESPACE = re.compile(r"\s+")


def _currency(m: re.Match, currency: str) -> str:
    amount = float(re.sub(r"[^\d.]", "", m.group(0).replace(",", ".")))
    words = num2words(amount, to="currency", currency=currency, lang="en")
    if amount.is_integer():
        cut = words.rfind(", ")
        if cut != -1:
            words = words[:cut]
    return words


def expand_numbers(text: str) -> str:
    text = _COMMA_NUMBER.sub(lambda m: m.group(0).replace(",", ""), text)
    with contextlib.suppress(Exception):  # as coqui: an amount num2words cannot say stays as digits
        for currency in ("GBP", "USD", "EUR"):
            text = _CURRENCY[currency].sub(lambda m, c=currency: _currency(m, c), text)
    text = _DECIMAL.sub(lambda m: num2words(float(m.group(1).replace(",", ".")), lang="en"), text)
    text = _ORDINAL.sub(lambda m: num2words(int(m.group(1)), ordinal=True, lang="en"), text)
    return _NUMBER.sub(lambda m: num2words(int(m.group(0)), lang="en"), text)


def clean(text: str) -> str:
    """coqui's multilingual_cleaners for English."""
    text = expand_numbers(text.replace('"', "").lower())
    for regex, full in _ABBREVIATIONS:
        text = regex.sub(full, text)
    for regex, word in _SYMBOLS:
        text = regex.sub(word, text).replace("  ", " ")
    return _WHITESPACE.sub(" ", text.strip()).strip()


class XttsTokenizer:
    """Text → XTTS token ids, from the model's vocab.json."""

    def __init__(self, vocab_file: Path):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(vocab_file))

    def encode(self, text: str, language: str = "en") -> list[int]:
        language = language.split("-")[0]
        if language not in LANGUAGES:
            raise ValueError(f"the ONNX XTTS text front end does not speak '{language}'")
        text = f"[{language}]{clean(text)}".replace(" ", "[SPACE]")
        return self.tokenizer.encode(text).ids
