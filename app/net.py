"""Can a host be reached? A TCP connect (no request sent) with deadlines on the name lookup and the
connect, through the HTTPS proxy when one applies. Used by the online voice tier and by the app's
online indicator, so both agree."""
from __future__ import annotations

import socket
import threading
import urllib.parse
import urllib.request

GOOGLE_TTS_HOST = "translate.google.com"   # where the online voice (gTTS) connects


def https_target(host: str) -> tuple[str, int, str]:
    """(host, port, description) an HTTPS request to ``host`` connects to: the proxy if one applies."""
    proxy = urllib.request.getproxies().get("https")
    if proxy and not urllib.request.proxy_bypass(host):
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if p.hostname:
            return p.hostname, p.port or (443 if p.scheme == "https" else 80), "the HTTPS proxy"
    return host, 443, host


def unreachable(host: str, port: int, timeout: float) -> str | None:
    """Why a TCP connection to host:port cannot be made ("cannot be resolved (…)", "cannot be
    reached (…)"), or None when it can. No request is sent; each step has a deadline."""
    addrs = _resolve(host, port, timeout)
    if isinstance(addrs, str):
        return f"cannot be resolved ({addrs})"
    last = "no address"
    for family, kind, proto, _, addr in addrs[:3]:
        try:
            with socket.socket(family, kind, proto) as s:
                s.settimeout(timeout)
                s.connect(addr)
            return None
        except OSError as e:
            last = e.strerror or type(e).__name__
    return f"cannot be reached ({last})"


def _resolve(host: str, port: int, timeout: float) -> list | str:
    """getaddrinfo with a deadline (it has none of its own, and a broken resolver can stall)."""
    box: list = []

    def work() -> None:
        try:
            box.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as e:
            box.append(e.strerror or str(e))

    t = threading.Thread(target=work, name="resolve", daemon=True)
    t.start()
    t.join(timeout)
    return box[0] if box else f"no answer within {timeout:g} s"


def is_online(timeout: float = 2.0, target: tuple[str, int] | None = None) -> bool:
    """Is the online voice reachable? ``target``: (host, port) to try instead of its own."""
    host, port = target if target is not None else https_target(GOOGLE_TTS_HOST)[:2]
    return unreachable(host, port, timeout) is None
