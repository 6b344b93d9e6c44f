"""Text before speech, part two: sentences. Splitting feeds the chain one sentence at a time (first
audio after one sentence, not the whole reply) and keeps very short lines from being spoken alone,
which is where XTTS hallucinates. ``SentenceStream`` is the one splitter for everything Kaytoo
speaks or shows sentence by sentence: the assistant, the LLM client and the engine's streams."""
from __future__ import annotations

import re
from typing import Iterable, Iterator

from app.errors import UserError
from app.text.normalize import (EMPTY_MESSAGE, MAX_CHARS, SOFT, TITLES, UNSPEAKABLE_MESSAGE, check_size,
                                normalize)


def split_sentences(text: str, min_chars: int = 20, max_chars: int = 220) -> list[str]:
    """Split into sentences for streaming synthesis.

    Never splits at abbreviations (Dr., e.g.), initials or decimals; a line break always ends a
    sentence. Sentences shorter than ``min_chars`` are joined to the next one ("Affirmative." alone
    is where XTTS garbles), and sentences over ``max_chars`` are cut at ; : , dashes or spaces into
    pieces of similar length.
    """
    check_size(text)
    if min_chars < 0 or max_chars < 10 or min_chars >= max_chars:
        raise ValueError("split_sentences needs 0 <= min_chars < max_chars and max_chars >= 10")
    pieces: list[str] = []
    for line in re.split(r"\s*\n\s*", text.strip()):
        pieces.extend(_split_line(line))
    pieces = [_end_punctuated(p) for p in pieces if any(c.isalnum() for c in p)]
    if not pieces:
        raise UserError(UNSPEAKABLE_MESSAGE)
    merged = merge_short(pieces, min_chars, max_chars)
    return [part for s in merged for part in _split_long(s, max_chars)]


def prepare(text: str, lang: str = "en", min_chars: int = 20, max_chars: int = 220) -> list[str]:
    """``split_sentences(normalize(text))``: what a tier should be given."""
    return split_sentences(normalize(text, lang), min_chars, max_chars)


# -- splitting -----------------------------------------------------------------------------------
_NO_SPLIT = set(TITLES) | {"e.g", "i.e", "a.k.a", "cf", "vs", "approx", "ca"}
# Not a sentence end when a number follows: "No. 5", "Fig. 3", "Jan. 12".
_BEFORE_NUMBER = {"no", "nos", "fig", "vol", "ch", "pp", "p", "op", "jan", "feb", "mar", "apr", "jun",
                  "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
_END = re.compile(r"([.!?…]+[\"')\]]*)(\s+)")


def _cuts(line: str) -> Iterator[tuple[int, int]]:
    """Sentence ends in one line: (end of the sentence, start of the next)."""
    start = 0
    for m in _END.finditer(line):
        nxt = line[m.end():m.end() + 1]
        punct = m.group(1)
        word = re.search(r"([\w.'-]*)$", line[start:m.start(1)]).group(1).strip("'").lower()
        if punct.startswith(".") and not punct.startswith(".."):
            if word in _NO_SPLIT or (len(word) == 1 and word.isalpha()) or re.fullmatch(r"(?:\w\.)+\w", word):
                continue  # Dr. Smith, e.g. this, J. R. R. Tolkien, U.S. Army
            if word in _BEFORE_NUMBER and nxt.isdigit():
                continue
            if nxt.islower():
                continue
            if re.fullmatch(r"\s*\d+", line[start:m.start(1)]):
                continue  # "1. First item": a list number, not a sentence
        elif punct.startswith(("..", "…")) and nxt.islower():
            continue  # "Well... maybe" is one sentence
        yield m.end(1), m.end()
        start = m.end()


def _split_line(line: str) -> list[str]:
    out, start = [], 0
    for end, nxt in _cuts(line):
        out.append(line[start:end].strip())
        start = nxt
    tail = line[start:].strip()
    if tail:
        out.append(tail)
    return out


def _end_punctuated(s: str) -> str:
    s = s.strip()
    return s if re.search(r"[.!?…][\"')\]]*$", s) else s.rstrip(",;:-") + "."


def merge_short(pieces: list[str], min_chars: int, max_chars: int) -> list[str]:
    out: list[str] = []
    for p in pieces:
        if out and len(out[-1]) < min_chars and len(out[-1]) + 1 + len(p) <= max_chars:
            out[-1] = f"{out[-1]} {p}"
        else:
            out.append(p)
    if len(out) > 1 and len(out[-1]) < min_chars and len(out[-2]) + 1 + len(out[-1]) <= max_chars:
        out[-2:] = [f"{out[-2]} {out[-1]}"]  # a short last line joins the one before it
    return out


_BREAKS = (re.compile(r"[;:](?=\s)"), re.compile(r",(?=\s)"), re.compile(r"\s[-–—](?=\s)"),
           re.compile(r"(?=\s)"))


def _split_long(s: str, max_chars: int) -> list[str]:
    out = []
    while len(s) > max_chars:
        k = -(-len(s) // max_chars)                  # pieces still needed
        lo, hi = max(1, len(s) - (k - 1) * max_chars), max_chars
        target = len(s) / k
        cut = None
        for rx in _BREAKS:                            # strongest break that keeps pieces in range
            spots = [m.end() for m in rx.finditer(s) if lo <= m.end() <= hi]
            if spots:
                cut = min(spots, key=lambda i: abs(i - target))
                break
        if cut is None:
            cut = hi                                  # one enormous word: cut it
        head, s = s[:cut].strip(), s[cut:].strip()
        if head:
            out.append(head)
    if s:
        out.append(s)
    return out


class SentenceStream:
    """Text arriving in pieces of any size (an LLM's tokens, Home Assistant's synthesize-chunks,
    a whole reply at once) out as speakable sentences, each as soon as it is certainly complete.

    The one splitter for everything Kaytoo speaks: a sentence end counts once the space after it
    has arrived and the word before it cannot continue ("Dr. Smith", "approx. five"); each
    complete stretch is normalised and split as ``prepare`` does; a short sentence waits to be
    joined to the next one. ``feed`` raises UserError when the text grows over MAX_CHARS and
    ``close`` when nothing speakable came.

    ``speakable=False`` gives the same cuts on the text as written (no normalising, merging or
    size limit): the assistant shows and records an LLM's reply sentence by sentence with it.
    """

    def __init__(self, lang: str = "en", min_chars: int = 20, max_chars: int = 220,
                 speakable: bool = True):
        self.lang, self.min_chars, self.max_chars = lang, min_chars, max_chars
        self.speakable = speakable
        self._raw = ""
        self._total = 0
        self._held: str | None = None
        self._said = False
        self._blank = True  # nothing but whitespace so far

    def feed(self, piece: str) -> list[str]:
        if not isinstance(piece, str):
            raise UserError("The text to speak must be a string.")
        self._total += len(piece)
        if self._total > MAX_CHARS and self.speakable:
            raise UserError(f"The text is too long: over {MAX_CHARS:,} characters (it has "
                            f"{self._total:,} so far); send it in smaller requests.")
        self._raw += piece
        self._blank = self._blank and not piece.strip()
        return self._release(self._complete(), last=False)

    def close(self) -> list[str]:
        rest, self._raw = self._raw, ""
        out = self._release(rest, last=True)
        if not self._said and self.speakable:
            raise UserError(UNSPEAKABLE_MESSAGE if self._blank is False else EMPTY_MESSAGE)
        return out

    def _complete(self) -> str:
        """Take the text up to the last sentence end that is certain; keep the rest."""
        raw = self._raw
        cut = raw.rfind("\n") + 1                     # a line break always ends a sentence
        line = raw[cut:]
        ends = [nxt for end, nxt in _cuts(line) if nxt < len(line) or _sure_end(line[:end])]
        if ends:
            cut += ends[-1]
        elif len(line) > self.max_chars:              # an endless sentence: cut at a pause
            head = _split_long(line, self.max_chars)[0]
            cut += line.find(head) + len(head)
        done, self._raw = raw[:cut], raw[cut:]
        return done

    def _release(self, text: str, last: bool) -> list[str]:
        if not self.speakable:
            pieces = [part for line in text.split("\n") for p in _split_line(line.strip())
                      for part in _split_long(p, self.max_chars)]
            self._said = self._said or bool(pieces)
            return pieces
        try:
            pieces = prepare(text, self.lang, self.min_chars, self.max_chars) if text.strip() else []
        except UserError:
            pieces = []  # symbols only: nothing to say for this stretch
        out = []
        for p in pieces:
            if self._held is not None:
                if len(self._held) < self.min_chars and len(self._held) + 1 + len(p) <= self.max_chars:
                    p = f"{self._held} {p}"
                else:
                    out.append(self._held)
            self._held = p
        if self._held is not None and (last or len(self._held) >= self.min_chars):
            out.append(self._held)
            self._held = None
        if out and not self._said:
            out[:1] = _first_clause(out[0], self.min_chars)
        self._said = self._said or bool(out)
        return out


def _sure_end(text: str) -> bool:
    """A sentence end followed only by a space so far: final unless the next word could still
    continue it ("approx. five", "No. 5", "Well... maybe")."""
    if text.endswith(("..", "…")):
        return False
    word = re.search(r"([\w'-]*)\W*$", text).group(1).lower()
    return word not in SOFT and word not in _BEFORE_NUMBER


def _first_clause(sentence: str, min_chars: int) -> list[str]:
    """The reply's first sentence in two at a comma when both halves are long enough: the first
    audio then waits for the clause, not the sentence, and the comma is a pause anyway."""
    if len(sentence) < 3 * min_chars:
        return [sentence]
    for m in re.finditer(r"[,;:](?=\s)", sentence):
        head, tail = sentence[:m.end()].strip(), sentence[m.end():].strip()
        if len(head) >= min_chars and len(tail) >= min_chars:
            return [head[:-1] + ",", tail]
    return [sentence]


def sentences(pieces: Iterable[str], lang: str = "en", units: bool = False) -> Iterator[str]:
    """Sentences from a stream of text pieces, through one SentenceStream. ``units``: each piece
    is complete in itself (a sentence or a line from the assistant), so it ends a line and need
    not wait for the next piece; otherwise pieces are raw text cut anywhere (an LLM's tokens)."""
    stream = SentenceStream(lang)
    for piece in pieces:
        yield from stream.feed(piece + "\n" if units and not piece.endswith("\n") else piece)
    yield from stream.close()
