"""Time to first audio per TTS tier: streamed sentence by sentence vs the whole reply at once.

For a 3-sentence reply, through the real chain (resampling to 48 kHz included), one tier at a time:
- streamed: the reply split by app.text.sentences, first audio as the chain reports it;
- whole:    the reply synthesized in one piece by the backend and only then played (what a
            non-streaming assistant does), i.e. the time until all of its audio exists.
The ratio streamed/whole is the figure; medians of N runs (default 7) after one warm-up run.
gTTS cannot be reached here, so its row is how fast it fails (cold check, cached check, stream
error) and what the fallback to pyttsx3 adds. XTTS runs only if its tier and model are present.

    .venv/bin/python bench/bench_tts_first_audio.py [N]
"""
from __future__ import annotations

import contextlib
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("KAYTOO_HOME", tempfile.mkdtemp(prefix="kaytoo-bench-"))

import numpy as np  # noqa: E402

from app.audio.effects import DroidEffect  # noqa: E402
from app.text.sentences import prepare  # noqa: E402
from app.engines.tts.base import TtsBackend  # noqa: E402
from app.engines.tts.chain import TtsChain  # noqa: E402

REPLY = ("I have a bad feeling about this. The probability of failure is 12.5% at best. "
         "I would recommend that we do not go in there.")
N = max(5, int(sys.argv[1]) if len(sys.argv) > 1 else 7)


def chain_for(backend: TtsBackend, effect=None) -> TtsChain:
    # Generous deadlines: this measures speed, not the fallback policy.
    return TtsChain([backend], deadlines={backend.name: 60.0}, starve_slack_s=60.0, effect=effect)


FAILED_RUNS: dict[str, int] = {}


def run(chain: TtsChain, sentences: list[str]) -> tuple[float, float, float]:
    """One reply; a run in which every tier failed is counted and repeated (at most 20 times):
    pyttsx3's espeak driver intermittently returns no audio when driven from worker threads."""
    from app.errors import NothingCouldServe

    for _ in range(20):
        speech = chain.speak(sentences)
        try:
            audio = sum(len(c) for c in speech)
        except NothingCouldServe as e:
            FAILED_RUNS[str(e)] = FAILED_RUNS.get(str(e), 0) + 1
            chain._failed.clear()  # a benchmark retries at once instead of waiting out the memory
            continue
        r = speech.report
        return r.first_audio_s, r.total_s, audio / r.sample_rate
    raise RuntimeError("twenty failed runs in a row")


def measure(backend: TtsBackend, effect=None) -> dict:
    sentences = prepare(REPLY)
    assert len(sentences) == 3, sentences
    chain = chain_for(backend, effect)
    run(chain, sentences)  # warm-up (first inference allocates)
    streamed = [run(chain, sentences) for _ in range(N)]
    first = statistics.median(s[0] for s in streamed)
    whole_ready = statistics.median(synthesize_whole(backend, " ".join(sentences), effect)
                                    for _ in range(N))
    return {"first": first, "whole": whole_ready, "ratio": first / whole_ready,
            "total": statistics.median(s[1] for s in streamed), "audio": streamed[0][2]}


def synthesize_whole(backend: TtsBackend, text: str, effect=None) -> float:
    """Seconds until the whole reply is synthesized, resampled (and processed) in one piece."""
    from app.audio.clip import resample_array

    t = time.perf_counter()
    audio = np.concatenate(list(backend.stream(text, None)))
    audio = resample_array(audio, backend.sample_rate, 48000)
    if effect is not None:
        effect(48000).process(audio)
    return time.perf_counter() - t


def load_time(make) -> float:
    t = time.perf_counter()
    make().load()
    return time.perf_counter() - t


def gtts_fail_fast(local: TtsBackend) -> dict:
    from app.engines.tts.gtts import GttsBackend

    cold, cached, stream_fail = [], [], []
    for _ in range(N):
        b = GttsBackend()
        t = time.perf_counter()
        reason = b.check()
        cold.append(time.perf_counter() - t)
        t = time.perf_counter()
        b.check()
        cached.append(time.perf_counter() - t)
        t = time.perf_counter()
        try:
            list(GttsBackend().stream("Hello there.", None))
        except Exception:
            pass
        stream_fail.append(time.perf_counter() - t)
    sentences = prepare(REPLY)
    alone = TtsChain([local], deadlines={"pyttsx3": 60.0})
    run(alone, sentences)
    base = [run(alone, sentences)[0] for _ in range(N)]
    # A fresh chain and gTTS backend each time: the cold reachability check is part of the cost.
    fell = [run(TtsChain([GttsBackend(), local], deadlines={"gtts": 3.0, "pyttsx3": 60.0}),
                sentences)[0] for _ in range(N)]
    return {"reason": reason, "cold": statistics.median(cold), "cached": statistics.median(cached),
            "stream": statistics.median(stream_fail), "pyttsx3": statistics.median(base),
            "fallback": statistics.median(fell)}


def xtts_backend() -> tuple[TtsBackend | None, str]:
    import importlib.util

    if importlib.util.find_spec("app.engines.tts.xtts") is None:
        return None, "app/engines/tts/xtts.py is not there yet"
    from app import paths
    from app.engines.core import make_backend
    from app.settings.model import Settings

    settings = Settings()
    settings.tts.xtts_consent = True
    backend = make_backend("xtts", paths.resolve(), settings)
    reason = backend.check()
    return (None, reason) if reason else (backend, "")


def effect_cost() -> float:
    """Seconds of CPU per second of 48 kHz audio for the droid effect, streamed in 0.1 s blocks."""
    rate = 48000
    x = (0.3 * np.random.default_rng(0).standard_normal(rate * 10)).astype(np.float32)
    times = []
    for _ in range(N):
        fx = DroidEffect(rate)
        t = time.perf_counter()
        for i in range(0, len(x), rate // 10):
            fx.process(x[i:i + rate // 10])
        times.append((time.perf_counter() - t) / 10)
    return statistics.median(times)


def main() -> None:
    from functools import partial

    from app.engines.tts import piper_split
    from app.engines.tts.piper import PiperBackend, bundled_voice
    from app.engines.tts.pyttsx3 import Pyttsx3Backend

    # Piper as the engine runs it after its first start: the split graphs in the cache.
    cache = Path(os.environ["KAYTOO_HOME"]) / "piper-split"
    piper_split.write_cache(bundled_voice(), cache)
    windowed = partial(PiperBackend, cache_dir=cache)

    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"load average {os.getloadavg()[0]:.1f} at start; N={N}")
    rows = []
    # pyttsx3's espeak driver prints "Audio saved to ..." for every sentence: keep it out of the table.
    with contextlib.redirect_stdout(io.StringIO()):
        load = statistics.median(load_time(windowed) for _ in range(3))
        piper = windowed()
        rows.append(("piper", load, measure(piper)))
        rows.append(("piper + droid", load, measure(piper, DroidEffect)))
        # One pyttsx3 backend for the whole run: pyttsx3's espeak driver has one process-wide
        # callback, and a dropped engine clears it, silencing the next one.
        local = Pyttsx3Backend()
        rows.append(("pyttsx3", load_time(lambda: local), measure(local)))
        xtts, why = xtts_backend()
        if xtts is not None:
            rows.append(("xtts", load_time(lambda: xtts), measure(xtts)))
        g = gtts_fail_fast(local)
    print("\nper tier, 3-sentence reply, medians (seconds)")
    print(f"{'tier':14} {'load':>6} {'first audio, streamed':>22} {'whole reply ready':>18} "
          f"{'streamed/whole':>15} {'streamed total':>15} {'audio':>6}")
    for name, load, m in rows:
        print(f"{name:14} {load:6.2f} {m['first']:22.3f} {m['whole']:18.3f} {m['ratio']:15.2f} "
              f"{m['total']:15.3f} {m['audio']:6.2f}")
    if xtts is None:
        print(f"xtts: skipped ({why})")
    print(f"\ngtts offline ({g['reason']}):")
    print(f"  check() cold {g['cold'] * 1000:.1f} ms, cached {g['cached'] * 1000:.3f} ms, "
          f"stream() error {g['stream'] * 1000:.1f} ms")
    print(f"  first audio, chain gtts→pyttsx3 {g['fallback']:.3f} s vs pyttsx3 alone "
          f"{g['pyttsx3']:.3f} s: x{g['fallback'] / g['pyttsx3']:.2f}")
    for reason, count in FAILED_RUNS.items():
        print(f"repeated {count} run(s) that failed: {reason}")
    cost = effect_cost()
    print(f"\ndroid effect: {cost * 1000:.2f} ms CPU per second of 48 kHz audio (RTF {cost:.4f})")


if __name__ == "__main__":
    main()
