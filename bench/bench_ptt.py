"""Push-to-talk release → first reply sample written to the output device, on the virtual device.

What the desktop app does (streaming): the question is captured from the virtual microphone, the
key is released, and the turn runs through the engine process (``EngineClient``) with each
synthesized chunk going into the jitter buffer of a ``Player`` on the virtual speaker. The figure
is the time from release to the moment the output callback hands the first reply sample to the
device (``Player.first_written``).

The baseline, measured in the same run with the same engine, devices and question: a whole-reply
pipeline — transcribe, synthesize the entire reply, then play it.

Offline tiers only (Piper, then the system voice eSpeak via pyttsx3's tier), one forced tier at a
time; 10 turns each (alternating streaming/whole), medians quoted. Needs PulseAudio (started here
like the tests do) and espeak-ng.

    .venv/bin/python bench/bench_ptt.py [TURNS]
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("KAYTOO_HOME", tempfile.mkdtemp(prefix="kaytoo-bench-ptt-"))

import numpy as np  # noqa: E402

TURNS = max(3, int(sys.argv[1]) if len(sys.argv) > 1 else 10)
QUESTION = "What time is it?"


def question_clip() -> np.ndarray:
    from app.audio.clip import load

    out = Path(os.environ["KAYTOO_HOME"]) / "question.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(out), QUESTION], check=True)
    return load(out, 48000).samples


def ask(mouth, mic, question: np.ndarray) -> np.ndarray:
    """Hold the key, say the question into the virtual speaker, release: the captured 16 kHz audio."""
    mic.begin()
    mouth.play_clip(question, 48000)
    mouth.wait_done(20)
    threading.Event().wait(0.2)        # the user lets go just after the last word
    return mic.end()


def streaming_turn(client, assistant, samples, player, tier) -> tuple[float, float, int]:
    from app.session.turn import run_turn

    player.new_reply()
    t_release = time.monotonic()

    class Events:
        def heard(self, transcript) -> None: ...
        def first_audio(self, seconds) -> None: ...
        def reply_sentence(self, text) -> None:
            player.buffer.begin()

    run_turn(client, assistant, samples, None, player.play, events=Events(), tier=tier)
    player.end_of_reply()
    player.wait_done(60)
    return player.first_written - t_release, player.first_dac - t_release, player.underruns


def whole_turn(client, assistant, samples, player, tier) -> tuple[float, float, int]:
    player.new_reply()
    t_release = time.monotonic()
    text = client.transcribe(samples).text
    reply = assistant.respond(text)
    audio = np.concatenate(list(client.speak(list(reply.sentences), None, tier)))
    player.play(audio)
    player.end_of_reply()
    player.wait_done(60)
    return player.first_written - t_release, player.first_dac - t_release, player.underruns


def main() -> int:
    from tests.pulse import start_pulse

    pulse = start_pulse()
    try:
        return run()
    finally:
        pulse.stop()   # whatever the benchmark starts, it stops


def run() -> int:
    from app import paths as paths_mod
    from app.assistant import Assistant
    from app.audio.capture import Recorder
    from app.audio.playback import Player
    from app.engines.supervisor import Supervisor
    from app.settings import Settings, save

    paths = paths_mod.resolve().ensure()
    settings = Settings()
    settings.tts.tiers = ["piper", "pyttsx3"]
    save(paths.settings_file, settings)
    question = question_clip()

    sup = Supervisor(paths)
    sup.start()
    if not sup.wait_ready(180):
        print("the engine did not start", file=sys.stderr)
        return 1
    player, mouth = Player(), Player()
    player.start()
    mouth.start()
    mic = Recorder(None)
    mic.open()
    mic.wait_flowing(10)
    assistant = Assistant()
    rows = []
    try:
        with sup.client(timeout=120) as client:
            # Warm-up: load STT and each tier once; not measured.
            for tier in ("piper", "pyttsx3"):
                streaming_turn(client, assistant, ask(mouth, mic, question), player, tier)
            for tier in ("piper", "pyttsx3"):
                stream, whole = [], []
                heard = ""
                for i in range(TURNS):
                    order = (("s", streaming_turn), ("w", whole_turn))
                    for kind, fn in (order if i % 2 == 0 else order[::-1]):
                        samples = ask(mouth, mic, question)
                        written, dac, under = fn(client, assistant, samples, player, tier)
                        (stream if kind == "s" else whole).append((written, dac, under))
                    heard = heard or client.transcribe(samples).text
                rows.append((tier, stream, whole, heard))
    finally:
        mic.close()
        player.close()
        mouth.close()
        sup.stop()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"no GPU; virtual PulseAudio device at 48 kHz; {TURNS} turns per pipeline and tier")
    print(f"question: {QUESTION!r} (espeak-ng, captured from the virtual microphone)")
    for tier, stream, whole, heard in rows:
        s_w = statistics.median(r[0] for r in stream)
        w_w = statistics.median(r[0] for r in whole)
        s_d = statistics.median(r[1] for r in stream)
        w_d = statistics.median(r[1] for r in whole)
        under = sum(r[2] for r in stream)
        print(f"\n[{tier}] heard {heard!r}")
        print(f"  streaming (the app):  release → first sample written {s_w:.3f} s "
              f"(at the DAC {s_d:.3f} s), underruns in {TURNS} turns: {under}")
        print(f"  whole reply baseline: release → first sample written {w_w:.3f} s "
              f"(at the DAC {w_d:.3f} s)")
        print(f"  ratio streaming / whole: {s_w / w_w:.2f}  (whole − streaming: {w_w - s_w:+.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
