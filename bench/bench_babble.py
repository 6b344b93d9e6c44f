"""Other talkers at 5 dB: three ways tried to hear the user over them, against the app's decoding.

    .venv/bin/python bench/bench_babble.py [--every 8] [--conditions babble@5,clean]

The command bench's babble (bench/commands/noise.py) is three other utterances of its corpus,
each about 10 dB under the user's command, over the whole clip. The app hears 27 % of those
commands right (bench/results/stt.md). Each way below runs before or instead of the app's
decoding (``app+looks`` of bench_commands.py) on the same clips, scored as the app does it
(n-best + confidence, "Did you mean" below the app's threshold):

- ``gate``: a time-frequency level gate. Bins more than 10 dB under the clip's loud level
  (99.5th percentile) are cut by 30 dB; the user is the loud talker.
- ``voicefilter``: target-speaker extraction, VoiceFilter-Lite (open-voicefilter-lite, ONNX
  weights in its wheel, Apache-2.0), enrolled on three other clean utterances of the same voice:
  a stand-in for the user's earlier turns. Its SI-SDR gain against the clean command is printed.
- ``closed``: no free decoding. Every distinct sentence of the corpus is a candidate, scored by
  Whisper's forced alignment (mean log-probability of its tokens) on the clip, less its score on
  the half second before the user speaks (the room alone, ``closed-lead``) or on silence
  (``closed-silence``); the best is acted on. The exact sentence is always among the candidates,
  so this is a ceiling for a grammar-driven search, not what one would reach.

Prints, per condition, each way's accuracy and its difference from the app's in the same run,
and the seconds per clip with their ratio.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench_commands as bc  # noqa: E402
from bench.commands.noise import LEAD_S  # noqa: E402
from bench.commands.score import Judge  # noqa: E402
from app.assistant.assistant import CONFIRM_BELOW  # noqa: E402
from app.audio.clip import STT_RATE  # noqa: E402

APP = "app+looks"


def level_gate(audio: np.ndarray, below_db: float = 10.0, cut_db: float = 30.0) -> np.ndarray:
    from scipy.signal import istft, stft

    shape = dict(fs=STT_RATE, nperseg=400, noverlap=240)    # Whisper's 25 ms window, 10 ms hop
    _, _, spec = stft(audio, **shape)
    level = 20 * np.log10(np.abs(spec) + 1e-9)
    gain = np.where(level > np.percentile(level, 99.5) - below_db, 1.0, 10 ** (-cut_db / 20))
    _, out = istft(spec * gain, **shape)
    return out[:len(audio)].astype(np.float32)


class VoiceFilter:
    """VoiceFilter-Lite, enrolled per utterance on other clean utterances of its voice."""

    def __init__(self, items: list):
        from voicefilter_lite import StreamingVoiceFilter

        self.filter = StreamingVoiceFilter()
        self.by_voice: dict[str, list] = {}
        for u, v in items:
            self.by_voice.setdefault(v, []).append(u)

    def __call__(self, audio: np.ndarray, u, voice: str) -> np.ndarray:
        earlier = [o for o in self.by_voice[voice] if o.id != u.id][:3]
        self.filter.set_enrollment(np.concatenate([bc.clean_audio(o, voice) for o in earlier]))
        hop = self.filter.hop_length
        return np.concatenate([self.filter.step(audio[i:i + hop])
                               for i in range(0, len(audio) // hop * hop, hop)])


def si_sdr(reference: np.ndarray, estimate: np.ndarray, max_lag: int = 1200) -> float:
    """Scale-invariant signal-to-distortion ratio (dB) of ``estimate`` against ``reference``, at
    the best lag up to ``max_lag`` samples (a streaming filter delays its output)."""
    best = -np.inf
    for lag in range(0, max_lag, 40):
        est = estimate[lag:lag + len(reference)]
        ref = reference[:len(est)]
        target = ref * (np.dot(est, ref) / (np.dot(ref, ref) or 1.0))
        best = max(best, 10 * np.log10(np.dot(target, target) / (np.sum((est - target) ** 2) + 1e-12)))
    return float(best)


class ClosedSet:
    """Whisper as a judge of candidate sentences: forced-alignment token log-probabilities."""

    def __init__(self, stt, sentences: list[str]):
        from faster_whisper.tokenizer import Tokenizer

        self.stt, self.sentences = stt, sentences
        fw = stt._model
        self.tokenizer = Tokenizer(fw.hf_tokenizer, False, task="transcribe", language="en")
        self.tokens = [self.tokenizer.encode(" " + s) for s in sentences]
        self.silence = self.scores(np.zeros(STT_RATE, np.float32))

    def scores(self, audio: np.ndarray, batch: int = 64) -> np.ndarray:
        import ctranslate2

        encoded, frames = self.stt._encode(self.stt._features(audio), 20.0)
        encoded = np.array(encoded)
        out: list[float] = []
        for i in range(0, len(self.tokens), batch):
            chunk = self.tokens[i:i + batch]
            view = ctranslate2.StorageView.from_array(np.repeat(encoded, len(chunk), axis=0))
            for r in self.stt._model.model.align(view, self.tokenizer.sot_sequence, chunk,
                                                 [frames // 2] * len(chunk)):
                out.append(float(np.mean(np.log(np.asarray(r.text_token_probs) + 1e-9))))
        return np.array(out)

    def best(self, audio: np.ndarray) -> dict[str, str]:
        speech = self.stt._trim(audio)
        heard = self.scores(audio if speech is None else speech)
        room = self.scores(audio[:int(LEAD_S * STT_RATE)])
        return {"closed-lead": self.sentences[int(np.argmax(heard - room))],
                "closed-silence": self.sentences[int(np.argmax(heard - self.silence))]}


def run(every: int, conditions: list[str], ways: list[str]) -> str:
    items, everything = bc.corpus(every), bc.corpus(1)
    stt = bc.stt_for(APP)
    stt.load()
    prompt = bc.prompt_for(APP)
    fronts: dict[str, Callable] = {"app": lambda a, u, v: a}
    if "gate" in ways:
        fronts["gate"] = lambda a, u, v: level_gate(a)
    if "voicefilter" in ways:
        fronts["voicefilter"] = VoiceFilter(everything)
    closed = ClosedSet(stt, sorted({u.text for u, _ in everything})) if "closed" in ways else None
    lines = [f"{len(items)} utterances (every {every}th), the app's path, ask below {CONFIRM_BELOW}",
             "| condition | way | right | vs app | s/clip | ×app |", "|---|---|---|---|---|---|"]
    with Judge(confirm_below=CONFIRM_BELOW) as judge:
        for cond in conditions:
            right: dict[str, int] = {}
            seconds: dict[str, list[float]] = {}
            gains: list[float] = []         # the target-speaker filter's SI-SDR gain, dB
            for u, v in items:
                audio = bc.heard_as(u, v, cond, everything)
                for way, front in fronts.items():
                    t0 = time.perf_counter()
                    heard = front(audio, u, v)
                    tr = stt.transcribe(heard, prompt=prompt)
                    seconds.setdefault(way, []).append(time.perf_counter() - t0)
                    if way == "voicefilter" and cond != "clean":
                        clean = bc.heard_as(u, v, "clean", everything)
                        gains.append(si_sdr(clean, heard) - si_sdr(clean, audio))
                    judge.reset()
                    right[way] = right.get(way, 0) + judge.turn(u, tr.text, tr.alternatives,
                                                               tr.confidence).ok
                if closed:
                    t0 = time.perf_counter()
                    picks = closed.best(audio)
                    for way, text in picks.items():
                        seconds.setdefault(way, []).append(time.perf_counter() - t0)   # one scoring, both
                        judge.reset()
                        right[way] = right.get(way, 0) + judge.turn(u, text).ok
            base, base_s = right["app"] / len(items), statistics.median(seconds["app"])
            for way in right:
                acc, s = right[way] / len(items), statistics.median(seconds[way])
                lines.append(f"| {cond} | {way} | {acc:.1%} | {acc - base:+.1%} | {s:.2f} | "
                             f"×{s / base_s:.1f} |")
            if gains:
                lines.append(f"| {cond} | voicefilter SI-SDR gain | median {statistics.median(gains):+.1f} dB, "
                             f"range {min(gains):+.1f} to {max(gains):+.1f} | | | |")
            print("\n".join(lines[-len(right) - bool(gains):]), flush=True)
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=int, default=8)
    ap.add_argument("--conditions", default="babble@5,clean")
    ap.add_argument("--ways", default="gate,voicefilter,closed")
    args = ap.parse_args()
    print(run(args.every, args.conditions.split(","), args.ways.split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
