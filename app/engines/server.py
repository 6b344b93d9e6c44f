"""The engine process: EngineCore served over the Wyoming protocol.

Inference runs in worker threads so one slow synthesis never blocks the event loop; errors go back
as Wyoming ``error`` events with a code, never as text to parse.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import sys
import threading
from functools import partial
from pathlib import Path
from typing import Awaitable, BinaryIO, Callable
from urllib.parse import urlparse

import numpy as np

from app import __version__
from app.audio.clip import STT_RATE
from app.engines import wire
from app.engines.core import EngineCore, prepare_text
from app.engines.protocol import (CANCEL_EVENT, CODE_INTERNAL, CONTEXT_KEY, REPORT_EVENT, TIER_KEY,
                                  TIERS_KEY, PREPARE_EVENT, PREPARED_EVENT, error_code,
                                  from_pcm16, pcm_chunks, to_pcm16)
from app.engines.socket_path import OwnedSocket
from app.errors import UserError

log = logging.getLogger(__name__)


def check_uri(uri: str, allow_remote: bool) -> str:
    """Validate an engine URI; refuse to listen beyond loopback unless the user asked for it."""
    parsed = urlparse(uri)
    if parsed.scheme == "stdio":
        return uri
    if parsed.scheme == "unix":
        if not (parsed.netloc + parsed.path):
            raise UserError("A unix:// address needs a socket path, e.g. unix:///run/user/1000/k.sock.")
        return uri
    if parsed.scheme == "tcp":
        host = parsed.hostname or ""
        if not host or parsed.port is None:
            raise UserError(f"'{uri}' needs a host and a port, e.g. tcp://127.0.0.1:10300.")
        if not allow_remote and not _is_loopback(host):
            raise UserError(f"Refusing to listen on {host}: only loopback addresses are allowed "
                            "unless you pass --allow-remote.")
        return uri
    raise UserError(f"Unsupported address '{uri}'; use stdio://, unix://PATH or tcp://HOST:PORT.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


ASR_ATTRIBUTION = {"name": "faster-whisper (OpenAI Whisper)", "url": "https://github.com/SYSTRAN/faster-whisper"}
TTS_ATTRIBUTION = {"name": "Piper", "url": "https://github.com/OHF-Voice/piper1-gpl"}


def info_event(core: EngineCore):
    """What Home Assistant reads: installed programs and models, their languages, voice labels.
    Built from cheap local checks only (no network probe), so it answers at once."""
    from wyoming.info import AsrModel, AsrProgram, Attribution, Info, TtsProgram, TtsVoice

    asr_attr, tts_attr = Attribution(**ASR_ATTRIBUTION), Attribution(**TTS_ATTRIBUTION)
    stt = core.settings.stt
    installed = core.stt_installed()
    asr = AsrProgram(
        name="kaytoo-whisper", attribution=asr_attr, installed=installed, version=__version__,
        description="Kaytoo speech to text (faster-whisper)",
        models=[AsrModel(name=stt.model, attribution=asr_attr, installed=installed, version=None,
                         description=f"Whisper {stt.model}", languages=core.stt_languages())])
    voices = [TtsVoice(name=v.name, attribution=tts_attr, installed=True, version=None,
                       description=v.name, languages=[v.language])
              for v in core.voices.list()]
    tts = TtsProgram(
        name="kaytoo-tts", attribution=tts_attr, installed=core.tts_installed(),
        version=__version__, description="Kaytoo", voices=voices,
        supports_synthesize_streaming=True)
    event = Info(asr=[asr], tts=[tts]).event()
    event.data[TIERS_KEY] = core.tier_status()   # for Kaytoo's app: which tiers can serve, and why not
    return event


class EngineHandler:
    """One connection. Built by ``make_handler`` as a wyoming AsyncEventHandler subclass.

    ``handle`` returns False to close the connection: after a one-shot ``synthesize`` that
    cannot be spoken, because Home Assistant's one-shot path ignores ``error`` and waits for
    ``audio-stop`` or a closed connection."""

    def __init__(self, core: EngineCore, close=None):
        self.core = core
        self._close = close
        self._audio: list[np.ndarray] = []
        self._hearing = None       # the core's incremental transcriber for the utterance arriving
        self._converter = None
        self._language: str | None = None
        self._text: "asyncio.Queue[str | None] | None" = None  # raw text of the reply being spoken
        self._streaming = False  # between synthesize-start and synthesize-stop
        self._cancel = threading.Event()
        self._task: asyncio.Task | None = None

    async def handle(self, write, event) -> bool:
        from wyoming.asr import Transcribe
        from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
        from wyoming.info import Describe
        from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

        if Describe.is_type(event.type):
            # Off the event loop: it reads the voice library and may wait for an import, and
            # other clients (a stream being spoken) must not pause meanwhile.
            await write(await asyncio.to_thread(info_event, self.core))
        elif Transcribe.is_type(event.type):
            self._language = Transcribe.from_event(event).language
            self._audio, self._hearing = [], None
        elif AudioStart.is_type(event.type):
            self._audio, self._hearing = [], None
            self._converter = AudioChunkConverter(rate=STT_RATE, width=2, channels=1)
        elif AudioChunk.is_type(event.type):
            conv = self._converter or AudioChunkConverter(rate=STT_RATE, width=2, channels=1)
            samples = from_pcm16(conv.convert(AudioChunk.from_event(event)).audio)
            await self._hear(samples)
        elif AudioStop.is_type(event.type):
            await self._transcribe(write)
        elif SynthesizeStart.is_type(event.type):
            start = SynthesizeStart.from_event(event)
            self._streaming = True
            self._begin_speech(write, start.voice, event.data.get(TIER_KEY, "auto"), True)
        elif SynthesizeChunk.is_type(event.type) and self._text is not None:
            await self._text.put(SynthesizeChunk.from_event(event).text)
        elif SynthesizeStop.is_type(event.type) and self._text is not None:
            self._streaming = False
            await self._text.put(None)
        elif Synthesize.is_type(event.type):
            if self._streaming:
                return True  # the one-shot copy a streaming client also sends: already handled
            syn = Synthesize.from_event(event)
            try:
                await asyncio.to_thread(prepare_text, [syn.text])  # refuse bad text before any audio
            except UserError as e:
                await write(_error(e))
                return False
            self._begin_speech(write, syn.voice, event.data.get(TIER_KEY, "auto"), False)
            await self._text.put(syn.text)
            await self._text.put(None)
        elif event.type == CANCEL_EVENT:
            self._cancel.set()
        elif event.type == PREPARE_EVENT:
            await self._prepare(write, str(event.data.get("voice", "")))
        return True

    async def _hear(self, samples: np.ndarray) -> None:
        """Chunks go to the incremental transcriber as they arrive (a client streaming a held
        key is heard while it speaks); if it cannot start, they are kept for one decode at stop."""
        if self._hearing is None and not self._audio:
            try:
                self._hearing = await asyncio.to_thread(self.core.transcriber, self._language)
            except Exception as e:  # no model yet: _transcribe reports it at audio-stop
                log.debug("incremental transcription unavailable: %s", e)
        if self._hearing is not None:
            self._hearing.feed(samples)
        else:
            self._audio.append(samples)

    async def _transcribe(self, write) -> None:
        from wyoming.asr import Transcript

        hearing, self._hearing = self._hearing, None
        samples = np.concatenate(self._audio) if self._audio else np.zeros(0, np.float32)
        self._audio = []
        try:
            if hearing is not None:
                tr = await asyncio.to_thread(hearing.finish)
            else:
                tr = await asyncio.to_thread(self.core.transcribe, samples, self._language)
        except Exception as e:
            await write(_error(e))
            return
        await write(Transcript(text=tr.text, language=tr.language,
                               context={CONTEXT_KEY: tr.to_dict()}).event())

    async def _prepare(self, write, voice: str) -> None:
        from wyoming.event import Event

        try:
            reason = await asyncio.to_thread(self.core.prepare_voice, voice)
        except Exception as e:
            await write(_error(e))
            return
        await write(Event(type=PREPARED_EVENT, data={"voice": voice, "tier": "xtts",
                                                      "reason": reason}))

    def _begin_speech(self, write, voice, tier: str, streaming: bool) -> None:
        self._cancel = threading.Event()
        self._text = asyncio.Queue()
        name = voice.name if voice is not None else None
        self._task = asyncio.create_task(self._speak(write, self._text, name, tier, streaming))

    async def _speak(self, write, text: "asyncio.Queue[str | None]", voice: str | None, tier: str,
                     streaming: bool) -> None:
        from wyoming.audio import AudioChunk, AudioStart, AudioStop
        from wyoming.event import Event
        from wyoming.tts import SynthesizeStopped

        rate = self.core.settings.audio.output_rate
        started = failed = False
        cancel = self._cancel
        try:
            async for kind, value in speak_events(self.core, text, voice, tier, cancel):
                if kind == "chunk":
                    if not started:
                        await write(AudioStart(rate=rate, width=2, channels=1).event())
                        started = True
                    for piece in pcm_chunks(to_pcm16(value)):
                        await write(AudioChunk(rate=rate, width=2, channels=1, audio=piece).event())
                elif kind == "segment" and started and streaming:
                    await write(AudioStop().event())
                    started = False
                elif kind == "report":
                    await write(Event(type=REPORT_EVENT, data=value))
                elif kind == "error":
                    failed = True
                    await write(_error(value))
            if started:
                await write(AudioStop().event())
            if streaming:
                await write(SynthesizeStopped().event())
            elif failed and self._close is not None:
                self._close()  # a one-shot peer waits for audio-stop or the end of the connection
        finally:
            cancel.set()
            self._text = None

    async def disconnect(self) -> None:
        self._cancel.set()  # the client is gone: stop speaking to nobody
        if self._text is not None:
            self._text.put_nowait(None)


async def speak_events(core: EngineCore, text: "asyncio.Queue[str | None]", voice: str | None,
                       tier: str, cancel: threading.Event):
    """Speak raw text arriving on ``text`` (None ends it) in a worker thread; yield
    ("chunk", samples), ("segment", None) when a sentence is done, ("report", dict) and
    ("error", exception) as they happen. Shared by the Wyoming server and the HTTP API."""
    loop = asyncio.get_running_loop()
    out: asyncio.Queue = asyncio.Queue()

    def incoming():  # runs in the worker thread: raw text as the client sends it
        while True:
            piece = asyncio.run_coroutine_threadsafe(text.get(), loop).result()
            if piece is None:
                return
            yield piece

    def work() -> None:
        put = partial(loop.call_soon_threadsafe, out.put_nowait)
        try:
            speech = core.speak(incoming(), voice, tier, cancel, raw=True)
            done = 0
            for chunk in speech:
                if len(speech.report.sentences) != done:  # a sentence finished: new segment
                    done = len(speech.report.sentences)
                    put(("segment", None))
                put(("chunk", chunk))
            put(("report", speech.report.to_dict()))
        except Exception as e:
            put(("error", e))
        put(("end", None))

    worker = asyncio.create_task(asyncio.to_thread(work))
    try:
        while True:
            item = await out.get()
            if item[0] == "end":
                return
            yield item
    finally:
        cancel.set()
        text.put_nowait(None)  # a worker waiting for more text may stop
        await worker


def _error(e: Exception):
    from wyoming.error import Error

    code = error_code(e)
    if code != CODE_INTERNAL:
        return Error(text=str(e), code=code).event()
    log.exception("engine error", exc_info=e)
    return Error(text=f"The engine failed: {type(e).__name__}: {e}", code=code).event()


def make_handler(core: EngineCore):
    from wyoming.server import AsyncEventHandler

    class Handler(AsyncEventHandler):
        def __init__(self, reader, writer):
            super().__init__(reader, writer)
            self.logic = EngineHandler(core, close=self.writer.close)

        async def handle_event(self, event) -> bool:
            return await self.logic.handle(self.write_event, event)

        async def disconnect(self) -> None:
            await self.logic.disconnect()

    return Handler


def _limits(core: EngineCore) -> wire.Limits:
    engine = core.settings.engine
    return wire.Limits(header=engine.max_event_bytes, data=engine.max_event_bytes,
                       payload=engine.max_audio_bytes)


async def serve_stdio(core: EngineCore, protocol_out: BinaryIO) -> None:
    """Serve one peer on stdin and ``protocol_out`` (a duplicate of the original stdout: fd 1
    itself now points at stderr, so nothing a library prints can corrupt the protocol)."""
    limits = _limits(core)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limits.header)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, proto = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, protocol_out)
    writer = asyncio.StreamWriter(transport, proto, None, loop)
    await wire.run_handler(make_handler(core)(reader, writer), limits)


async def serve(core: EngineCore, uri: str, sock: OwnedSocket | None = None) -> None:
    """Serve ``uri`` until cancelled; a unix:// address is served on ``sock`` (already bound)."""
    parsed = urlparse(uri)
    if parsed.scheme == "unix":
        sock = sock or OwnedSocket(Path(parsed.netloc + parsed.path))
        server = await wire.start_server(make_handler(core), _limits(core), sock=sock.sock)
    else:
        server = await wire.start_server(make_handler(core), _limits(core),
                                         host=parsed.hostname, port=parsed.port)
    log.info("engine listening on %s", uri)
    async with server:
        await server.serve_forever()


async def _together(wyoming: Awaitable[None], http: Callable[[], Awaitable[None]]) -> None:
    """Both servers; when the Wyoming side ends (the stdio peer left), so does the engine."""
    web = asyncio.create_task(http())
    try:
        await wyoming
    finally:
        web.cancel()


def run(core: EngineCore, uri: str, protocol_out: BinaryIO | None = None,
        http: Callable[[], Awaitable[None]] | None = None) -> None:
    """Serve until SIGTERM or the stdio peer leaves; ``http`` (the OpenAI-style API) runs in
    the same event loop."""
    import signal

    parsed = urlparse(uri)
    # Bound before the models load, so a second engine on the same path is refused at once.
    sock = OwnedSocket(Path(parsed.netloc + parsed.path)) if parsed.scheme == "unix" else None

    def _stop(*_):
        # SIGTERM from the supervisor: nothing here holds user data, so leave at once (waiting for
        # an inference thread to notice could take seconds) after removing the socket.
        if sock is not None:
            sock.release()
        os._exit(0)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    core.preload()
    try:
        wyoming = serve_stdio(core, protocol_out) if protocol_out is not None else serve(core, uri, sock)
        asyncio.run(_together(wyoming, http) if http is not None else wyoming)
    except KeyboardInterrupt:
        pass
    # The peer is gone: do not wait for inference threads that may still be finishing a reply.
    logging.shutdown()
    if sock is not None:
        sock.release()
    os._exit(0)
