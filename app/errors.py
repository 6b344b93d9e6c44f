"""Errors that mean something to the user. The CLI maps them to exit codes; the GUI shows the text."""
from __future__ import annotations

import errno
import unicodedata


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


def shown(text: object, limit: int = 60) -> str:
    """User-supplied text fit to quote in a message: quoted, at most ``limit`` characters (the rest
    is counted, not printed), and control, format and bidi characters (NUL, U+202E …) escaped so a
    name cannot hide or reorder the rest of the line."""
    text = str(text)
    out = []
    for c in text[:limit]:
        if unicodedata.category(c)[0] in "CZ" and c != " ":   # Cc, Cf (bidi), Zl, Zp, Co, Cn …
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        else:
            out.append(c)
    more = f"… ({len(text)} characters)" if len(text) > limit else ""
    return f"'{''.join(out)}{more}'"


def os_error_sentence(e: OSError) -> str:
    """One sentence for a failed file operation: a full disk, a read-only place, no permission …"""
    where = f" ({shown(e.filename, 120)})" if e.filename else ""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"There is not enough free disk space{where}, so nothing was written; free some "
                "space and try again.")
    if e.errno == errno.EROFS:
        return f"That place is on a read-only disk{where}, so nothing was written."
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"Permission denied{where}; nothing was changed."
    return f"A file operation failed: {e.strerror or first_line(e, 200)}{where}."
