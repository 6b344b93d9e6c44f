"""The engine's one splitter: text in pieces of any size gives the same sentences as the whole."""
from __future__ import annotations

import re

import pytest

from app.engines.core import prepare_text
from app.text.sentences import SentenceStream, sentences
from app.errors import UserError

TEXT = ("Affirmative. The door is open and I am not going through it. Dr. Smith paid $3.50 for "
        "approx. five items. Well... maybe not! Tomorrow it will rain in the afternoon, so the "
        "roads may be wet.\nItem No. 5 is mine.")


@pytest.mark.parametrize("size", [1, 2, 4, 7, "word", "whole"])
def test_any_chunking_gives_the_same_sentences(size):
    if size == "word":
        pieces = re.findall(r"\s*\S+", TEXT)
    elif size == "whole":
        pieces = [TEXT]
    else:
        pieces = [TEXT[i:i + size] for i in range(0, len(TEXT), size)]
    assert list(sentences(pieces)) == list(sentences([TEXT]))


def test_a_sentence_goes_out_once_its_space_has_arrived():
    stream = SentenceStream()
    assert stream.feed("Remember to take an umbrella when you go out") == []
    assert stream.feed(". ") == ["Remember to take an umbrella when you go out."]
    assert stream.feed("It costs approx. ") == []          # "approx." may continue
    assert stream.feed("five dollars, which is fine. Bye") == ["It costs approximately five dollars, which is fine."]
    assert stream.close() == ["Bye."]


def test_the_first_long_sentence_is_spoken_from_its_first_clause():
    first = list(sentences(["Tomorrow it will rain in the afternoon, so the roads may be wet. Bye now."]))
    assert first[:2] == ["Tomorrow it will rain in the afternoon,", "so the roads may be wet."]


def test_list_numbers_are_not_sentences():
    said = " ".join(prepare_text(["Steps:\n1. Open the door\n2. Walk through it"]))
    assert said == "Steps. Open the door. Walk through it."


@pytest.mark.parametrize("text, says", [("", "empty"), ("  \n", "empty"), ("*** ###", "no words"),
                                        ("word " * 1200, "too long")])
def test_bad_text_is_named(text, says):
    with pytest.raises(UserError, match=says):
        list(sentences([text]))
    with pytest.raises(UserError, match=says):
        prepare_text([text])
