"""Speaking outside a turn — a voice sample, a timer that fell due — and preparing a new voice's
cloning latents, each on an engine connection of its own. Qt-free; reports go to the listener."""
from __future__ import annotations

import threading
from typing import Callable

from app.errors import UserError, first_line
from app.session.audio_io import AudioIO
from app.session.engine_link import EngineLink
from app.session.listener import SessionListener
from app.settings.model import Settings

SAMPLE_SENTENCE = "Hello. This is how I sound. The odds of you liking it are, frankly, unremarkable."


class Speaking:
    def __init__(self, link: EngineLink, audio: AudioIO, listener: SessionListener,
                 settings: Callable[[], Settings], idle: Callable[[], bool],
                 closing: threading.Event):
        self.link, self.audio, self.listener = link, audio, listener
        self._settings, self._idle, self._closing = settings, idle, closing

    def say(self, text: str, voice: str | None = None, sample: bool = False) -> None:
        """Speak ``text`` in the background, once no turn is in progress (a timer that falls due
        mid-turn waits for the turn to end)."""
        threading.Thread(target=self._say, args=(text, voice, sample), name="say",
                         daemon=True).start()

    def prepare(self, name: str) -> threading.Event:
        """Compute a new voice's cloning latents in the background, when the engine's cloning tier
        can serve. Returns a cancel flag."""
        cancel = threading.Event()
        threading.Thread(target=self._prepare, args=(name, cancel), name="prepare-voice",
                         daemon=True).start()
        return cancel

    def _say(self, text: str, voice: str | None, sample: bool) -> None:
        while not self._idle() and not self._closing.is_set():
            self._closing.wait(0.1)
        settings = self._settings()
        try:
            with self.link.fresh_client(timeout=60.0) as client:
                self.audio.begin_reply(settings.tts.speed)
                self.audio.sentence_coming(text)
                speech = client.speak([text], voice or settings.voice.active)
                for chunk in speech:
                    self.audio.play(chunk)
                self.audio.end_reply(timeout=120)
            self.listener.said(text, speech.report.tier or "")
            if sample:
                self.listener.sample_spoken(speech.report.tier or "")
        except Exception as e:
            self.listener.message(f"Could not speak: {first_line(e)}")

    def _prepare(self, name: str, cancel: threading.Event) -> None:
        text = f"Preparing '{name}' for cloning…"
        try:
            if "xtts" not in self._settings().tts.tiers:
                return
            with self.link.fresh_client(ready_timeout=120, timeout=600) as client:
                if client.tier_status().get("xtts", "absent") is not None or cancel.is_set():
                    return   # the cloning tier cannot serve: nothing to prepare
                self.listener.voice_progress(text, 0.1)
                reason = client.prepare_voice(name)
            if reason is not None:
                raise UserError(reason)
            self.listener.message(f"'{name}' is ready for cloning.")
        except Exception as e:
            self.listener.message(f"Could not prepare '{name}' in advance ({first_line(e)}); "
                                  "it is prepared the first time it speaks.")
        finally:
            self.listener.voice_progress("", 1.0)
