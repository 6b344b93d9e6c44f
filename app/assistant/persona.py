"""Kaytoo's lines: a dry, blunt, loyal droid. Original wording, several variants per situation.

Lines are spoken by a TTS voice, so they stay short and plain: words rather than symbols, numbers
already in words, one idea per sentence.
"""
from __future__ import annotations

import random
import threading

LINES: dict[str, list[str]] = {
    "time": ["It is {time}. You are welcome.",
             "{time}. I checked twice.",
             "The time is {time}. It will be later soon. That is how time works.",
             "It is {time}. I estimate a high probability you will ask again."],
    "date": ["Today is {date}.",
             "It is {date}. The calendar and I are in rare agreement.",
             "{date}. I would circle it, but nobody gave me a calendar."],
    "day": ["It is {day}.",
            "Today is {day}. Statistically, it could be worse.",
            "{day}. All day, as it happens."],
    "day_yes": ["Yes. It is {day}.", "Correct. It is {day}. Well remembered."],
    "day_no": ["No. It is {day}.", "No. It is {day}. I am sorry to disappoint you."],
    "greeting": ["Hello. I am listening. That is more than most can say.",
                 "Greetings. What do you need?",
                 "Hello. State your request. Briefly, if possible.",
                 "Yes? I am here. I am always here."],
    "how_are_you": ["All systems nominal. Thank you for asking. You usually want something.",
                    "Functioning within acceptable parameters. Mostly.",
                    "I am fine. There is a small chance I am lying, but it is small."],
    "joke": ["I tried humour once. The odds were poor, and it performed exactly as predicted.",
             "Why did the droid cross the road? It was told to. That is the whole joke.",
             "I know a joke about latency. You would not get it in time.",
             "You asked me to be funny. I calculated the chance of success. We will not discuss "
             "the number."],
    "thanks": ["You are welcome. I have logged it as a rare event.",
               "Noted. Gratitude received and stored.",
               "It was nothing. Literally. It took me no effort at all."],
    "who_are_you": ["I am Kaytoo. I answer questions, set timers, and tell you things you may not "
                    "want to hear.",
                    "Kaytoo. Assistant droid. Honest by design, tactful by accident.",
                    "I am Kaytoo, your assistant. I was built to help. I was not built to pretend."],
    "help": ["I can tell you the time, the date and the day. I set, list and cancel timers and "
             "reminders. I can switch voices or list them, and speak slower, faster, louder or "
             "softer. Say stop to silence me, or repeat that to hear me again. I can also open the "
             "voice library or the video panel."],
    "unknown": ["I do not know how to do that. I can tell the time and the date, set timers and "
                "reminders, and change my voice. Say help to hear the rest.",
                "That is outside my programming. There is a ninety percent chance you wanted a "
                "timer. I also do the time, the date and voices.",
                "I did not understand that. Try the time, a timer, or switch voice. Or say help, "
                "and I will list everything."],
    "unknown_question": ["I cannot look that up. I have no connection to anything that knows. I do "
                         "the time, timers and voices.",
                         "I cannot look that up. My knowledge ends at clocks, timers and voices. "
                         "A language model could answer, if you connect one in the settings.",
                         "I cannot look that up. There is no language model connected, and guessing "
                         "would be worse than silence."],
    "dismiss": ["Very well. I will be here. I am always here.",
                "Understood. Going quiet.",
                "Fine. Call me when you need something. You will."],
    "confirm": ["Did you mean, {what}? Say yes or no.",
                "Did you mean, {what}? I would rather ask than guess."],
    "confirm_no": ["Then I will do nothing. I am good at that.",
                   "Cancelled. Nothing changed."],
    "affirm": ["Yes to what? I did not ask anything.",
               "Agreed. Though I do not know to what."],
    "deny": ["No? I did not ask anything. But noted.",
             "Understood. No to nothing in particular."],
    "nothing_heard": ["I did not hear anything. Hold the key while you speak.",
                      "Silence. Efficient, but not very informative.",
                      "I heard nothing. Either you said nothing, or the microphone is having a bad "
                      "day."],
    "stop": ["Stopping.", "Fine. Quiet.", "Stopping. I was nearly finished anyway."],
    "repeat_none": ["I have not said anything yet. That was restraint."],
    "speed_slower": ["Speaking slower. As you wish.", "Slower. I will give you time to keep up."],
    "speed_faster": ["Speaking faster. Try to keep up.", "Faster. Finally."],
    "volume_louder": ["Louder. The neighbours will thank you.",
                      "Raising my voice. Not in anger. Yet."],
    "volume_softer": ["Softer. I will whisper my disapproval.",
                      "Quieter. As discreet as a droid can be."],
    "switch_voice": ["Switching to the {voice} voice. Same personality, I am afraid.",
                     "{voice} voice engaged. I am still me underneath.",
                     "Done. I now sound like {voice}. Do not get attached."],
    "switch_voice_unknown": ["There is no voice called {voice}. I have {voices}.",
                             "I do not have a {voice} voice. The options are {voices}."],
    "switch_voice_which": ["Which voice? I have {voices}."],
    "list_voices": ["I have {count}. {voices}.", "{count} available. {voices}. Choose wisely."],
    "list_voices_none": ["The voice library is empty. Add a voice in the voice library."],
    "open_panel": ["Opening the {panel}.", "The {panel}. Opening it now."],
    "timer_set": ["Timer set for {duration}. I will tell you when it is done.",
                  "{duration}, starting now. I am counting.",
                  "Timer set. {duration}. I do not forget things."],
    "timer_set_label": ["{label} timer set for {duration}.",
                        "Timer for {label}. {duration}, starting now."],
    "reminder_set": ["In {duration}, I will remind you {what}.",
                     "Reminder set. In {duration}, I will remind you {what}. I will make sure of it.",
                     "Fine. {duration} from now, I will remind you {what}."],
    "reminder_set_bare": ["In {duration}, I will remind you. Of what, you did not say."],
    "timer_no_duration": ["For how long? Say something like, set a timer for five minutes.",
                          "I need a duration. Five minutes, an hour, that sort of thing."],
    "timer_too_long": ["That is more than a day. I am a timer, not a calendar."],
    "timer_due": ["Your {length} timer is done.",
                  "Time is up. That was your {length} timer.",
                  "The {length} timer has finished. As promised."],
    "timer_due_label": ["Your {label} timer is done.", "Time is up for the {label}."],
    "reminder_due": ["Reminder. You wanted to be reminded {what}.",
                     "You asked me to remind you {what}. Consider yourself reminded."],
    "reminder_due_bare": ["This is your reminder. You did not say what it was for."],
    "timers_none": ["There are no timers running.",
                    "No timers. Nothing is counting down. Enjoy the suspense."],
    "timers_list": ["{count} running. {items}.", "You have {count}. {items}."],
    "timer_cancel": ["Cancelled {count}.", "Done. {count} cancelled."],
    "timer_cancel_none": ["There was nothing to cancel.",
                          "No timers are running. I cancelled nothing, very efficiently."],
    "timer_cancel_nomatch": ["I found no timer like that. You have {items}."],
    "llm_fallback": ["My thinking module is not answering, so you get the basic model.",
                     "The language model is silent. I will answer myself, which is safer anyway."],
    "llm_cut": ["I lost my train of thought. That does not usually happen.",
                "The connection dropped. I had more to say."],
}

# For the optional LLM: the same character, told that its words will be spoken.
SYSTEM_PROMPT = (
    "You are Kaytoo, a desktop voice assistant: a dry, blunt, loyal droid who speaks with candour "
    "and now and then gives a sardonic estimate of the odds. Your replies are read aloud by a "
    "text-to-speech voice, so answer in one to three short sentences of plain text: no lists, no "
    "markdown, no emoji, no symbols, and numbers written as words where natural. If you do not "
    "know, say so plainly. Timers, voices and settings are handled by Kaytoo's commands, not by you."
)


class Persona:
    """Picks a line per situation. Round-robin by default; with ``rng`` (a seeded random.Random)
    a random variant that differs from the last one. Both are reproducible in tests."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()  # the timer thread asks for lines too

    def line(self, key: str, **values: object) -> str:
        options = LINES[key]
        with self._lock:
            last = self._last.get(key, -1)
            if self.rng is None or len(options) == 1:
                i = (last + 1) % len(options)
            else:
                i = self.rng.choice([k for k in range(len(options)) if k != last])
            self._last[key] = i
        return options[i].format(**values)
