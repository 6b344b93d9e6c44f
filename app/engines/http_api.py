"""The OpenAI-compatible speech API (``kaytoo engine --http HOST:PORT``), served by FastAPI on
uvicorn in the engine's event loop, from the same EngineCore and voice library as Wyoming.

POST /v1/audio/speech is streamed as it is synthesized (wav/pcm straight, mp3/opus/flac through
one ffmpeg pipe); POST /v1/audio/transcriptions takes a multipart file; GET /v1/models and
GET /v1/audio/voices list what there is. Errors are OpenAI-shaped:
``{"error": {"message", "type", "code"}}``.
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import struct
import tempfile
import threading
from pathlib import Path
from typing import AsyncIterator

import numpy as np
from fastapi import FastAPI, Form, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from app.audio import clip
from app.audio.clip import STT_RATE, StreamResampler
from app.engines.core import EngineCore, prepare_text
from app.engines.protocol import to_pcm16
from app.engines.server import speak_events
from app.errors import NothingCouldServe, UserError
from app.runtime import find_ffmpeg

RATE = 24000  # what OpenAI clients assume for "pcm"; every format is sent at this rate
MAX_UPLOAD = 25 * 1024 * 1024  # OpenAI's own limit for a transcription upload
SPEECH_MODELS = ("kaytoo", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
STT_MODELS = ("kaytoo-whisper", "whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
# Apps default to OpenAI's stock voices; they get the active voice rather than an error.
STOCK_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer",
                "verse"}
MEDIA = {"wav": "audio/wav", "pcm": "audio/pcm", "mp3": "audio/mpeg", "opus": "audio/ogg",
         "flac": "audio/flac"}
FFMPEG_OUT = {"mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
              "opus": ["-c:a", "libopus", "-b:a", "32k", "-f", "ogg"],
              "flac": ["-c:a", "flac", "-f", "flac"]}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, type_: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.code, self.type = status, message, code, type_


class SpeechRequest(BaseModel):
    model: str
    input: str
    voice: str
    response_format: str = "mp3"
    speed: float = 1.0


def check_http(host: str, port: int, allow_remote: bool, api_key: str | None) -> None:
    """Loopback only, unless the user asked for more AND set a key."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not (allow_remote and api_key):
        raise UserError(f"Refusing to serve HTTP on {host}: a non-loopback address needs both "
                        "--allow-remote and --api-key-file.")
    if not 0 < port < 65536:
        raise UserError(f"{port} is not a TCP port.")


def read_key(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise UserError(f"Cannot read the API key file {path} ({e.strerror}).") from e
    if not key:
        raise UserError(f"The API key file {path} is empty.")
    return key


class KeyCheck:
    """Every request needs ``Authorization: Bearer <key>``, checked before its body is read. Plain
    ASGI: Starlette's ``@app.middleware`` would relay each streamed chunk through one more task."""

    def __init__(self, app, key: str):
        self.app, self.expected = app, f"Bearer {key}".encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                denied = ApiError(401, "A valid API key is needed: send 'Authorization: Bearer <key>'.",
                                  "invalid_api_key")
                await _error_response(denied)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_app(core: EngineCore, api_key: str | None = None) -> FastAPI:
    app = FastAPI(title="Kaytoo speech API", docs_url=None, redoc_url=None, openapi_url=None)
    if api_key is not None:
        app.add_middleware(KeyCheck, key=api_key)

    @app.exception_handler(ApiError)
    async def api_error(_, e: ApiError):
        return _error_response(e)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return _error_response(ApiError(400, f"Invalid '{where}': {first.get('msg', 'bad value')}.",
                                        "invalid_value"))

    @app.get("/v1/models")
    async def models():
        ids = (*SPEECH_MODELS, *STT_MODELS)
        return {"object": "list",
                "data": [{"id": i, "object": "model", "created": 0, "owned_by": "kaytoo"} for i in ids]}

    @app.get("/v1/audio/voices")
    async def voices():
        return {"voices": [{"id": v.name, "name": v.name, "language": v.language}
                           for v in core.voices.list()]}

    @app.post("/v1/audio/speech")
    async def speech(req: SpeechRequest):
        if req.model not in SPEECH_MODELS:
            raise ApiError(404, f"The model '{req.model}' does not exist here; use one of: "
                           f"{', '.join(SPEECH_MODELS)}.", "model_not_found")
        if req.response_format not in MEDIA:
            raise ApiError(400, f"Unsupported response_format '{req.response_format}'; use one of: "
                           f"{', '.join(MEDIA)}.", "invalid_value")
        if not 0.25 <= req.speed <= 4.0:
            raise ApiError(400, "speed must be between 0.25 and 4.0.", "invalid_value")
        voice = None if req.voice.lower() in STOCK_VOICES else req.voice
        try:
            core.voice_ref(voice)
        except UserError as e:
            raise ApiError(404, str(e), "voice_not_found") from e
        try:
            await asyncio.to_thread(prepare_text, [req.input])
        except UserError as e:
            raise ApiError(400, str(e), "invalid_value") from e
        audio = _speech_pcm(core, req.input, voice)
        if req.response_format in ("wav", "pcm") and req.speed == 1.0:
            body = _with_wav_header(audio) if req.response_format == "wav" else audio
        else:
            body = _ffmpeg(audio, req.response_format, req.speed)
        return StreamingResponse(body, media_type=MEDIA[req.response_format])

    @app.post("/v1/audio/transcriptions")
    async def transcriptions(file: UploadFile, model: str = Form(...), language: str | None = Form(None),
                             response_format: str = Form("json")):
        if model not in STT_MODELS and model != core.settings.stt.model:
            raise ApiError(404, f"The model '{model}' does not exist here; use one of: "
                           f"{', '.join(STT_MODELS)}.", "model_not_found")
        if response_format not in ("json", "text", "verbose_json"):
            raise ApiError(400, f"Unsupported response_format '{response_format}'; use json, text "
                           "or verbose_json.", "invalid_value")
        with tempfile.TemporaryDirectory(prefix="kaytoo-upload-") as tmp:
            path = Path(tmp) / Path(file.filename or "audio").name
            size = 0
            with path.open("wb") as f:
                while chunk := await file.read(1 << 20):
                    size += len(chunk)
                    if size > MAX_UPLOAD:
                        raise ApiError(413, f"The file is over {MAX_UPLOAD // (1 << 20)} MB.",
                                       "file_too_large")
                    f.write(chunk)
            tr = await asyncio.to_thread(_transcribe, core, path, language)
        if response_format == "text":
            return PlainTextResponse(tr.text + "\n")
        if response_format == "verbose_json":
            return {"task": "transcribe", "language": tr.language, "duration": tr.seconds_audio,
                    "text": tr.text, "segments": []}
        return {"text": tr.text}

    return app


def _transcribe(core: EngineCore, path: Path, language: str | None):
    try:
        audio = clip.load(path, STT_RATE)
        return core.transcribe(audio.samples, language)
    except UserError as e:
        raise ApiError(400, str(e), "invalid_value") from e


async def _speech_pcm(core: EngineCore, text: str, voice: str | None) -> AsyncIterator[bytes]:
    """16-bit mono PCM at RATE as the engine speaks; a failure mid-way ends the stream (the
    status line is already sent) and is logged by the engine."""
    queue: asyncio.Queue = asyncio.Queue()
    queue.put_nowait(text)
    queue.put_nowait(None)
    resampler = StreamResampler(core.settings.audio.output_rate, RATE)
    async for kind, value in speak_events(core, queue, voice, "auto", threading.Event()):
        if kind == "chunk":
            yield to_pcm16(resampler.push(value))
        elif kind == "error" and not isinstance(value, (UserError, NothingCouldServe)):
            raise value
    yield to_pcm16(resampler.push(np.zeros(0, np.float32), last=True))


async def _with_wav_header(pcm: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    # The length is not known while streaming: the sizes say "to the end", as OpenAI's own do.
    yield (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " +
           struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16) +
           b"data" + struct.pack("<I", 0xFFFFFFFF))
    async for chunk in pcm:
        yield chunk


async def _ffmpeg(pcm: AsyncIterator[bytes], fmt: str, speed: float) -> AsyncIterator[bytes]:
    """Encode (and change tempo) in one ffmpeg pipe, reading its output while feeding it."""
    exe = find_ffmpeg()
    if exe is None:
        raise ApiError(400, f"response_format '{fmt}' needs ffmpeg, which is not installed; "
                       "use wav or pcm.", "invalid_value")
    out = FFMPEG_OUT.get(fmt, ["-f", "s16le"] if fmt == "pcm" else ["-f", "wav"])
    tempo = ["-af", f"atempo={speed}"] if speed != 1.0 else []
    proc = await asyncio.create_subprocess_exec(
        exe, "-nostdin", "-v", "error", "-f", "s16le", "-ar", str(RATE), "-ac", "1", "-i", "pipe:0",
        *tempo, *out, "-flush_packets", "1", "pipe:1",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)

    async def feed() -> None:
        try:
            async for chunk in pcm:
                proc.stdin.write(chunk)
                await proc.stdin.drain()
        finally:
            proc.stdin.close()

    feeder = asyncio.create_task(feed())
    try:
        while data := await proc.stdout.read(1 << 14):
            yield data
        await feeder
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        feeder.cancel()


def _error_response(e: ApiError) -> JSONResponse:
    return JSONResponse({"error": {"message": e.message, "type": e.type, "code": e.code}},
                        status_code=e.status)


async def serve_http(core: EngineCore, host: str, port: int, api_key: str | None) -> None:
    import uvicorn

    config = uvicorn.Config(build_app(core, api_key), host=host, port=port, log_level="warning",
                            lifespan="off")
    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # the engine's own SIGTERM handler stays in charge
            yield

    await Server(config).serve()
