"""Piper's first audio when a sentence is decoded in windows (piper_split) against Piper's
whole-sentence synthesis, interleaved in one run, in the engine's process set-up; plus the
decoder's receptive field (windowed vs whole decode for a range of context frames, no noise)
and the level against Piper's per-sentence normalisation.

    .venv/bin/python bench/bench_piper_windows.py [ROUNDS]
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.engines import threads  # noqa: E402

threads.configure_process()  # before onnxruntime loads, as the engine does

import numpy as np  # noqa: E402

from app.audio import clip  # noqa: E402
from app.engines.tts import piper_split  # noqa: E402
from app.engines.tts.piper import HEADROOM, PiperBackend, _load_voice, bundled_voice  # noqa: E402

# The peer bench's first sentences, then a few more for the level comparison.
SENTENCES = ["I have a bad feeling about this.", "The weather today is sunny and warm.",
             "Shields are up.", "The quick brown fox jumps over the lazy dog.",
             "Do you want me to turn on the lights in the kitchen?", "It is twenty past nine.",
             "Tomorrow it will rain in the afternoon, so the roads may be wet."]


def first_and_total(chunks) -> tuple[float, float, np.ndarray]:
    t0 = time.perf_counter()
    first, got = None, []
    for c in chunks:
        first = first if first is not None else time.perf_counter() - t0
        got.append(c)
    return first, time.perf_counter() - t0, np.concatenate(got)


def receptive_field(voice, parts: piper_split.SplitVoice) -> None:
    ids = voice.phonemes_to_ids(voice.phonemize(SENTENCES[6])[0])
    z = parts.latents(ids, np.array([0.0, voice.config.length_scale, 0.0], dtype=np.float32))
    whole = parts.decoder.run(None, {parts.latent: z})[0].reshape(-1)
    fitted = parts.context
    for parts.context in (2, 4, 8, 12, 16, 24):
        joined = np.concatenate(list(parts.windows(z, threading.Lock())))
        print(f"context {parts.context:2d} frames: max |windowed - whole| {np.max(np.abs(joined - whole)):.1e}")
    parts.context = fitted
    print(f"context fitted at load: {fitted} frames")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    from piper import SynthesisConfig

    import tempfile

    cache = Path(tempfile.mkdtemp(prefix="kaytoo-piper-split-"))
    piper_split.write_cache(bundled_voice(), cache)
    windowed = PiperBackend(cache_dir=cache)
    windowed.load()
    shutil.rmtree(cache)  # the sessions are loaded
    whole = _load_voice(bundled_voice())
    config = SynthesisConfig(volume=HEADROOM)
    receptive_field(whole, windowed._split)
    kinds = {"whole sentence (Piper)": lambda s: (c.audio_float_array for c in whole.synthesize(s, config)),
             "windows": lambda s: windowed.stream(s, None)}
    first: dict[str, list[float]] = {k: [] for k in kinds}
    total: dict[str, list[float]] = {k: [] for k in kinds}
    load0 = os.getloadavg()
    for i in range(rounds):
        order = list(kinds) if i % 2 == 0 else list(kinds)[::-1]
        for k in order:
            f, t, _ = first_and_total(kinds[k](SENTENCES[i % 2]))
            first[k].append(f)
            total[k].append(t)
    load1 = os.getloadavg()
    print(f"# bench_piper_windows: {rounds} interleaved rounds of the peer bench's two first sentences, "
          f"load {load0[0]:.2f} {load0[1]:.2f} → {load1[0]:.2f} {load1[1]:.2f}")
    base_f, base_t = (statistics.median(first["whole sentence (Piper)"]),
                      statistics.median(total["whole sentence (Piper)"]))
    for k in kinds:
        f, t = statistics.median(first[k]), statistics.median(total[k])
        print(f"{k:24s} first audio {f * 1000:6.1f} ms ×{f / base_f:.2f}   whole sentence {t * 1000:6.1f} ms ×{t / base_t:.2f}")
    print("level, windows vs Piper's per-sentence normalisation (RMS dB, median of 3 each):")
    for s in SENTENCES:
        d = [clip.rms_dbfs(first_and_total(kinds["windows"](s))[2])
             - clip.rms_dbfs(first_and_total(kinds["whole sentence (Piper)"](s))[2]) for _ in range(3)]
        print(f"  {statistics.median(d):+5.1f} dB  {s}")


if __name__ == "__main__":
    main()
