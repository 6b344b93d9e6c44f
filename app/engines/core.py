"""The engine core: one plain-Python API for speech in and speech out.

The CLI calls it in-process; ``server.py`` serves it over Wyoming to the GUI (and to any Wyoming
peer). Models load lazily, on first use or in ``preload``.
"""
from __future__ import annotations

import importlib.util
import logging
import threading
from typing import Callable, Iterable, Iterator

import numpy as np

from app.engines.tts.base import TtsBackend, VoiceRef
from app.engines.tts.chain import Speech, TtsChain
from app.errors import UserError
from app.paths import Paths
from app.settings.model import Settings

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 5000


def make_backend(name: str, paths: Paths, settings: Settings) -> TtsBackend:
    """One place that knows how each tier is built (imports stay lazy: tiers import heavy libs late)."""
    if name == "xtts":
        model_dir = paths.models / "xtts-v2"
        if xtts_on_onnx():
            from app.engines.tts.xtts_onnx import XttsOnnxBackend

            return XttsOnnxBackend(model_dir, consent=settings.tts.xtts_consent)
        from app.engines.tts.xtts import XttsBackend

        return XttsBackend(model_dir, consent=settings.tts.xtts_consent)
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


def xtts_on_onnx() -> bool:
    """The XTTS tier runs on ONNX Runtime where torch or coqui-tts is missing (the packaged app)."""
    return any(importlib.util.find_spec(m) is None for m in ("torch", "TTS"))


class EngineCore:
    def __init__(self, paths: Paths, settings: Settings,
                 backends: list[TtsBackend] | None = None):
        from app.bootstrap import asset_dir
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
                stt = WhisperStt(model_dir, compute_type=self.settings.stt.compute_type,
                                 vad=self.settings.stt.vad)
                stt.load()
                self._stt = stt
            return self._stt

    def transcribe(self, samples16k: np.ndarray, language: str | None = None):
        return self.stt().transcribe(samples16k, language or self.settings.stt.language)

    # -- text to speech --------------------------------------------------------------------
    def voice_ref(self, name: str | None) -> VoiceRef:
        return self.voices.get(name or self.settings.voice.active).ref()

    def speak(self, sentences: str | Iterable[str], voice: str | None = None, tier: str = "auto",
              cancel: threading.Event | None = None) -> Speech:
        """Start speaking. A string or list is checked now (bad text raises UserError before any
        audio); a generator (an LLM streaming its reply) is normalised sentence by sentence."""
        ref = self.voice_ref(voice)
        if isinstance(sentences, str):
            sentences = [sentences]
        if isinstance(sentences, (list, tuple)):
            prepared: Iterable[str] = prepare_text(sentences)
        else:
            prepared = _lazy(lambda: prepare_text(sentences))
        return self.chain.speak(prepared, ref, tier, cancel)

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


def prepare_text(parts: Iterable[str]) -> list[str] | Iterator[str]:
    """Normalise and split into speakable sentences; raises UserError for empty/oversized text."""
    if isinstance(parts, (list, tuple)):
        total = sum(len(p) for p in parts)
        if total > MAX_TEXT_CHARS:
            raise UserError(f"The text is {total:,} characters long; the limit is "
                            f"{MAX_TEXT_CHARS:,} characters.")
        out = [s for p in parts for s in _speakable(p)]
        if not out:
            raise UserError("There is nothing to say: the text is empty.")
        return out
    return (s for p in parts for s in _speakable(p))


def _speakable(part: str) -> list[str]:
    from app.engines.text import normalize, split_sentences

    try:
        return [s for s in split_sentences(normalize(part)) if s.strip()]
    except UserError:  # an empty or unspeakable piece: nothing to say for it
        return []


def _lazy(make: Callable[[], Iterable[str]]) -> Iterator[str]:
    yield from make()
