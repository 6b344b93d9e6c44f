"""The controller: a thin Qt adapter around the Qt-free ``Session`` (app/session/).

It lives on its own QThread. Slots forward the window's requests to the session; the session's
reports come back through ``_Relay`` as signals, which Qt queues to the widgets' thread. Nothing
here decides anything: the state machine, devices, engine and speaking are the session's.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.paths import Paths
from app.session import Session, SessionListener, TurnResult, TurnState
from app.settings.model import Settings
from app.ui.conversation import tier_name
from app.voices.library import VoiceLibrary


class Controller(QObject):
    state_changed = Signal(str)          # idle | listening | thinking | speaking
    engine_state = Signal(str, str)      # state, detail
    level = Signal(float)                # input level, dBFS
    heard = Signal(str)
    reply_sentence = Signal(str)
    first_sound = Signal(float)          # release → first reply sample at the device, seconds
    turn_done = Signal(dict)             # TurnResult.to_dict()
    turn_failed = Signal(str)
    reply_cut = Signal(float)            # the reply stopped (engine lost); fraction of it heard
    announce = Signal(str)               # something said unprompted (a timer)
    said = Signal(str, str)              # text spoken outside a turn, the tier that spoke it
    voice_changed = Signal(str)
    cloning_status = Signal(object, str)  # why library voices sound like Piper (None: they do not), fix
    voice_progress = Signal(str, float)  # what is being prepared, fraction (1.0: done)
    open_panel = Signal(str)
    message = Signal(str)                # one plain sentence for the status bar
    online_changed = Signal(bool)
    devices_changed = Signal(list, list)  # input names, output names
    mic_checked = Signal(float)          # loudest level in the mic check, dBFS
    settings_changed = Signal(object)    # the Settings now in force

    def __init__(self, paths: Paths, settings: Settings, voices: VoiceLibrary,
                 mic_file: Path | None = None, probe_online: bool = True, **session_options):
        super().__init__()
        self.session = Session(paths, settings, voices, _Relay(self), mic_file=mic_file,
                               probe_online=probe_online, **session_options)

    @property
    def settings(self) -> Settings:
        return self.session.settings

    @property
    def state(self) -> str:
        return self.session.state.value

    # -- requests from the window (run on the controller's thread) ---------------------------
    @Slot()
    def start(self) -> None:
        self.session.start()

    @Slot()
    def shutdown(self) -> None:
        self.session.shutdown()

    @Slot()
    def press(self) -> None:
        """The talk button or key went down (debounced: see app.session.hold)."""
        self.session.key_down()

    @Slot()
    def release(self) -> None:
        self.session.key_up()

    @Slot(str)
    def set_voice(self, name: str) -> None:
        self.session.set_voice(name)

    @Slot(str)
    def preview_reference(self, name: str) -> None:
        self.session.preview_reference(name)

    @Slot(str)
    def speak_sample(self, name: str) -> None:
        self.session.speak_sample(name)

    @Slot(str)
    def prepare_voice(self, name: str) -> None:
        self.session.prepare_voice(name)

    @Slot(object)
    def test_tone(self, device: str | None = None) -> None:
        self.session.test_tone(device)

    @Slot(object)
    def mic_check(self, device: str | None = None) -> None:
        self.session.mic_check(device)

    @Slot()
    def refresh_devices(self) -> None:
        self.session.refresh_devices()

    @Slot(object)
    def apply_settings(self, delta: dict) -> None:
        self.session.apply_settings(delta)

    @Slot()
    def stop_audio(self) -> None:
        self.session.stop_audio()


class _Relay(SessionListener):
    """Session reports → controller signals (any thread; Qt queues them to the receivers)."""

    def __init__(self, c: Controller):
        self.c = c

    def state_changed(self, state: TurnState) -> None:
        self.c.state_changed.emit(state.value)

    def engine_state(self, state: str, detail: str) -> None:
        self.c.engine_state.emit(state, detail)

    def level(self, dbfs: float) -> None:
        self.c.level.emit(dbfs)

    def heard(self, text: str) -> None:
        self.c.heard.emit(text)

    def reply_sentence(self, text: str) -> None:
        self.c.reply_sentence.emit(text)

    def first_sound(self, seconds: float) -> None:
        self.c.first_sound.emit(seconds)

    def turn_done(self, result: TurnResult) -> None:
        self.c.turn_done.emit(result.to_dict())

    def turn_failed(self, why: str) -> None:
        self.c.turn_failed.emit(why)

    def reply_cut(self, heard_fraction: float) -> None:
        self.c.reply_cut.emit(heard_fraction)

    def announce(self, text: str) -> None:
        self.c.announce.emit(text)

    def said(self, text: str, tier: str) -> None:
        self.c.said.emit(text, tier)

    def sample_spoken(self, tier: str) -> None:
        self.c.message.emit(f"Sample spoken by the {tier_name(tier)}.")

    def voice_changed(self, name: str) -> None:
        self.c.voice_changed.emit(name)

    def cloning_status(self, why: str | None, fix: str) -> None:
        self.c.cloning_status.emit(why, fix)

    def voice_progress(self, text: str, fraction: float) -> None:
        self.c.voice_progress.emit(text, fraction)

    def open_panel(self, name: str) -> None:
        self.c.open_panel.emit(name)

    def message(self, text: str) -> None:
        self.c.message.emit(text)

    def online_changed(self, online: bool) -> None:
        self.c.online_changed.emit(online)

    def devices_changed(self, inputs: list[str], outputs: list[str]) -> None:
        self.c.devices_changed.emit(inputs, outputs)

    def mic_checked(self, dbfs: float) -> None:
        self.c.mic_checked.emit(dbfs)

    def settings_changed(self, settings: Settings) -> None:
        self.c.settings_changed.emit(settings)
