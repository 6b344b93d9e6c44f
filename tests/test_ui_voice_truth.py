"""Voices tell the truth: which voices can be heard as themselves now, why not and what fixes it;
switching to such a voice says so once; a known (chosen) fallback is not repeated on every card;
the empty window's hint names only voices that exist. The session runs with the fake engine and
devices of tests/test_session.py; the widgets are the real ones."""
from __future__ import annotations

import pytest

from app import paths as paths_mod
from app.engines.protocol import Fallback
from app.runtime import asset_dir
from app.session import Session, TurnState
from app.session.audio_io import AudioIO
from app.session.cloning import cloning_why
from app.settings import Settings
from app.ui.conversation import ConversationView
from app.ui.cloning_banner import FIX_LABELS
from app.ui.voice_panel import NAME_ROLE, OFFLINE, OWN, VoicePanel
from app.voices.library import VoiceLibrary
from tests.test_session import FakeEngine, FakePlayer, FakeRecorder, FakeSpeech, Recorded, ask

LONG = ("The quick brown fox jumps over the lazy dog, and then it runs back across the field "
        "to do it all over again.")


class Cloning(Recorded):
    def __init__(self):
        super().__init__()
        self.cloning: list[tuple[str | None, str]] = []

    def cloning_status(self, why, fix):
        self.cloning.append((why, fix))
        self._note()


def make_session(settings: Settings, library: VoiceLibrary, engine: FakeEngine, listener):
    paths = paths_mod.resolve().ensure()
    audio = AudioIO(settings.audio, player_factory=FakePlayer, recorder_factory=FakeRecorder)
    s = Session(paths, settings, library, listener, probe_online=False, audio=audio,
                engine_factory=engine.factory)
    s.start()
    return s


@pytest.fixture
def library(kaytoo_home):
    paths = paths_mod.resolve().ensure()
    return VoiceLibrary(paths.voices, asset_dir() / "voices")


def test_declined_licence_is_reported_once_with_its_fix_and_not_on_cards(library, speak, monkeypatch):
    library.add("narrator", speak(LONG, "narrator-long"))
    engine, listener = FakeEngine(), Cloning()
    real_iter = FakeSpeech.__iter__

    def with_xtts_skipped(self):        # the engine skips XTTS as it does without a licence
        yield from real_iter(self)
        self.report.fallbacks = [Fallback("xtts", "the XTTS licence has not been accepted")]
    monkeypatch.setattr(FakeSpeech, "__iter__", with_xtts_skipped)

    s = make_session(Settings(), library, engine, listener)
    try:
        listener.wait(lambda: listener.cloning and listener.cloning[-1][1] == "licence")
        assert listener.cloning[-1] == ("the XTTS licence was not accepted", "licence")
        assert s.heard_as_itself("Kaytoo") and not s.heard_as_itself("narrator")

        s.set_voice("narrator")
        first = listener.messages[-1]
        assert "narrator" in first and "offline voice" in first and "licence" in first
        told = len(listener.messages)
        s.set_voice("Kaytoo")
        s.set_voice("narrator")              # said once, not at every switch
        assert not any("offline" in m for m in listener.messages[told:])
        assert listener.voices[-1] == "narrator"

        result = ask(s, listener, 0)
        assert result.tier == "piper" and result.fallbacks == []   # a choice, not news
    finally:
        s.shutdown()


def test_a_real_cloning_failure_still_shows_on_the_card(qtbot, library, monkeypatch):
    engine, listener = FakeEngine(), Cloning()
    monkeypatch.setattr("tests.test_session.FakeClient.tier_status",
                        lambda self: {"xtts": None, "piper": None})
    real_iter = FakeSpeech.__iter__

    def xtts_broke(self):
        yield from real_iter(self)
        self.report.fallbacks = [Fallback("xtts", "XTTS ran out of memory")]
    monkeypatch.setattr(FakeSpeech, "__iter__", xtts_broke)
    settings = Settings()
    settings.tts.xtts_consent = True
    s = make_session(settings, library, engine, listener)
    try:
        listener.wait(lambda: listener.cloning and listener.cloning[-1] == (None, ""))
        result = ask(s, listener, 0)
        assert [f.reason for f in result.fallbacks] == ["XTTS ran out of memory"]
        card_view = ConversationView()
        qtbot.addWidget(card_view)
        card_view.finish_turn(result.to_dict())
        assert "out of memory" in card_view.current.notes.text()
    finally:
        s.shutdown()


def test_why_cloning_cannot_serve_names_the_fix():
    s = Settings()
    assert cloning_why(s, None, False) == ("the XTTS licence was not accepted", "licence")
    s.tts.xtts_consent = True
    assert cloning_why(s, None, False) == ("the cloning model is not downloaded", "model")
    assert cloning_why(s, None, True) is None                 # not known until the engine answers
    assert cloning_why(s, {"xtts": None}, True) is None
    why, fix = cloning_why(s, {"xtts": "torch is not installed"}, True)
    assert "torch is not installed" in why and fix == ""
    s.tts.tiers = ["piper", "pyttsx3"]
    assert cloning_why(s, {"piper": None}, True)[1] == "tiers"


def test_panel_marks_each_voice_and_offers_the_fix(qtbot, library, speak):
    library.add("narrator", speak(LONG, "narrator-long"))
    panel = VoicePanel(library)
    qtbot.addWidget(panel)
    panel.show()
    panel.refresh("Kaytoo")
    fixes = []
    panel.fix_requested.connect(fixes.append)
    assert panel.banner.isHidden()                          # nothing known yet: no claim

    panel.set_cloning("the cloning model is not downloaded", "model")
    items = [panel.list.topLevelItem(i) for i in range(panel.list.topLevelItemCount())]
    rows = {item.data(0, NAME_ROLE): item.text(4) for item in items}
    assert rows == {"Kaytoo": OWN, "narrator": OFFLINE}
    assert panel.banner.isVisible() and "not downloaded" in panel.banner.text.text()
    fix = panel.banner.fix
    assert fix.isVisible() and fix.text() == FIX_LABELS["model"] == "Get the cloning model"
    panel.select("narrator")
    assert "offline voice" in panel.info.text()
    fix.click()
    assert fixes == ["model"]

    panel.set_cloning("the XTTS licence was not accepted", "licence")
    assert fix.text() == "Accept the licence in Settings"
    panel.set_cloning(None, "")
    assert panel.banner.isHidden()
    assert all(item.text(4) == OWN for item in
               (panel.list.topLevelItem(i) for i in range(panel.list.topLevelItemCount())))


def test_empty_window_hint_names_only_voices_that_exist(qtbot):
    view = ConversationView()
    qtbot.addWidget(view)
    view.set_hint(["Kaytoo"], "Kaytoo")
    assert "switch to" not in view.placeholder.text() and "what time is it" in view.placeholder.text()
    view.set_hint(["Kaytoo", "narrator"], "Kaytoo", "F9")
    assert "switch to the narrator voice" in view.placeholder.text() and "(or F9)" in view.placeholder.text()


def test_the_fix_buttons_open_the_right_place(qtbot):
    from app.ui.app import assemble, voice_library

    paths = paths_mod.resolve().ensure()
    ui = assemble(paths, Settings(), voice_library(paths), probe_online=False)   # not started
    w = ui.window
    qtbot.addWidget(w)
    w.show()
    w.voice_panel.set_cloning("the cloning model is not downloaded", "model")
    w.voice_panel.banner.fix.click()
    assert w.first_run is not None and w.first_run.currentPage() is w.first_run.licence
    assert w.first_run.licence.accepted                    # Next leads on to the download
    w.first_run.reject()
    w.voice_panel.set_cloning("the XTTS licence was not accepted", "licence")
    w.voice_panel.banner.fix.click()
    assert w.settings_dialog is not None
    w.settings_dialog.reject()
