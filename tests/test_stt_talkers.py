"""A quieter talker's sentence is dropped from a transcript (app/engines/stt/talkers.py).
The rule on given word timings; the real aligner on a clip whose text the test supplies (where
the words lie, not what the model hears); and the decoder keeping only whole sentences of what it
would have written anyway."""
from __future__ import annotations

import numpy as np
import pytest

from app.audio.clip import load
from app.engines.models import ModelStore
from app.engines.stt.talkers import nearest_talker, sentence_spans, sentences
from app.engines.stt.whisper import RATE, WhisperStt

QUIET, LOUD = "Set a timer.", "Can you use Marvin's voice?"


def tone(seconds: float, db: float, seed: int) -> np.ndarray:
    """Noise bursts at ``db`` full scale, standing in for a talker's words."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * RATE)) * 10 ** (db / 20)).astype(np.float32)


def words_for(text: str, start: float, end: float) -> list[tuple[str, float, float]]:
    ws = text.split()
    step = (end - start) / len(ws)
    return [(" " + w, start + i * step, start + (i + 1) * step) for i, w in enumerate(ws)]


def test_a_sentence_said_far_below_the_loudest_is_dropped():
    audio = np.concatenate([tone(1.0, -40, 1), tone(1.5, -15, 2)])
    words = words_for(QUIET, 0.0, 0.9) + words_for(LOUD, 1.0, 2.4)
    assert nearest_talker(f"{QUIET} {LOUD}", words, audio) == LOUD
    # the same with the quiet talker after the user
    audio = np.concatenate([tone(1.5, -15, 3), tone(1.0, -40, 4)])
    words = words_for(LOUD, 0.0, 1.4) + words_for(QUIET, 1.5, 2.4)
    assert nearest_talker(f"{LOUD} {QUIET}", words, audio) == LOUD


@pytest.mark.parametrize("quiet_db", [-15, -20])
def test_sentences_within_the_margin_all_stay(quiet_db):
    audio = np.concatenate([tone(1.0, quiet_db, 5), tone(1.5, -15, 6)])
    words = words_for(QUIET, 0.0, 0.9) + words_for(LOUD, 1.0, 2.4)
    assert nearest_talker(f"{QUIET} {LOUD}", words, audio) == f"{QUIET} {LOUD}"


def test_one_sentence_or_no_timings_leave_the_text_alone():
    audio = tone(2.0, -40, 7)
    assert nearest_talker(LOUD, words_for(LOUD, 0, 2), audio) == LOUD
    assert nearest_talker(f"{QUIET} {LOUD}", [], audio) == f"{QUIET} {LOUD}"
    assert sentences("  Stop.  What time is it?  ") == ["Stop.", "What time is it?"]


def test_words_are_counted_into_their_sentences_whatever_their_spacing():
    parts = sentences("Okay, Kaytoo. Set a timer for 5 minutes.")
    words = [(" Okay,", 0.0, 0.3), (" Kay", 0.3, 0.5), ("too.", 0.5, 0.7), (" Set", 0.9, 1.0),
             (" a", 1.0, 1.1), (" timer", 1.1, 1.4), (" for", 1.4, 1.5), (" 5", 1.5, 1.7),
             (" minutes.", 1.7, 2.1)]
    assert sentence_spans(parts, words) == [(0.0, 0.7), (0.9, 2.1)]
    assert sentence_spans(parts, words[:3]) == [(0.0, 0.7), None]


@pytest.fixture(scope="module")
def stt(tmp_path_factory):
    return WhisperStt(ModelStore(tmp_path_factory.mktemp("models")).path_for("tiny.en"), nbest=5)


def test_the_aligner_places_a_quiet_talkers_sentence_where_it_was_said(stt, speak):
    """Real word timings: a sentence at 1/30 of the amplitude (-30 dB) before the user's."""
    quiet = load(speak("set a timer", voice="en-gb"), rate=RATE).samples * 0.03
    loud = load(speak("can you use marvins voice"), rate=RATE).samples
    audio = np.concatenate([quiet, np.zeros(RATE // 5, np.float32), loud])
    text = f"{QUIET} {LOUD}"
    words = stt.word_timings(audio, text)
    assert "".join(w for w, _, _ in words).strip() == text
    starts = [s for _, s, _ in words]
    assert starts == sorted(starts) and words[-1][2] <= len(audio) / RATE + 0.1
    assert nearest_talker(text, words, audio) == LOUD


def test_the_decoder_only_drops_whole_sentences_of_its_own_hypotheses(stt, speak):
    """With the rule on, each hypothesis is the same hypothesis with the rule off, less some of
    its sentences (whatever the model heard in the mixed clip)."""
    rng = np.random.default_rng(8)
    quiet = load(speak("what is the date"), rate=RATE).samples * 0.05
    loud = load(speak("open the video panel", voice="en-gb"), rate=RATE).samples
    audio = np.concatenate([quiet, np.zeros(RATE // 5, np.float32), loud])
    audio += rng.normal(0, 0.002, audio.shape).astype(np.float32)
    off = WhisperStt(stt.model_dir, nbest=5, talker_db=None).transcribe(audio)
    on = stt.transcribe(audio)
    assert on.confidence == off.confidence
    kept = {s for t in off.alternatives for s in sentences(t)}
    for t in on.alternatives:
        assert t and set(sentences(t)) <= kept
