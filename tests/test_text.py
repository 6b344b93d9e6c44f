"""Text normalisation and sentence splitting (pure Python, no models)."""
from __future__ import annotations

import pytest

from app.text.normalize import MAX_CHARS, normalize
from app.text.sentences import prepare, split_sentences
from app.errors import UserError


@pytest.mark.parametrize("text, expected", [
    ("It is 14:05 now.", "It is fourteen oh five now."),
    ("Meet me at 2:30 pm. Then leave.", "Meet me at two thirty PM. Then leave."),
    ("Wake me at 9:00.", "Wake me at nine o'clock."),
    ("Lunch at 7 a.m. sharp", "Lunch at seven AM sharp"),
    ("Landing at 18:00", "Landing at eighteen hundred"),
    ("Pi is 3.14 and 2.05.", "Pi is three point one four and two point zero five."),
    ("It is -5 outside.", "It is minus five outside."),
    ("A crowd of 1,234,567 droids.", "A crowd of one million two hundred and thirty-four thousand "
                                      "five hundred and sixty-seven droids."),
    ("The 21st, 3rd and 100th time.", "The twenty-first, third and one hundredth time."),
    ("It costs $5.20.", "It costs five dollars and twenty cents."),
    ("Only $0.99 or €1 or £3.50.", "Only ninety-nine cents or one euro or three pounds and fifty pence."),
    ("A $2.5 million ship.", "A two point five million dollars ship."),
    ("Odds are 95% against.", "Odds are ninety-five percent against."),
    ("Dr. Smith and Mr. Jones.", "Doctor Smith and Mister Jones."),
    ("Fruit, e.g. apples, vs. pears.", "Fruit, for example apples, versus pears."),
    ("Speed 120 km/h, 1 km left.", "Speed one hundred and twenty kilometers per hour, one kilometer left."),
    ("It is -5°C.", "It is minus five degrees Celsius."),
    ("Rock & roll + jazz = fun @ home.", "Rock and roll plus jazz equals fun at home."),
    ("Visit https://www.example.com/docs today.", "Visit example dot com slash docs today."),
    ("Mail bob@example.org now.", "Mail bob at example dot org now."),
    ("Born in 1999.", "Born in nineteen ninety-nine."),
    ("Due 2024-03-15.", "Due March fifteenth, twenty twenty-four."),
    ("On March 5, 2024.", "On March fifth, twenty twenty-four."),
    ("The 1980s.", "The nineteen eighties."),
    ("Add 3/4 cup.", "Add three quarters cup."),
    ("Call 007.", "Call zero zero seven."),
    ("I am K-2SO.", "I am Kay two ess oh."),
    ("Version v1.2.3 ships.", "Version v one point two point three ships."),
    ("No. I refuse. No. 5 is mine.", "No. I refuse. Number five is mine."),
    ("Apples, pears, etc. Then we left.", "Apples, pears, et cetera. Then we left."),
    ("Score 3:2 today", "Score three to two today"),
    ("Pages 5-10 please.", "Pages five to ten please."),
])
def test_normalize_reads_numbers_times_symbols_as_words(text, expected):
    assert normalize(text) == expected


def test_normalize_strips_markup_and_emoji():
    out = normalize("**Warning**: the <b>door</b> is `open` 🚀🔥👍🏽 — [see](https://x.io/a) _now_!")
    assert out == "Warning: the door is open, see now!"


def test_normalize_keeps_line_breaks_and_drops_bullets():
    assert normalize("# Status\n- shields up\n- engines 100%") == \
        "Status\nshields up\nengines one hundred percent"


def test_normalize_other_language_reads_numbers_in_that_language():
    assert normalize("Ich habe 12 Äpfel.", lang="de") == "Ich habe zwölf Äpfel."


@pytest.mark.parametrize("text", ["", "   \n\t ", "🚀🔥👍🏽", "!!! ... ???", "<br><p></p>", "***"])
def test_empty_or_unspeakable_text_is_a_clear_user_error(text):
    with pytest.raises(UserError, match="^There is nothing to say: the text "):
        normalize(text)
    with pytest.raises(UserError, match="^There is nothing to say"):
        prepare(text)


def test_text_over_the_limit_names_the_limit():
    text = "word " * (MAX_CHARS // 5 + 1)
    for fn in (normalize, split_sentences):
        with pytest.raises(UserError, match=f"limit is {MAX_CHARS:,} characters"):
            fn(text)
    assert normalize("a" * MAX_CHARS)  # exactly the limit is fine


def test_split_does_not_break_at_abbreviations_initials_or_decimals():
    text = ("Dr. Smith paid 3.50 credits for it yesterday. J. R. R. Tolkien wrote the book we read. "
            "The U.S. Army agreed with everything. Then it ended!")
    assert split_sentences(text) == [
        "Dr. Smith paid 3.50 credits for it yesterday.",
        "J. R. R. Tolkien wrote the book we read.",
        "The U.S. Army agreed with everything. Then it ended!",  # a short last one joins
    ]
    parts = split_sentences(text, min_chars=0)
    assert parts == ["Dr. Smith paid 3.50 credits for it yesterday.",
                     "J. R. R. Tolkien wrote the book we read.",
                     "The U.S. Army agreed with everything.", "Then it ended!"]


def test_short_lines_are_merged_with_the_next_sentence():
    parts = split_sentences("Affirmative. The door is open and I am not going through it. "
                            "There is a problem with the plan. Yes. No.")
    assert parts == ["Affirmative. The door is open and I am not going through it.",
                     "There is a problem with the plan. Yes. No."]
    assert all(len(p) >= 20 for p in parts)


def test_a_single_short_reply_stays_whole():
    assert split_sentences("Affirmative.") == ["Affirmative."]
    assert split_sentences("Affirmative") == ["Affirmative."]  # a final period steadies the prosody


def test_line_breaks_end_sentences():
    assert split_sentences("Shields are at full power now\nEngines are ready for the jump\n\nGo") == [
        "Shields are at full power now.", "Engines are ready for the jump. Go."]


def test_ellipsis_and_questions():
    assert split_sentences("Well... maybe I will. Really? I have a bad feeling about this.", min_chars=0) == [
        "Well... maybe I will.", "Really?", "I have a bad feeling about this."]


def test_no_period_before_a_number_is_not_an_end_but_no_alone_is():
    assert split_sentences("No. I refuse to do that. Item No. 5 is mine, thank you.", min_chars=0) == [
        "No.", "I refuse to do that.", "Item No. 5 is mine, thank you."]


def test_overlong_sentences_are_cut_at_clause_breaks_into_balanced_pieces():
    text = ("This is a very long sentence, with many clauses, that goes on and on; it keeps going, "
            "and going, without a full stop in sight, because the author likes commas, and "
            "semicolons; and more words are added here to make it longer than the limit of the "
            "splitter, which is two hundred and twenty characters long by default.")
    parts = split_sentences(text)
    assert len(parts) == 2
    assert all(len(p) <= 220 for p in parts)
    assert parts[0].endswith(";")  # the strongest break in range wins over commas
    assert " ".join(parts) == text


def test_overlong_text_without_punctuation_is_cut_at_spaces_and_never_loses_words():
    words = [f"word{i}" for i in range(120)]
    parts = split_sentences(" ".join(words), max_chars=100)
    assert all(len(p) <= 100 for p in parts)
    assert " ".join(parts).rstrip(".").split() == words


def test_prepare_normalises_then_splits():
    assert prepare("Affirmative. Dr. Who arrives at 14:05 with 3 droids.") == [
        "Affirmative. Doctor Who arrives at fourteen oh five with three droids."]


def test_split_sentences_validates_its_limits():
    with pytest.raises(ValueError):
        split_sentences("Hello there.", min_chars=50, max_chars=40)
