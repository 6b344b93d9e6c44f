"""Start-up cost of the packaged app: frozen `dist/kaytoo/kaytoo` against this checkout run by the
venv's Python (`python -m app`, the code the bundle was built from).

Each run is a new process with a fresh KAYTOO_HOME (no settings, no caches of ours; the OS file
cache is warm after the first run, as it is for a user who started the app before). The two are
interleaved so machine noise hits both alike. Measured: wall time of `kaytoo turn` on the demo
question (start, load Whisper and Piper, transcribe, answer, write the WAV) and of
`kaytoo models list --json` (start-up and imports only).

    .venv/bin/python bench/bench_installer.py [RUNS]     # build first: bash scripts/build_installer.sh
Run it under `unshare -n` (as root) to prove no network is used.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {"frozen": [str(REPO / "dist" / "kaytoo" / "kaytoo")], "venv": [sys.executable, "-m", "app"]}
QUESTION = REPO / "assets" / "demo" / "what-time-is-it.wav"


def run(exe: list[str], args: list[str]) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory(prefix="kaytoo-bench-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["KAYTOO_HOME"] = home
        if exe[0] == sys.executable:
            env["PYTHONPATH"] = str(REPO)   # this checkout, whatever the venv's editable install points at
        args = [a.replace("{home}", home) for a in args]
        start = time.perf_counter()
        out = subprocess.run([*exe, *args], capture_output=True, text=True, env=env, check=True)
        wall = time.perf_counter() - start
    return wall, json.loads(out.stdout)


def main(runs: int = 5) -> None:
    for exe in COMMANDS.values():
        if not Path(exe[0]).is_file():
            sys.exit(f"missing {exe[0]}; build it with: bash scripts/build_installer.sh")
    cases = {"turn": ["turn", "--in", str(QUESTION), "--out", "{home}/reply.wav", "--json"],
             "models list": ["models", "list", "--json"]}
    load_before = os.getloadavg()[0]
    results: dict[tuple[str, str], list[float]] = {}
    stt: dict[str, list[float]] = {k: [] for k in COMMANDS}
    for _ in range(runs):
        for case, args in cases.items():
            for name, exe in COMMANDS.items():
                wall, data = run(exe, args)
                results.setdefault((case, name), []).append(wall)
                if case == "turn":
                    assert data["tier"] == "piper" and data["intent"] == "time", data
                    stt[name].append(data["timings"]["stt_s"])
    print(f"median of {runs}, interleaved, same run; 1-min load average {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")
    print("| command | frozen (s) | venv (s) | frozen / venv |")
    print("|---|---|---|---|")
    for case in cases:
        f, v = (statistics.median(results[(case, n)]) for n in ("frozen", "venv"))
        print(f"| kaytoo {case} | {f:.2f} | {v:.2f} | ×{f / v:.2f} |")
    print(f"| (turn: speech-to-text inside) | {statistics.median(stt['frozen']):.2f} | "
          f"{statistics.median(stt['venv']):.2f} | |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
