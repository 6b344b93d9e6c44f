"""A synchronous Wyoming client for the engine (local process or a remote Wyoming server).

It offers the same ``transcribe``/``speak`` methods as EngineCore, so turn code does not care
which one it talks to. One request at a time per client; make another client for parallel work.
"""
from __future__ import annotations

import socket
import subprocess
import threading
from typing import BinaryIO, Iterable, Iterator
from urllib.parse import urlparse

import numpy as np

from app.audio.clip import STT_RATE
from app.engines.protocol import (CANCEL_EVENT, CONTEXT_KEY, REPORT_EVENT, TIER_KEY, TIERS_KEY,
                                  PREPARE_EVENT, PREPARED_EVENT,
                                  SpeechReport,
                                  Transcript, error_from_code, from_pcm16, pcm_chunks, to_pcm16)
from app.errors import UserError
from app.runtime import stop_child


class EngineGone(ConnectionError):
    """The engine closed the connection or died mid-request."""


class EngineClient:
    def __init__(self, uri: str, timeout: float = 30.0):
        self.uri, self.timeout = uri, timeout
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen | None = None
        self._reader: BinaryIO | None = None
        self._writer: BinaryIO | None = None
        self._write_lock = threading.Lock()

    @classmethod
    def over_process(cls, cmd: list[str], timeout: float = 30.0) -> "EngineClient":
        """Talk Wyoming over the stdin/stdout of a child engine (``--uri stdio://``)."""
        client = cls("stdio://", timeout)
        client._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        client._reader, client._writer = client._proc.stdout, client._proc.stdin
        return client

    # -- connection ------------------------------------------------------------------------
    def _connect(self) -> None:
        if self._reader is not None:
            return
        parsed = urlparse(self.uri)
        if parsed.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: object = parsed.netloc + parsed.path
        elif parsed.scheme == "tcp":
            sock = socket.socket(socket.AF_INET6 if ":" in (parsed.hostname or "") else socket.AF_INET)
            target = (parsed.hostname, parsed.port)
        else:
            raise UserError(f"Cannot connect to '{self.uri}'; use unix://PATH or tcp://HOST:PORT.")
        sock.settimeout(self.timeout)
        try:
            sock.connect(target)
        except OSError as e:
            sock.close()
            raise EngineGone(f"The engine at {self.uri} is not reachable ({e}).") from e
        self._sock = sock
        self._reader, self._writer = sock.makefile("rb"), sock.makefile("wb")

    def close(self) -> None:
        for f in (self._reader, self._writer):
            try:
                f and f.close()
            except OSError:
                pass
        if self._sock is not None:
            self._sock.close()
        if self._proc is not None:
            stop_child(self._proc)
        self._sock = self._reader = self._writer = self._proc = None

    def __enter__(self) -> "EngineClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, event) -> None:
        from wyoming.event import write_event

        self._connect()
        try:
            with self._write_lock:
                write_event(event, self._writer)
        except (OSError, ValueError) as e:
            self.close()
            raise EngineGone(f"Lost the engine while sending ({e}).") from e

    def _recv(self):
        from wyoming.error import Error
        from wyoming.event import read_event

        try:
            event = read_event(self._reader)
        except (OSError, ValueError) as e:
            self.close()
            raise EngineGone(f"Lost the engine while waiting for it ({e}).") from e
        if event is None:
            self.close()
            raise EngineGone("The engine closed the connection.")
        if Error.is_type(event.type):
            err = Error.from_event(event)
            raise error_from_code(err.code, err.text)
        return event

    # -- requests --------------------------------------------------------------------------
    def info(self) -> dict:
        from wyoming.info import Describe, Info

        self._send(Describe().event())
        while True:
            event = self._recv()
            if Info.is_type(event.type):
                return event.data

    def tier_status(self) -> dict[str, str | None]:
        """Each voice tier of the engine: None when it can serve, else the plain reason why not."""
        return dict(self.info().get(TIERS_KEY, {}))

    def prepare_voice(self, voice: str) -> str | None:
        """Have the engine compute ``voice``'s cloning state now (seconds on a CPU). None when it
        is ready, else the plain reason the cloning tier cannot serve."""
        from wyoming.event import Event

        self._send(Event(type=PREPARE_EVENT, data={"voice": voice}))
        while True:
            event = self._recv()
            if event.type == PREPARED_EVENT:
                return event.data.get("reason")

    def transcribe(self, samples16k: np.ndarray, language: str | None = None) -> Transcript:
        hearing = self.transcriber(language)
        hearing.feed(samples16k)
        return hearing.finish()

    def transcriber(self, language: str | None = None) -> "RemoteTranscriber":
        """Like ``EngineCore.transcriber``: ``feed`` audio while the key is held (the engine hears
        it as it arrives), ``finish()`` at release for the transcript."""
        return RemoteTranscriber(self, language)

    def speak(self, sentences: str | Iterable[str], voice: str | None = None, tier: str = "auto",
              cancel: threading.Event | None = None) -> "RemoteSpeech":
        if isinstance(sentences, str):
            sentences = [sentences]
        return RemoteSpeech(self, sentences, voice, tier, cancel or threading.Event())


class RemoteTranscriber:
    """One utterance streamed to the engine: transcribe + audio-start now, an audio-chunk per
    ``feed``, audio-stop and the transcript at ``finish``."""

    FORMAT = dict(rate=STT_RATE, width=2, channels=1)

    def __init__(self, client: EngineClient, language: str | None):
        from wyoming.asr import Transcribe
        from wyoming.audio import AudioStart

        self.client, self.seconds = client, 0.0
        client._send(Transcribe(language=language).event())
        client._send(AudioStart(**self.FORMAT).event())

    def feed(self, samples16k: np.ndarray) -> None:
        from wyoming.audio import AudioChunk

        self.seconds += len(samples16k) / STT_RATE
        for piece in pcm_chunks(to_pcm16(samples16k), 4096):
            self.client._send(AudioChunk(audio=piece, **self.FORMAT).event())

    def finish(self) -> Transcript:
        from wyoming.asr import Transcript as WyTranscript
        from wyoming.audio import AudioStop

        self.client._send(AudioStop().event())
        while True:
            event = self.client._recv()
            if WyTranscript.is_type(event.type):
                tr = WyTranscript.from_event(event)
                extra = (tr.context or {}).get(CONTEXT_KEY, {})
                return Transcript.from_dict({
                    "seconds_audio": self.seconds, "stt_s": 0.0, **extra,
                    "text": tr.text, "language": tr.language or extra.get("language", "")})


class RemoteSpeech:
    """Mirrors chain.Speech: iterate for float32 chunks; ``report`` is set when iteration ends."""

    def __init__(self, client: EngineClient, sentences: Iterable[str], voice: str | None,
                 tier: str, cancel: threading.Event):
        self.client, self.sentences, self.voice, self.tier, self.cancel = (
            client, sentences, voice, tier, cancel)
        self.rate = 48000
        self.report = SpeechReport()

    def __iter__(self) -> Iterator[np.ndarray]:
        from wyoming.audio import AudioChunk, AudioStart
        from wyoming.tts import SynthesizeStart, SynthesizeStopped, SynthesizeVoice

        start = SynthesizeStart(voice=SynthesizeVoice(name=self.voice) if self.voice else None).event()
        start.data[TIER_KEY] = self.tier
        self.client._send(start)
        done = threading.Event()
        feeder = threading.Thread(target=self._feed, args=(done,), daemon=True)
        feeder.start()
        finished = False
        try:
            while True:
                event = self.client._recv()
                if AudioStart.is_type(event.type):
                    self.rate = AudioStart.from_event(event).rate
                elif AudioChunk.is_type(event.type):
                    yield from_pcm16(AudioChunk.from_event(event).audio)
                elif event.type == REPORT_EVENT:
                    self.report = SpeechReport.from_dict(event.data)
                elif SynthesizeStopped.is_type(event.type):
                    finished = True
                    return
        finally:
            if not finished and self.client._reader is not None:
                self._abandon(SynthesizeStopped)
            done.set()

    def _abandon(self, stopped) -> None:
        """The caller stopped listening early: cancel and drain so the connection stays in step."""
        from wyoming.event import Event

        self.cancel.set()
        try:
            self.client._send(Event(type=CANCEL_EVENT))
            while not stopped.is_type(self.client._recv().type):
                pass
        except Exception:  # the connection is unusable anyway: start afresh next time
            self.client.close()

    def _feed(self, done: threading.Event) -> None:
        """Send the text as it is produced (the engine's splitter decides the sentences), then
        watch for a barge-in until the reply ends."""
        from wyoming.event import Event
        from wyoming.tts import SynthesizeChunk, SynthesizeStop

        try:
            for text in self.sentences:
                if self.cancel.is_set() or done.is_set():
                    break
                # Each piece is a unit (a sentence, a line): a line break says it is complete,
                # so the engine need not wait for the next one to know where it ends.
                self.client._send(SynthesizeChunk(text=text if text.endswith("\n") else text + "\n").event())
            self.client._send(SynthesizeStop().event())
            while not done.is_set():
                if self.cancel.wait(0.05):
                    self.client._send(Event(type=CANCEL_EVENT))
                    return
        except (EngineGone, OSError):
            return
