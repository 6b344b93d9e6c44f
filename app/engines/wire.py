"""Reading Wyoming events from a client that may be broken or hostile.

wyoming's own reader trusts the header: it buffers whatever ``payload_length`` declares (10^12
bytes included), closes silently on a malformed header and lets other errors escape as "Task
exception was never retrieved". Here every length is checked against a limit *before* anything is
read, a broken event is answered with an ``error`` event carrying a code, and the connection is then
closed. The handler (app/engines/server.py) only ever sees well-formed events in a sane order.
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from wyoming.error import Error
from wyoming.event import Event

log = logging.getLogger(__name__)

MALFORMED = "malformed_event"
TOO_LARGE = "event_too_large"
OUT_OF_ORDER = "out_of_order"
LINGER_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """Largest accepted parts of one event, in bytes."""

    header: int = 64 * 1024                # the JSON line (type, lengths, inline data)
    data: int = 64 * 1024                  # the JSON data block (text to speak, options)
    payload: int = 16 * 1024 * 1024        # binary payload (audio chunks)


class Handler(Protocol):
    """What ``run_handler`` needs of a connection's handler (a wyoming AsyncEventHandler has it)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def handle_event(self, event: Event) -> bool: ...

    async def write_event(self, event: Event) -> None: ...

    async def disconnect(self) -> None: ...


class WireError(Exception):
    """The client sent something that is not a valid event; ``code`` goes into the error event."""

    def __init__(self, code: str, text: str):
        super().__init__(text)
        self.code = code


def _length(header: dict, key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WireError(MALFORMED, f"{key} must be a whole number of bytes")
    if value > limit:
        raise WireError(TOO_LARGE, f"{key} {value} is over the limit of {limit} bytes")
    return value


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):   # RecursionError: nesting deep enough to exhaust the stack
        raise WireError(MALFORMED, f"the event {what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise WireError(MALFORMED, f"the event {what} is not a JSON object")
    return value


async def read_event(reader: asyncio.StreamReader, limits: Limits) -> Event | None:
    """The next event, or None at a clean end of stream. Raises WireError for a bad event and
    asyncio.IncompleteReadError when the client hangs up in the middle of one."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise
    except asyncio.LimitOverrunError:
        raise WireError(TOO_LARGE, f"the event header is over the limit of {limits.header} bytes") \
            from None
    if len(line) > limits.header:
        raise WireError(TOO_LARGE, f"the event header is over the limit of {limits.header} bytes")
    header = _json_object(line, "header")
    kind = header.get("type")
    if not isinstance(kind, str) or not kind:
        raise WireError(MALFORMED, "the event has no type")
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise WireError(MALFORMED, "the event data is not a JSON object")
    data_length = _length(header, "data_length", limits.data)
    payload_length = _length(header, "payload_length", limits.payload)
    if data_length:
        data = {**data, **_json_object(await reader.readexactly(data_length), "data")}
    payload = await reader.readexactly(payload_length) if payload_length else None
    return Event(type=kind, data=data, payload=payload)


class _Order:
    """A streamed synthesis must be opened before its chunks: ``synthesize-chunk`` or
    ``synthesize-stop`` outside a ``synthesize-start`` … ``synthesize-stop`` is refused."""

    def __init__(self) -> None:
        self.streaming = False

    def check(self, event: Event) -> str | None:
        if event.type == "synthesize-start":
            self.streaming = True
        elif event.type in ("synthesize-chunk", "synthesize-stop"):
            if not self.streaming:
                return f"{event.type} arrived before synthesize-start"
            self.streaming = event.type == "synthesize-chunk"
        return None


async def run_handler(handler: Handler, limits: Limits) -> None:
    """Serve one connection with a wyoming AsyncEventHandler (``handle_event``, ``write_event``,
    ``disconnect``, ``writer``) in place of its own ``run``: bounded reads, errors answered."""
    order = _Order()
    try:
        while True:
            try:
                event = await read_event(handler.reader, limits)
            except WireError as e:
                log.warning("closing a connection: %s (%s)", e, e.code)
                await _reply_error(handler, e.code, f"Bad event: {e}.")
                await _linger(handler)
                break
            if event is None:
                break
            problem = order.check(event)
            if problem:
                await _reply_error(handler, OUT_OF_ORDER, f"Bad event order: {problem}.")
                continue
            if not await handler.handle_event(event):
                break
    except (asyncio.IncompleteReadError, ConnectionError) as e:
        log.info("client went away mid-event (%s)", type(e).__name__)
    except Exception:   # never leave "Task exception was never retrieved" behind
        log.exception("connection handler failed")
        await _reply_error(handler, "internal", "The engine failed while handling an event.")
    finally:
        try:
            await handler.disconnect()
        finally:
            handler.writer.close()


async def _linger(handler: Handler, seconds: float = 5.0) -> None:
    """End our side, then read and drop what the client is still sending, for a while: closing a
    socket with unread input resets the connection, and the client could lose the error event."""
    try:
        if handler.writer.can_write_eof():
            handler.writer.write_eof()
        async with asyncio.timeout(seconds):
            while await handler.reader.read(LINGER_CHUNK):
                pass
    except (TimeoutError, ConnectionError, OSError, asyncio.LimitOverrunError):
        pass


async def _reply_error(handler: Handler, code: str, text: str) -> None:
    try:
        await handler.write_event(Error(text=text, code=code).event())
    except (ConnectionError, RuntimeError):
        pass   # the client is already gone


async def start_server(handler_factory: Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                                  Handler],
                       limits: Limits, *, sock: socket.socket | None = None,
                       host: str | None = None, port: int | None = None) -> asyncio.AbstractServer:
    """A server on a bound unix socket (``sock``) or on ``host``:``port`` whose connections run
    ``handler_factory(reader, writer)`` through ``run_handler``."""

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await run_handler(handler_factory(reader, writer), limits)

    # The reader's own limit bounds the header line, so readuntil never buffers more than that.
    if sock is not None:
        return await asyncio.start_unix_server(connected, sock=sock, limit=limits.header)
    return await asyncio.start_server(connected, host=host, port=port, limit=limits.header)
