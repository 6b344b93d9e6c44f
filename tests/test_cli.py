"""The headless CLI, run as a real process: JSON contract, exit codes, clear one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import REPO


def kaytoo(*args: str, check_code: int | None = 0) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                         timeout=300)
    assert "Traceback" not in out.stderr, out.stderr
    if check_code is not None:
        assert out.returncode == check_code, out.stderr
    return out


def bad(*args: str, code: int = 2) -> str:
    out = kaytoo(*args, check_code=code)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr  # one plain sentence naming the problem
    return lines[0]


def test_listen_json(speak):
    out = kaytoo("listen", str(speak("Switch to the narrator voice.")), "--json")
    data = json.loads(out.stdout)
    assert set(data) >= {"text", "language", "seconds_audio", "stt_s"}
    assert "narrator voice" in data["text"].lower()


def test_say_pyttsx3_writes_wav(tmp_path):
    wav = tmp_path / "a.wav"
    data = json.loads(kaytoo("say", "Affirmative. The time is 3:10 PM.", "--out", str(wav),
                             "--tier", "pyttsx3", "--json").stdout)
    assert data["tier"] == "pyttsx3" and data["fallbacks"] == []
    assert data["sample_rate"] == 48000 and data["audio_s"] > 1
    assert data["first_audio_s"] <= data["total_s"]
    info = sf.info(str(wav))
    assert info.samplerate == 48000 and info.duration == pytest.approx(data["audio_s"], abs=0.05)


@pytest.mark.parametrize("tier, reason", [("gtts", "gtts"), ("xtts", "licence")])
def test_forced_unavailable_tier_falls_back_cleanly(tmp_path, tier, reason):
    wav = tmp_path / "a.wav"
    data = json.loads(kaytoo("say", "Hello.", "--out", str(wav), "--tier", tier, "--json").stdout)
    assert data["tier"] != tier and data["tier"] in ("piper", "pyttsx3")
    assert data["fallbacks"][0]["tier"] == tier
    assert reason in (data["fallbacks"][0]["tier"] + " " + data["fallbacks"][0]["reason"]).lower()
    assert wav.stat().st_size > 1000


def test_turn_answers_the_time(tmp_path):
    out = tmp_path / "reply.wav"
    data = json.loads(kaytoo("turn", "--in", str(REPO / "assets/demo/what-time-is-it.wav"),
                             "--out", str(out), "--json").stdout)
    assert data["intent"] == "time"
    assert "time" in data["heard"].lower()
    assert data["reply"] and data["tier"]
    t = data["timings"]
    assert 0 < t["stt_s"] <= t["first_audio_s"] <= t["total_s"]
    assert sf.info(str(out)).duration > 0.5


TURNS = [  # (question, intent, action kind, check on the action value)
    ("What time is it?", "time", "none", None),
    ("Set a timer for five minutes.", "timer_set", "timer_set", lambda v: v["seconds"] == 300),
    ("Which voices can you use?", "list_voices", "list_voices", lambda v: "Narrator" in v),
    ("What can you do?", "help", "none", None),
    ("Tell me a joke, please.", "joke", "none", None),
    ("Open the video panel.", "open_panel", "open_panel", lambda v: v == "video"),
    ("Speak slower.", "speed", "speed", lambda v: v < 0),
    ("Switch to the narrator voice.", "switch_voice", "switch_voice", lambda v: v == "Narrator"),
]


def test_turn_reports_each_command_kind_and_keeps_voice_and_speed(tmp_path, speak, kaytoo_home):
    """Plumbing, not hearing: whatever tiny.en heard (it differs between CPUs), the turn must
    report the intent and action the real assistant gives for that text, and a voice or speed
    change must be saved for the next command."""
    from app import paths as paths_mod
    from app.assistant import Assistant
    from app.settings import load

    clip = speak("This is the narrator. I read long stories aloud to people who cannot sleep.",
                 name="narrator-reference")
    kaytoo("voices", "add", "Narrator", str(clip))
    before, _ = load(paths_mod.resolve().settings_file)
    voice, speed = before.voice.active, before.tts.speed
    for question, intent, _, check in TURNS:
        data = json.loads(kaytoo("turn", "--in", str(speak(question)), "--out",
                                 str(tmp_path / "a.wav"), "--json").stdout)
        assert data["heard"].strip(), question
        expected = Assistant(voices=lambda: ["Kaytoo", "Narrator"]).respond(
            data["heard"], data["heard_alternatives"], data["confidence"])   # as the turn heard it
        assert data["intent"] == expected.intent, (question, data["heard"])
        assert data["reply"].strip() and data["tier"] in ("piper", "pyttsx3")
        action = data["action"] or {"kind": "none", "value": None}   # {} when there is none
        assert action["kind"] == expected.action.kind, data["action"]
        kind, value = action["kind"], action["value"]
        if data["intent"] == intent:  # heard as meant: the action carries the right value
            assert check is None or check(value), data["action"]
        if kind == "switch_voice":
            voice = value
        elif kind == "speed":
            speed = round(speed + value, 2)
        settings, _ = load(paths_mod.resolve().settings_file)
        assert settings.voice.active == voice and settings.tts.speed == pytest.approx(speed)


def test_voices_list_has_the_bundled_voice():
    data = json.loads(kaytoo("voices", "list", "--json").stdout)
    assert any(v["name"] == "Kaytoo" and v["bundled"] for v in data["voices"])


def test_bad_inputs_give_one_line_and_exit_2(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 50)
    png = tmp_path / "picture.wav"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 2000)
    out = tmp_path / "o.wav"
    assert "empty" in bad("listen", str(empty))
    assert "not an audio file" in bad("listen", str(text))
    assert "not an audio file" in bad("listen", str(png))
    assert "does not exist" in bad("listen", str(tmp_path / "missing.wav"))
    assert "nothing to say" in bad("say", "", "--out", str(out)).lower()
    assert "limit" in bad("say", "word " * 4000, "--out", str(out))
    assert "no voice named" in bad("say", "Hello.", "--out", str(out), "--voice", "nobody").lower()
    assert "required" in bad("say", "Hello.")
    assert "invalid choice" in bad("say", "Hi.", "--out", str(out), "--tier", "shouting")
    assert bad("gui", "--nope") == "kaytoo: unrecognized arguments: --nope."   # one prefix
    assert not out.exists()


def test_corrupt_settings_are_set_aside(kaytoo_home, tmp_path):
    cfg = kaytoo_home / "config" / "settings.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[tts\nbroken = ")
    out = kaytoo("voices", "list")
    assert "defaults are in use" in out.stderr
    assert list(cfg.parent.glob("settings.toml.bad-*"))


def test_home_isolation(kaytoo_home):
    kaytoo("voices", "list")
    assert (kaytoo_home / "logs" / "kaytoo.log").exists()
