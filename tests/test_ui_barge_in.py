"""A reply that stops part-way shows what was heard: a lost engine strikes the unheard rest as a
barge-in does; and after a barge-in the microphone's pre-roll (Kaytoo's own voice from the
speaker) is dropped, so a release without speech is not a question made of Kaytoo's words."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from app.audio.capture import Recorder
from app.audio.clip import STT_RATE
from app.audio.playback import Player, tone
from app.session import TurnState
from app.ui.conversation import ConversationView
from tests.test_session import WAIT, session  # noqa: F401  (the session fixture)


def test_after_a_barge_in_the_preroll_is_dropped(session):  # noqa: F811
    s, engine, listener = session
    engine.hold.set()
    s.press()
    s.release()
    assert engine.chunk_sent.wait(WAIT)
    listener.wait(lambda: TurnState.SPEAKING in listener.states)
    s.press()                                   # barge in: the mic just heard Kaytoo speaking
    engine.release_chunks.set()
    listener.wait(lambda: bool(listener.done))
    assert s.audio.recorder.prerolls == [True, False]
    engine.hold.clear()
    s.release()
    listener.wait(lambda: s.state is TurnState.IDLE)


def test_engine_lost_mid_reply_strikes_the_unheard_rest(session, qtbot):  # noqa: F811
    s, engine, listener = session
    cuts: list[float] = []
    listener.reply_cut = cuts.append
    engine.die_while_speaking.set()
    s.press()
    s.release()
    listener.wait(lambda: bool(listener.failed))
    assert len(cuts) == 1 and 0 <= cuts[0] < 1

    view = ConversationView()                    # what the window does with those reports
    qtbot.addWidget(view)
    view.begin_turn("What time is it?")
    view.add_sentence("It is ten past six. Time flies when you are a droid.")
    view.cut_reply(0.4)
    view.fail_turn(listener.failed[-1])
    reply = view.cards[-1].reply.text()
    assert "line-through" in reply and "cut off" in reply
    struck = reply.split("line-through")[1]
    assert "droid" in struck and "It is ten" not in struck
    assert "restarting" in view.cards[-1].notes.text()


def test_recorder_drops_the_preroll_when_asked(pulse):
    """Kaytoo "speaks" a tone into the loop-back microphone while the key is up; a press after a
    barge-in (preroll=False) keeps none of it, an ordinary press keeps the pre-roll."""
    player = Player()
    player.start()
    loud = threading.Event()
    heard: list[float] = []

    def level(db: float) -> None:
        heard.append(db)
        if sum(1 for d in heard if d > -30) >= 25:   # 2.5 s of tone at 10 levels a second
            loud.set()

    rec = Recorder(None, level, level_hz=10, preroll_s=2.0, levels_when_idle=True)
    try:
        rec.open()
        assert rec.wait_flowing(10)
        player.play_clip(tone(440, 30.0), 48000)
        assert loud.wait(30)
        rec.begin(preroll=True)
        with_preroll = rec.end()
        heard.clear()
        loud.clear()
        assert loud.wait(30)                          # the pre-roll is full of tone again
        rec.begin(preroll=False)
        without = rec.end()
    finally:
        player.stop_now()
        rec.close()
        player.close()
    assert len(with_preroll) >= 1.5 * STT_RATE and np.abs(with_preroll).max() > 0.05
    assert len(without) < 1.0 * STT_RATE             # only what arrived after the press
