"""Reliability drills, rerunnable at any time: crashes during saves and hostile engine clients.

1. Settings saves killed: a child saves settings in a loop and gets SIGKILL at a random moment.
2. Voice adds killed: ``kaytoo voices add`` gets SIGKILL at a random moment of its run.
   After each kill the state is checked (settings load without a warning; every voice folder
   reads back whole). After all kills one ``kaytoo voices list`` runs (the startup sweep) and the
   temp files still there are counted as leftovers.
3. Hostile clients against a real engine process on a unix socket: a declared 10^12-byte payload
   followed by 64 MiB, oversized audio and data, malformed headers, deep JSON, out-of-order
   events, then ordinary requests; the engine's RSS is sampled throughout.

    .venv/bin/python bench/drill.py [KILLS]      (default 30 of each)

Targets (issue 13): 0 corrupt states, 0 leftovers, engine growth ≤ 100 MB, every bad event
answered with an ``error`` event.
"""
from __future__ import annotations

import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
HOME = Path(tempfile.mkdtemp(prefix="kaytoo-drill-"))
os.environ["KAYTOO_HOME"] = str(HOME)
os.environ["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")

KILLS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
MB = 1024 * 1024
SAVER = """
import sys
from pathlib import Path
from app.settings import Settings, save
s = Settings()
n = 0
while True:
    n += 1
    s.ui.ptt_key = f"F{n % 12 + 1}"
    s.voice.active = f"voice {n}"
    save(Path(sys.argv[1]), s)
"""


def kaytoo(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          timeout=600, **kw)


def leftovers() -> list[Path]:
    return [p for p in HOME.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".new-")
            or ".removing-" in p.name]


def settings_drill(rng: random.Random) -> dict:
    from app import paths as paths_mod
    from app.settings import load

    path = paths_mod.resolve().ensure().settings_file
    corrupt = 0
    for _ in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)])
        threading.Event().wait(rng.uniform(0.3, 0.8))   # a random moment, a few hundred saves in
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        try:
            _, warning = load(path)
            corrupt += warning is not None
        except Exception:
            corrupt += 1
    before = len(leftovers())
    kaytoo("voices", "list")
    return {"kills": KILLS, "corrupt": corrupt, "temp files before the next start": before,
            "leftovers": len(leftovers())}


def voice_drill(rng: random.Random, clip: Path) -> dict:
    from app.voices.library import VoiceLibrary, _voice_folders

    from app import paths as paths_mod

    voices = paths_mod.resolve().voices
    t0 = time.monotonic()
    kaytoo("voices", "add", "Reference", str(clip))
    whole = time.monotonic() - t0
    corrupt = 0
    for i in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-m", "app", "voices", "add", f"Drill {i}", str(clip)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        threading.Event().wait(rng.uniform(0.2, 1.0) * whole)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        lib = VoiceLibrary(voices)
        readable = {v.folder for v in lib.list()}
        corrupt += sum(1 for f in _voice_folders(voices) if f not in readable)
    before = len(leftovers())
    listed = json.loads(kaytoo("voices", "list", "--json").stdout)["voices"]
    return {"kills": KILLS, "corrupt": corrupt, "temp files before the next start": before,
            "leftovers": len(leftovers()), "voices kept": len(listed) - 2,
            "one add (s)": round(whole, 2)}


class Rss:
    """Samples a process's resident memory every 20 ms in a thread; ``peak`` in MiB."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()
        self.base = self.now()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def now(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, self.now())


def send(path: Path, *parts: bytes) -> list[dict]:
    """Raw bytes to the engine, read concurrently; the events it answers with until it closes."""
    from tests.test_wire import exchange

    return [{"type": ev.type, **ev.data} for ev in exchange(path, *parts)]


def warm(path: Path) -> None:
    """Serve one transcription and one reply first: the engine loads its models in the background
    after start, and that growth is not the clients' doing."""
    import numpy as np

    from app.engines.client import EngineClient

    with EngineClient(f"unix://{path}", timeout=300) as client:
        client.transcribe(np.zeros(16000, np.float32))
        list(client.speak("Ready."))


def engine_drill() -> dict:
    from tests.engine_proc import engine_cmd, write_settings

    write_settings(tiers=["pyttsx3"])
    path = HOME / "run" / "drill.sock"
    proc = subprocess.Popen(engine_cmd(f"unix://{path}"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        return hostile_clients(path, proc)
    finally:
        if proc.poll() is None:   # also when the drill itself fails: no engine is left behind
            proc.terminate()
            proc.wait(60)


def hostile_clients(path: Path, proc: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 180
    while not path.exists():   # bound before the models load; it answers once they are loaded
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the engine did not start")
        threading.Event().wait(0.05)
    warm(path)
    rss = Rss(proc.pid)
    audio = b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, '
    hostile = [
        (audio + b'"payload_length": 1000000000000}\n', b"\0" * (64 * MB)),
        (audio + b'"payload_length": %d}\n' % (17 * MB), b"\0" * (17 * MB)),
        (b'{"type": "synthesize", "data_length": 999999999}\n', b"{" * MB),
        (b"x" * (8 * MB),),
        (b"[" * 60000 + b"\n",),
        (b"not json\n",),
        (b'{"type": 5}\n',),
        (b'{"type": "describe", "payload_length": -1}\n',),
        (b'{"type": "synthesize-chunk", "data": {"text": "Hi."}}\n',),
    ]
    answered = refused = 0
    t0 = time.monotonic()
    for round_ in range(5):
        for parts in hostile:
            events = send(path, *parts)
            refused += 1
            answered += bool(events) and events[0]["type"] == "error"
    ok = sum(any(e["type"] == "info" for e in send(path, b'{"type": "describe"}\n'))
             for _ in range(200))
    rss.stop.set()
    rss.thread.join()
    alive = proc.poll() is None
    proc.terminate()
    err = proc.stderr.read()
    proc.wait(60)
    return {"bad events": refused, "answered with error": answered, "describe ok": f"{ok}/200",
            "engine alive": alive, "RSS before (MiB)": round(rss.base), "peak (MiB)": round(rss.peak),
            "growth (MiB)": round(rss.peak - rss.base), "seconds": round(time.monotonic() - t0, 1),
            "tracebacks in log": err.count(b"Traceback") + err.count(b"never retrieved"),
            "socket left": path.exists()}


def main() -> int:
    rng = random.Random(13)
    clip = HOME / "clip.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(clip),
                    "This is a voice for the crash drill, one short sentence long."], check=True)
    load = os.getloadavg()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load average {load:.1f} at the start; {KILLS} kills each")
    for name, result in (("settings saves killed", settings_drill(rng)),
                         ("voice adds killed", voice_drill(rng, clip)),
                         ("hostile engine clients", engine_drill())):
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        import shutil

        shutil.rmtree(HOME, ignore_errors=True)
