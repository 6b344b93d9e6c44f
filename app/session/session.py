"""The desktop app's session, Qt-free: the push-to-talk state machine and everything a turn needs.

idle → listening (key held) → thinking (transcribing, deciding) → speaking → idle. Pressing talk
while thinking or speaking is a barge-in: synthesis is cancelled, buffered audio is dropped at
once, the interrupted answer is reported as cut, and listening starts.

Requests (press, release, set_voice, apply_settings …) return at once; each turn runs on a worker
thread (the engine client blocks). Everything that happens is reported to a ``SessionListener``
(the Qt controller turns those reports into signals). Nothing the engine does — crash, hang,
error — may end the session: the turn is reported as failed and the engine is brought back.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from app.assistant import Action, Assistant, Timers
from app.audio import clip
from app.audio import devices
from app.engines.client import EngineGone
from app.engines.protocol import Transcript
from app.errors import NothingCouldServe, UserError, first_line
from app.net import is_online
from app.paths import Paths
from app.session.audio_io import AudioIO
from app.session.cloning import Cloning
from app.session.engine_link import Engine, EngineLink, StateSink, default_engine
from app.session.global_key import GlobalHotkey
from app.session.hearing import Hearing
from app.session.hold import HoldDebouncer
from app.session.listener import SessionListener
from app.session.speaking import SAMPLE_SENTENCE, Speaking
from app.session.turn import TurnResult, TurnState, run_turn, settings_after
from app.settings import save
from app.settings.merge import with_changes
from app.settings.model import Settings
from app.voices.library import VoiceLibrary

log = logging.getLogger(__name__)

ONLINE_PROBE_S = 60.0


class Session:
    def __init__(self, paths: Paths, settings: Settings, voices: VoiceLibrary,
                 listener: SessionListener, *, mic_file: Path | None = None,
                 probe_online: bool = True, audio: AudioIO | None = None,
                 engine_factory: Callable[[Settings, StateSink], Engine] | None = None):
        self.paths, self.settings, self.voices, self.listener = paths, settings, voices, listener
        self.probe_online = probe_online
        self.audio = audio or AudioIO(settings.audio, mic_file=mic_file)
        self.audio.on_level, self.audio.on_message = listener.level, listener.message
        self.audio.on_first_sample = self._on_first_sample
        self.link = EngineLink(settings, self._engine_state, engine_factory or default_engine(paths))
        self.timers = Timers(self._timer_due)
        self.assistant = Assistant(voices=lambda: [v.name for v in self.voices.list()],
                                   settings=settings.assistant, timers=self.timers)
        self.hold = HoldDebouncer(self.press, self.release)
        self.state = TurnState.IDLE
        self.online: bool | None = None
        self.hotkey: GlobalHotkey | None = None
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self._closing = threading.Event()
        self.speaking = Speaking(self.link, self.audio, listener, lambda: self.settings,
                                 lambda: self.state is TurnState.IDLE, self._closing)
        self._turn: threading.Thread | None = None
        self._turn_id = 0
        self._cuts: dict[int, float] = {}
        self._t_release = 0.0
        self._hearing: Hearing | None = None
        self.cloning = Cloning(paths.models)
        self._told_offline: set[str] = set()   # voices already told they sound like Piper for now

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self.audio.open()
        self._report_cloning(None)   # from the settings now; the engine's word once it is ready
        self.link.start()
        try:  # the library's spelling of the active voice ("kaytoo" → "Kaytoo")
            self.settings.voice.active = self.voices.get(self.settings.voice.active).name
        except UserError as e:
            self.listener.message(str(e))
        self.listener.voice_changed(self.settings.voice.active)
        self._grab_global_key()
        if self.probe_online:
            threading.Thread(target=self._watch_online, name="online-probe", daemon=True).start()
        self._set(TurnState.IDLE)

    def shutdown(self) -> None:
        self._closing.set()
        self._cancel.set()
        if self.hotkey is not None:
            self.hotkey.stop()
        self.audio.stop()
        if self._turn is not None:
            self._turn.join(10)
        self.timers.close()
        self.audio.close()
        self.link.stop()

    # -- push to talk ----------------------------------------------------------------------------
    def key_down(self) -> None:
        """A press of the push-to-talk key (debounced: auto-repeat pairs keep one hold)."""
        self.hold.down()

    def key_up(self) -> None:
        self.hold.up()

    def press(self) -> None:
        with self._lock:
            if self.state is TurnState.LISTENING:
                return
            barge_in = self.state in (TurnState.THINKING, TurnState.SPEAKING)
            if barge_in:
                self._barge_in()
            self._set(TurnState.LISTENING)
        hearing = Hearing(self.link, self.settings.stt.language) if self.audio.live else None
        self._hearing = hearing
        if not self.audio.begin_listening(lambda: self.state is TurnState.LISTENING,
                                          hearing.feed if hearing else None,
                                          preroll=not barge_in):
            if hearing:
                hearing.abandon()
            self._set(TurnState.IDLE)

    def release(self) -> None:
        with self._lock:
            if self.state is not TurnState.LISTENING:
                return
            self._t_release = time.monotonic()
            hearing, self._hearing = self._hearing, None
            samples = self.audio.end_listening()
            confirm = samples is None and self.assistant.pending is not None
            if samples is None:
                if hearing:
                    hearing.abandon()
                if not confirm:     # a tap is not a question, unless it answers "Did you mean …?"
                    self._set(TurnState.IDLE)
                    return
                hearing, samples = _PressedAgain(), np.zeros(0, np.float32)
            self._set(TurnState.THINKING)
            self._turn_id += 1
            self._cancel = threading.Event()
            self._turn = threading.Thread(
                target=self._run_turn,
                args=(self._turn_id, samples, hearing, self._cancel, self._turn, self._t_release),
                name=f"turn-{self._turn_id}", daemon=True)
            self._turn.start()

    def _barge_in(self) -> None:
        """Cut the current answer now: cancel synthesis, silence the speaker, note how much was heard."""
        self._cancel.set()
        self._cuts[self._turn_id] = self.audio.cut()

    # -- other requests --------------------------------------------------------------------------
    def set_voice(self, name: str) -> None:
        try:
            name = self.voices.get(name).name
        except UserError as e:
            self.listener.message(str(e))
            return
        self.settings.voice.active = name
        self._save_settings()
        self.listener.voice_changed(name)
        why = None if self.heard_as_itself(name) else self.cloning.why
        if why and name.lower() not in self._told_offline:
            # Said once per voice, not at every switch (the status bar shows the voice itself).
            self._told_offline.add(name.lower())
            self.listener.message(f"'{name}' sounds like the offline voice until the cloned "
                                  f"voice can be used ({why[0]}).")

    def heard_as_itself(self, name: str) -> bool:
        """Does ``name`` sound like itself now? A bundled voice is made from the offline voice
        (Piper), so it always does; a library voice needs the cloning tier."""
        try:
            bundled = self.voices.get(name).bundled
        except UserError:
            return False
        return bundled or self.cloning.why is None

    def preview_reference(self, name: str) -> None:
        if self._busy("play a preview"):
            return

        try:
            voice = self.voices.get(name)
            ref = clip.load(voice.reference_wav)
        except UserError as e:
            self.listener.message(str(e))
            return
        self.audio.play_clip(ref.samples, ref.rate)
        self.listener.message(f"Playing the reference clip of '{voice.name}'.")

    def speak_sample(self, name: str) -> None:
        if self._busy("speak a sample"):
            return
        self.speaking.say(SAMPLE_SENTENCE, name, sample=True)

    def prepare_voice(self, name: str) -> threading.Event:
        """Compute a new voice's cloning latents in the background (see Speaking.prepare)."""
        return self.speaking.prepare(name)

    def test_tone(self, device: str | None = None) -> None:
        try:
            self.audio.test_tone(device)
            self.listener.message("Playing a test tone (A, 440 Hz).")
        except UserError as e:
            self.listener.message(str(e))

    def mic_check(self, device: str | None = None) -> None:
        def work() -> None:
            try:
                self.listener.mic_checked(self.audio.mic_check(device))
            except UserError as e:
                self.listener.message(str(e))
                self.listener.mic_checked(-120.0)

        threading.Thread(target=work, name="mic-check", daemon=True).start()

    def refresh_devices(self) -> None:
        """Re-scan audio devices (hot-plug); the speaker is reopened around the re-scan."""
        if self._busy("refresh the devices"):
            return
        self.listener.devices_changed(*self.audio.rescan())
        self.listener.message("Audio devices refreshed.")

    def apply_settings(self, delta: dict) -> None:
        """Apply a dialog's changes (``app.settings.merge.changes``): live where possible, a new
        engine only when a model or tier setting changed. Fields not in ``delta`` are kept."""
        try:
            new = with_changes(self.settings, delta)
        except ValueError as e:
            self.listener.message(f"Those settings were not applied ({first_line(e)}).")
            return
        self._apply(new)

    def stop_audio(self) -> None:
        self.audio.stop()

    def devices(self) -> tuple[list[str], list[str]]:
        return devices.names("input"), devices.names("output")

    # -- the turn (worker thread) ----------------------------------------------------------------
    def _run_turn(self, turn_id: int, samples: np.ndarray, hearing: "Hearing | None",
                  cancel: threading.Event, previous: threading.Thread | None,
                  t_release: float) -> None:
        heard = hearing.finish() if hearing is not None else None   # heard while it was held
        heard_s = round(time.monotonic() - t_release, 4)
        if previous is not None:
            previous.join(30)   # an interrupted turn drains its connection first
        self.audio.begin_reply(self.settings.tts.speed)
        events = _TurnEvents(self, turn_id, cancel)
        try:
            result = self._turn_with_retry(samples, heard, cancel, events)
            if heard is not None:
                result.timings.stt_s = heard_s
            self.audio.end_reply(cancel)
            cut = cancel.is_set() or result.cut
            result.cut = cut
            result.played_fraction = self._cuts.pop(turn_id, 1.0) if cut else 1.0
            first = self.audio.first_dac
            result.timings.first_sound_s = round(first - t_release, 4) if first else None
            result.timings.spoken_s = round(time.monotonic() - t_release, 4)
            result.underruns = self.audio.underruns
            result.fallbacks = [f for f in result.fallbacks if not self.cloning.known(f.tier)]
            self.listener.turn_done(result)
            if not cut:
                self._act(result.action)
        except EngineGone:
            self.link.drop()
            if events.replied and not cancel.is_set():
                # What arrived is still played; the card strikes the rest, as a barge-in does.
                self.audio.end_reply(cancel, timeout=60)
                self.listener.reply_cut(self.audio.heard_fraction())
            self.listener.turn_failed("The speech engine stopped during that turn; it is "
                                      "restarting. Try again in a moment.")
        except (UserError, NothingCouldServe) as e:
            self.listener.turn_failed(str(e))
        except Exception as e:  # never take the app down
            log.exception("turn failed")
            self.link.drop()
            self.listener.turn_failed(f"That turn failed ({type(e).__name__}: {e}).")
        finally:
            with self._lock:
                if turn_id == self._turn_id and self.state in (TurnState.THINKING,
                                                               TurnState.SPEAKING):
                    self._set(TurnState.IDLE)

    def _turn_with_retry(self, samples: np.ndarray, heard: Transcript | None,
                         cancel: threading.Event, events: "_TurnEvents") -> TurnResult:
        assistant = _Confirming(self.assistant) if heard is _PRESSED_AGAIN else self.assistant
        for attempt in (1, 2):
            try:
                return run_turn(self.link.client(), assistant, samples,
                                self.settings.voice.active, self._play_unless(cancel), cancel, events,
                                transcript=heard)
            except EngineGone:
                self.link.drop()
                # Nothing said yet: ask again once the supervisor has the engine back.
                if attempt == 2 or events.replied or cancel.is_set():
                    raise
                self.listener.message("The speech engine stopped; asking again once it is back…")
                self.link.wait_back()
        raise AssertionError("unreachable")

    def _play_unless(self, cancel: threading.Event) -> Callable[[np.ndarray], None]:
        def play(chunk: np.ndarray) -> None:
            if not cancel.is_set():
                self.audio.play(chunk)
        return play

    def _act(self, action: Action) -> None:
        """Do what a spoken command asked for besides speaking (the one place actions are read)."""
        kind, value = action.kind, action.value
        if kind == "switch_voice" and value:
            self.set_voice(str(value))
        elif kind == "open_panel":
            self.listener.open_panel(str(value))
        elif kind == "stop":
            self.audio.stop()
        elif kind == "volume" and value:
            self.audio.volume = self.settings.tts.clamped("volume", self.audio.volume + float(value))
            self.listener.message(f"Volume {self.audio.volume:.0%}.")
        elif kind == "speed" and value:
            self._apply(settings_after(action, self.settings))

    def _timer_due(self, timer) -> None:
        text = self.assistant.timer_due_text(timer)
        self.listener.announce(text)
        self.speaking.say(text)

    # -- engine, settings, key, network ----------------------------------------------------------
    def _engine_state(self, state: str, detail: str) -> None:
        self.listener.engine_state(state, detail)
        if state == "ready":
            threading.Thread(target=self._fetch_tiers, name="tier-status", daemon=True).start()

    def _fetch_tiers(self) -> None:
        try:
            with self.link.fresh_client(ready_timeout=10, timeout=30) as client:
                status = client.tier_status()
        except Exception as e:  # the engine went away again: its next "ready" asks anew
            log.info("tier status unavailable: %s", first_line(e))
            return
        self._report_cloning(status)

    def _report_cloning(self, status: dict[str, str | None] | None) -> None:
        """Work out (and report) why library voices cannot be heard in their own voice now."""
        why, fix = self.cloning.update(self.settings, status) or (None, "")
        self.listener.cloning_status(why, fix)

    def _apply(self, new: Settings) -> None:
        old, self.settings = self.settings, new.model_copy(deep=True)
        self._save_settings()
        self.audio.apply(self.settings.audio)
        if (old.tts, old.engine) != (new.tts, new.engine):
            self._report_cloning(None)   # asked again when the new engine is ready
        if (old.tts, old.stt, old.engine) != (new.tts, new.stt, new.engine):
            self.listener.message("Restarting the speech engine to apply the new settings…")
            threading.Thread(target=self.link.restart, args=(self.settings,),
                             name="engine-restart", daemon=True).start()
        if old.voice.active != new.voice.active:
            try:   # always the library's spelling
                self.settings.voice.active = self.voices.get(new.voice.active).name
            except UserError:
                pass
            self.listener.voice_changed(self.settings.voice.active)
        if old.ui.global_ptt_key != new.ui.global_ptt_key:
            self._grab_global_key()
        self.assistant.settings = self.settings.assistant
        self.listener.settings_changed(self.settings.model_copy(deep=True))

    def _save_settings(self) -> None:
        try:
            save(self.paths.settings_file, self.settings)
        except OSError as e:
            self.listener.message(f"The settings could not be saved ({first_line(e)}).")

    def _grab_global_key(self) -> None:
        """A system-wide push-to-talk key, when one is set and the platform allows it (X11)."""
        if self.hotkey is not None:
            self.hotkey.stop()
            self.hotkey = None
        key = self.settings.ui.global_ptt_key
        if not key:
            return
        hotkey = GlobalHotkey(key, self.hold.down, self.hold.up)
        try:
            hotkey.start()
        except UserError as e:
            self.listener.message(str(e))
            return
        self.hotkey = hotkey

    def _watch_online(self) -> None:
        while not self._closing.is_set():
            now = is_online()
            if now != self.online:
                self.online = now
                self.listener.online_changed(now)
            self._closing.wait(ONLINE_PROBE_S)

    def _on_first_sample(self, dac_time: float) -> None:
        # PortAudio thread: only compute and report.
        if self.state in (TurnState.THINKING, TurnState.SPEAKING):
            self.listener.first_sound(max(0.0, dac_time - self._t_release))

    def _busy(self, what: str) -> bool:
        if self.state is not TurnState.IDLE:
            self.listener.message(f"Cannot {what} during a turn.")
            return True
        return False

    def _set(self, state: TurnState) -> None:
        with self._lock:
            self.state = state
        self.listener.state_changed(state)


_PRESSED_AGAIN = Transcript("Yes (pressed again).", "", 0.0, 0.0)


class _PressedAgain:
    """The key pressed (and let go) again while "Did you mean …?" waits: that is a yes."""

    def finish(self) -> Transcript:
        return _PRESSED_AGAIN


class _Confirming:
    """The assistant for a press that confirms: the held command is done."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant

    def respond(self, *_):
        return self.assistant.confirm_pending() or self.assistant.respond("")


class _TurnEvents:
    """A turn's reports, forwarded while the turn is still the current one (not cut)."""

    def __init__(self, session: Session, turn_id: int, cancel: threading.Event):
        self.session, self.turn_id, self.cancel = session, turn_id, cancel
        self.replied = False
        self._heard = False

    def heard(self, transcript) -> None:
        if not self.cancel.is_set() and not self._heard:
            self._heard = True
            self.session.listener.heard(transcript.text)

    def reply_sentence(self, text: str) -> None:
        if self.cancel.is_set():
            return
        self.replied = True
        self.session.listener.reply_sentence(text)
        self.session.audio.sentence_coming(text)

    def first_audio(self, seconds: float) -> None:
        if self.cancel.is_set():
            return
        s = self.session
        with s._lock:
            if self.turn_id == s._turn_id and s.state is TurnState.THINKING:
                s._set(TurnState.SPEAKING)
