"""The conversation view keeps the newest card in view (a turn's and a timer's) and keeps its
scroll position through a resize: at the bottom it stays at the bottom; scrolled up, the card at
the top stays at the top."""
from __future__ import annotations

import pytest

from app.ui.conversation import ConversationView

REPLY = ("Affirmative. I have calculated the odds of that working, and I would rather not "
         "tell you what they are. ")


@pytest.fixture
def view(qtbot):
    v = ConversationView()
    qtbot.addWidget(v)
    v.resize(420, 300)
    v.show()
    return v


def visible(view: ConversationView, card) -> bool:
    """Is the card's bottom edge inside the viewport?"""
    bottom = card.mapTo(view.viewport(), card.rect().bottomLeft()).y()
    return 0 < bottom <= view.viewport().height()


def fill(view, qtbot, n: int = 12) -> None:
    for i in range(n):
        view.begin_turn(f"question {i}")
        view.add_sentence(REPLY * 2)
        view.finish_turn({"reply": REPLY, "timings": {"stt_s": 0.2, "total_s": 1.0}, "tier": "piper"})
    qtbot.waitUntil(lambda: view.verticalScrollBar().maximum() > 0 and view.at_bottom())


def test_the_newest_card_and_a_timer_card_are_scrolled_into_view(view, qtbot):
    fill(view, qtbot)
    qtbot.waitUntil(lambda: visible(view, view.cards[-1]))
    view.verticalScrollBar().setValue(0)        # the user scrolls back up …
    card = view.announce("Your two-minute timer is done.")   # … and a timer goes off
    qtbot.waitUntil(lambda: visible(view, card))
    assert view.at_bottom()


def test_resizing_at_the_bottom_stays_at_the_bottom(view, qtbot):
    fill(view, qtbot)
    for width in (260, 600, 300):
        view.resize(width, 300)
        qtbot.waitUntil(lambda: view.at_bottom() and visible(view, view.cards[-1]))


def test_resizing_scrolled_up_keeps_the_card_at_the_top(view, qtbot):
    fill(view, qtbot)
    target = view.cards[4]
    view.verticalScrollBar().setValue(target.y() + 2)
    assert view.top_card() is target and not view.at_bottom()
    for width in (260, 640):
        view.resize(width, 300)
        qtbot.waitUntil(lambda: view.top_card() is target and abs(
            view.verticalScrollBar().value() - target.y()) <= max(3, target.height() // 2))
        assert not view.at_bottom()
