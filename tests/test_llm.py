"""The optional LLM against a small OpenAI-compatible server on 127.0.0.1 started here: streamed and
plain JSON answers, slow answers, errors, a refused connection. Commands never reach it."""
from __future__ import annotations

import json
import re
import socket
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.assistant import Assistant
from app.assistant.llm import LlmError, endpoint, sentences, speakable
from app.assistant.persona import LINES, SYSTEM_PROMPT
from app.settings.model import AssistantSettings

ANSWER = "Paris is the capital of France. I have never been. The odds of me going are low."
QUESTION = "What is the capital of France?"
CLOCK = datetime(2026, 11, 22, 15, 10)


class FakeLlm:
    """An OpenAI-compatible /v1/chat/completions endpoint in a thread.

    mode: stream | json | slow (waits for ``release`` before answering) | gate (streams the first
    sentence, then waits for ``release``) | hang (first sentence, then silence) | break (first
    sentence, then a malformed event) | drop (first sentence, then the connection closes) |
    500 | bad_json | bad_stream | error_event | empty.
    ``token_delay`` paces the stream like a model producing tokens (used by the benchmark).
    """

    def __init__(self, mode: str = "stream", answer: str = ANSWER, token_delay: float = 0.0):
        self.mode, self.answer, self.token_delay = mode, answer, token_delay
        self.requests: list[dict] = []
        self.release = threading.Event()
        self._pace = threading.Event()           # never set: waiting on it paces the tokens
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body})
                fake.serve(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # clients that gave up
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    # -- answers ---------------------------------------------------------------------------------
    def serve(self, h: BaseHTTPRequestHandler) -> None:
        mode = self.mode
        if mode == "slow":
            self.release.wait(30)
        if mode == "500":
            return self._plain(h, 500, b'{"error": {"message": "model exploded"}}')
        if mode == "bad_json":
            return self._plain(h, 200, b"this is not json")
        if mode in ("json", "slow"):
            if self.token_delay:  # a non-streaming server answers once every token is generated
                self._pace.wait(self.token_delay * len(re.findall(r"\s*\S+", self.answer)))
            answer = {"id": "x", "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": self.answer},
                 "finish_reason": "stop"}]}
            return self._plain(h, 200, json.dumps(answer).encode())
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        if mode == "bad_stream":
            return self._chunk(h, b"data: {not json\n\n", end=True)
        if mode == "error_event":
            return self._chunk(h, b'data: {"error": {"message": "overloaded"}}\n\n', end=True)
        if mode == "empty":
            return self._chunk(h, b"data: [DONE]\n\n", end=True)
        self._event(h, {"role": "assistant"})
        tokens = re.findall(r"\s*\S+", self.answer)
        first_end = next(i for i, t in enumerate(tokens) if t.endswith("."))
        for i, token in enumerate(tokens):
            self._event(h, {"content": token})
            if i == first_end + 1 and mode in ("gate", "hang"):
                self.release.wait(30)
                if mode == "hang":
                    return
            if i == first_end + 1 and mode == "break":
                return self._chunk(h, b"data: {broken\n\n", end=True)
            if i == first_end + 1 and mode == "drop":
                h.wfile.write(b"7\r\ndata: {")   # a chunk cut short, then the socket closes
                h.wfile.flush()
                h.close_connection = True
                return
            if self.token_delay:
                self._pace.wait(self.token_delay)
        self._chunk(h, b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n')
        self._chunk(h, b"data: [DONE]\n\n", end=True)

    def _event(self, h, delta: dict) -> None:
        event = {"id": "x", "object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        self._chunk(h, b"data: " + json.dumps(event).encode() + b"\n\n")

    @staticmethod
    def _chunk(h, data: bytes, end: bool = False) -> None:
        h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        if end:
            h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    @staticmethod
    def _plain(h, status: int, body: bytes) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


@pytest.fixture
def llm_server(request):
    server = FakeLlm(getattr(request, "param", "stream"))
    yield server
    server.close()


def kaytoo_for(url: str, timeout: float = 10.0) -> Assistant:
    settings = AssistantSettings(llm_url=url, llm_model="test-model", llm_timeout_s=timeout)
    return Assistant(voices=lambda: ["Kaytoo", "Narrator"], settings=settings, clock=lambda: CLOCK)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the happy paths -------------------------------------------------------------------------------
@pytest.mark.parametrize("llm_server", ["stream", "json"], indirect=True)
def test_free_questions_go_to_the_llm(llm_server):
    kaytoo = kaytoo_for(llm_server.url)
    reply = kaytoo.respond(QUESTION)
    assert reply.intent == "llm" and reply.action.kind == "none"
    assert list(reply.sentences) == ["Paris is the capital of France.", "I have never been.",
                                     "The odds of me going are low."]
    [request] = llm_server.requests
    assert request["path"] == "/v1/chat/completions"
    body = request["body"]
    assert body["model"] == "test-model" and body["stream"] is True
    assert body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert body["messages"][-1] == {"role": "user", "content": QUESTION}
    assert kaytoo.history[-1].reply == ANSWER and kaytoo.history[-1].intent == "llm"


@pytest.mark.parametrize("llm_server", ["gate"], indirect=True)
def test_the_first_sentence_is_ready_before_the_rest_is_written(llm_server):
    reply = kaytoo_for(llm_server.url).respond(QUESTION)
    # The server is holding the rest back until released: the first sentence is already here.
    assert next(reply.sentences) == "Paris is the capital of France."
    assert not llm_server.release.is_set()
    llm_server.release.set()
    assert list(reply.sentences) == ["I have never been.", "The odds of me going are low."]


def test_recent_history_is_sent_as_heard(llm_server):
    kaytoo = kaytoo_for(llm_server.url)
    kaytoo.respond("What time is it?").text()
    helping = kaytoo.respond("What can you do?")
    first = next(helping.sentences)
    kaytoo.note_cut(first)
    kaytoo.respond(QUESTION).text()
    messages = llm_server.requests[0]["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[1]["content"] == "What time is it?"
    assert messages[2]["content"].startswith("It is ten past three")
    assert messages[4]["content"] == first + " [interrupted by the user]"   # only what was heard


def test_commands_are_answered_locally_and_never_sent(llm_server):
    kaytoo = kaytoo_for(llm_server.url)
    commands = ["What time is it?", "Set a timer for five minutes.", "Switch to the narrator voice.",
                "Stop.", "Tell me a joke.", "What can you do?", "Hello K2.", "List voices.", ""]
    intents = [kaytoo.respond(c).intent for c in commands]
    assert intents == ["time", "timer_set", "switch_voice", "stop", "joke", "help", "greeting",
                       "list_voices", "nothing_heard"]
    assert llm_server.requests == []


def test_a_question_wrapped_in_pleasantries_still_reaches_the_llm(llm_server):
    kaytoo = kaytoo_for(llm_server.url)
    heard = "Hello Kaytoo. Thanks! And what is the capital of France?"
    assert kaytoo.respond(heard).intent == "llm"
    assert llm_server.requests[0]["body"]["messages"][-1]["content"] == heard


# -- failures fall back to the command engine, in character -----------------------------------------
@pytest.mark.parametrize("mode", ["slow", "500", "bad_json", "bad_stream", "error_event", "empty",
                                  "refused", "not_a_url"])
def test_failures_fall_back_in_character(mode):
    server = None if mode in ("refused", "not_a_url") else FakeLlm(mode)
    try:
        url = {"refused": f"http://127.0.0.1:{closed_port()}", "not_a_url": "nonsense://x"}.get(
            mode) or server.url
        kaytoo = kaytoo_for(url, timeout=0.3 if mode == "slow" else 5)
        reply = kaytoo.respond(QUESTION)
        said = list(reply.sentences)
    finally:
        if server:
            server.close()
    assert reply.intent == "llm_fallback"
    assert said[0] in LINES["llm_fallback"]
    rest = " ".join(said[1:])
    assert rest in LINES["unknown"] + LINES["unknown_question"]  # the command engine's own answer
    assert kaytoo.history[-1].reply == " ".join(said)


@pytest.mark.parametrize("mode", ["hang", "break", "drop"])
def test_a_stream_that_breaks_midway_keeps_what_was_said(mode):
    server = FakeLlm(mode)
    try:
        reply = kaytoo_for(server.url, timeout=0.3 if mode == "hang" else 5).respond(QUESTION)
        said = list(reply.sentences)
    finally:
        server.close()
    assert reply.intent == "llm"
    assert said[0] == "Paris is the capital of France." and said[-1] in LINES["llm_cut"]


def test_markdown_is_not_read_aloud():
    server = FakeLlm(answer="**Paris** is the capital.\n\n- It has a tower.\n- It has a `river`.")
    try:
        said = list(kaytoo_for(server.url).respond(QUESTION).sentences)
    finally:
        server.close()
    assert said == ["Paris is the capital.", "It has a tower.", "It has a river."]


# -- the pieces ------------------------------------------------------------------------------------
def test_endpoint_accepts_base_or_full_urls():
    full = "http://h:8080/v1/chat/completions"
    assert endpoint("http://h:8080") == endpoint("http://h:8080/v1/") == endpoint(full) == full


def test_sentences_cut_wherever_the_pieces_break():
    text = "Dr. Smith is in. Pi is 3.14, roughly! Is it? Yes.\nA new line\nAnother"
    want = ["Dr. Smith is in.", "Pi is 3.14, roughly!", "Is it?", "Yes.", "A new line", "Another"]
    assert list(sentences(re.findall(r"\s*\S+", text))) == want
    assert list(sentences(list(text))) == want                 # one character at a time
    assert list(sentences([text])) == want
    long = "word, " * 60
    assert len(next(sentences([long, "more"]))) <= 221         # an endless sentence is cut


def test_a_trickle_with_no_sentence_counts_as_too_slow():
    gate = threading.Event()

    def trickle():
        while True:
            gate.wait(0.1)   # a model producing a token every 0.1 s, never ending a sentence
            yield " and"

    with pytest.raises(LlmError):
        next(sentences(trickle(), first_within=0.05))


def test_speakable_strips_markup():
    assert speakable("## Title") == "Title"
    assert speakable("1. **Bold** and [a link](http://x)") == "Bold and a link"


@pytest.mark.parametrize("llm_server", ["gate"], indirect=True)
def test_a_spoken_question_is_answered_aloud_while_the_llm_is_still_writing(llm_server, speak,
                                                                            kaytoo_home):
    """The whole turn (real Whisper, real voice): audio of the first sentence is out while the
    server still holds back the rest of the answer."""
    from app import paths as paths_mod
    from app.audio import clip
    from app.engines.core import EngineCore
    from app.settings import Settings
    from app.session.turn import run_turn

    core = EngineCore(paths_mod.resolve().ensure(), Settings())
    question = clip.load(speak(QUESTION), clip.STT_RATE).samples
    held_back_at_first_audio: list[bool] = []

    def on_chunk(chunk) -> None:
        if not held_back_at_first_audio:
            held_back_at_first_audio.append(not llm_server.release.is_set())
            llm_server.release.set()

    result = run_turn(core, kaytoo_for(llm_server.url), question, None, on_chunk, tier="pyttsx3")
    assert held_back_at_first_audio == [True]
    assert result.intent == "llm" and result.reply == ANSWER and result.tier == "pyttsx3"
    assert result.audio_s > 3
