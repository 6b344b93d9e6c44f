"""gTTS tier: Google Translate's online voice. Needs the network, so it must fail fast without it.

- ``check()`` resolves and connects to the host gTTS will talk to (the HTTPS proxy when one is
  configured, as gTTS uses it) with a short timeout and caches the answer for ``ttl_s`` in the
  instance, so an offline machine skips this tier at once, turn after turn.
- Every request carries ``timeout=``: a network that drops packets cannot hang a turn.
- Errors raise ``TierUnavailable`` with a plain reason; the chain falls back to the next tier.
gTTS sends long text as several requests (~100 characters each); each part is decoded and yielded
as soon as it arrives, with ``cancel`` checked between parts.
"""
from __future__ import annotations

import importlib.util
import threading
import time
from typing import Callable, Iterator

import numpy as np

from app.audio import clip
from app.engines.tts.base import TierUnavailable, TtsBackend, VoiceRef
from app.errors import UserError
from app.net import https_target, unreachable

GTTS_RATE = 24000  # gTTS sends 24 kHz mono MP3


class GttsBackend(TtsBackend):
    name = "gtts"
    online = True

    def __init__(self, timeout_s: float = 3.0, lang: str = "en", *, tld: str = "com",
                 ttl_s: float = 30.0, probe_timeout_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.timeout_s, self.lang, self.tld = timeout_s, lang, tld
        self.ttl_s, self.probe_timeout_s, self.clock = ttl_s, min(probe_timeout_s, timeout_s), clock
        self._rate = GTTS_RATE
        self._reach: tuple[float, str | None] | None = None  # (checked at, reason or None)
        self._reach_lock = threading.Lock()

    @property
    def host(self) -> str:
        return f"translate.google.{self.tld}"

    def check(self) -> str | None:
        if importlib.util.find_spec("gtts") is None:
            return "gTTS is not installed"
        with self._reach_lock:
            if self._reach is not None and self.clock() - self._reach[0] < self.ttl_s:
                return self._reach[1]
            reason = self._probe()
            self._reach = (self.clock(), reason)
            return reason

    def load(self) -> None:
        if importlib.util.find_spec("gtts") is None:
            raise TierUnavailable("gTTS is not installed")

    @property
    def sample_rate(self) -> int:
        return self._rate

    def stream(self, sentence: str, voice: VoiceRef | None, speed: float = 1.0,
               cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        from gtts import gTTS, gTTSError

        lang = voice.language if voice is not None and voice.language else self.lang
        try:
            # gTTS knows only "slow"; other speeds are left to the chain.
            tts = gTTS(sentence, tld=self.tld, lang=lang, slow=speed < 0.8, timeout=self.timeout_s)
        except (ValueError, AssertionError) as e:
            raise TierUnavailable(f"Google's voice cannot speak this ({e})") from e
        parts = tts.stream()
        while cancel is None or not cancel.is_set():
            try:
                mp3 = next(parts, None)
            except gTTSError as e:
                reason = self._describe(e)
                self._mark_failed(reason)
                raise TierUnavailable(reason) from e
            if mp3 is None or (cancel is not None and cancel.is_set()):
                return
            samples, rate = decode_mp3(mp3)
            self._rate = rate
            yield samples

    # -- reachability ------------------------------------------------------------------------------
    def target(self) -> tuple[str, int, str]:
        """(host, port, description) gTTS will connect to: the HTTPS proxy if one applies."""
        return https_target(self.host)

    def _probe(self) -> str | None:
        host, port, what = self.target()
        problem = unreachable(host, port, self.probe_timeout_s)
        return f"offline: {what} {problem}" if problem else None

    def _mark_failed(self, reason: str) -> None:
        with self._reach_lock:
            self._reach = (self.clock(), reason)

    def _describe(self, e: Exception) -> str:
        """gTTS's own message guesses ("Probable cause: Unknown"); say what actually happened."""
        import requests

        cause = e.__context__
        if isinstance(cause, requests.exceptions.Timeout):
            return f"Google's voice service did not answer within {self.timeout_s:g} s"
        if isinstance(cause, requests.exceptions.ConnectionError):
            text = str(cause)
            if any(k in text for k in ("NameResolution", "Name or service", "getaddrinfo", "nodename")):
                return f"offline: {self.host} cannot be resolved"
            return "Google's voice service could not be reached (connection failed)"
        rsp = getattr(e, "rsp", None)
        if rsp is not None and rsp.status_code >= 400:
            return f"Google's voice service refused the request (HTTP {rsp.status_code})"
        if rsp is not None:
            return "Google's voice service answered without audio (its protocol may have changed)"
        return f"Google's voice service failed: {_short(e)}"


def decode_mp3(data: bytes) -> tuple[np.ndarray, int]:
    """MP3 bytes → float32 mono samples and their rate (libsndfile, else ffmpeg)."""
    import io

    import soundfile as sf

    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        return np.ascontiguousarray(samples.mean(axis=1), dtype=np.float32), int(rate)
    except Exception:  # libsndfile < 1.1 has no MP3: let ffmpeg try
        pass
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="kaytoo-gtts-") as tmp:
        path = Path(tmp) / "part.mp3"
        path.write_bytes(data)
        try:
            c = clip.load(path)
        except UserError as e:
            raise RuntimeError(f"Google's voice sent audio that could not be decoded ({e})") from e
    return c.samples, c.rate


def _short(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    return text if len(text) < 160 else text[:157] + "..."
