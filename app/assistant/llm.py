"""The optional LLM: free-form questions to an OpenAI-compatible /v1/chat/completions endpoint.

Off unless ``settings.llm_url`` is set. The request asks for a stream (server-sent events) and also
accepts a plain JSON answer from servers that ignore ``stream``. Text pieces are cut into sentences
as they arrive, so the first sentence can be spoken while the model is still writing the rest.
Every failure (refused, timeout, HTTP error, malformed data) is an ``LlmError``; the caller falls
back to the command engine. Only urllib: no new dependency and nothing heavy to import.
"""
from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
import urllib.request
from typing import Iterable, Iterator

from app.text.sentences import SentenceStream

MAX_BODY = 1 << 20          # a non-streamed answer larger than this is not a spoken reply
MAX_TOKENS = 200            # a few spoken sentences; keeps slow local models short
LONG_SENTENCE = 220         # cut an endless sentence at a comma so speech can start


class LlmError(Exception):
    """The LLM could not answer; the message says why (for the log, not for the user)."""


def endpoint(url: str) -> str:
    """Accept a base URL ("http://host:8080", ".../v1") or the full chat-completions URL."""
    url = url.strip().rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return url + "/chat/completions"
    return url + "/v1/chat/completions"


def stream_reply(url: str, model: str, messages: list[dict], timeout_s: float,
                 max_tokens: int = MAX_TOKENS) -> Iterator[str]:
    """Yield the reply's text pieces as they arrive. Raises LlmError (lazily, while iterating)."""
    body = json.dumps({"model": model or "default", "messages": messages, "stream": True,
                       "max_tokens": max_tokens, "temperature": 0.7}).encode()
    try:
        request = urllib.request.Request(
            endpoint(url), data=body, method="POST",
            headers={"Content-Type": "application/json",
                     "Accept": "text/event-stream, application/json"})
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as e:
        raise LlmError(f"HTTP {e.code} from {endpoint(url)}") from e
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
        raise LlmError(f"cannot reach {url}: {getattr(e, 'reason', e)}") from e
    with response:
        try:
            if "text/event-stream" in response.headers.get("Content-Type", ""):
                yield from _events(response)
            else:
                yield _whole(response)
        except (OSError, http.client.HTTPException) as e:  # timeouts are OSError too
            raise LlmError(f"the stream broke: {e or type(e).__name__}") from e


def _events(response) -> Iterator[str]:
    """Server-sent events: ``data:`` lines, a blank line ends an event, ``[DONE]`` ends the stream."""
    data: list[str] = []
    got = False
    for raw in response:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].strip())
            continue
        if line or not data:
            continue                         # comments (":"), "event:", "id:", stray blanks
        payload, data = "\n".join(data), []
        if payload == "[DONE]":
            break
        piece = _piece(payload)
        got = got or bool(piece)
        if piece:
            yield piece
    else:
        if data and "\n".join(data) != "[DONE]":
            piece = _piece("\n".join(data))  # a last event without its blank line
            got = got or bool(piece)
            if piece:
                yield piece
    if not got:
        raise LlmError("the stream ended without any text")


def _piece(payload: str) -> str:
    try:
        event = json.loads(payload)
    except ValueError as e:
        raise LlmError(f"malformed event: {payload[:80]!r}") from e
    if not isinstance(event, dict):
        raise LlmError(f"malformed event: {payload[:80]!r}")
    if event.get("error"):
        raise LlmError(f"the server reported an error: {str(event['error'])[:200]}")
    choices = event.get("choices")
    if not isinstance(choices, list):
        raise LlmError(f"event without choices: {payload[:80]!r}")
    if not choices:
        return ""                            # usage-only events
    choice = choices[0] if isinstance(choices[0], dict) else {}
    delta = choice.get("delta") or choice.get("message") or {}
    text = delta.get("content") if isinstance(delta, dict) else None
    text = text if text is not None else choice.get("text", "")
    if not isinstance(text, str):
        raise LlmError(f"event content is not text: {payload[:80]!r}")
    return text


def _whole(response) -> str:
    body = response.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise LlmError("the answer is too long to be a spoken reply")
    try:
        answer = json.loads(body)
        choice = answer["choices"][0]
        text = (choice.get("message") or {}).get("content") or choice.get("text") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        if isinstance(answer := _maybe_json(body), dict) and answer.get("error"):
            raise LlmError(f"the server reported an error: {str(answer['error'])[:200]}") from e
        raise LlmError(f"malformed answer: {body[:80]!r}") from e
    if not isinstance(text, str) or not text.strip():
        raise LlmError("the answer has no text")
    return text


def _maybe_json(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return None


# -- sentences as they arrive -------------------------------------------------------------------
def sentences(pieces: Iterable[str], first_within: float | None = None) -> Iterator[str]:
    """Cut a stream of text pieces into sentences with the engine's one splitter (as written, for
    showing and history; the engine splits the spoken text the same way), yielding each as soon
    as it is complete. ``first_within`` seconds bound the wait for the first sentence: a model
    that trickles forever counts as too slow."""
    stream = SentenceStream(min_chars=0, max_chars=LONG_SENTENCE, speakable=False)
    start, said = time.monotonic(), False
    for piece in pieces:
        for sentence in map(speakable, stream.feed(piece)):
            if sentence:
                said = True
                yield sentence
        if not said and first_within is not None and time.monotonic() - start > first_within:
            raise LlmError(f"no complete sentence within {first_within:g} s")
    yield from (s for s in map(speakable, stream.close()) if s)


def speakable(text: str) -> str:
    """Markdown and list marks out, so the voice does not read asterisks or hashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)       # [label](url) -> label
    text = re.sub(r"(?m)^\s*(?:[-*•+]|\d+[.)]|#+)\s+", "", text)  # bullets, numbered items, headers
    text = re.sub(r"[*_`#]+", "", text)
    return " ".join(text.split())
