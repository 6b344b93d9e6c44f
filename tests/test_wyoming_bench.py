"""The third-party wyoming-bench checks (its `tts` and `stt` commands, both modes) against a real
engine process: a tool that measures Wyoming servers must find nothing failing."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine_proc import engine_cmd, free_port, wait_listening, write_settings


def bench_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("wyoming-bench")
    if not exe.exists():
        pytest.fail("wyoming-bench is missing: it is in the test extra (pip install -e .[test])")
    return [str(exe)]


@pytest.fixture
def engine_port():
    write_settings(tiers=["piper", "pyttsx3"])
    port = free_port()
    proc = subprocess.Popen(engine_cmd(f"tcp://127.0.0.1:{port}"))
    wait_listening(proc, port)
    yield port
    proc.terminate()
    proc.wait(30)


def test_wyoming_bench_tts_both_modes(engine_port):
    out = subprocess.run(bench_cmd() + ["tts", f"127.0.0.1:{engine_port}", "--rounds", "1",
                                        "--warmup", "0", "--timeout", "120", "--texts",
                                        "Hello there. This is a test of the engine, with two sentences."],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[non_streaming] ok=1 fail=0" in out.stdout
    assert "[streaming] ok=1 fail=0" in out.stdout


def test_wyoming_bench_stt(engine_port, speak, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(speak("What time is it?"), corpus / "q.wav")
    (corpus / "q.txt").write_text("What time is it?\n")
    out = subprocess.run(bench_cmd() + ["stt", f"127.0.0.1:{engine_port}", "--corpus", str(corpus),
                                        "--rounds", "1", "--warmup", "0", "--timeout", "120"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[non_streaming] ok=1 fail=0" in out.stdout
