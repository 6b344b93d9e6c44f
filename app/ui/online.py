"""Is the online voice reachable? The gTTS tier's own check: a TCP connect (no request sent) to its
host, or to the HTTPS proxy it would use, with deadlines on the name lookup and the connect."""
from __future__ import annotations


def is_online(timeout: float = 2.0, target: tuple[str, int] | None = None) -> bool:
    """``target``: (host, port) to try instead of the one Google's voice would connect to."""
    from app.engines.tts.gtts import GttsBackend, unreachable

    host, port = target if target is not None else GttsBackend().target()[:2]
    return unreachable(host, port, timeout) is None
