"""Time from transcript to the first reply sentence: local commands and the LLM path.

    .venv/bin/python bench/bench_reply_latency.py [--runs 15] [--token-ms 40] [--out bench/results/assistant.md]

Local: Assistant.respond(text) then next(reply.sentences), for a spread of commands (time, timer,
voice switch with fuzzy matching, help, unknown). LLM: the same call against the OpenAI-compatible
test server on 127.0.0.1 (tests/test_llm.py's FakeLlm), which emits a three-sentence answer one
token per ``--token-ms`` (a small local model on a CPU); the baseline measured in the same run is
the same answer from the same server without streaming, where nothing can be spoken until the
whole answer exists. Also the fallback when the LLM's port is closed. Medians.
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import socket
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.assistant import Assistant, Timers  # noqa: E402
from app.settings.model import AssistantSettings  # noqa: E402
from bench.results_section import write_section  # noqa: E402
from tests.test_llm import FakeLlm  # noqa: E402

LOCAL = ["What time is it?", "Uh, set a timer for twenty five minutes please.",
         "Switch to the narator voice.", "What can you do?", "Calibrate the flux capacitor."]
QUESTION = "Why is the sky blue?"
ANSWER = ("Sunlight scatters off air molecules, and blue light scatters the most. So the sky looks "
          "blue from every direction. I find it unremarkable, but you did ask.")
VOICES = ["Kaytoo", "Narrator", "Pirate Captain", "Grandma Rose"]


def first_and_whole(kaytoo: Assistant, heard: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    reply = kaytoo.respond(heard)
    next(reply.sentences)
    first = time.perf_counter() - t0
    list(reply.sentences)
    return first, time.perf_counter() - t0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--token-ms", type=float, default=40.0, help="simulated time per LLM token")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "assistant.md")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the refused rows would log a warning each
    load_avg = os.getloadavg()[0]
    clock = lambda: datetime(2026, 11, 22, 15, 10)  # noqa: E731

    results: dict[str, list[tuple[float, float]]] = {}
    with Timers(lambda t: None) as timers:
        kaytoo = Assistant(voices=lambda: list(VOICES), clock=clock, timers=timers)
        kaytoo.respond("hello").text()  # imports (rapidfuzz) and regexes warm
        for _ in range(args.runs):
            for heard in LOCAL:
                results.setdefault(heard, []).append(first_and_whole(kaytoo, heard))
            timers.cancel()

    servers = {"stream": FakeLlm("stream", ANSWER, args.token_ms / 1000),
               "json": FakeLlm("json", ANSWER, args.token_ms / 1000)}
    refused = f"http://127.0.0.1:{closed_port()}"
    try:
        for _ in range(args.runs):  # interleaved, so the machine's load falls on each alike
            for mode, server in servers.items():
                settings = AssistantSettings(llm_url=server.url, llm_timeout_s=30)
                results[f"llm {mode}"] = results.get(f"llm {mode}", []) + [
                    first_and_whole(Assistant(settings=settings, clock=clock), QUESTION)]
            settings = AssistantSettings(llm_url=refused, llm_timeout_s=5)
            results["llm refused"] = results.get("llm refused", []) + [
                first_and_whole(Assistant(settings=settings, clock=clock), QUESTION)]
    finally:
        for server in servers.values():
            server.close()

    med = {k: (statistics.median(f for f, _ in v), statistics.median(w for _, w in v))
           for k, v in results.items()}
    tokens = len(ANSWER.split())
    stream_first, stream_whole = med["llm stream"]
    json_first, _ = med["llm json"]
    print(f"median of {args.runs} runs; simulated LLM: {tokens} tokens at {args.token_ms:g} ms each")
    rows = []
    for heard in LOCAL:
        f, w = med[heard]
        rows.append(f"| local: {heard} | {f * 1000:.2f} ms | {w * 1000:.2f} ms |")
        print(f"local {heard!r:52} first {f * 1000:7.2f} ms  whole {w * 1000:7.2f} ms")
    for k in ("llm stream", "llm json", "llm refused"):
        f, w = med[k]
        rows.append(f"| {k} | {f * 1000:.0f} ms | {w * 1000:.0f} ms |")
        print(f"{k:58} first {f * 1000:7.0f} ms  whole {w * 1000:7.0f} ms")
    ratio = stream_first / json_first
    print(f"LLM first sentence, streamed vs not streamed: x{ratio:.2f}")

    lines = [
        "## Time from transcript to first reply sentence (bench/bench_reply_latency.py)",
        "",
        f"Machine: {os.cpu_count()} cores, no GPU, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; 1-min load average {load_avg:.1f} at the start "
        "(other engineers' jobs were sharing the machine). Medians of "
        f"{args.runs} runs. First = `respond(text)` until the first sentence is in hand (what the "
        "TTS needs to start); whole = until the last sentence.",
        f"LLM rows use the test server on 127.0.0.1 (tests/test_llm.py's FakeLlm) emitting a "
        f"{tokens}-token, three-sentence answer at {args.token_ms:g} ms per token, streamed (SSE) "
        "or, as the baseline in the same run, the same answer as one JSON body once every token "
        "exists. `llm refused`: the LLM's port is closed, so the in-character fallback answers.",
        "",
        "| path | first sentence | whole reply |",
        "|---|---|---|",
        *rows,
        "",
        f"Streaming puts the first LLM sentence in hand after {stream_first:.2f} s instead of "
        f"{json_first:.2f} s: x{ratio:.2f} of the non-streamed time (the whole answer takes "
        f"{stream_whole:.2f} s either way). Local commands have their first sentence in "
        f"{max(med[h][0] for h in LOCAL) * 1000:.2f} ms or less: the assistant adds nothing "
        "noticeable to a command turn (speech recognition and synthesis take hundreds of ms).",
    ]
    write_section(args.out, "bench_reply_latency", "\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
