"""The engine core: one plain-Python API for speech in and speech out.

The CLI calls it in-process; ``server.py`` serves it over Wyoming to the GUI (and to any Wyoming
peer). Models load lazily, on first use or in ``preload``.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Iterable

import numpy as np

from app.engines.tts.base import TtsBackend, VoiceRef
from app.engines.tts.chain import Speech, TtsChain
from app.errors import UserError
from app.paths import Paths
from app.settings.model import Settings

log = logging.getLogger(__name__)



def make_backend(name: str, paths: Paths, settings: Settings) -> TtsBackend:
    """One place that knows how each tier is built (imports stay lazy: tiers import heavy libs late)."""
    if name == "xtts":
        from app.engines.tts.xtts import XttsBackend

        return XttsBackend(paths.models / "xtts-v2", consent=settings.tts.xtts_consent)
    if name == "piper":
        from app.engines.tts.piper import PiperBackend

        return PiperBackend()
    if name == "gtts":
        from app.engines.tts.gtts import GttsBackend

        return GttsBackend(timeout_s=settings.tts.gtts_timeout_s)
    if name == "pyttsx3":
        from app.engines.tts.pyttsx3 import Pyttsx3Backend

        return Pyttsx3Backend()
    raise UserError(f"Unknown voice tier '{name}'.")


class EngineCore:
    def __init__(self, paths: Paths, settings: Settings,
                 backends: list[TtsBackend] | None = None):
        from app.runtime import asset_dir
        from app.voices.library import VoiceLibrary

        self.paths, self.settings = paths, settings
        self.voices = VoiceLibrary(paths.voices, asset_dir() / "voices")
        self._stt = None
        self._stt_lock = threading.Lock()
        tts = settings.tts
        self.chain = TtsChain(
            backends if backends is not None else [make_backend(n, paths, settings) for n in tts.tiers],
            deadlines=tts.deadlines, out_rate=settings.audio.output_rate,
            failure_memory_s=tts.failure_memory_s, effect=self._effect_factory(),
            speed=tts.speed, volume=tts.volume)

    # -- speech to text --------------------------------------------------------------------
    def stt(self):
        with self._stt_lock:
            if self._stt is None:
                from app.engines.models import ModelStore
                from app.engines.stt.whisper import WhisperStt

                name = self.settings.stt.model
                model_dir = ModelStore(self.paths.models).path_for(name)
                if model_dir is None:
                    raise UserError(f"The speech model '{name}' is not installed; download it "
                                    f"first (kaytoo models download {name}).")
                from app.engines.threads import cores

                stt = WhisperStt(model_dir, compute_type=self.settings.stt.compute_type,
                                 vad=self.settings.stt.vad, cpu_threads=cores())
                stt.load()
                self._stt = stt
            return self._stt

    def transcribe(self, samples16k: np.ndarray, language: str | None = None):
        return self.stt().transcribe(samples16k, language or self.settings.stt.language)

    # -- text to speech --------------------------------------------------------------------
    def voice_ref(self, name: str | None) -> VoiceRef:
        return self.voices.get(name or self.settings.voice.active).ref()

    def speak(self, text: str | Iterable[str], voice: str | None = None, tier: str = "auto",
              cancel: threading.Event | None = None, raw: bool = False) -> Speech:
        """Start speaking. A string or list is checked now (bad text raises UserError before any
        audio); any other iterable arrives piece by piece and is cut into sentences by one
        SentenceStream as it comes: pieces are whole units (the assistant's sentences), or with
        ``raw`` text cut anywhere (a Wyoming peer's synthesize-chunks, an LLM's tokens)."""
        from app.engines.text import sentences as split_stream

        ref = self.voice_ref(voice)
        if isinstance(text, str):
            text = [text]
        if isinstance(text, (list, tuple)):
            prepared: Iterable[str] = prepare_text(text)
        else:
            prepared = split_stream(text, units=not raw)
        return self.chain.speak(prepared, ref, tier, cancel)

    def stt_languages(self) -> list[str]:
        """Languages the configured Whisper model understands (for `info` and the HTTP API)."""
        if self.settings.stt.model.endswith(".en"):
            return ["en"]
        from faster_whisper.tokenizer import _LANGUAGE_CODES  # the model's own list, no load

        return list(_LANGUAGE_CODES)

    def tts_installed(self) -> bool:
        """A tier that needs no network can serve (no online probe: this must answer at once)."""
        return any(b.check() is None for b in self.chain.backends.values() if not b.online)

    def stt_installed(self) -> bool:
        from app.engines.models import ModelStore

        return self._stt is not None or ModelStore(self.paths.models).path_for(self.settings.stt.model) is not None

    def preload(self) -> threading.Thread:
        """Load STT and the first tier that can serve, in the background."""
        def work() -> None:
            try:
                self.stt()
            except Exception as e:
                log.warning("speech model preload failed: %s", e)
            for name, backend in self.chain.backends.items():
                if backend.check() is None:
                    try:
                        backend.load()
                        break
                    except Exception as e:
                        log.warning("tier %s failed to load: %s", name, e)
                        self.chain.remember_failure(name, str(e))

        t = threading.Thread(target=work, name="engine-preload", daemon=True)
        t.start()
        return t

    def _effect_factory(self) -> Callable | None:
        if not self.settings.tts.droid_effect:
            return None
        from app.audio.effects import DroidEffect

        return DroidEffect


def prepare_text(parts: Iterable[str]) -> list[str]:
    """Whole text (a string per line or sentence) as speakable sentences, checked at once:
    raises UserError for empty, unspeakable or oversized text."""
    from app.engines.text import MAX_CHARS, SentenceStream, _merge_short

    parts = list(parts)
    total = sum(len(p) for p in parts if isinstance(p, str))
    if total > MAX_CHARS:
        raise UserError(f"The text is too long: {total:,} characters; the limit is {MAX_CHARS:,}.")
    stream = SentenceStream()
    out = stream.feed("\n".join(parts)) + stream.close()
    # The whole text is known: a short last sentence may still join the one before it.
    return _merge_short(out, stream.min_chars, stream.max_chars)
