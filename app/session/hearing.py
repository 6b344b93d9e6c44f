"""Hearing while the key is held: the microphone's audio goes to the engine as it arrives (a
Wyoming transcription of its own, on a fresh connection), so the engine decodes during the hold
and at release only the tail remains.

Anything that goes wrong here (the engine not ready yet, a lost connection) only means the
utterance is transcribed whole at release, as before: ``finish`` then returns None.
"""
from __future__ import annotations

import logging
import queue
import threading

import numpy as np

from app.engines.protocol import Transcript
from app.session.engine_link import EngineLink

log = logging.getLogger(__name__)

_END = object()


class Hearing:
    def __init__(self, link: EngineLink, language: str | None = None):
        self.link, self.language = link, language
        self._blocks: queue.Queue = queue.Queue()
        self._result: Transcript | None = None
        self._abandoned = threading.Event()
        self._fed = 0
        self._thread = threading.Thread(target=self._run, name="hearing", daemon=True)
        self._thread.start()

    def feed(self, samples16k: np.ndarray) -> None:
        """Any thread, never blocks (the capture thread calls it)."""
        self._fed += len(samples16k)
        self._blocks.put(samples16k)

    def finish(self, timeout: float = 60.0) -> Transcript | None:
        """The transcript of everything fed, or None when it must be transcribed whole."""
        self._blocks.put(_END)
        if not self._fed:       # nothing arrived while held: the recording is all there is
            self._abandoned.set()
            return None
        self._thread.join(timeout)
        return None if self._thread.is_alive() else self._result

    def abandon(self) -> None:
        """Nothing to hear after all (a tap, a failed microphone): drop the connection."""
        self._abandoned.set()
        self._blocks.put(_END)

    def _run(self) -> None:
        client = None
        try:
            if not self.link.wait_ready(0):
                return          # not ready: the turn waits for the engine and decodes it whole
            client = self.link.fresh_client(ready_timeout=0, timeout=60.0)
            transcriber = client.transcriber(self.language)
            while True:
                block = self._blocks.get()
                if block is _END:
                    break
                transcriber.feed(block)
            if not self._abandoned.is_set():
                self._result = transcriber.finish()
        except Exception as e:   # the turn decodes the recording instead
            log.info("hearing while held failed, decoding at release: %s", e)
        finally:
            if client is not None:
                client.close()
