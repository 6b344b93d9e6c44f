"""Start-up cost of the packaged app: frozen `dist/kaytoo/kaytoo` against this checkout run by the
venv's Python (`python -m app`, the code the bundle was built from).

Each run is a new process with a fresh KAYTOO_HOME (no settings, no caches of ours; the OS file
cache is warm after the first run, as it is for a user who started the app before). The two are
interleaved so machine noise hits both alike. Measured: wall time of `kaytoo turn` on the demo
question (start, load Whisper and Piper, transcribe, answer, write the WAV) and of
`kaytoo models list --json` (start-up and imports only).

    .venv/bin/python bench/bench_installer.py [RUNS] [--before DIR]   # build first: bash scripts/build_installer.sh

``--before DIR``: another build's one-folder app (e.g. of an earlier commit), measured in the same
interleaved runs, so a change to the build is judged against the same machine noise.
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


def main(runs: int = 5, before: Path | None = None) -> None:
    commands = dict(COMMANDS)
    if before is not None:
        commands["before"] = [str(before / "kaytoo")]
    for exe in commands.values():
        if not Path(exe[0]).is_file():
            sys.exit(f"missing {exe[0]}; build it with: bash scripts/build_installer.sh")
    cases = {"turn": ["turn", "--in", str(QUESTION), "--out", "{home}/reply.wav", "--json"],
             "models list": ["models", "list", "--json"]}
    load_before = os.getloadavg()[0]
    results: dict[tuple[str, str], list[float]] = {}
    stt: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(runs):
        for case, args in cases.items():
            for name, exe in commands.items():
                wall, data = run(exe, args)
                results.setdefault((case, name), []).append(wall)
                if case == "turn":
                    assert data["tier"] == "piper" and data["intent"] == "time", data
                    stt[name].append(data["timings"]["stt_s"])
    print(f"median of {runs}, interleaved, same run; 1-min load average {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after")
    names = list(commands)
    print("| command | " + " | ".join(f"{n} (s)" for n in names) + " | frozen / venv |"
          + (" before / venv |" if before else ""))
    print("|---" * (len(names) + 1 + bool(before)) + "|---|")
    for case in cases:
        med = {n: statistics.median(results[(case, n)]) for n in names}
        ratios = f"×{med['frozen'] / med['venv']:.2f} |" + (f" ×{med['before'] / med['venv']:.2f} |" if before else "")
        print(f"| kaytoo {case} | " + " | ".join(f"{med[n]:.2f}" for n in names) + " | " + ratios)
    print("| (turn: speech-to-text inside) | " + " | ".join(f"{statistics.median(stt[n]):.2f}" for n in names)
          + " |" + " |" * (1 + bool(before)))


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="frozen app start-up against the venv")
    p.add_argument("runs", nargs="?", type=int, default=5)
    p.add_argument("--before", type=Path, help="another build's dist/kaytoo folder, measured alongside")
    a = p.parse_args()
    main(a.runs, a.before)
