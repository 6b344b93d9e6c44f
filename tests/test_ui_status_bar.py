"""The status bar never shows a stale or contradictory text: engine states replace each other,
the restart count is per crash and ends at recovery, a voice change clears a note about the last
voice, and the voice is always spelled as in the library."""
from __future__ import annotations

from app import paths as paths_mod
from app.runtime import asset_dir
from app.session import Session
from app.session.audio_io import AudioIO
from app.settings import Settings
from app.ui.status_bar import StatusBar
from app.voices.library import VoiceLibrary
from tests.test_session import FakeEngine, FakePlayer, FakeRecorder, Recorded


class Engines(Recorded):
    def __init__(self):
        super().__init__()
        self.engine_states: list[tuple[str, str]] = []

    def engine_state(self, state, detail):
        self.engine_states.append((state, detail))


def test_engine_states_replace_each_other(qtbot):
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.set_engine("ready", "unix://x")
    bar.show_message("Restarting the speech engine to apply the new settings…")
    bar.set_engine("restarting", "the engine stopped unexpectedly (exit code -9)")
    assert "restarting" in bar.engine.text() and "exit code -9" in bar.note.text()
    bar.set_engine("restarting", "attempt 1")
    assert "attempt 1" in bar.engine.text()
    bar.set_engine("ready", "unix://x")
    assert "engine ready" in bar.engine.text() and "attempt" not in bar.engine.text()
    assert bar.note.text() == ""                 # nothing from the outage stays
    bar.show_message("Added voice 'narrator'.")
    bar.set_engine("ready", "unix://x")
    assert bar.note.text() == "Added voice 'narrator'."   # a note made while ready stays


def test_a_voice_change_clears_a_note_about_the_last_voice(qtbot):
    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.set_voice("narrator")
    bar.show_message("'narrator' sounds like the offline voice until the cloned voice can be used.")
    bar.set_voice("Kaytoo")
    assert bar.note.text() == "" and bar.voice.text() == "voice: Kaytoo"


def test_restart_count_is_per_crash_and_the_voice_is_spelled_as_in_the_library(kaytoo_home):
    paths = paths_mod.resolve().ensure()
    engine, listener = FakeEngine(), Engines()
    settings = Settings()
    settings.voice.active = "kaytoo"            # as a hand-edited settings file may have it
    audio = AudioIO(settings.audio, player_factory=FakePlayer, recorder_factory=FakeRecorder)
    s = Session(paths, settings, VoiceLibrary(paths.voices, asset_dir() / "voices"), listener,
                probe_online=False, audio=audio, engine_factory=engine.factory)
    s.start()
    try:
        assert listener.voices[-1] == "Kaytoo"
        # what the supervisor reports through two crashes (each counted afresh: test_supervisor)
        for state, detail in (("restarting", "the engine stopped unexpectedly"),
                              ("restarting", "attempt 1"), ("restarting", "attempt 2"),
                              ("ready", "u"), ("restarting", "the engine stopped unexpectedly"),
                              ("restarting", "attempt 1")):
            engine.on_state(state, detail)
        attempts = [d for st, d in listener.engine_states if d.startswith("attempt")]
        assert attempts == ["attempt 1", "attempt 2", "attempt 1"]

        changed = Settings()
        changed.voice.active = "KAYTOO"
        from app.settings.merge import changes

        s.set_voice("kaytoo")
        assert listener.voices[-1] == "Kaytoo"
        s.apply_settings(changes(s.settings, changed))
        assert s.settings.voice.active == "Kaytoo"
    finally:
        s.shutdown()
