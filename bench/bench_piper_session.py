"""Piper's onnxruntime session with and without its memory arena, in the engine's process set-up
(engines.threads.configure_process: passive OpenMP waits, two malloc arenas, the fixed mmap
threshold, 1 MB when the arena was first measured, 32 MB now). Interleaved syntheses of the peer bench's two first sentences; medians and the ratio.

    .venv/bin/python bench/bench_piper_session.py [ROUNDS]
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.engines import threads  # noqa: E402

threads.configure_process()  # before onnxruntime loads, as the engine does

from app.engines.tts.piper import _load_voice, bundled_voice  # noqa: E402

SENTENCES = ["I have a bad feeling about this.", "The weather today is sunny and warm."]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    kinds = {"no arena (before)": _load_voice(bundled_voice(), arena=False),
             "arena (now)": _load_voice(bundled_voice(), arena=True)}
    times: dict[str, list[float]] = {k: [] for k in kinds}
    load0 = os.getloadavg()[0]
    for i in range(rounds):
        order = list(kinds) if i % 2 == 0 else list(kinds)[::-1]
        for k in order:
            t = time.perf_counter()
            list(kinds[k].synthesize(SENTENCES[i % 2]))
            times[k].append(time.perf_counter() - t)
    base = statistics.median(times["no arena (before)"])
    print(f"# bench_piper_session: {rounds} interleaved rounds, load {load0:.1f} → {os.getloadavg()[0]:.1f}")
    for k, v in times.items():
        m = statistics.median(v)
        print(f"{k:18s} median {m * 1000:6.1f} ms   ×{m / base:.2f} of no arena")


if __name__ == "__main__":
    main()
