"""The session's state machine without Qt, PulseAudio or an engine process: a fake engine and fake
devices stand behind the same interfaces (app.session.engine_link.Engine, Player/Recorder). The
assistant, the settings store, the voice library and the turn code are the real ones.

Every wait is on an event with a generous timeout, never on elapsed time."""
from __future__ import annotations

import threading
import numpy as np
import pytest

from app import paths as paths_mod
from app.engines.client import EngineGone
from app.engines.protocol import SpeechReport, Transcript
from app.runtime import asset_dir
from app.session import Session, SessionListener, TurnResult, TurnState
from app.session.audio_io import AudioIO
from app.session.hold import HoldDebouncer
from app.settings import Settings, load
from app.settings.merge import changes
from app.voices.library import VoiceLibrary

WAIT = 30.0


# -- fakes behind the real interfaces ----------------------------------------------------------
class FakeSpeech:
    def __init__(self, engine: "FakeEngine", sentences, cancel: threading.Event):
        self.engine, self.sentences, self.cancel = engine, sentences, cancel
        self.rate = 48000
        self.report = SpeechReport()

    def __iter__(self):
        for s in self.sentences:
            if self.engine.die_while_speaking.is_set():
                raise EngineGone("The engine closed the connection.")
            for _ in range(self.engine.chunks_per_sentence):
                if self.cancel.is_set():
                    self.report.cancelled = True
                    return
                yield np.full(480, 0.1, np.float32)
                self.engine.chunk_sent.set()
                if self.engine.hold.is_set():      # the reply is "still being spoken"
                    self.engine.release_chunks.wait(WAIT)
            self.report.sentences.append(s)
        self.report.tier = "piper"
        self.report.tiers = ["piper"]


class FakeClient:
    def __init__(self, engine: "FakeEngine"):
        self.engine = engine

    def transcribe(self, samples, language=None) -> Transcript:
        self.engine.transcribed.append(len(samples))
        if self.engine.lose_next_transcribe.is_set():
            self.engine.lose_next_transcribe.clear()
            raise EngineGone("The engine closed the connection.")
        return Transcript(self.engine.heard, "en", len(samples) / 16000, 0.01)

    def transcriber(self, language=None) -> "FakeTranscriber":
        return FakeTranscriber(self.engine)

    def speak(self, sentences, voice=None, tier="auto", cancel=None):
        self.engine.voices_spoken.append(voice)
        return FakeSpeech(self.engine, sentences, cancel or threading.Event())

    def tier_status(self) -> dict:
        return {"xtts": "no model", "piper": None}

    def prepare_voice(self, voice: str):
        return None

    def close(self) -> None: ...

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None: ...


class FakeTranscriber:
    """The engine hearing a held key's audio as it arrives."""

    def __init__(self, engine: "FakeEngine"):
        self.engine, self.samples = engine, 0

    def feed(self, samples) -> None:
        self.samples += len(samples)

    def finish(self) -> Transcript:
        self.engine.streamed.append(self.samples)
        return Transcript(self.engine.heard, "en", self.samples / 16000, 0.01)


class FakeEngine:
    def __init__(self):
        self.state = "stopped"
        self.on_state = None
        self.heard = "What time is it?"
        self.chunks_per_sentence = 3
        self.hold = threading.Event()             # set: each chunk waits for release_chunks
        self.release_chunks = threading.Event()
        self.chunk_sent = threading.Event()
        self.lose_next_transcribe = threading.Event()
        self.die_while_speaking = threading.Event()
        self.transcribed: list[int] = []        # utterances transcribed whole at release
        self.streamed: list[int] = []           # utterances heard while the key was held
        self.voices_spoken: list[str | None] = []
        self.starts = 0

    def factory(self, settings, on_state):
        self.on_state = on_state
        return self

    def start(self) -> None:
        self.starts += 1
        self.state = "ready"
        self.on_state("ready", "")

    def stop(self) -> None:
        self.state = "stopped"

    def wait_ready(self, timeout: float) -> bool:
        return self.state == "ready"

    def client(self, timeout: float = 60.0) -> FakeClient:
        return FakeClient(self)


class FakePlayer:
    def __init__(self, device=None, rate=48000, on_first_sample=None, **_):
        self.rate, self.on_first_sample = rate, on_first_sample
        self.volume, self.running, self.first_dac = 1.0, True, None
        self.pushed = self.played = 0
        self.underruns = 0
        self.stopped = threading.Event()

    def start(self) -> None: ...
    def close(self) -> None: ...

    def new_reply(self, expected_s=None) -> None:
        self.pushed = self.played = 0
        self.first_dac = None

    def expect_more(self, total_s: float) -> None: ...

    def play(self, chunk) -> None:
        self.pushed += len(chunk)
        if self.first_dac is None:
            import time

            self.first_dac = time.monotonic()
            self.on_first_sample(self.first_dac)
        self.played += len(chunk) // 2          # half of what is queued has been heard

    def end_of_reply(self) -> None: ...

    def wait_done(self, timeout: float) -> bool:
        return True

    def played_fraction(self) -> float:
        return self.played / self.pushed if self.pushed else 0.0

    def stop_now(self) -> None:
        self.stopped.set()

    def play_clip(self, samples, rate) -> None:
        self.play(samples)


class FakeRecorder:
    live = True          # False: nothing reaches on_audio while held (a hold too short to stream)

    def __init__(self, device=None, on_level=None):
        self.is_open, self.recording, self.on_audio = False, False, None
        self.prerolls: list[bool] = []

    def open(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def begin(self, on_audio=None, preroll: bool = True) -> None:
        self.recording, self.on_audio = True, on_audio
        self.prerolls.append(preroll)

    def end(self) -> np.ndarray:
        self.recording = False
        held = np.full(16000, 0.05, np.float32)     # one second "held"
        if self.on_audio is not None and self.live:
            for block in np.split(held, 10):        # as the capture thread hands it over
                self.on_audio(block)
        return held


class Recorded(SessionListener):
    def __init__(self):
        self.states: list[TurnState] = []
        self.done: list[TurnResult] = []
        self.failed: list[str] = []
        self.messages: list[str] = []
        self.announced: list[str] = []
        self.said_list: list[tuple[str, str]] = []
        self.voices: list[str] = []
        self.changed = threading.Condition()

    def _note(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def wait(self, predicate, timeout: float = WAIT) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, timeout), "the session did not get there"

    def state_changed(self, state):
        self.states.append(state)
        self._note()

    def turn_done(self, result):
        self.done.append(result)
        self._note()

    def turn_failed(self, why):
        self.failed.append(why)
        self._note()

    def message(self, text):
        self.messages.append(text)
        self._note()

    def announce(self, text):
        self.announced.append(text)
        self._note()

    def said(self, text, tier):
        self.said_list.append((text, tier))
        self._note()

    def voice_changed(self, name):
        self.voices.append(name)
        self._note()


@pytest.fixture
def session(kaytoo_home):
    paths = paths_mod.resolve().ensure()
    engine = FakeEngine()
    listener = Recorded()
    settings = Settings()
    audio = AudioIO(settings.audio, player_factory=FakePlayer, recorder_factory=FakeRecorder)
    s = Session(paths, settings, VoiceLibrary(paths.voices, asset_dir() / "voices"), listener,
                probe_online=False, audio=audio, engine_factory=engine.factory)
    s.start()
    yield s, engine, listener
    engine.release_chunks.set()
    s.shutdown()


def ask(s: Session, listener: Recorded, count: int) -> TurnResult:
    s.press()
    assert s.state is TurnState.LISTENING
    s.release()
    listener.wait(lambda: len(listener.done) + len(listener.failed) > count)
    listener.wait(lambda: s.state is TurnState.IDLE)
    return listener.done[-1]


# -- tests -------------------------------------------------------------------------------------
def test_press_release_goes_through_every_state_and_answers(session):
    s, engine, listener = session
    result = ask(s, listener, 0)
    assert listener.states[-4:] == [TurnState.LISTENING, TurnState.THINKING, TurnState.SPEAKING,
                                    TurnState.IDLE]
    assert result.heard == "What time is it?" and result.intent == "time" and result.reply
    assert result.cut is False and result.tier == "piper"
    assert result.timings.first_sound_s is not None and result.timings.spoken_s is not None
    assert engine.voices_spoken == ["Kaytoo"]
    assert engine.streamed == [16000] and not engine.transcribed   # heard while it was held


def test_a_tap_is_not_a_question(session, monkeypatch):
    s, engine, listener = session
    monkeypatch.setattr(FakeRecorder, "end", lambda self: np.zeros(1000, np.float32))
    s.press()
    s.release()
    assert s.state is TurnState.IDLE and not engine.transcribed
    assert any("Hold the button" in m for m in listener.messages)


def test_barge_in_cuts_the_answer_and_listens_again(session):
    s, engine, listener = session
    engine.hold.set()
    s.press()
    s.release()
    assert engine.chunk_sent.wait(WAIT)
    listener.wait(lambda: TurnState.SPEAKING in listener.states)
    s.press()                                          # barge in
    assert s.state is TurnState.LISTENING
    assert s.audio.player.stopped.is_set()             # the speaker was silenced at once
    engine.release_chunks.set()
    listener.wait(lambda: bool(listener.done))
    cut = listener.done[-1]
    assert cut.cut is True and 0 <= cut.played_fraction < 1
    engine.hold.clear()
    s.release()                                        # the next question is answered
    listener.wait(lambda: len(listener.done) == 2)
    listener.wait(lambda: s.state is TurnState.IDLE)
    assert listener.done[-1].cut is False


def test_engine_lost_before_the_answer_asks_again_once_it_is_back(session, monkeypatch):
    s, engine, listener = session
    monkeypatch.setattr(FakeRecorder, "live", False)    # transcribed whole at release
    engine.lose_next_transcribe.set()
    result = ask(s, listener, 0)
    assert result.reply and not listener.failed
    assert len(engine.transcribed) == 2                # asked twice: the first connection was lost
    assert any("asking again" in m for m in listener.messages)


def test_engine_lost_mid_reply_fails_that_turn_only(session):
    s, engine, listener = session
    engine.die_while_speaking.set()
    s.press()
    s.release()
    listener.wait(lambda: bool(listener.failed))
    listener.wait(lambda: s.state is TurnState.IDLE)
    assert "restarting" in listener.failed[-1]
    engine.die_while_speaking.clear()
    assert ask(s, listener, 1).reply


def test_a_timer_due_during_a_reply_waits_for_the_turn_to_end(session):
    s, engine, listener = session
    engine.hold.set()
    s.press()
    s.release()
    assert engine.chunk_sent.wait(WAIT)
    timer = s.timers.add(60.0, "tea")
    s._timer_due(timer)                                # falls due now, mid-reply
    listener.wait(lambda: bool(listener.announced))
    assert len(engine.voices_spoken) == 1              # not spoken over the reply
    engine.release_chunks.set()
    listener.wait(lambda: bool(listener.said_list))
    assert listener.said_list[0][0] == listener.announced[0]
    assert len(engine.voices_spoken) == 2


def test_apply_keeps_the_voice_switched_while_the_dialog_was_open(session, speak):
    """Regression: Settings → Apply switched the active voice back to Kaytoo."""
    s, engine, listener = session
    shown = s.settings.model_copy(deep=True)           # what the dialog was opened with
    s.voices.add("Narrator", speak("The quick brown fox jumps over the lazy dog, and then it runs "
                                   "back across the field.", "narrator-long"))
    s.set_voice("narrator")                            # "switch to the narrator voice"
    edited = shown.model_copy(deep=True)
    edited.ui.theme = "dark"
    s.apply_settings(changes(shown, edited))
    assert s.settings.voice.active == "Narrator" and s.settings.ui.theme == "dark"
    saved, _ = load(paths_mod.resolve().settings_file)
    assert saved.voice.active == "Narrator" and saved.ui.theme == "dark"
    assert engine.starts == 1                          # the look needs no new engine


def test_a_weak_guess_is_confirmed_by_pressing_again(session, monkeypatch):
    s, engine, listener = session
    monkeypatch.setattr(FakeTranscriber, "finish", lambda self: Transcript(
        "Speak slower please.", "en", 1.0, 0.01, ["Speak slower please."], 0.05))
    asked = ask(s, listener, 0)
    assert "mean" in asked.reply.lower() and s.settings.tts.speed == 1.0   # asked, not done
    monkeypatch.setattr(FakeRecorder, "end", lambda self: np.zeros(800, np.float32))   # a tap
    s.press()
    s.release()
    listener.wait(lambda: len(listener.done) == 2)
    listener.wait(lambda: engine.starts == 2)         # the held command was done
    assert s.settings.tts.speed < 1.0


def test_a_spoken_speed_change_restarts_the_engine_with_it(session):
    s, engine, listener = session
    engine.heard = "Speak slower."
    ask(s, listener, 0)
    listener.wait(lambda: engine.starts == 2)
    assert s.settings.tts.speed < 1.0


# -- the held key ------------------------------------------------------------------------------
class ManualClock:
    """A scheduler for HoldDebouncer whose timers fire only when the test says so."""

    def __init__(self):
        self.pending: list = []

    def __call__(self, delay, fn):
        entry = {"fn": fn, "cancelled": False}

        class Handle:
            def cancel(_self) -> None:
                entry["cancelled"] = True

        self.pending.append(entry)
        return Handle()

    def fire(self) -> None:
        due, self.pending = self.pending, []
        for e in due:
            if not e["cancelled"]:
                e["fn"]()


def test_a_release_press_pair_inside_the_window_is_one_hold():
    events: list[str] = []
    clock = ManualClock()
    hold = HoldDebouncer(lambda: events.append("press"), lambda: events.append("release"),
                         schedule=clock)
    hold.down()
    for _ in range(5):            # X11 auto-repeat: release + press pairs while the key is held
        hold.up()
        hold.down()
        clock.fire()              # the window passes: the pending release was cancelled
    hold.up()                     # the real release
    assert events == ["press"]
    clock.fire()
    assert events == ["press", "release"]
    hold.down()                   # a new hold after the window is a new press
    assert events == ["press", "release", "press"]


def test_repeated_presses_without_release_are_one_press():
    events: list[str] = []
    clock = ManualClock()
    hold = HoldDebouncer(lambda: events.append("press"), lambda: events.append("release"),
                         schedule=clock)
    hold.down()
    hold.down()
    hold.up()
    hold.up()
    clock.fire()
    assert events == ["press", "release"]
