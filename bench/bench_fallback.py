"""Cost of falling back: time to first audio when the asked-for tier cannot serve.

Measures, in one run and on the real EngineCore: Piper and the system voice asked for directly
(baselines), gTTS asked for while offline (falls back to the next tier) and XTTS asked for with no
model or consent (falls back to Piper). The ratio against the tier that finally spoke, asked for
directly, says what the fallback adds to time to first audio. Median of N runs after a warm-up.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile

os.environ.setdefault("KAYTOO_HOME", tempfile.mkdtemp(prefix="kaytoo-bench-"))

from app import paths as paths_mod  # noqa: E402
from app.engines.core import EngineCore  # noqa: E402
from app.settings import Settings  # noqa: E402

TEXT = "Affirmative. The probability of rain is twelve percent. I would take a coat anyway."
N = int(sys.argv[1]) if len(sys.argv) > 1 else 7


def first_audio(core: EngineCore, tier: str) -> tuple[float, str, list[str]]:
    core.chain._failed.clear()  # measure the fallback itself, not the remembered skip
    speech = core.speak(TEXT, tier=tier)
    for _ in speech:
        pass
    r = speech.report
    return r.first_audio_s, r.tier, [f"{f.tier}: {f.reason}" for f in r.fallbacks]


def main() -> None:
    core = EngineCore(paths_mod.resolve().ensure(), Settings())
    rows = {}
    for tier in ("piper", "pyttsx3", "gtts", "xtts"):
        first_audio(core, tier)  # warm-up: loads models
        runs = [first_audio(core, tier) for _ in range(N)]
        rows[tier] = (statistics.median(r[0] for r in runs), runs[0][1], runs[0][2])
    print(f"time to first audio, median of {N} (seconds); baseline: the tier that spoke, asked directly")
    for tier, (t, spoke, falls) in rows.items():
        base = rows[spoke][0]
        print(f"  asked {tier:7} -> spoke {spoke:7} {t:6.3f} s  x{t / base:4.2f} vs {spoke} direct"
              + (f"   [{'; '.join(falls)}]" if falls else ""))


if __name__ == "__main__":
    main()
