"""The command bench: what users say, in many voices and noises, heard and understood.

    .venv/bin/python bench/bench_commands.py [--configs greedy,beam5+prompt] [--every 1]
                                             [--conditions clean,white@15,...] [--score-only]

307 utterances (bench/commands/corpus.py: every command kind in its phrasings, numbers, added
voice names, the misses of issue 9) are spoken by eight voices (espeak-ng ×3, Piper joe at three
speeds, Kokoro-82M with two Japanese voice styles speaking English), each utterance by one voice in
turn, and heard clean and with white, pink and babble noise at 15 and 5 dB SNR. Audio is rendered
once into ~/.cache/kaytoo-bench/commands (KAYTOO_BENCH_CACHE overrides); nothing is downloaded.

Each decoder configuration's transcripts (text, n-best, confidence, seconds) are cached in
transcripts-<config>.json there, keyed by utterance, voice and condition, so `--score-only`
re-scores them in seconds (e.g. after the assistant's grammar changed). Scoring calls the
project's real ``app.assistant.Assistant`` (one for the run, reset before every utterance) on
each transcript, twice: on the top text alone, and as the app does, with the n-best list and the
confidence, where a weak guess at a change is asked about ("Did you mean", below each --confirm
threshold). Right = intent plus key value (of the change asked about, when it asked).
Reports per condition: intent accuracy, WER of the hypothesis acted on (twice: "strict", the
project's own normaliser, which counts a dropped "uh" or "12" for "twelve" as errors; and
"Whisper-normalised", with Whisper's English normaliser as its papers and the Open ASR leaderboard
score), wrong actions per 100 turns, share asked and STT latency (median), each against the
same-run baseline (greedy tiny.en).
Transcripts are cached raw (``spell_name=False``); ``--names`` adds, for each configuration, rows
with the app's spelling of its own name (app/engines/stt/names.py) applied, as the app does.
"app+<front>" configurations put a front end of bench/commands/fronts.py (noise suppression, a
loudest-talker focus; all rejected) before the app's decoding; "app+prompt-<name>" ones decode
with another command paragraph in the prompt (``PROMPTS``; "until-2026-12-02" is the app's old one).
"app+talker" adds the nearest-talker rule (a quieter talker's sentences dropped,
app/engines/stt/talkers.py), "app+looks" (the app's decoding since 2026-12-03) also looks again
at an unsure guess; ``--cost app+looks,app+talker`` times two configurations in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import atomic  # noqa: E402
from app.assistant.assistant import CONFIRM_BELOW  # noqa: E402
from app.engines.stt.prompt import COMMANDS  # noqa: E402
from app.engines.core import STT_LOOK_AGAIN_BELOW, STT_MORE_LOOKS  # noqa: E402
from app.engines.stt.talkers import QUIET_DB  # noqa: E402
from bench.commands import noise, voices  # noqa: E402
from bench.commands.fronts import FRONTS  # noqa: E402
from bench.commands.corpus import ALL_VOICES, USER_VOICES, Utterance, build  # noqa: E402
from bench.commands.score import Judge, whisper_words, word_errors  # noqa: E402

CACHE = Path(os.environ.get("KAYTOO_BENCH_CACHE", Path.home() / ".cache" / "kaytoo-bench")) / "commands"

# name -> model, beam, n-best, prompt on, VAD padding (ms)
CONFIGS: dict[str, dict] = {
    "greedy": dict(model="tiny.en", beam=1, nbest=1, prompt=False, pad=250),
    "greedy+prompt": dict(model="tiny.en", beam=1, nbest=1, prompt=True, pad=250),
    "beam5": dict(model="tiny.en", beam=5, nbest=5, prompt=False, pad=250),
    "beam5+prompt": dict(model="tiny.en", beam=5, nbest=5, prompt=True, pad=250),
    "beam5+prompt+pad400": dict(model="tiny.en", beam=5, nbest=5, prompt=True, pad=400),
    "beam5+words": dict(model="tiny.en", beam=5, nbest=5, prompt="words", pad=250),
    "base+prompt": dict(model="base", beam=5, nbest=5, prompt=True, pad=250),
    # The app's decoding with Whisper base in place of tiny.en (a bigger model on babble).
    "base+prompt+win20": dict(model="base", beam=5, nbest=5, prompt=True, pad=250, window=20),
    # A shorter encoder window (whisper.cpp's audio_ctx): s of input, at least the speech.
    "beam5+prompt+win20": dict(model="tiny.en", beam=5, nbest=5, prompt=True, pad=250, window=20),
    "beam5+prompt+win15": dict(model="tiny.en", beam=5, nbest=5, prompt=True, pad=250, window=15),
    "beam5+prompt+win10": dict(model="tiny.en", beam=5, nbest=5, prompt=True, pad=250, window=10),
    "beam5+prompt+win6": dict(model="tiny.en", beam=5, nbest=5, prompt=True, pad=250, window=6),
    "beam5+prompt+win4": dict(model="tiny.en", beam=5, nbest=5, prompt=True, pad=250, window=4),
}
# A front end (bench/commands/fronts.py: noise suppression, a focus on the loudest talker) in
# front of the app's decoding; tried and rejected.
_APP = CONFIGS["beam5+prompt+win20"]
CONFIGS.update({f"app+{f}": dict(_APP, front=f) for f in FRONTS})
# Tried as a prompt: the vocabulary as a word list, no whole command a noise could turn into.
WORDS_PROMPT = ("Kaytoo: timer, minutes, seconds, hours, remind, reminder, cancel, stop, repeat, "
                "slower, faster, louder, softer, volume, voice, voices, library, video, panel, "
                "time, day, week, date, thanks. ")
# The app's command paragraph until 2026-12-02 (transcripts cached before then, under any
# "prompt" configuration, were decoded with it), and the paragraphs tried against it for issue
# 9's frequent clean confusions: "Timer for" heard as "Time for", "Start a … timer" as "Start at",
# "Count down" as "Calm down", "date" as "day". "starts+date" won and is the app's paragraph now.
BEFORE = ("Kaytoo, what time is it? What day of the week is it? Set a timer for five minutes. "
          "Remind me to check the oven. Cancel the timer. Stop. Repeat that. Speak slower, "
          "faster, louder, softer. List the voices. Open the voice library or the video panel.")
_TIMERS = ("Kaytoo, what time is it? What's the date? What day of the week is it? Timer for five "
           "minutes. Start a ten minute timer. Count down one minute. Remind me to check the oven. "
           "Cancel the timer. Stop. Repeat that. Speak slower, faster, louder, softer. List the "
           "voices. Open the voice library or the video panel.")
_STARTS = "Set a timer for five minutes. Timer for five minutes. Start a timer. Count down."
PROMPTS = {
    "until-2026-12-02": BEFORE,
    "timers": _TIMERS,      # tiny.en copies the "ten" into "seven minutes"
    # a named timer as the bench's timers are named ("pasta" heard as "faster"): fits the bench
    "timers+pasta": _TIMERS.replace("Start a ten minute timer.", "Start a ten minute pasta timer."),
    # the command starts as they begin a sentence, no new numbers
    "starts": BEFORE.replace("Set a timer for five minutes.", _STARTS),
    "starts+date": COMMANDS,
    # faster-whisper's hotwords are words put before the prompt (get_prompt): the same thing
    "hot": "Timer for, count down, start a timer, date. " + BEFORE,
}
CONFIGS.update({f"app+prompt-{p}": dict(_APP, prompt=p) for p in PROMPTS})
# The app's decoding since 2026-12-03: sentences a quieter talker said are dropped
# (app/engines/stt/talkers.py); the configurations above keep every sentence.
CONFIGS["app+talker"] = dict(_APP, talker=QUIET_DB)
# A second look for a merged n-best list: the same, over Whisper's full 30 s window.
CONFIGS["app+talker+win30"] = dict(CONFIGS["app+talker"], window=None)
CONFIGS["app+talker+win15"] = dict(CONFIGS["app+talker"], window=15)
CONFIGS["app+talker+noprompt"] = dict(CONFIGS["app+talker"], prompt=False)
# The app's decoding since 2026-12-03 (later): an unsure guess is looked at again, over 30 s and
# without the prompt (core.STT_MORE_LOOKS), all n best to the grammar.
CONFIGS["app+looks"] = dict(CONFIGS["app+talker"], looks=STT_MORE_LOOKS, again=STT_LOOK_AGAIN_BELOW)
BASELINE = "greedy"
# The second pass: base re-hears only what the first pass was unsure of.
CASCADE_FIRST, CASCADE_SECOND, CASCADE_MAX = "beam5+prompt", "base+prompt", 0.6


def corpus(every: int) -> list[tuple[Utterance, str]]:
    names = list(voices.VOICES)
    # Voices rotate, shifted every round, so that any --every still hears all of them.
    return [(u, names[(i + i // len(names)) % len(names)]) for i, u in enumerate(build())
            if i % every == 0]


def key(u: Utterance, voice: str, cond: str) -> str:
    return f"{u.id}|{voice}|{cond}|{zlib.crc32(u.text.encode()):08x}"


def clean_audio(u: Utterance, voice: str) -> np.ndarray:
    return voices.cached(CACHE / "audio", voice, f"{u.id}-{zlib.crc32(u.text.encode()):08x}", u.text)


def heard_as(u: Utterance, voice: str, cond: str, items: list[tuple[Utterance, str]]) -> np.ndarray:
    others: list[np.ndarray] = []
    if cond.startswith("babble"):
        rng = np.random.default_rng(noise.seed(u.id, "babble"))
        for j in rng.choice(len(items), 4, replace=False):
            ou, ov = items[int(j)]
            if ou.id != u.id and len(others) < 3:
                others.append(clean_audio(ou, ov))
    return noise.condition(clean_audio(u, voice), cond, key(u, voice, cond), others)


def load_cache(config: str) -> dict:
    path = CACHE / f"transcripts-{config}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def save_cache(config: str, data: dict) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    atomic.write_text(CACHE / f"transcripts-{config}.json", json.dumps(data, indent=0))


def stt_for(config: str):
    """The WhisperStt a decoder configuration describes (transcripts cached raw: no name fix)."""
    from app.engines.models import ModelStore
    from app.engines.stt.whisper import WhisperStt

    c = CONFIGS[config]
    return WhisperStt(ModelStore(CACHE / "models").path_for(c["model"]), beam_size=c["beam"],
                      nbest=c["nbest"], pad_ms=c["pad"], window_s=c.get("window"),
                      spell_name=False, talker_db=c.get("talker"),
                      more_looks=c.get("looks", ()), look_again_below=c.get("again", 0.0))


def prompt_for(config: str) -> str | None:
    """The prompt a decoder configuration decodes with (None: no prompt)."""
    from app.engines.stt.prompt import command_prompt

    prompt = CONFIGS[config]["prompt"]
    if prompt == "words":
        return WORDS_PROMPT + ", ".join(ALL_VOICES) + "."
    if prompt in PROMPTS:
        return command_prompt(ALL_VOICES, PROMPTS[prompt])
    return command_prompt(ALL_VOICES) if prompt is True else None


def decode(config: str, items, conditions: list[str], only: set[str] | None = None) -> dict:
    """Transcribe what the cache lacks; ``only`` limits it to these keys (the second pass)."""
    c = CONFIGS[config]
    cache = load_cache(config)
    todo = [(u, v, cond) for u, v in items for cond in conditions
            if key(u, v, cond) not in cache and (only is None or key(u, v, cond) in only)]
    if not todo:
        return cache
    stt = stt_for(config)
    stt.load()
    front = FRONTS[c["front"]] if "front" in c else (lambda a: a)
    prompt = prompt_for(config)
    print(f"{config}: {len(todo)} to transcribe", flush=True)
    t0 = time.monotonic()
    for n, (u, v, cond) in enumerate(todo, 1):
        tr = stt.transcribe(front(heard_as(u, v, cond, items)), prompt=prompt)
        cache[key(u, v, cond)] = {"text": tr.text, "alternatives": tr.alternatives,
                                  "confidence": tr.confidence, "stt_s": round(tr.stt_s, 4)}
        if n % 50 == 0 or n == len(todo):
            save_cache(config, cache)
            rate = (time.monotonic() - t0) / n
            print(f"  {n}/{len(todo)}  {rate:.2f} s each, {rate * (len(todo) - n) / 60:.0f} min left",
                  flush=True)
    return cache


def score(judge: Judge, items, conditions, entries, app: bool) -> dict[str, dict]:
    """entries(u, v, cond) -> a cached transcript entry or None when missing. ``app``: the
    assistant gets the n-best and confidence as in the app (and may ask "Did you mean");
    otherwise the top text only."""
    rows: dict[str, dict] = {}
    for cond in conditions:
        ok = edits = nwords = wedits = wwords = wrong = asked = 0
        times: list[float] = []
        n = 0
        for u, v in items:
            e = entries(u, v, cond)
            if e is None:
                continue
            n += 1
            verdict = (judge.turn(u, e["text"], e["alternatives"], e["confidence"]) if app
                       else judge.turn(u, e["text"]))
            ok, wrong, asked = ok + verdict.ok, wrong + verdict.wrong, asked + verdict.asked
            # WER of the hypothesis acted on (the app picks one of the n best)
            heard = verdict.heard or e["text"]
            errors, w = word_errors(u.text, heard)
            edits, nwords = edits + errors, nwords + w
            errors, w = word_errors(u.text, heard, whisper_words)
            wedits, wwords = wedits + errors, wwords + w
            times.append(e["stt_s"])
        if n:
            rows[cond] = {"n": n, "acc": ok / n, "wer": edits / max(1, nwords),
                          "wer_w": wedits / max(1, wwords), "wrong": wrong / n,
                          "asked": asked / n, "stt_s": statistics.median(times)}
    return rows


def _named(entry: dict | None) -> dict | None:
    """A transcript decoded before the app spelled its own name, as the app now gives it."""
    from app.engines.stt.names import fix_name

    if entry is None:
        return None
    texts = list(dict.fromkeys(fix_name(t) for t in entry["alternatives"] or [entry["text"]]))
    return {**entry, "text": fix_name(entry["text"]), "alternatives": texts}


def variants(items, conditions, confirm: list[float], configs: list[str] | None = None,
             names: bool = False) -> dict[str, dict[str, dict]]:
    """Rows for ``configs`` (and the greedy baseline), or for every cached configuration;
    ``names``: also each one with the app's name spelling applied to its cached transcripts."""
    chosen = CONFIGS if configs is None else [BASELINE, *(c for c in configs if c != BASELINE)]
    caches = {c: load_cache(c) for c in chosen}
    judges = {c: Judge(c) for c in confirm}
    first_judge = judges[confirm[0]]
    try:
        typed = {"text": None, "alternatives": [], "confidence": None, "stt_s": 0.0}
        # The assistant on the typed text: the ceiling no decoding can pass (the grammar's share).
        out: dict[str, dict[str, dict]] = {"typed text (ceiling)": score(
            first_judge, items, conditions[:1], lambda u, v, c: {**typed, "text": u.text}, False)}
        for config, cache in caches.items():
            if not cache or config == CASCADE_SECOND:
                continue
            get = (lambda u, v, cond, cache=cache: cache.get(key(u, v, cond)))
            out[config] = score(first_judge, items, conditions, get, False)
            for below, judge in judges.items():
                out[f"{config}, app (ask below {below})"] = score(judge, items, conditions, get, True)
            if names:   # the app's name spelling (app/engines/stt/names.py) on these transcripts
                out[f"{config} + name fix, app (ask below {confirm[0]})"] = score(
                    first_judge, items, conditions, lambda u, v, cond, get=get: _named(get(u, v, cond)),
                    True)
        first, second = caches.get(CASCADE_FIRST, {}), caches.get(CASCADE_SECOND, {})
        if first and second:
            for below in (0.4, 0.5, CASCADE_MAX):
                def get2(u, v, cond, below=below):
                    k = key(u, v, cond)
                    e = first.get(k)
                    if e is None:
                        return None
                    if (e["confidence"] or 0) < below and k in second:
                        return {**second[k], "stt_s": e["stt_s"] + second[k]["stt_s"]}
                    return e
                out[f"{CASCADE_FIRST} + base below {below}, app (ask below {confirm[0]})"] = score(
                    first_judge, items, conditions, get2, True)
    finally:
        for judge in judges.values():
            judge.close()
    return out


def report(results: dict[str, dict[str, dict]], conditions: list[str], n_items: int) -> str:
    base = results.get(BASELINE, {})
    lines = ["| decoding | condition | n | intent+key accuracy | vs greedy | WER strict | vs greedy "
             "| WER Whisper-normalised | wrong actions / 100 | asked | STT median s | vs greedy |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, rows in results.items():
        for cond in conditions:
            r, b = rows.get(cond), base.get(cond)
            if r is None:
                continue
            rel = (lambda k: f"{r[k] - b[k]:+.1%}" if b else "—")
            lat = f"×{r['stt_s'] / b['stt_s']:.2f}" if b else "—"
            lines.append(f"| {label} | {cond} | {r['n']} | {r['acc']:.1%} | {rel('acc')} | "
                         f"{r['wer']:.1%} | {rel('wer')} | {r['wer_w']:.1%} | {r['wrong'] * 100:.1f} | "
                         f"{r['asked']:.1%} | "
                         f"{r['stt_s']:.3f} | {lat} |")
    return "\n".join(lines)


def decoding_cost(items, conditions: list[str], config: str, baseline: str) -> str:
    """Same-run STT time of two decoder configurations: each clip decoded by both, in
    alternating order; medians over all clips, over those whose first guess was unsure
    (confidence under the app's look-again threshold: where more looks run) and over those
    with a several-sentence hypothesis (where the nearest-talker rule aligns)."""
    from app.engines.stt.talkers import sentences

    new, old = stt_for(config), stt_for(baseline)
    for stt in (new, old):
        stt.warm_up()
    prompts = {id(new): prompt_for(config), id(old): prompt_for(baseline)}
    groups = ("all", f"unsure (< {STT_LOOK_AGAIN_BELOW})", "several sentences")
    times: dict[str, tuple[list[float], list[float]]] = {g: ([], []) for g in groups}
    for i, (u, v) in enumerate(items):
        for cond in conditions:
            audio = heard_as(u, v, cond, items)
            pair = (new, old) if i % 2 else (old, new)
            got = {id(stt): stt.transcribe(audio, prompt=prompts[id(stt)]) for stt in pair}
            a, b = got[id(new)], got[id(old)]
            member = (True, (b.confidence or 0) < STT_LOOK_AGAIN_BELOW,
                      any(len(sentences(t)) > 1 for t in b.alternatives))
            for g, inside in zip(groups, member):
                if inside:
                    times[g][0].append(a.stt_s)
                    times[g][1].append(b.stt_s)
    lines = [f"| clips | n | STT median s, {config} | {baseline} | ratio |", "|---|---|---|---|---|"]
    for g, (a, b) in times.items():
        if a:
            ma, mb = statistics.median(a), statistics.median(b)
            lines.append(f"| {g} | {len(a)} | {ma:.3f} | {mb:.3f} | ×{ma / mb:.2f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", help="decoder configurations to run (default greedy,beam5+prompt) "
                    "or, with --score-only, to score (default: all cached): " + ", ".join(CONFIGS))
    ap.add_argument("--conditions", default=",".join(noise.CONDITIONS))
    ap.add_argument("--every", type=int, default=1, help="every n-th utterance only (quick runs)")
    ap.add_argument("--score-only", action="store_true", help="score the cached transcripts")
    ap.add_argument("--confirm", default=str(CONFIRM_BELOW),
                    help="'Did you mean' thresholds to score the app with, e.g. 0.6,0.7")
    ap.add_argument("--names", action="store_true",
                    help="also score each configuration with the app's spelling of its own name "
                         "applied to cached transcripts (decoded before it was in the app)")
    ap.add_argument("--out", type=Path, help="write the table (markdown) here too")
    ap.add_argument("--cost", metavar="CONFIG,BASELINE",
                    help="only time two decoder configurations against each other, same run")
    args = ap.parse_args()
    conditions = args.conditions.split(",")
    items = corpus(args.every)
    print(f"{len(items)} utterances × {len(conditions)} conditions; voices: "
          f"{', '.join(voices.VOICES)}; user voices: {', '.join(USER_VOICES)}", flush=True)
    if args.cost:
        print(decoding_cost(items, conditions, *args.cost.split(",")))
        return 0
    if not args.score_only:
        for config in (args.configs or "greedy,beam5+prompt").split(","):
            if config == CASCADE_SECOND:   # only where the first pass was unsure
                first = load_cache(CASCADE_FIRST)
                unsure = {k for k, e in first.items() if (e["confidence"] or 0) < CASCADE_MAX}
                decode(config, items, conditions, only=unsure)
            else:
                decode(config, items, conditions)
    t0 = time.monotonic()
    configs = args.configs.split(",") if args.configs else None
    table = report(variants(items, conditions, [float(c) for c in args.confirm.split(",")],
                            configs, args.names), conditions, len(items))
    print(f"scored in {time.monotonic() - t0:.1f} s", flush=True)
    print(table)
    if args.out:
        atomic.write_text(args.out, table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
