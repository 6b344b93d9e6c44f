"""The controller: the turn state machine, on its own QThread. Widgets only talk to it by signals.

idle → listening (key held) → thinking (transcribing) → speaking → idle; pressing talk while
speaking cancels the synthesis, drops buffered audio at once and starts listening (barge-in).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from app.errors import NothingCouldServe, UserError
from app.paths import Paths
from app.settings.model import Settings

log = logging.getLogger(__name__)


class NullSink:
    """Stands in for the speaker when there is no output device: replies are shown, not heard."""

    def __init__(self) -> None:
        self.received = 0
        self._done = threading.Event()
        self.volume = 1.0

    def play(self, samples: np.ndarray) -> None:
        self.received += len(samples)

    def end_of_reply(self) -> None:
        self._done.set()

    def wait_done(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def stop_now(self) -> None:
        self._done.set()

    def new_reply(self) -> None:
        self._done.clear()

    def close(self) -> None:
        pass


class Controller(QObject):
    state_changed = Signal(str)          # idle | listening | thinking | speaking
    engine_state = Signal(str, str)      # state, detail
    level = Signal(float)                # input level, dBFS
    heard = Signal(str)
    reply_sentence = Signal(str)
    turn_done = Signal(dict)
    voice_changed = Signal(str)
    open_panel = Signal(str)
    message = Signal(str)                # one plain sentence for the status bar

    def __init__(self, paths: Paths, settings: Settings, mic_file: Path | None = None):
        super().__init__()
        self.paths, self.settings, self.mic_file = paths, settings, mic_file
        self.state = "idle"
        self._cancel = threading.Event()
        self._turn: threading.Thread | None = None
        self._client = None
        self._client_lock = threading.Lock()
        self.supervisor = None
        self.recorder = None
        self.sink = None
        self.assistant = None
        self.timers = None

    # -- life cycle (runs on the controller thread) -----------------------------------------
    @Slot()
    def start(self) -> None:
        from app.assistant import Assistant, Timers
        from app.bootstrap import asset_dir
        from app.engines.supervisor import Supervisor
        from app.voices.library import VoiceLibrary

        self.voices = VoiceLibrary(self.paths.voices, asset_dir() / "voices")
        self.timers = Timers(self._timer_due)
        self.assistant = Assistant(voices=lambda: [v.name for v in self.voices.list()],
                                   settings=self.settings.assistant, timers=self.timers)
        self.sink = self._open_sink()
        self.supervisor = Supervisor(self.paths, lambda s, d: self.engine_state.emit(s, d))
        self.supervisor.start()
        self.voice_changed.emit(self.settings.voice.active)
        self._set("idle")

    @Slot()
    def shutdown(self) -> None:
        self._cancel.set()
        if self._turn is not None:
            self._turn.join(10)
        if self.timers:
            self.timers.close()
        if self.sink:
            self.sink.close()
        if self.recorder:
            self.recorder.stop()
        with self._client_lock:
            if self._client is not None:
                self._client.close()
        if self.supervisor:
            self.supervisor.stop()

    # -- push to talk -----------------------------------------------------------------------
    @Slot()
    def press(self) -> None:
        if self.state == "listening":
            return
        if self.state in ("speaking", "thinking"):  # barge-in
            self._cancel.set()
            self.sink.stop_now()
            if self._turn is not None:
                self._turn.join(10)
        self._cancel = threading.Event()
        self._set("listening")
        if self.mic_file is None:
            from app.audio.capture import Recorder

            try:
                self.recorder = Recorder(self.settings.audio.input_device, self.level.emit)
                self.recorder.start()
            except UserError as e:
                self.recorder = None
                self.message.emit(str(e))
                self._set("idle")

    @Slot()
    def release(self) -> None:
        if self.state != "listening":
            return
        if self.mic_file is not None:
            from app.audio import clip

            samples = clip.load(self.mic_file, clip.STT_RATE).samples
        elif self.recorder is not None:
            samples = self.recorder.stop()
            self.recorder = None
        else:
            return
        self._set("thinking")
        self._turn = threading.Thread(target=self._run_turn, args=(samples, self._cancel),
                                      name="turn", daemon=True)
        self._turn.start()

    @Slot(str)
    def set_voice(self, name: str) -> None:
        self.settings.voice.active = name
        self._save_settings()
        self.voice_changed.emit(name)

    # -- work off the controller thread -----------------------------------------------------
    def _run_turn(self, samples: np.ndarray, cancel: threading.Event) -> None:
        from app.engines.client import EngineGone
        from app.turn import run_turn

        self.sink.new_reply()
        try:
            client = self._engine()
            result = run_turn(client, self.assistant, samples, self.settings.voice.active,
                              self.sink.play, cancel, self._on_event)
            self.sink.end_of_reply()
            while not cancel.is_set() and not self.sink.wait_done(0.1):
                pass
            data = result.to_dict()
            data["underruns"] = getattr(getattr(self.sink, "buffer", None), "underruns", 0)
            self.turn_done.emit(data)
            self._apply(result.action)
        except EngineGone:
            self._drop_client()
            self.message.emit("The engine stopped during that turn; it is restarting. Try again.")
        except (UserError, NothingCouldServe) as e:
            self.message.emit(str(e))
        except Exception as e:  # never take the window down
            log.exception("turn failed")
            self.message.emit(f"That turn failed: {e}")
        finally:
            if not cancel.is_set():
                self._set("idle")

    def _on_event(self, kind: str, data: dict) -> None:
        if kind == "heard":
            self.heard.emit(data["text"])
        elif kind == "reply_sentence":
            self.reply_sentence.emit(data["text"])
        elif kind == "first_audio":
            self._set("speaking")

    def _apply(self, action: dict) -> None:
        kind, value = action.get("kind"), action.get("value")
        if kind == "switch_voice" and value:
            self.set_voice(str(value))
        elif kind == "open_panel":
            self.open_panel.emit(str(value))
        elif kind == "volume" and value:
            self.sink.volume = float(np.clip(self.sink.volume + float(value), 0.1, 2.0))
        elif kind == "speed" and value:
            self.settings.tts.speed = float(np.clip(self.settings.tts.speed + float(value), 0.5, 2.0))
            self._save_settings()

    def _timer_due(self, timer) -> None:
        text = self.assistant.timer_due_text(timer)
        self.reply_sentence.emit(text)
        threading.Thread(target=self._say, args=(text,), daemon=True).start()

    def _say(self, text: str) -> None:
        try:
            with self.supervisor.client() as client:
                self.sink.new_reply()
                for chunk in client.speak([text], self.settings.voice.active):
                    self.sink.play(chunk)
                self.sink.end_of_reply()
        except Exception as e:
            self.message.emit(f"Could not speak: {e}")

    def _engine(self):
        with self._client_lock:
            if self._client is None:
                if not self.supervisor.wait_ready(120):
                    raise UserError("The speech engine is not ready yet; wait a moment and try again.")
                self._client = self.supervisor.client()
            return self._client

    def _drop_client(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
            self._client = None

    def _open_sink(self):
        from app.audio.playback import Player

        try:
            player = Player(self.settings.audio.output_device, self.settings.audio.output_rate)
            player.start()
            return player
        except (UserError, Exception) as e:  # no sound card: still usable, replies shown
            self.message.emit(f"No audio output ({e}); replies will be shown but not heard.")
            return NullSink()

    def _save_settings(self) -> None:
        from app.settings import save

        save(self.paths.settings_file, self.settings)

    def _set(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)
