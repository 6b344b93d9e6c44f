"""The ONNX tier's XTTS text front end gives coqui's token ids (English), without importing coqui."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.tiny_xtts import build_vocab

CORPUS = [
    "Affirmative.",
    "The time is 3:10 in the afternoon.",
    "There were 50 soldiers and 1,234,567 droids.",
    "In 12.5 seconds, or 0,75 of a minute.",
    "This is the 1st test, the 2nd, the 3rd and the 21st.",
    "That will be $20, sir. Or £3.50, or 20€, or 20.15€.",
    "Mr. Smith met Dr. Jones and Mrs. Brown at St. Mary's Co. Ltd. with Lt. Col. Sgt. Capt. Ft. Jr.",
    "50% of #hashtags & @mentions, 30° outside.",
    'She said "hello"   there...   twice!',
    "Café, naïve, Ærø — “quotes” and ‘single’ ones; ¿qué? 東京.",
    "K-2SO: I have a bad feeling about this?! Quiet; there's a fresh one.",
    "Numbers 007 and 1984 and 100000 and 3.14159.",
    "   leading and trailing spaces   ",
]


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.json"
    build_vocab(path)
    return path


def test_cleaning_matches_coqui():
    from TTS.tts.layers.xtts.tokenizer import multilingual_cleaners

    from app.engines.xtts_onnx.tokenizer import clean

    for text in CORPUS:
        assert clean(text) == multilingual_cleaners(text, "en"), text


def test_token_ids_match_coqui(vocab):
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer

    from app.engines.xtts_onnx.tokenizer import XttsTokenizer

    coqui, ours = VoiceBpeTokenizer(vocab_file=str(vocab)), XttsTokenizer(vocab)
    for text in CORPUS:
        for variant in (text, text.lower()):
            assert ours.encode(variant, "en") == coqui.encode(variant, lang="en"), variant


def test_front_end_imports_neither_torch_nor_coqui(vocab):
    code = ("import sys; from app.engines.xtts_onnx.tokenizer import XttsTokenizer; "
            f"print(len(XttsTokenizer({str(vocab)!r}).encode('Hello 42 times.'))); "
            "assert 'torch' not in sys.modules and 'TTS' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 3


def test_other_languages_are_refused_plainly(vocab):
    from app.engines.xtts_onnx.tokenizer import XttsTokenizer

    with pytest.raises(ValueError, match="does not speak 'de'"):
        XttsTokenizer(vocab).encode("Guten Tag", "de")
