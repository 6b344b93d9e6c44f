"""The decoder prompt: the words push-to-talk commands use, and the names of the user's voices.

Whisper continues the prompt's style and vocabulary, so a rare word it was shown ("narrator",
"Kaytoo", a voice called "Grandma Rose") wins over a common near-homophone. Kept short: every
prompt token costs decoder time, and a long prompt makes the model repeat it on noise.
"""
from __future__ import annotations

from typing import Iterable

# Commands as they begin a sentence ("Timer for", "Start a", "Count down"): a capitalised first
# word is other tokens than the same word inside one, and without them tiny.en heard "Time for",
# "Start at", "Calm down". No number but "five": the model copies a number it was shown.
COMMANDS = ("Kaytoo, what time is it? What's the date? What day of the week is it? Set a timer for "
            "five minutes. Timer for five minutes. Start a timer. Count down. Remind me to check "
            "the oven. Cancel the timer. Stop. Repeat that. Speak slower, faster, louder, softer. "
            "List the voices. Open the voice library or the video panel.")
MAX_NAMES = 12          # beyond this the prompt grows too long to help


def command_prompt(voice_names: Iterable[str] = (), commands: str = COMMANDS) -> str:
    """``commands`` followed by the voice names; the bench tries other ``commands`` texts."""
    names = [" ".join(n.split()) for n in voice_names if n and n.strip()][:MAX_NAMES]
    if not names:
        return commands
    return f"{commands} Switch to the {', '.join(names)} voice. Thank you."
