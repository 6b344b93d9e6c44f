"""Wrong actions and "Did you mean" on real transcripts: the command bench's cached speech-to-text
output (text, n-best, confidence per clip) through the assistant.

    .venv/bin/python bench/bench_grammar_audio.py [--config beam5+prompt] [--out bench/results/assistant.md]

bench/bench_commands.py (the audio command bench) caches, per utterance, voice and noise condition,
what Whisper heard: its text, its n-best list and a confidence. This replays those transcripts,
without decoding again, through (1) the regex matcher the grammar replaced (top text), (2) the
grammar on the top text only, (3) the assistant as the app runs it: n-best rescoring plus "Did you
mean" below the confidence threshold. Per condition group (clean, 15 dB, 5 dB): intent accuracy
(intent + key value), wrong actions per 100 turns (a change done that was not asked for) and the
share of turns answered with a question.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.assistant.assistant import CONFIRM_BELOW  # noqa: E402
from bench.bench_grammar import CHANGES, old_matcher  # noqa: E402

CACHE = Path(os.environ.get("KAYTOO_BENCH_CACHE", Path.home() / ".cache" / "kaytoo-bench")) / "commands"


def group(condition: str) -> str:
    return "clean" if condition == "clean" else (
        f"{condition.split('@')[1]} dB" if "@" in condition else condition)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="beam5+prompt", help="which decoder's cached transcripts")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "assistant.md")
    args = ap.parse_args()
    try:
        from bench.commands.corpus import ALL_VOICES, build
        from bench.commands.score import Judge
    except ImportError:
        print("bench/commands (the audio command bench) is not in this tree", file=sys.stderr)
        return 2
    path = CACHE / f"transcripts-{args.config}.json"
    if not path.exists():
        print(f"no cached transcripts at {path}: run bench/bench_commands.py first", file=sys.stderr)
        return 2
    cache = json.loads(path.read_text())
    by_id = {u.id: u for u in build()}
    voices = list(ALL_VOICES)
    old = old_matcher()
    judge = Judge()
    stats: dict[str, dict[str, list[int]]] = {}
    try:
        for key, entry in cache.items():
            u = by_id.get(key.split("|")[0])
            if u is None:
                continue
            row = stats.setdefault(group(key.split("|")[2]), {m: [0, 0, 0, 0] for m in
                                                              ("regex", "top", "app")})
            for mode in ("regex", "top", "app"):
                ok, wrong, asked = turn(mode, u, entry, judge, old, voices)
                row[mode] = [row[mode][0] + ok, row[mode][1] + wrong, row[mode][2] + asked,
                             row[mode][3] + 1]
    finally:
        judge.close()
    lines = [f"## Wrong actions on real transcripts, {args.config} (bench/bench_grammar_audio.py)", "",
             f"Machine: {os.cpu_count()} cores, {platform.system()}, Python "
             f"{platform.python_version()}. Transcripts: {path.name} from bench/bench_commands.py "
             f"({len(cache)} clips cached at the time of the run). 'Did you mean' below "
             f"{CONFIRM_BELOW}. Accuracy = intent + key value of what was done or asked about.", "",
             "| audio | clips | regex: accuracy / wrong per 100 | grammar, top text: accuracy / "
             "wrong per 100 | app (n-best + confidence): accuracy / wrong per 100 / asked |",
             "|---|---|---|---|---|"]
    for name, row in sorted(stats.items()):
        n = row["app"][3]
        cell = {m: f"{row[m][0] / n:.1%} / {row[m][1] * 100 / n:.1f}" for m in row}
        lines.append(f"| {name} | {n} | {cell['regex']} | {cell['top']} | {cell['app']} / "
                     f"{row['app'][2] / n:.1%} |")
    print("\n".join(lines))
    from bench.results_section import write_section

    write_section(args.out, f"bench_grammar_audio {args.config}", "\n".join(lines))
    return 0


def turn(mode: str, u, entry: dict, judge, old, voices: list[str]) -> tuple[bool, bool, bool]:
    """(understood right, a wrong change done, asked "Did you mean"). The grammar's turns are the
    command bench's judge (bench/commands/score.py): one assistant, reset before each."""
    from bench.bench_grammar import key_of

    if mode == "regex":
        want = set(u.intents)
        wanted_key = (u.key[0], float(u.key[1]) if u.key[0] == "seconds" else u.key[1]) if u.key else None
        got = old.match(entry["text"], voices)
        key = key_of(got.name, got.slots, voices)
        ok = got.name in want and (wanted_key is None or key == wanted_key)
        acts = got.name in CHANGES and (key is not None or got.name == "timer_cancel")
        return ok, bool(acts and not ok), False
    verdict = (judge.turn(u, entry["text"]) if mode == "top" else
               judge.turn(u, entry["text"], entry["alternatives"], entry["confidence"]))
    return verdict.ok, verdict.wrong, verdict.asked


if __name__ == "__main__":
    sys.exit(main())
