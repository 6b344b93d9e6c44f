"""Intents from what Whisper writes (fillers, misspellings), persona replies, history, timers."""
from __future__ import annotations

import threading
from datetime import datetime

import pytest

from app.assistant import Assistant, Timers
from app.assistant.numbers import parse_duration

CLOCK = datetime(2026, 11, 22, 15, 10)


@pytest.fixture
def timers():
    fired: list = []
    done = threading.Event()

    def due(t):
        fired.append(t)
        done.set()

    t = Timers(due)
    t.fired, t.done = fired, done
    yield t
    t.close()


@pytest.fixture
def kaytoo(timers):
    return Assistant(voices=lambda: ["Kaytoo", "Narrator", "Pirate Captain"],
                     clock=lambda: CLOCK, timers=timers)


@pytest.mark.parametrize("heard, intent, kind, value", [
    ("What time is it?", "time", "none", None),
    ("Uh, could you tell me what's the time?", "time", "none", None),
    ("What's the date today?", "date", "none", None),
    ("What day is it?", "day", "none", None),
    ("Switch to the narator voice.", "switch_voice", "switch_voice", "Narrator"),
    ("change your voice to pirate captain", "switch_voice", "switch_voice", "Pirate Captain"),
    ("Stop.", "stop", "stop", None),
    ("Be quiet!", "stop", "stop", None),
    ("Speak slower please.", "speed", "speed", -0.15),
    ("Faster.", "speed", "speed", 0.15),
    ("Louder.", "volume", "volume", 0.2),
    ("Speak softer.", "volume", "volume", -0.2),
    ("List voices.", "list_voices", "list_voices", ["Kaytoo", "Narrator", "Pirate Captain"]),
    ("Open the voice library.", "open_panel", "open_panel", "voices"),
    ("Open the video panel.", "open_panel", "open_panel", "video"),
    ("What can you do?", "help", "none", None),
    ("Hello Kaytoo.", "greeting", "none", None),
    ("How are you?", "how_are_you", "none", None),
    ("Tell me a joke.", "joke", "none", None),
    ("Thank you.", "thanks", "none", None),
    ("Who are you?", "who_are_you", "none", None),
    ("Calibrate the flux capacitor.", "unknown", "none", None),
    ("", "nothing_heard", "none", None),
])
def test_intents_and_actions(kaytoo, heard, intent, kind, value):
    reply = kaytoo.respond(heard)
    assert reply.intent == intent
    assert reply.action.kind == kind and reply.action.value == value
    text = reply.text()
    assert text and text[0].isupper() and text.endswith((".", "!", "?"))


def test_time_reply_is_correct(kaytoo):
    assert "3:10 PM" in kaytoo.respond("what time is it").text()
    assert "Sunday, November 22, 2026" in kaytoo.respond("what's the date").text()


@pytest.mark.parametrize("phrase, seconds", [
    ("set a timer for five minutes", 300), ("set a timer for five minuets", 300),
    ("timer for 5 min", 300), ("set a timer for half an hour", 1800),
    ("set a timer for 1 hour and 30 minutes", 5400), ("set a timer for twenty five seconds", 25),
    ("set a timer for an hour and a half", 5400), ("set a timer for a couple of minutes", 120),
])
def test_durations(phrase, seconds):
    assert parse_duration(phrase) == seconds


def test_timers_set_list_cancel_and_fire(kaytoo, timers):
    r = kaytoo.respond("uh, set a timer for five minutes")
    assert r.intent == "timer_set" and r.action.value.seconds == 300
    r = kaytoo.respond("Remind me in 10 minutes to check the oven.")
    assert r.intent == "reminder_set" and "check the oven" in r.text()
    listing = kaytoo.respond("How many timers are running?")
    assert listing.intent == "timers_list" and "check the oven" in listing.text()
    assert kaytoo.respond("Cancel all timers.").intent == "timer_cancel"
    assert timers.pending() == []
    short = timers.add(0.05, "")
    assert timers.done.wait(5) and timers.fired == [short]
    assert "done" in kaytoo.timer_due_text(short)


def test_timer_without_duration_asks(kaytoo):
    assert "how long" in kaytoo.respond("set a timer").text().lower()


def test_replies_stream_sentence_by_sentence(kaytoo):
    reply = kaytoo.respond("what can you do")
    first = next(reply.sentences)
    assert first.startswith("I can tell you the time")


def test_history_and_barge_in(kaytoo):
    kaytoo.respond("what time is it").text()
    help_reply = kaytoo.respond("what can you do")
    first = next(help_reply.sentences)
    kaytoo.note_cut(first)
    assert kaytoo.history[-1].reply == first and kaytoo.history[-1].cut
    assert kaytoo.respond("repeat that").text() == first


def test_unknown_voice_is_said_plainly(kaytoo):
    reply = kaytoo.respond("switch to the zebra voice")
    assert reply.action.kind == "none" and "no voice called zebra" in reply.text().lower()
