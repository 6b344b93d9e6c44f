"""The command bench's judge (bench/commands/score.py): one real Assistant reused for a whole run
must answer every utterance as a fresh one would: nothing held, heard or cancelled carries over."""
from __future__ import annotations

from bench.commands.corpus import Utterance, build
from bench.commands.score import Judge


def test_one_judge_answers_each_utterance_as_a_fresh_assistant_would():
    louder = Utterance("a", "Speak louder.", ("volume",), ("dir", "louder"))
    yes = Utterance("b", "Yes.", ("affirm",), None)
    cancel = Utterance("c", "Cancel the timer.", ("timer_cancel",), None)
    with Judge(confirm_below=0.7) as judge:
        asked = judge.turn(louder, "speak louder", ["speak louder"], 0.65)
        assert (asked.ok, asked.asked, asked.wrong) == (True, True, False)
        # The "yes" finds nothing held from the turn before: no volume change is done.
        assert judge.turn(yes, "Yes.").intent == "affirm" and judge.kaytoo.history[-1].heard == "Yes."
        assert len(judge.kaytoo.history) == 1
        # Every turn finds the one timer to cancel, however many were cancelled before.
        assert all(judge.turn(cancel, "Cancel the timer.").ok for _ in range(2))
    with Judge() as default:
        done = default.turn(louder, "speak louder", ["speak louder"], 0.65)
        assert (done.ok, done.asked, done.intent) == (True, False, "volume")


def test_a_wrong_change_is_counted_and_typed_corpus_text_is_understood():
    slower = Utterance("d", "Speak slower.", ("speed",), ("dir", "slower"))
    with Judge() as judge:
        wrong = judge.turn(slower, "Speak faster.")
        assert (wrong.ok, wrong.wrong, wrong.intent) == (False, True, "speed")
        # The grammar's ceiling on the corpus: every typed phrasing is understood.
        missed = [u.text for u in build() if not judge.turn(u, u.text).ok]
    assert missed == []


def test_wer_strict_and_whisper_normalised():
    from bench.commands.score import whisper_words, word_errors

    ref = "Uh, could you set a timer for twelve minutes?"
    heard = "Could you set a timer for 12 minutes?"
    # Strict: the dropped filler is an error; digits are read as words, so "12" = "twelve".
    assert word_errors(ref, heard) == (1, 9)
    # Whisper's normaliser drops fillers and writes numbers as digits, on both sides.
    assert word_errors(ref, heard, whisper_words) == (0, 8)
    assert whisper_words("Start a twelve-minute timer, I can't wait.") == \
        ["start", "a", "12", "minute", "timer", "i", "can", "not", "wait"]
    # A real error counts under both; an empty hypothesis misses every reference word.
    assert word_errors("Timer for five minutes.", "Time for five minutes.", whisper_words) == (1, 4)
    assert word_errors("Stop.", "", whisper_words) == (1, 1)
