"""Hostile and broken clients against the real engine process on a real unix socket."""
from __future__ import annotations

import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from wyoming.event import Event

from app.engines.client import EngineClient
from tests.engine_proc import engine_cmd, write_settings

MB = 1024 * 1024


class Engine:
    """`kaytoo engine --uri unix://…` as a child process, ready once it answers `describe`."""

    def __init__(self, path: Path):
        self.path = path
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(engine_cmd(f"unix://{path}"), stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if not describe(path, wait_s=120):
            output = self.output()
            self.stop()           # whatever a test starts, it stops
            raise AssertionError(f"the engine did not answer: {output}")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return kb / 1024

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        if not self.log.closed:
            self.log.close()


def describe(path: Path, wait_s: float = 30) -> bool:
    """True once an engine at ``path`` answers `describe` with `info` (polls the socket's arrival)."""
    import time
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(30)
                s.connect(str(path))
                s.sendall(b'{"type": "describe"}\n')
                return s.recv(64).startswith(b'{"type": "info"')
        except (FileNotFoundError, ConnectionRefusedError):
            time.sleep(0.1)   # the engine has not bound its socket yet
    return False


def exchange(path: Path, *parts: bytes, until_close: bool = True) -> list[Event]:
    """Send raw bytes while reading events (as a real client does), until the engine closes the
    connection, or until the first event with ``until_close=False``."""
    from wyoming.event import read_event

    events: list[Event] = []
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(60)
        s.connect(str(path))

        def receive() -> None:
            with s.makefile("rb") as f:
                while (ev := read_event(f)) is not None:
                    events.append(ev)
                    if not until_close:
                        return

        reader = threading.Thread(target=receive)
        reader.start()
        try:
            for p in parts:
                s.sendall(p)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the engine stopped taking input: exactly what it should do
        reader.join(120)
    return events


@pytest.fixture
def engine(tmp_path):
    write_settings(tiers=["pyttsx3"])
    e = Engine(tmp_path / "run" / "deep" / "engine.sock")
    yield e
    e.stop()


def test_a_huge_declared_payload_is_refused_before_it_is_read(engine):
    with EngineClient(f"unix://{engine.path}", timeout=300) as client:  # models loaded first
        client.transcribe(np.zeros(16000, np.float32))
        list(client.speak("Ready."))
    before = engine.rss_mb()
    header = b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, ' \
             b'"payload_length": 1000000000000}\n'
    events = exchange(engine.path, header, b"\0" * (64 * MB))
    assert [(e.type, e.data.get("code")) for e in events] == [("error", "event_too_large")]
    assert "1000000000000" in events[0].data["text"]
    assert engine.rss_mb() - before <= 100
    assert describe(engine.path)      # the engine serves the next client as before
    assert "never retrieved" not in engine.output() and "Traceback" not in engine.output()


def test_an_audio_chunk_over_the_limit_is_refused_and_one_under_it_is_taken(engine):
    header = b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, ' \
             b'"payload_length": %d}\n'
    events = exchange(engine.path, header % (17 * MB), b"\0" * (17 * MB))
    assert [e.data.get("code") for e in events] == ["event_too_large"]
    with EngineClient(f"unix://{engine.path}", timeout=60) as client:
        assert client.transcribe(np.zeros(16000, np.float32)).text == ""


@pytest.mark.parametrize("raw", [
    b"this is not json\n",
    b'["a list", "not an object"]\n',
    b'{"no type": 1}\n',
    b'{"type": "describe", "data_length": -5}\n',
    b'{"type": "describe", "data_length": 4}\n[1]\n',
    b'{"type": "describe", "data": "text"}\n',
    b"[" * 40000 + b"\n",
    b'{"type": "describe", "data_length": 70000}\n',
    b"x" * 70000 + b"\n",
])
def test_malformed_events_get_an_error_event_and_a_closed_connection(engine, raw):
    events = exchange(engine.path, raw)
    assert len(events) == 1 and events[0].type == "error", events
    assert events[0].data["code"] in ("malformed_event", "event_too_large")
    assert describe(engine.path)
    assert "never retrieved" not in engine.output() and "Traceback" not in engine.output()


def test_a_synthesize_chunk_before_synthesize_start_is_answered(engine):
    events = exchange(engine.path, b'{"type": "synthesize-chunk", "data": {"text": "Hi."}}\n',
                      until_close=False)
    assert events and events[0].type == "error" and events[0].data["code"] == "out_of_order"


def test_a_regular_file_at_the_socket_path_is_left_alone(tmp_path):
    write_settings(tiers=["pyttsx3"])
    path = tmp_path / "notes.txt"
    path.write_text("my notes")
    out = subprocess.run(engine_cmd(f"unix://{path}"), capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "is not a socket" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert path.read_text() == "my notes"


def test_a_second_engine_on_the_same_path_is_refused_and_the_first_keeps_serving(engine):
    out = subprocess.run(engine_cmd(f"unix://{engine.path}"), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "already serving" in out.stderr
    assert describe(engine.path)
    engine.stop()
    assert not engine.path.exists()   # the first engine removed its own socket on exit


def test_socket_folders_are_private_and_a_dead_engines_socket_is_replaced(tmp_path):
    write_settings(tiers=["pyttsx3"])
    path = tmp_path / "a" / "b" / "engine.sock"
    e = Engine(path)
    try:
        assert [d.stat().st_mode & 0o777 for d in (path.parent, path.parent.parent)] == [0o700] * 2
        assert (path.stat().st_mode & 0o777) == 0o600
    finally:
        e.stop()
    assert not path.exists()
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(path))
    leftover.close()                      # a crashed engine's socket: nobody answers on it
    e = Engine(path)                      # replaces it (Engine() waits until it answers)
    e.stop()


def test_the_limits_come_from_the_settings(tmp_path):
    from app import paths as paths_mod
    from app.settings import load, save

    settings = write_settings(tiers=["pyttsx3"])
    settings.engine.max_audio_bytes = 65536
    save(paths_mod.resolve().settings_file, settings)
    assert load(paths_mod.resolve().settings_file)[0].engine.max_audio_bytes == 65536
    e = Engine(tmp_path / "e.sock")
    try:
        header = b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, ' \
                 b'"payload_length": %d}\n'
        assert [ev.data["code"] for ev in exchange(e.path, header % 70000, bytes(70000))] \
            == ["event_too_large"]
        assert exchange(e.path, header % 60000, bytes(60000)) == []   # taken, nothing to answer
    finally:
        e.stop()


def test_an_engine_leaving_removes_only_its_own_socket(engine):
    engine.path.unlink()                  # someone removed the first engine's socket …
    second = Engine(engine.path)          # … and a second engine now serves the path
    try:
        engine.stop()                     # the first one's exit must not take the path along
        assert engine.path.is_socket() and describe(engine.path)
    finally:
        second.stop()
    assert not engine.path.exists()
