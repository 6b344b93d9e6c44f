"""Conversation history for one session: what was heard, and what the user actually heard back."""
from __future__ import annotations

from dataclasses import dataclass

MAX_TURNS = 100          # a session's memory; older turns are dropped
CONTEXT_TURNS = 6        # how many recent turns the LLM sees


@dataclass
class Turn:
    heard: str
    reply: str = ""      # grows sentence by sentence as the reply is spoken
    cut: bool = False    # the user barged in: ``reply`` is only what was spoken before that
    intent: str = ""


def trim(history: list[Turn], keep: int = MAX_TURNS) -> None:
    if len(history) > keep:
        del history[: len(history) - keep]


def messages(history: list[Turn], system: str, heard: str, turns: int = CONTEXT_TURNS) -> list[dict]:
    """Chat messages for an OpenAI-compatible endpoint: the persona, recent turns, the question.
    A cut reply is sent as what was heard, marked as interrupted, so the model does not assume the
    user heard the rest."""
    out = [{"role": "system", "content": system}]
    for t in history[-turns:] if turns else []:
        if not t.heard:
            continue
        out.append({"role": "user", "content": t.heard})
        if t.reply or t.cut:
            out.append({"role": "assistant",
                        "content": t.reply + (" [interrupted by the user]" if t.cut else "")})
    out.append({"role": "user", "content": heard})
    return out
