"""Push-to-talk timings: release → transcript and release → first reply sound (Piper).

Each command (2-4 s, Piper joe and espeak-ng, 0.5 s before the words and 0.4 s after them, as a
held key records) is fed at real-time pace. "today": nothing happens during the hold, the whole
clip is decoded at release (greedy tiny.en, no prompt). "hold": the engine core's incremental
transcriber (the app's decoding: 5-best beam with the command prompt, 20 s encoder window) hears
at pauses and finishes at release; "hold, greedy" separates the two effects; ``windows`` adds the
app's decoding with other encoder windows (30 s: as it was before), heard during the hold and
decoded only at release. The variants run interleaved, command by
command, so the machine's load falls on all alike. The reply is the real assistant's, spoken by the
real TTS chain (Piper tier) of the same core; first sound = first chunk out of the chain.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from app.engines.stt.incremental import IncrementalTranscriber, feed_in_real_time
from bench.commands import noise, voices

COMMANDS = ["Set a timer for twenty five minutes.", "Switch to the narrator voice.",
            "What day of the week is it?", "Speak slower, please.",
            "Remind me in ten minutes to check the oven.", "How much time is left on my timer?",
            "Open the video panel.", "Thank you, that will be all."]
SPEAKERS = ["piper-joe-1.0", "espeak-us"]


def _clips() -> list[tuple[str, np.ndarray]]:
    lead, trail = int(noise.LEAD_S * 16000), int(noise.TRAIL_S * 16000)
    out = []
    for i, text in enumerate(COMMANDS):
        speech = voices.render(SPEAKERS[i % len(SPEAKERS)], text)
        out.append((text, np.concatenate([np.zeros(lead, np.float32), speech,
                                          np.zeros(trail, np.float32)])))
    return out


def _core():
    from app import paths as paths_mod
    from app.engines.core import EngineCore
    from app.settings import Settings

    os.environ.setdefault("KAYTOO_HOME", tempfile.mkdtemp(prefix="kaytoo-bench-hold-"))
    settings = Settings()
    settings.tts.tiers = ["piper"]
    # A loaded shared machine must not turn a slow first chunk into a failed turn.
    settings.tts.deadlines = {k: 60.0 for k in settings.tts.deadlines}
    core = EngineCore(paths_mod.resolve().ensure(), settings)
    core.preload().join()
    return core


class _Silent:
    """Today's hold: the audio only piles up."""

    def __init__(self):
        self.parts: list[np.ndarray] = []

    def feed(self, samples: np.ndarray) -> None:
        self.parts.append(samples)


def run_hold(runs: int, windows: tuple[float, ...] = ()) -> int:
    """``windows``: also the app's decoding with these encoder windows (s; 30 is Whisper's own),
    heard during the hold and decoded only at release."""
    from app.assistant import Assistant
    from app.engines.core import STT_NBEST, STT_WINDOW_S
    from app.engines.stt.whisper import WhisperStt

    core = _core()
    greedy = WhisperStt(core.stt().model_dir, nbest=1)
    greedy.load()
    greedy.warm_up()
    assistant = Assistant(voices=lambda: [v.name for v in core.voices.list()])

    def today(audio):
        sink = _Silent()
        release = feed_in_real_time(sink, audio)
        return release, greedy.transcribe(np.concatenate(sink.parts))

    def hold(audio):
        tx = core.transcriber()
        release = feed_in_real_time(tx, audio)
        return release, tx.finish()

    def hold_greedy(audio):
        tx = IncrementalTranscriber(greedy)
        release = feed_in_real_time(tx, audio)
        return release, tx.finish()

    prompt = core.stt_prompt()
    windowed = {w: WhisperStt(core.stt().model_dir, nbest=STT_NBEST, window_s=w) for w in windows}
    for stt in windowed.values():
        stt.load()
        stt.warm_up()

    def hold_window(stt):
        def run(audio):
            tx = IncrementalTranscriber(stt, prompt=prompt)
            release = feed_in_real_time(tx, audio)
            return release, tx.finish()
        return run

    def release_window(stt):
        def run(audio):
            sink = _Silent()
            release = feed_in_real_time(sink, audio)
            return release, stt.transcribe(np.concatenate(sink.parts), prompt=prompt)
        return run

    variants = {"today: decode at release (greedy)": today,
                f"hold (app: 5-best + prompt, {STT_WINDOW_S:g} s window)": hold,
                "hold, greedy": hold_greedy}
    for w, stt in windowed.items():
        variants[f"hold, 5-best + prompt, {w:g} s window"] = hold_window(stt)
        variants[f"decode at release, 5-best + prompt, {w:g} s window"] = release_window(stt)
    times = {v: ([], []) for v in variants}
    heard = {v: [] for v in variants}
    clips = _clips()
    print(f"{len(clips)} commands × {runs} runs, variants interleaved; load {os.getloadavg()[0]:.1f}")
    for _ in range(runs):
        for text, audio in clips:
            for name, fn in variants.items():
                release, tr = fn(audio)
                t_text = time.monotonic() - release
                reply = assistant.respond(tr.text)
                stop = threading.Event()
                speech = core.speak(list(reply.sentences) or ["Nothing."], cancel=stop)
                chunks = iter(speech)
                first = next(chunks, None)
                t_audio = time.monotonic() - release
                stop.set()          # only the first sound is measured
                for _rest in chunks:
                    pass
                times[name][0].append(t_text)
                times[name][1].append(t_audio if first is not None else float("nan"))
                heard[name].append(tr.text)
    base_text = statistics.median(times["today: decode at release (greedy)"][0])
    base_audio = statistics.median(times["today: decode at release (greedy)"][1])
    print("| variant | release → transcript (median s) | ratio | release → first sound (median s) | ratio |")
    print("|---|---|---|---|---|")
    for name, (tt, ta) in times.items():
        print(f"| {name} | {statistics.median(tt):.3f} | ×{statistics.median(tt) / base_text:.2f} | "
              f"{statistics.median(ta):.3f} | ×{statistics.median(ta) / base_audio:.2f} |")
    print(f"load at end {os.getloadavg()[0]:.1f}")
    for name, texts in heard.items():
        print(name, texts[:len(clips)])
    return 0


def run_decoding(runs: int) -> int:
    """Decoder options on one 3 s command, interleaved, medians, ratio to greedy."""
    from app.engines.models import ModelStore
    from app.engines.stt.prompt import command_prompt
    from app.engines.stt.whisper import WhisperStt
    from bench.bench_commands import BEFORE
    from bench.commands.corpus import ALL_VOICES

    model = ModelStore(Path(tempfile.mkdtemp()) / "models").path_for("tiny.en")
    audio = voices.render("espeak-us", "switch to the narrator voice and set a timer")
    prompt = command_prompt(ALL_VOICES)
    cases = {"greedy (today)": (WhisperStt(model), None),
             "greedy + prompt": (WhisperStt(model), prompt),
             "beam 5": (WhisperStt(model, beam_size=5), None),
             "beam 5, 5-best": (WhisperStt(model, nbest=5), None),
             "beam 5, 5-best + prompt (app)": (WhisperStt(model, nbest=5), prompt),
             "beam 5, 5-best + prompt, 20 s window": (WhisperStt(model, nbest=5, window_s=20), prompt),
             "… the prompt until 2026-12-02 (shorter)": (WhisperStt(model, nbest=5, window_s=20),
                                                         command_prompt(ALL_VOICES, BEFORE)),
             "beam 5, 5-best + prompt, 15 s window": (WhisperStt(model, nbest=5, window_s=15), prompt)}
    for stt, p in cases.values():
        stt.load()
        stt.warm_up()
    times = {k: [] for k in cases}
    print(f"{len(audio) / 16000:.2f} s command, {runs} runs interleaved; load {os.getloadavg()[0]:.1f}")
    for _ in range(runs):
        for name, (stt, p) in cases.items():
            times[name].append(stt.transcribe(audio, prompt=p).stt_s)
    base = statistics.median(times["greedy (today)"])
    print("| decoding | STT median s | ratio to greedy |")
    print("|---|---|---|")
    for name, t in times.items():
        print(f"| {name} | {statistics.median(t):.3f} | ×{statistics.median(t) / base:.2f} |")
    print(f"load at end {os.getloadavg()[0]:.1f}")
    return 0
