"""What users say: every command kind in its phrasings, with numbers and added voice names.

Each utterance carries the intent(s) it must get and, where one matters, its key value (the
duration, the voice, the direction, the panel). Built deterministically: the same list every run.
"""
from __future__ import annotations

from dataclasses import dataclass

# Voices a user added (beside the bundled "Kaytoo", which is also the default voice).
USER_VOICES = ["Narrator", "Grandma Rose", "Pirate Captain", "Sherlock", "Luna", "Marvin"]
ALL_VOICES = ["Kaytoo", *USER_VOICES]
DEFAULT_VOICE = "Kaytoo"


@dataclass(frozen=True)
class Utterance:
    id: str
    text: str
    intents: tuple[str, ...]          # any of these is right (the first is the one we mean)
    key: tuple[str, object] | None    # (name, value) the action must carry, or None


# The misses reported in issue 9, word for word.
ISSUE_MISSES = [
    ("Speak slower, please.", ("speed",), ("dir", "slower")),
    ("What day of the week is it?", ("day",), None),
    ("Switch back to the default voice.", ("switch_voice",), ("voice", DEFAULT_VOICE)),
    ("Say something in your droid voice.", ("unknown", "joke", "llm_fallback"), None),
    ("Thank you, that will be all.", ("thanks", "dismiss", "stop"), None),
]

SIMPLE: dict[str, list[str]] = {
    "time": ["What time is it?", "What's the time?", "Hey Kaytoo, what time is it?",
             "Tell me the time.", "Do you have the time?", "What time is it right now?",
             "Kaytoo, what's the time please?", "Can you tell me what time it is?"],
    "date": ["What's the date today?", "What is today's date?", "What date is it?",
             "Tell me the date.", "What's the date?", "Which month is it?", "What's today's date?"],
    "day": ["What day is it?", "What day is it today?", "Which day of the week is it?",
            "Is it Friday today?", "Is today Monday?", "What day of the week is it today?"],
    "stop": ["Stop.", "Be quiet.", "Stop talking.", "Shut up.", "Quiet, please.", "Enough.",
             "Stop it.", "Kaytoo, stop.", "Never mind.",
             "Stop speaking.", "Silence."],
    "repeat": ["Repeat that.", "Say that again, please.", "What did you say?", "Come again?",
               "Can you repeat that?", "Say it one more time.", "Pardon?", "I didn't catch that.",
               "Once more, please.", "Sorry, what was that?"],
    "list_voices": ["List the voices.", "Which voices do you have?", "What voices can you use?",
                    "How many voices do you have?", "Show me the voices.", "What voices are there?",
                    "Tell me which voices you have.", "What other voices do you have?"],
    "help": ["What can you do?", "Help.", "What commands do you know?", "How do you work?",
             "What can I ask you?", "Help me.", "What should I say?"],
    "greeting": ["Hello Kaytoo.", "Good morning.", "Hi there.", "Hey Kaytoo.", "Good evening.",
                 "Hello.", "Good afternoon.", "Hey there."],
    "how_are_you": ["How are you doing?", "How are you?", "How's it going?", "Are you okay?", "How have you been?"],
    "joke": ["Tell me a joke.", "Say something funny.", "Make me laugh.", "Do you know any jokes?",
             "Tell me a joke, please."],
    "thanks": ["Thank you very much.", "Thanks.", "Thank you.", "Thanks a lot, Kaytoo.",
               "Much appreciated.", "Good job.",
               "Thanks, well done.", "Cheers, Kaytoo."],
    "who_are_you": ["Who are you?", "What's your name?", "Introduce yourself.", "Who made you?", "Who am I talking to?"],
    "timers_list": ["How much time is left on my timer?", "What timers do I have?",
                    "List my timers.", "How long is left?", "Are there any timers running?",
                    "Show my reminders.",
                    "How much time is left?", "Which reminders do I have?"],
    "timer_cancel": ["Cancel the timer.", "Cancel all my reminders.", "Stop the timer.",
                     "Delete all timers.", "Cancel my pasta timer.", "Turn off the alarm.",
                     "Never mind the timer.", "Remove my reminder."],
    "unknown": ["What is the capital of France?", "Why is the sky blue?",
                "How far away is the moon?", "Who wrote Hamlet?", "What's the weather tomorrow?",
                "How do I boil an egg?", "What is two plus two?"],
}

# Phrasings two intents answer alike: "Never mind." is a dismissal, and a dismissal stops speech.
ALSO_RIGHT = {"Never mind.": ("dismiss",)}

SPEED = [("Speak slower.", "slower"), ("Slow down a bit.", "slower"), ("Talk faster.", "faster"),
         ("Speak faster, please.", "faster"), ("Can you speak more slowly?", "slower"),
         ("You're talking too fast.", "slower"), ("Speed up.", "faster"),
         ("Talk a little quicker.", "faster"), ("Slow down.", "slower"),
         ("You speak too slowly.", "faster")]
VOLUME = [("Speak louder.", "louder"), ("Speak softer, please.", "softer"),
          ("Turn the volume up.", "louder"), ("Turn the volume down.", "softer"),
          ("Be a bit quieter.", "softer"), ("I can't hear you.", "louder"),
          ("You're too loud.", "softer"), ("Speak up.", "louder"), ("Volume up.", "louder"),
          ("Lower your voice.", "softer")]
PANELS = [("Open the voice library.", "voices"), ("Show me the video panel.", "video"),
          ("Open the video panel.", "video"), ("Go to the voice library.", "voices"),
          ("Show the videos.", "video"), ("Open the voices.", "voices")]

# Durations: (words, seconds). Whisper writes them as digits or words; the assistant reads both.
DURATIONS = [("five minutes", 300), ("two minutes", 120), ("ten minutes", 600),
             ("thirty seconds", 30), ("an hour", 3600), ("twenty five minutes", 1500),
             ("half an hour", 1800), ("three minutes", 180), ("forty five seconds", 45),
             ("one hour and thirty minutes", 5400), ("an hour and a half", 5400),
             ("fifteen minutes", 900), ("ninety seconds", 90), ("eight minutes", 480),
             ("two hours", 7200), ("twelve minutes", 720), ("one minute", 60),
             ("seven minutes", 420), ("four minutes", 240), ("twenty minutes", 1200)]
TIMER_FORMS = ["Set a timer for {d}.", "Timer for {d}, please.", "Start a {d} timer.",
               "Kaytoo, set a timer for {d}.", "Uh, could you set a timer for {d}?",
               "Set a pasta timer for {d}.", "Count down {d}."]
REMINDER_FORMS = ["Remind me in {d} to check the oven.", "Remind me to call my mother in {d}.",
                  "In {d}, remind me to take the laundry out.",
                  "Set a reminder for {d} to stretch."]
SWITCH_FORMS = ["Switch to the {v} voice.", "Change your voice to {v}.", "Use the {v} voice.",
                "Talk like {v}.", "Switch voice to {v}.", "Can you use {v}'s voice?",
                "Switch back to {v}."]
DEFAULT_SWITCH = ["Switch back to the default voice.", "Use your default voice.",
                  "Go back to the normal voice.", "Switch to the Kaytoo voice."]


def build() -> list[Utterance]:
    items: list[tuple[str, tuple[str, ...], tuple | None]] = list(ISSUE_MISSES)
    for intent, texts in SIMPLE.items():
        items += [(t, ((intent,) if intent != "unknown" else ("unknown", "llm_fallback"))
                   + ALSO_RIGHT.get(t, ()), None) for t in texts]
    items += [(t, ("speed",), ("dir", d)) for t, d in SPEED]
    items += [(t, ("volume",), ("dir", d)) for t, d in VOLUME]
    items += [(t, ("open_panel",), ("panel", p)) for t, p in PANELS]
    # Every duration in two timer phrasings, and reminders: the forms rotate over the numbers.
    for i, (words, seconds) in enumerate(DURATIONS):
        for j in range(4):
            form = TIMER_FORMS[(i + j) % len(TIMER_FORMS)]
            items.append((form.format(d=words), ("timer_set",), ("seconds", seconds)))
        for j in range(2):
            form = REMINDER_FORMS[(i + j) % len(REMINDER_FORMS)]
            items.append((form.format(d=words), ("reminder_set",), ("seconds", seconds)))
    for i, voice in enumerate(USER_VOICES):
        for j in range(len(SWITCH_FORMS)):
            form = SWITCH_FORMS[(i + j) % len(SWITCH_FORMS)]
            items.append((form.format(v=voice), ("switch_voice",), ("voice", voice)))
    items += [(t, ("switch_voice",), ("voice", DEFAULT_VOICE)) for t in DEFAULT_SWITCH]
    seen: set[str] = set()
    out: list[Utterance] = []
    for text, intents, key in items:
        if text in seen:
            continue
        seen.add(text)
        out.append(Utterance(f"u{len(out):03d}", text, intents, key))
    return out
