"""The controller: the turn state machine, on its own QThread. Widgets only talk to it by signals.

idle → listening (key held) → thinking (transcribing, deciding) → speaking → idle. Pressing talk
while thinking or speaking is a barge-in: synthesis is cancelled, buffered audio is dropped at
once, the interrupted answer is reported as cut, and listening starts.

Slots run on the controller's thread; each turn runs on a plain worker thread (the engine client
blocks), so a press is handled at once even mid-turn. Devices are the Qt-free ``app.audio``
classes; the engine is a supervised local process (or a remote Wyoming server) reached through
``EngineClient``. Nothing the engine does — crash, hang, error — may take the window down: the
turn is reported as failed and the supervisor brings the engine back.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from app.errors import NothingCouldServe, UserError
from app.paths import Paths
from app.settings.model import Settings
from app.turn import run_turn, settings_after

log = logging.getLogger(__name__)

SAMPLE_SENTENCE = "Hello. This is how I sound. The odds of you liking it are, frankly, unremarkable."
CHARS_PER_SECOND = 14.0       # speaking rate used to guess a reply's length for the jitter buffer
MIN_HOLD_S = 0.3              # shorter than this is a tap, not a question
ONLINE_PROBE_S = 60.0


class Controller(QObject):
    state_changed = Signal(str)          # idle | listening | thinking | speaking
    engine_state = Signal(str, str)      # state, detail
    level = Signal(float)                # input level, dBFS
    heard = Signal(str)
    reply_sentence = Signal(str)
    first_sound = Signal(float)          # release → first reply sample at the device, seconds
    turn_done = Signal(dict)             # TurnResult.to_dict() + first_sound_s, underruns, played_fraction
    turn_failed = Signal(str)
    announce = Signal(str)               # something said unprompted (a timer)
    said = Signal(str, str)              # text spoken outside a turn, the tier that spoke it
    voice_changed = Signal(str)
    voice_progress = Signal(str, float)  # what is being prepared, fraction (1.0: done)
    open_panel = Signal(str)
    message = Signal(str)                # one plain sentence for the status bar
    online_changed = Signal(bool)
    devices_changed = Signal(list, list)  # input names, output names
    mic_checked = Signal(float)          # loudest level in the mic check, dBFS
    settings_changed = Signal(object)    # the Settings now in force
    _hotkey_down = Signal()              # from the global-key thread, queued to press/release
    _hotkey_up = Signal()

    def __init__(self, paths: Paths, settings: Settings, mic_file: Path | None = None,
                 probe_online: bool = True):
        super().__init__()
        self.paths, self.settings, self.mic_file = paths, settings, mic_file
        self.probe_online = probe_online
        self.state = "idle"
        self._state_lock = threading.RLock()
        self._cancel = threading.Event()
        self._turn: threading.Thread | None = None
        self._turn_id = 0
        self._cuts: dict[int, float] = {}
        self._t_release = 0.0
        self._client = None
        self._client_lock = threading.Lock()
        self._closing = threading.Event()
        self.engine = None
        self.recorder = None
        self.player = None
        self.assistant = None
        self.timers = None
        self.voices = None
        self.online: bool | None = None
        self.jobs = None
        self.hotkey = None

    # -- life cycle (controller thread) ------------------------------------------------------
    @Slot()
    def start(self) -> None:
        from app.assistant import Assistant, Timers
        from app.runtime import asset_dir
        from app.ui.jobs import Jobs
        from app.voices.library import VoiceLibrary

        self.jobs = Jobs()
        self.voices = VoiceLibrary(self.paths.voices, asset_dir() / "voices")
        self.timers = Timers(self._timer_due)
        self.assistant = Assistant(voices=lambda: [v.name for v in self.voices.list()],
                                   settings=self.settings.assistant, timers=self.timers)
        self.player = self._open_player()
        if self.mic_file is None:
            try:   # open now: a fresh input stream can take a second to start delivering
                self._open_mic()
            except UserError as e:
                self.message.emit(f"{e} Push-to-talk will try again when pressed.")
        self._start_engine()
        try:  # show the library's spelling of the active voice ("kaytoo" → "Kaytoo")
            self.settings.voice.active = self.voices.get(self.settings.voice.active).name
        except UserError as e:
            self.message.emit(str(e))
        self.voice_changed.emit(self.settings.voice.active)
        self._hotkey_down.connect(self.press)
        self._hotkey_up.connect(self.release)
        self._grab_global_key()
        if self.probe_online:
            threading.Thread(target=self._watch_online, name="online-probe", daemon=True).start()
        self._set("idle")

    @Slot()
    def shutdown(self) -> None:
        self._closing.set()
        self._cancel.set()
        if self.hotkey is not None:
            self.hotkey.stop()
        if self.player is not None:
            self.player.stop_now()
        if self._turn is not None:
            self._turn.join(10)
        if self.timers:
            self.timers.close()
        self._close_mic()
        if self.player is not None:
            self.player.close()
        self._drop_client()
        if self.engine is not None:
            self.engine.stop()

    # -- push to talk ------------------------------------------------------------------------
    @Slot()
    def press(self) -> None:
        with self._state_lock:
            if self.state == "listening":
                return
            if self.state in ("thinking", "speaking"):
                self._barge_in()
            self._set("listening")
        if self.mic_file is not None:
            return
        for attempt in (1, 2):
            try:
                self._open_mic()
                self.recorder.begin()
                return
            except UserError as e:
                self._close_mic()
                if attempt == 1 and self.state == "listening":
                    self._rescan()   # it may have been plugged in since start-up
                    continue
                self.message.emit(str(e))
                self._set("idle")

    @Slot()
    def release(self) -> None:
        with self._state_lock:
            if self.state != "listening":
                return
            self._t_release = time.monotonic()
            if self.mic_file is not None:
                try:
                    from app.audio import clip

                    samples = clip.load(self.mic_file, clip.STT_RATE).samples
                except UserError as e:
                    self.message.emit(str(e))
                    self._set("idle")
                    return
            elif self.recorder is not None and self.recorder.recording:
                samples = self.recorder.end()
                if len(samples) < MIN_HOLD_S * 16000:
                    self.message.emit("Hold the button (or the key) while you speak, then let go.")
                    self._set("idle")
                    return
            else:
                self._set("idle")
                return
            self._set("thinking")
            self._turn_id += 1
            self._cancel = threading.Event()
            previous = self._turn
            self._turn = threading.Thread(
                target=self._run_turn,
                args=(self._turn_id, samples, self._cancel, previous, self._t_release),
                name=f"turn-{self._turn_id}", daemon=True)
            self._turn.start()

    def _barge_in(self) -> None:
        """Cut the current answer now: cancel synthesis, silence the speaker, note how much was heard."""
        self._cancel.set()
        buf = self.player.buffer
        pushed = buf.pushed_s
        self._cuts[self._turn_id] = (buf.played_s / pushed) if pushed else 0.0
        self.player.stop_now()

    # -- other requests from the window --------------------------------------------------------
    @Slot(str)
    def set_voice(self, name: str) -> None:
        try:
            name = self.voices.get(name).name
        except UserError as e:
            self.message.emit(str(e))
            return
        self.settings.voice.active = name
        self._save_settings()
        self.voice_changed.emit(name)
        self.message.emit(f"Now speaking with the voice '{name}'.")

    @Slot(str)
    def preview_reference(self, name: str) -> None:
        if self._busy("play a preview"):
            return
        try:
            from app.audio import clip

            voice = self.voices.get(name)
            ref = clip.load(voice.reference_wav)
        except UserError as e:
            self.message.emit(str(e))
            return
        self.player.play_clip(ref.samples, ref.rate)
        self.message.emit(f"Playing the reference clip of '{voice.name}'.")

    @Slot(str)
    def speak_sample(self, name: str) -> None:
        if self._busy("speak a sample"):
            return
        threading.Thread(target=self._say, args=(SAMPLE_SENTENCE, name, True),
                         name="sample", daemon=True).start()

    @Slot(str)
    def prepare_voice(self, name: str) -> None:
        """Compute a new voice's cloning latents in the background (only when XTTS can be used)."""
        from app.engines.core import make_backend
        from app.ui.jobs import Job

        # The same test the engine's XTTS tier makes (installed, licence accepted), no model load.
        if "xtts" not in self.settings.tts.tiers or \
                make_backend("xtts", self.paths, self.settings).check() is not None:
            return

        job = Job(lambda job: self._prepare(name, job), f"Preparing '{name}'")
        job.signals.progress.connect(
            lambda done, total, text: self.voice_progress.emit(text, done / total if total else 0.0))
        job.signals.finished.connect(lambda _: self.message.emit(f"'{name}' is ready for cloning."))
        job.signals.failed.connect(lambda why: self.message.emit(
            f"Could not prepare '{name}' in advance ({why}); it is prepared the first time it speaks."))
        for sig in (job.signals.finished, job.signals.failed, job.signals.cancelled):
            sig.connect(lambda *_: self.voice_progress.emit("", 1.0))
        self.jobs.start(job)

    def _prepare(self, name: str, job) -> None:
        """Speak one word with XTTS and the new voice: the engine computes and caches its latents."""
        text = f"Preparing '{name}' for cloning…"
        job.report(1, 20, text)
        if not self.engine.wait_ready(120):
            raise UserError("The speech engine is not ready.")
        with self.engine.client(timeout=300) as client:
            job.report(2, 20, text)
            speech = client.speak(["Ready."], name, "xtts")
            for i, _ in enumerate(speech):
                if job.cancel.is_set():
                    break
                job.report(min(19, 3 + i), 20, text)
        if speech.report.tier != "xtts":
            raise UserError("the cloning voice could not be used")

    @Slot(object)
    def test_tone(self, device: str | None = None) -> None:
        from app.audio.playback import Player, tone

        try:
            if device == self.settings.audio.output_device and self.player.running:
                self.player.play_clip(tone(), 48000)
            else:
                temp = Player(device, self.settings.audio.output_rate)
                temp.start()
                temp.play_clip(tone(), 48000)
                threading.Thread(target=lambda: (temp.wait_done(5), temp.close()),
                                 daemon=True).start()
            self.message.emit("Playing a test tone (A, 440 Hz).")
        except UserError as e:
            self.message.emit(str(e))

    @Slot(object)
    def mic_check(self, device: str | None = None) -> None:
        def work() -> None:
            from app.audio.capture import measure_input

            try:
                self.mic_checked.emit(measure_input(device, 3.0, on_level=self.level.emit))
            except UserError as e:
                self.message.emit(str(e))
                self.mic_checked.emit(-120.0)

        threading.Thread(target=work, name="mic-check", daemon=True).start()

    @Slot()
    def refresh_devices(self) -> None:
        """Re-scan audio devices (hot-plug); the speaker is reopened around the re-scan."""
        if self._busy("refresh the devices"):
            return
        self._rescan()
        self.message.emit("Audio devices refreshed.")

    def _rescan(self) -> None:
        """PortAudio re-initialisation closes every stream: close the speaker first, then reopen."""
        from app.audio import devices

        self.player.close()
        self._close_mic()
        try:
            devices.rescan()
        except Exception as e:
            self.message.emit(f"The audio system could not be re-scanned ({e}).")
        self.player = self._open_player()
        if self.mic_file is None:
            try:
                self._open_mic()
            except UserError:
                pass   # reported when push-to-talk is pressed
        self.devices_changed.emit(devices.names("input"), devices.names("output"))

    @Slot(object)
    def apply_settings(self, new: Settings) -> None:
        """Apply what can be applied live; restart only the engine, and only when it must."""
        old, self.settings = self.settings, new.model_copy(deep=True)
        self._save_settings()
        if old.audio.output_device != new.audio.output_device or \
                old.audio.output_rate != new.audio.output_rate:
            self.player.close()
            self.player = self._open_player()
        if old.audio.input_device != new.audio.input_device and self.state != "listening":
            self._close_mic()
            if self.mic_file is None:
                try:
                    self._open_mic()
                except UserError as e:
                    self.message.emit(str(e))
        if (old.tts != new.tts or old.stt != new.stt or old.engine != new.engine):
            self.message.emit("Restarting the speech engine to apply the new settings…")
            threading.Thread(target=self._restart_engine, name="engine-restart", daemon=True).start()
        if old.voice.active != new.voice.active:
            self.voice_changed.emit(new.voice.active)
        if old.ui.global_ptt_key != new.ui.global_ptt_key:
            self._grab_global_key()
        if self.assistant is not None:
            self.assistant.settings = self.settings.assistant
        self.settings_changed.emit(self.settings.model_copy(deep=True))

    @Slot()
    def stop_audio(self) -> None:
        self.player.stop_now()

    # -- the turn (worker thread) ----------------------------------------------------------------
    def _run_turn(self, turn_id: int, samples: np.ndarray, cancel: threading.Event,
                  previous: threading.Thread | None, t_release: float) -> None:
        from app.engines.client import EngineGone

        if previous is not None:
            previous.join(30)   # an interrupted turn drains its connection first
        player = self.player
        player.new_reply()
        said_chars = [0]
        sent = {"heard": False, "reply": False}

        def on_event(kind: str, data: dict) -> None:
            if cancel.is_set():
                return
            if kind == "heard" and not sent["heard"]:
                sent["heard"] = True
                self.heard.emit(data["text"])
            elif kind == "reply_sentence":
                sent["reply"] = True
                self.reply_sentence.emit(data["text"])
                said_chars[0] += len(data["text"]) + 1
                player.buffer.begin()   # synthesis starts now: the jitter buffer times it
                player.buffer.expect(said_chars[0] / (CHARS_PER_SECOND * self.settings.tts.speed))
            elif kind == "first_audio":
                self._set_if_current(turn_id, "speaking")

        def on_chunk(chunk: np.ndarray) -> None:
            if not cancel.is_set():
                player.play(chunk)

        try:
            for attempt in (1, 2):
                try:
                    client = self._engine_client()
                    result = run_turn(client, self.assistant, samples, self.settings.voice.active,
                                      on_chunk, cancel, on_event)
                    break
                except EngineGone:
                    self._drop_client()
                    # Nothing said yet: ask again once the supervisor has the engine back.
                    if attempt == 2 or sent["reply"] or cancel.is_set():
                        raise
                    self.message.emit("The speech engine stopped; asking again once it is back…")
                    self._wait_engine_back()
            player.end_of_reply()
            while not cancel.is_set() and not player.wait_done(0.05):
                pass
            data = result.to_dict()
            cut = cancel.is_set() or result.cut
            data["cut"] = cut
            data["played_fraction"] = self._cuts.pop(turn_id, 1.0) if cut else 1.0
            first = player.first_dac
            data["timings"]["first_sound_s"] = round(first - t_release, 4) if first else None
            data["timings"]["spoken_s"] = round(time.monotonic() - t_release, 4)
            data["underruns"] = player.underruns
            self.turn_done.emit(data)
            if not cut:
                self._apply(result.action)
        except EngineGone:
            self._drop_client()
            self.turn_failed.emit("The speech engine stopped during that turn; it is restarting. "
                                  "Try again in a moment.")
        except (UserError, NothingCouldServe) as e:
            self.turn_failed.emit(str(e))
        except Exception as e:  # never take the window down
            log.exception("turn failed")
            self._drop_client()
            self.turn_failed.emit(f"That turn failed ({type(e).__name__}: {e}).")
        finally:
            self._set_if_current(turn_id, "idle")

    def _wait_engine_back(self, timeout: float = 120.0) -> None:
        """After a lost connection: let the supervisor notice a dead engine, then wait for ready."""
        proc = getattr(self.engine, "proc", None)
        if proc is not None:
            try:
                proc.wait(5)          # dead (or dying): the supervisor restarts it
            except Exception:         # still running: the connection dropped for another reason
                pass
            deadline = time.monotonic() + 5
            while self.engine.state == "ready" and getattr(self.engine, "proc", None) is proc \
                    and proc.poll() is not None and time.monotonic() < deadline:
                self._closing.wait(0.05)   # the supervisor polls its child every 0.2 s
        self.engine.wait_ready(timeout)

    def _set_if_current(self, turn_id: int, state: str) -> None:
        with self._state_lock:
            if turn_id == self._turn_id and self.state in ("thinking", "speaking"):
                self._set(state)

    def _apply(self, action: dict) -> None:
        kind, value = action.get("kind"), action.get("value")
        if kind == "switch_voice" and value:
            self.set_voice(str(value))
        elif kind == "open_panel":
            self.open_panel.emit(str(value))
        elif kind == "stop":
            self.player.stop_now()
        elif kind == "volume" and value:
            self.player.volume = self.settings.tts.clamped("volume", self.player.volume + float(value))
            self.message.emit(f"Volume {self.player.volume:.0%}.")
        elif kind == "speed" and value:
            self.apply_settings(settings_after(action, self.settings))

    def _timer_due(self, timer) -> None:
        text = self.assistant.timer_due_text(timer)
        self.announce.emit(text)
        threading.Thread(target=self._say, args=(text, None, False), daemon=True).start()

    def _say(self, text: str, voice: str | None, report: bool) -> None:
        """Speak outside a turn (a sample sentence, a timer) on a connection of its own."""
        while self.state != "idle" and not self._closing.is_set():
            self._closing.wait(0.1)   # a timer that falls due mid-turn waits for the turn to end
        try:
            if not self.engine.wait_ready(60):
                raise UserError("The speech engine is not ready yet.")
            with self.engine.client() as client:
                self.player.new_reply(len(text) / CHARS_PER_SECOND)
                self.player.buffer.begin()
                speech = client.speak([text], voice or self.settings.voice.active)
                for chunk in speech:
                    self.player.play(chunk)
                self.player.end_of_reply()
            self.player.wait_done(120)
            self.said.emit(text, speech.report.tier or "")
            if report:
                from app.ui.conversation import tier_name

                self.message.emit(f"Sample spoken by the {tier_name(speech.report.tier)}.")
        except Exception as e:
            self.message.emit(f"Could not speak: {e}")

    # -- engine ----------------------------------------------------------------------------------
    def _start_engine(self) -> None:
        from app.engines.remote import RemoteEngine
        from app.engines.supervisor import Supervisor

        uri = self.settings.engine.remote_uri
        if uri:
            self.engine = RemoteEngine(uri, self._engine_state)
        else:
            self.engine = Supervisor(self.paths, self._engine_state)
        self.engine.start()

    def _engine_state(self, state: str, detail: str) -> None:
        if self._closing.is_set() and state != "stopped":
            return
        if state != "ready":
            self._drop_client()
        self.engine_state.emit(state, detail)

    def _restart_engine(self) -> None:
        self._drop_client()
        old = self.engine
        if old is not None:
            old.stop()
        if not self._closing.is_set():
            self._start_engine()

    def _engine_client(self):
        with self._client_lock:
            if self._client is None:
                engine = self.engine
                if not engine.wait_ready(120):
                    raise UserError("The speech engine is not ready yet; wait a moment and try again.")
                self._client = engine.client()
            return self._client

    def _drop_client(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- helpers -----------------------------------------------------------------------------------
    def _open_player(self):
        from app.audio.playback import Player

        player = Player(self.settings.audio.output_device, self.settings.audio.output_rate,
                        on_first_sample=self._on_first_sample)
        try:
            player.start()
        except UserError as e:  # no speaker: still usable, answers are shown
            self.message.emit(f"{e} Answers will be shown but not heard.")
        return player

    def _grab_global_key(self) -> None:
        """A system-wide push-to-talk key, when one is set and the platform allows it (X11)."""
        from app.ui.global_hotkey import GlobalHotkey

        if self.hotkey is not None:
            self.hotkey.stop()
            self.hotkey = None
        key = self.settings.ui.global_ptt_key
        if not key:
            return
        hotkey = GlobalHotkey(key, self._hotkey_down.emit, self._hotkey_up.emit)
        try:
            hotkey.start()
        except UserError as e:
            self.message.emit(str(e))
            return
        self.hotkey = hotkey

    def _open_mic(self) -> None:
        from app.audio.capture import Recorder

        if self.recorder is None or not self.recorder.is_open:
            self.recorder = Recorder(self.settings.audio.input_device, self.level.emit)
            self.recorder.open()

    def _close_mic(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None

    def _on_first_sample(self, dac_time: float) -> None:
        # PortAudio thread: only compute and emit.
        if self.state in ("thinking", "speaking"):
            self.first_sound.emit(max(0.0, dac_time - self._t_release))

    def _watch_online(self) -> None:
        from app.ui.online import is_online

        while not self._closing.is_set():
            now = is_online()
            if now != self.online:
                self.online = now
                self.online_changed.emit(now)
            self._closing.wait(ONLINE_PROBE_S)

    def _busy(self, what: str) -> bool:
        if self.state != "idle":
            self.message.emit(f"Cannot {what} during a turn.")
            return True
        return False

    def _save_settings(self) -> None:
        from app.settings import save

        try:
            save(self.paths.settings_file, self.settings)
        except OSError as e:
            self.message.emit(f"The settings could not be saved ({e}).")

    def _set(self, state: str) -> None:
        with self._state_lock:
            self.state = state
        self.state_changed.emit(state)
