"""Errors that mean something to the user. The CLI maps them to exit codes; the GUI shows the text."""
from __future__ import annotations


class UserError(Exception):
    """Bad input or usage: the message is one plain sentence naming the problem (exit code 2)."""


class Cancelled(Exception):
    """The user cancelled a long job (a download, an encode); it stopped cleanly."""


class NothingCouldServe(Exception):
    """Every tier or fallback failed (exit code 3). The message says why, tier by tier."""


def first_line(e: BaseException, limit: int | None = None) -> str:
    """An exception as a short reason for a sentence: its first line (or its type's name)."""
    text = str(e).strip()
    text = text.splitlines()[0] if text else type(e).__name__
    return text if limit is None else text[:limit]
