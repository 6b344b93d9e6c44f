"""Is the online voice reachable? A short TCP connect to its host (no request is sent)."""
from __future__ import annotations

import socket

PROBE_HOST = ("translate.google.com", 443)   # the host gTTS talks to


def is_online(timeout: float = 2.0, target: tuple[str, int] = PROBE_HOST) -> bool:
    try:
        with socket.create_connection(target, timeout=timeout):
            return True
    except OSError:   # DNS failure, refused, unreachable, timed out
        return False
