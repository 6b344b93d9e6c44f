"""The engine core: one plain-Python API for speech in and speech out.

The CLI calls it in-process; ``server.py`` serves it over Wyoming to the GUI (and to any Wyoming
peer). Models load lazily, on first use or in ``preload``.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Iterable

import numpy as np

from app.engines import xtts_onnx
from app.engines.tts.base import TtsBackend, VoiceRef
from app.engines.tts.chain import Speech, TtsChain
from app.errors import UserError
from app.paths import Paths
from app.settings.model import Settings
from app.text.sentences import MAX_CHARS, SentenceStream, merge_short, sentences

log = logging.getLogger(__name__)

# Decoding choices the command bench chose (bench/results/stt.md): the prompt of command words
# and voice names; the beam and n-best width; a 20 s encoder window instead of Whisper's 30 s
# (decodes in about half the time, so a decode at the pause ends before the key comes up).
STT_PROMPT = True
STT_NBEST = 5
STT_WINDOW_S = 20.0
# An unsure guess (confidence under 0.7: 8 % of clean commands) is heard again over Whisper's
# full 30 s window and without the prompt, and the grammar picks among all their n best
# (bench/results/stt.md, 2026-12-03).
STT_MORE_LOOKS = ((None, True), (STT_WINDOW_S, False))
STT_LOOK_AGAIN_BELOW = 0.7


def make_backend(name: str, paths: Paths, settings: Settings) -> TtsBackend:
    """One place that knows how each tier is built (imports stay lazy: tiers import heavy libs late)."""
    if name == "xtts":
        model_dir = paths.models / "xtts-v2"
        consent = settings.tts.xtts_consent
        if xtts_onnx.in_use(model_dir):
            from app.engines.tts.xtts_onnx import XttsBesideTorch, XttsOnnxBackend

            onnx = XttsOnnxBackend(model_dir, consent=consent)
            if not xtts_onnx.torch_tier_installed():
                return onnx
            from app.engines.tts.xtts import XttsBackend

            return XttsBesideTorch(onnx, XttsBackend(model_dir, consent=consent))
        from app.engines.tts.xtts import XttsBackend

        return XttsBackend(model_dir, consent=consent)
    if name == "piper":
        from app.engines.tts.piper import PiperBackend

        return PiperBackend(cache_dir=paths.cache / "piper")
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
        self._languages: list[str] | None = None   # the STT model's languages, once known
        self._online: dict[str, str | None] = {}   # last answer of each online tier's check
        self._probing: set[str] = set()
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
                                 vad=self.settings.stt.vad, nbest=STT_NBEST,
                                 window_s=STT_WINDOW_S, more_looks=STT_MORE_LOOKS,
                                 look_again_below=STT_LOOK_AGAIN_BELOW, cpu_threads=cores())
                stt.load()
                self._stt = stt
            return self._stt

    def stt_prompt(self) -> str:
        """The decoder prompt: command words and the names of the voices in the library."""
        from app.engines.stt.prompt import command_prompt

        try:
            names = [v.name for v in self.voices.list()]
        except Exception as e:  # the library may be mid-change; hearing must go on
            log.warning("voice names unavailable for the speech prompt: %s", e)
            names = []
        return command_prompt(names)

    def transcribe(self, samples16k: np.ndarray, language: str | None = None):
        language = language or self.settings.stt.language
        return self.stt().transcribe(samples16k, language, prompt=self._prompt(language))

    def transcriber(self, language: str | None = None):
        """An IncrementalTranscriber for one utterance that is still arriving: ``feed(samples16k)``
        as audio comes in (it decodes at pauses on a worker thread), ``finish()`` at release."""
        from app.engines.stt.incremental import IncrementalTranscriber

        language = language or self.settings.stt.language
        return IncrementalTranscriber(self.stt(), language, prompt=self._prompt(language))

    def _prompt(self, language: str | None) -> str | None:
        """The prompt is English: only for English speech (an English-only model, or English
        asked for); a multilingual model left to detect the language gets none."""
        english = not self.stt().multilingual or (language or "").lower().startswith("en")
        return self.stt_prompt() if STT_PROMPT and english else None

    # -- text to speech --------------------------------------------------------------------
    def voice_ref(self, name: str | None) -> VoiceRef:
        return self.voices.get(name or self.settings.voice.active).ref()

    def prepare_voice(self, voice: str, tier: str = "xtts") -> str | None:
        """Compute ``voice``'s per-voice state for ``tier`` (cloning latents) now. None when done,
        else the plain reason the tier cannot serve."""
        backend = self.chain.backends.get(tier)
        if backend is None:
            return f"the {tier} tier is not in use"
        reason = backend.check()
        if reason is not None:
            return reason
        backend.load()
        backend.prepare(self.voice_ref(voice))
        return None

    def speak(self, text: str | Iterable[str], voice: str | None = None, tier: str = "auto",
              cancel: threading.Event | None = None, raw: bool = False) -> Speech:
        """Start speaking. A string or list is checked now (bad text raises UserError before any
        audio); any other iterable arrives piece by piece and is cut into sentences by one
        SentenceStream as it comes: pieces are whole units (the assistant's sentences), or with
        ``raw`` text cut anywhere (a Wyoming peer's synthesize-chunks, an LLM's tokens)."""
        ref = self.voice_ref(voice)
        if isinstance(text, str):
            text = [text]
        if isinstance(text, (list, tuple)):
            prepared: Iterable[str] = prepare_text(text)
        else:
            prepared = sentences(text, units=not raw)
        return self.chain.speak(prepared, ref, tier, cancel)

    def stt_languages(self) -> list[str]:
        """Languages the configured Whisper model understands (for `info` and the HTTP API).
        A multilingual model's list comes from faster-whisper's tokenizer: importing it takes a
        second or more, so ``preload`` asks first and callers on the event loop use a thread."""
        if self._languages is None:
            if self.settings.stt.model.endswith(".en"):
                self._languages = ["en"]
            else:
                from faster_whisper.tokenizer import _LANGUAGE_CODES  # the model's own list, no load

                self._languages = list(_LANGUAGE_CODES)
        return self._languages

    def tier_status(self) -> dict[str, str | None]:
        """Per tier: why it cannot serve now, or None if it may. Never waits for the network:
        an online tier reports its last check, and a fresh one runs in the background."""
        out: dict[str, str | None] = {}
        for name, backend in self.chain.backends.items():
            failed = self.chain.recent_failure(name)
            out[name] = failed or (self._online_status(name, backend) if backend.online
                                   else backend.check())
        return out

    def _online_status(self, name: str, backend: TtsBackend) -> str | None:
        def probe() -> None:
            try:
                self._online[name] = backend.check()
            finally:
                self._probing.discard(name)

        if name not in self._probing:  # the backend caches its answer; this only refreshes it
            self._probing.add(name)
            threading.Thread(target=probe, name=f"probe-{name}", daemon=True).start()
        return self._online.get(name, "not checked yet")

    def tts_installed(self) -> bool:
        """A tier that needs no network can serve (no online probe: this must answer at once)."""
        return any(b.check() is None for b in self.chain.backends.values() if not b.online)

    def stt_installed(self) -> bool:
        from app.engines.models import ModelStore

        return self._stt is not None or ModelStore(self.paths.models).path_for(self.settings.stt.model) is not None

    def preload(self) -> threading.Thread:
        """Load STT and the first tier that can serve, in the background; then one throw-away
        decode, so the first command does not pay the decoder's first-call cost (last: a turn
        that starts meanwhile needs the voice loaded more than a warm decoder)."""
        def work() -> None:
            self.stt_languages()   # before any model: `describe` may be waiting for it
            try:
                stt = self.stt()
            except Exception as e:
                stt = None
                log.warning("speech model preload failed: %s", e)
            for name, backend in self.chain.backends.items():
                if backend.check() is None:
                    try:
                        backend.load()
                        break
                    except Exception as e:
                        log.warning("tier %s failed to load: %s", name, e)
                        self.chain.remember_failure(name, str(e))
            if stt is not None:
                stt.warm_up()

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
    parts = list(parts)
    total = sum(len(p) for p in parts if isinstance(p, str))
    if total > MAX_CHARS:
        raise UserError(f"The text is too long: {total:,} characters; the limit is {MAX_CHARS:,}.")
    stream = SentenceStream()
    out = stream.feed("\n".join(parts)) + stream.close()
    # The whole text is known: a short last sentence may still join the one before it.
    return merge_short(out, stream.min_chars, stream.max_chars)
