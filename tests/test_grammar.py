"""The command grammar: YAML sentence templates (hassil), the user's own sentence files merged in,
a broken user file skipped with one plain sentence, and the issue's misheard commands."""
from __future__ import annotations

from datetime import datetime

import pytest

from app.assistant import Assistant, Timers
from app.assistant.grammar import Grammar
from app.assistant.intents import match, normalise

CLOCK = datetime(2026, 11, 22, 15, 10)      # a Sunday
VOICES = ["Kaytoo", "Narrator", "Pirate Captain", "Grandma Rose"]

CUSTOM = """\
language: en
intents:
  time:
    data:
      - sentences:
          - "how late is it [getting]"
  timer_set:
    data:
      - sentences:
          - "(brew|steep) [the] {drink} for {duration}"
  switch_voice:
    data:
      - sentences:
          - "be the {voice}"
lists:
  drink:
    values: [tea, coffee]
"""


@pytest.fixture
def timers():
    t = Timers(lambda timer: None)
    yield t
    t.close()


def test_user_sentences_add_to_the_builtin_grammar(tmp_path, timers):
    (tmp_path / "mine.yaml").write_text(CUSTOM)
    kaytoo = Assistant(voices=lambda: list(VOICES), clock=lambda: CLOCK, timers=timers,
                       sentences_dir=tmp_path)
    assert kaytoo.problems == []
    assert kaytoo.respond("How late is it getting?").intent == "time"
    brew = kaytoo.respond("Steep the tea for four minutes.")
    assert brew.action.kind == "timer_set" and brew.action.value.seconds == 240
    assert brew.action.value.label == "tea"                         # a value of a list of their own
    assert kaytoo.respond("Be the narrator.").action.value == "Narrator"
    assert kaytoo.respond("What time is it?").intent == "time"      # the built-in ones still work
    # Without the user's folder those sentences mean nothing.
    plain = Assistant(clock=lambda: CLOCK, sentences_dir=None)
    assert plain.respond("How late is it getting?").intent == "unknown"


def test_the_config_folder_is_the_default_place_for_user_sentences(tmp_path, monkeypatch):
    monkeypatch.setenv("KAYTOO_HOME", str(tmp_path))
    folder = tmp_path / "config" / "sentences"
    folder.mkdir(parents=True)
    (folder / "en.yaml").write_text(CUSTOM)
    assert Assistant(clock=lambda: CLOCK).respond("how late is it").intent == "time"


@pytest.mark.parametrize("content, says", [
    ("intents: [oops", "sentences file"),                           # not YAML
    ("intents:\n  time:\n    data:\n      - sentences: ['what (time is it']\n", "sentences file"),
    ("just some words\n", "intents"),                               # YAML, but not sentences
    ("intents:\n  time:\n    sentences: ['hi']\n", "data"),          # the wrong shape
    ("intents:\n  time:\n    data:\n      - sentences: ['tell me {zone}']\n", "{zone}"),
    ("intents:\n  time:\n    data:\n      - sentences: ['tell me <when>']\n", "<when>"),
])
def test_a_broken_user_file_is_skipped_with_one_plain_sentence(tmp_path, content, says):
    (tmp_path / "broken.yaml").write_text(content)
    (tmp_path / "good.yaml").write_text(CUSTOM)
    kaytoo = Assistant(voices=lambda: list(VOICES), clock=lambda: CLOCK, sentences_dir=tmp_path)
    assert len(kaytoo.problems) == 1
    problem = kaytoo.problems[0]
    assert str(tmp_path / "broken.yaml") in problem and says in problem and "\n" not in problem
    assert kaytoo.respond("What time is it?").intent == "time"      # built-in grammar intact
    assert kaytoo.respond("how late is it").intent == "time"        # the good file still counts


def test_an_unreadable_file_is_a_problem_not_a_crash(tmp_path):
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00bad")
    kaytoo = Assistant(clock=lambda: CLOCK, sentences_dir=tmp_path)
    assert len(kaytoo.problems) == 1 and "binary.yaml" in kaytoo.problems[0]
    assert kaytoo.respond("what day is it").intent == "day"


@pytest.mark.parametrize("heard, intent, slots", [
    # The misses, as typed text.
    ("Switch back to the default voice.", "switch_voice", {"voice": "Kaytoo"}),
    ("Switch back to your normal voice.", "switch_voice", {"voice": "Kaytoo"}),
    ("Say something in your droid voice.", "unknown", {}),
    ("Thank you, that will be all.", "dismiss", {}),
    ("Thank you that will be all", "dismiss", {}),
    ("That's all.", "dismiss", {}),
    ("Never mind.", "dismiss", {}),
    ("What day of the week is it?", "day", {}),
    ("Speak slower, please.", "speed", {"dir": "slower"}),
    # Numbers in words and digits, labels beside durations.
    ("Set a 10 minute pasta timer.", "timer_set", {"seconds": 600, "label": "pasta"}),
    ("Set a timer for one hour and thirty minutes.", "timer_set", {"seconds": 5400}),
    ("Remind me to call my mother in an hour.", "reminder_set",
     {"seconds": 3600, "label": "call your mother"}),
    ("Cancel the five minute timer.", "timer_cancel", {"seconds": 300}),
    ("Cancel all my timers.", "timer_cancel", {"which": "all"}),
    # Phrasings from the command bench's transcripts.
    ("In 10 minutes, remind me to take the laundry out.", "reminder_set",
     {"seconds": 600, "label": "take the laundry out"}),
    ("Start at two minutes timer.", "timer_set", {"seconds": 120}),
    ("You speak too slowly.", "speed", {"dir": "faster"}),
    ("What can I ask you?", "help", {}),
    # A wildcard cannot make any sentence a command: what it captured must hold.
    ("Set a timer for the pasta.", "unknown", {}),
    ("Switch to it.", "unknown", {}),
])
def test_grammar_matches_with_key_values(heard, intent, slots):
    got = match(heard, VOICES)
    assert (got.name, got.slots) == (intent, slots)


def test_a_voice_not_in_the_library_is_a_guess():
    assert match("switch to the narrator voice", VOICES).exact
    guess = match("switch to the narator voice", VOICES)
    assert (guess.name, guess.slots, guess.exact) == ("switch_voice", {"voice": "narator"}, False)


def test_a_grammar_without_user_files_has_no_problems(tmp_path):
    assert Grammar(tmp_path / "missing").problems == [] and Grammar(None).problems == []


def test_the_documented_example_file_works(tmp_path, timers):
    import re
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "commands.md").read_text()
    (tmp_path / "kitchen.yaml").write_text(re.search(r"```yaml\n(.*?)```", doc, re.S).group(1))
    kaytoo = Assistant(voices=lambda: list(VOICES), clock=lambda: CLOCK, timers=timers,
                       sentences_dir=tmp_path)
    assert kaytoo.problems == []
    egg = kaytoo.respond("Boil an egg for four minutes, mate.").action.value
    rice = kaytoo.respond("Cook the risotto for 18 minutes.").action.value
    assert (egg.seconds, egg.label, rice.seconds, rice.label) == (240, "egg", 1080, "rice")
    assert kaytoo.respond("Let me hear the narrator.").action.value == "Narrator"
    assert kaytoo.respond("Easy tiger.").action.value < 0


def test_misheard_and_lost_words_are_weaker_matches():
    tiger = match("Set a tiger for five minutes.", VOICES)
    assert (tiger.name, tiger.slots) == ("timer_set", {"seconds": 300}) and 0 < tiger.certainty < 1
    lost = match("How are doing?", VOICES)
    assert lost.name == "how_are_you" and lost.certainty < tiger.certainty
    assert match("How old are you?", VOICES).name == "unknown"      # near, but a question


def test_a_change_found_only_by_the_nearest_sentence_is_asked_about(timers):
    kaytoo = Assistant(voices=lambda: list(VOICES), clock=lambda: CLOCK, timers=timers,
                       sentences_dir=None)
    ask = kaytoo.respond("Turn the volume")                  # up or down: a word was lost
    assert ask.intent == "confirm" and ask.action.value.startswith("speak ")


def test_a_command_inside_noise_is_asked_about_and_a_question_after_a_misheard_name_answered(
        timers):
    kaytoo = Assistant(voices=lambda: list(VOICES), clock=lambda: CLOCK, timers=timers,
                       sentences_dir=None)
    ask = kaytoo.respond("Uh, can you send a timer for two minutes?")
    assert ask.action.value == "set a timer for two minutes" and timers.pending() == []
    assert kaytoo.respond("yes").action.value.seconds == 120
    assert kaytoo.respond("They can do, what time is it?").intent == "time"
    assert kaytoo.respond("What are you doing tonight?").intent == "unknown"


def test_guesses_that_disagree_on_a_changes_value_make_it_a_question(timers):
    kaytoo = Assistant(voices=lambda: list(VOICES), clock=lambda: CLOCK, timers=timers,
                       sentences_dir=None)
    heard = ["Count down for a minute.", "Count down four minutes.", "Count down for minutes."]
    ask = kaytoo.respond(heard[0], heard, 0.94)
    assert ask.intent == "confirm" and ask.action.value == "set a timer for a minute"
    assert timers.pending() == []
    assert kaytoo.respond("no").intent == "deny" and timers.pending() == []
    # guesses that agree on the value, however it is written, are done at once
    same = ["Set a timer for 5 minutes.", "Set a timer for five minutes.", "Set the timer for 5 minutes."]
    assert kaytoo.respond(same[0], same, 0.94).action.value.seconds == 300
    # a question changes nothing: guesses may disagree on it freely
    assert kaytoo.respond("What day is it?", ["What day is it?", "What date is it?"], 0.9).intent == "day"


def test_a_change_heard_without_its_value_yields_to_a_whole_one_lower_down(timers):
    kaytoo = Assistant(voices=lambda: list(VOICES), clock=lambda: CLOCK, timers=timers,
                       sentences_dir=None)
    heard = ["Change your voice, Narrator.", "Change your voice to Narrator.", "Change your voice, Nora."]
    reply = kaytoo.respond(heard[0], heard, 0.95)
    assert reply.action.value == "Narrator" and reply.heard == heard[1]
    # alone, it is still the change that asks which voice
    alone = kaytoo.respond("Change your voice.", ["Change your voice."], 0.95)
    assert alone.intent == "switch_voice" and alone.action.kind == "none"


def test_a_misheard_talk_like_a_library_voice_is_asked_about():
    huck = match("Huck like Narrator.", VOICES)
    assert (huck.name, huck.slots) == ("switch_voice", {"voice": "Narrator"}) and huck.certainty < 0.6
    assert match("Feels like home.", VOICES).name == "unknown"           # not a library voice
    assert match("Huck like Marvin.", VOICES).name == "unknown"          # nor a guessed one
    assert match("Talk like Narrator.", VOICES).certainty == 1.0


def test_a_library_voice_named_with_a_switching_word_is_asked_about():
    for heard in ["With voice to Narrator.", "Please do the Narrator voice.",
                  "Can't you voice the Narrator?", "Tell your voice to Narrator."]:
        guess = match(heard, VOICES)
        assert (guess.name, guess.slots) == ("switch_voice", {"voice": "Narrator"}), heard
        assert guess.certainty < 0.6, heard
    for heard in ["Which voice is the Narrator?",          # asks about it
                  "The Narrator is nice.",                 # no switching word
                  "Say something in your droid voice.",    # no library voice
                  "With voice to Marvin.",                 # a name not in the library
                  "Kaytoo, say it in your droid voice."]:  # the name it is spoken to by
        assert match(heard, VOICES).name != "switch_voice", heard


def test_a_switch_without_its_voice_then_a_library_voice_alone_is_that_voice_asked():
    for heard in ["Change your voice, Narrator.", "Change your voice. Grandma Rose!"]:
        guess = match(heard, VOICES)
        assert guess.name == "switch_voice" and guess.slots["voice"] in VOICES, heard
        assert guess.certainty < 0.6, heard
    for heard in ["Change your voice, please.", "Change your voice, Marvin."]:   # no library voice
        assert (match(heard, VOICES).slots, match(heard, VOICES).certainty) == ({}, 1.0), heard


def test_a_sentence_whisper_repeats_counts_once():
    once = match("Can you use Luna's voice?", VOICES)
    assert once.name == "switch_voice"
    for looped in ["Can you use Luna's voice? Can you use Luna's voice? Can you use Luna's voice?",
                   "Can you use Luna's voice? Can you use Luna's voice."]:
        again = match(looped, VOICES)
        assert (again.name, again.slots, again.certainty) == (once.name, once.slots, once.certainty)
    # a sentence repeated with another between is kept: only a loop is Whisper's
    assert normalise("Stop. Set a timer. Stop.") == "stop. set a timer. stop."


def test_a_question_about_a_command_is_a_question_but_a_request_is_still_asked_about(timers):
    kaytoo = Assistant(voices=lambda: list(VOICES), clock=lambda: CLOCK, timers=timers,
                       sentences_dir=None)
    for question in ["How do I slow down ageing?", "Why do I set a timer for ten minutes?",
                     "What happens if I speak louder?"]:
        reply = kaytoo.respond(question)
        assert (reply.intent, reply.action.kind) == ("unknown", "none"), question
    # Whisper writes "Uh, could you ..." as "How could you ...": still a request to Kaytoo.
    ask = kaytoo.respond("How could you set a timer for ten minutes?")
    assert ask.action.value == "set a timer for ten minutes" and timers.pending() == []


def test_an_intent_kaytoo_cannot_do_is_answered_as_unknown(tmp_path):
    (tmp_path / "coffee.yaml").write_text(
        "intents:\n  make_coffee:\n    data:\n      - sentences: ['make me a coffee']\n")
    kaytoo = Assistant(clock=lambda: CLOCK, sentences_dir=tmp_path)
    reply = kaytoo.respond("Make me a coffee.")
    assert reply.intent == "unknown" and reply.action.kind == "none" and reply.text()
