"""A full disk, a read-only settings file: the CLI answers with one sentence (exit 2), and what the
user had is whole. The full disk is a real 2 MB tmpfs (mounting needs root, as on the CI machines)."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.voices.library import BUILDING_PREFIX
from tests.engine_proc import write_settings


def kaytoo(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "KAYTOO_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def one_sentence(out: subprocess.CompletedProcess, *words: str) -> str:
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and "Logging error" not in out.stderr, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("kaytoo: "), out.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


class SmallDisk:
    def __init__(self, mount: Path):
        self.mount = mount
        self.filler = mount / "filler"

    def fill(self) -> None:
        """Take every free byte (a tmpfs reports ENOSPC exactly when it is full)."""
        with open(self.filler, "ab", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError as e:
                assert e.errno == errno.ENOSPC

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def leftovers(self) -> list[str]:
        return sorted(str(p.relative_to(self.mount)) for p in self.mount.rglob("*")
                      if p.name.endswith(".tmp") or p.name.startswith(BUILDING_PREFIX))


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2M,mode=0700", "tmpfs", str(mount)],
                   check=True)
    try:
        yield SmallDisk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture(scope="module")
def short_clip(speak) -> Path:
    return speak("This is my narrator voice, reading a short sentence for the test.")


def voice_names(home: Path) -> list[str]:
    out = kaytoo("voices", "list", "--json", home=home)
    assert out.returncode == 0, out.stderr
    return [v["name"] for v in json.loads(out.stdout)["voices"]]


def test_adding_and_renaming_a_voice_on_a_full_disk(small_disk, short_clip):
    home = small_disk.mount / "home"
    assert voice_names(home) == ["Kaytoo"]
    small_disk.fill()
    one_sentence(kaytoo("voices", "add", "Narrator", str(short_clip), home=home), "disk space")
    small_disk.free()
    assert voice_names(home) == ["Kaytoo"] and small_disk.leftovers() == []

    assert kaytoo("voices", "add", "Narrator", str(short_clip), home=home).returncode == 0
    small_disk.fill()
    one_sentence(kaytoo("voices", "rename", "Narrator", "Storyteller", home=home), "disk space")
    small_disk.free()
    assert sorted(voice_names(home)) == ["Kaytoo", "Narrator"] and small_disk.leftovers() == []


def test_say_and_turn_into_a_full_disk_write_nothing(small_disk, speak, kaytoo_home):
    home = kaytoo_home
    write_settings(tiers=["pyttsx3"])
    out = small_disk.mount / "reply.wav"
    small_disk.fill()
    one_sentence(kaytoo("say", "Hello there.", "--out", str(out), "--json", home=home),
                 "disk space")
    question = speak("What time is it?")
    one_sentence(kaytoo("turn", "--in", str(question), "--out", str(out), "--json", home=home),
                 "disk space")
    assert not out.exists() and small_disk.leftovers() == []


def test_turn_with_a_read_only_settings_file_writes_the_reply_and_says_what_was_not_kept(
        speak, tmp_path, kaytoo_home):
    write_settings(tiers=["pyttsx3"])
    path = kaytoo_home / "config" / "settings.toml"
    before = path.read_text()
    path.chmod(0o444)
    out = tmp_path / "reply.wav"
    run = kaytoo("turn", "--in", str(speak("Speak slower.")), "--out", str(out), "--json",
                 home=kaytoo_home)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    data = json.loads(run.stdout)
    assert data["action"]["kind"] == "speed", data["heard"]   # the command test_cli also uses
    assert "read-only, so the change was not saved" in run.stderr
    assert out.stat().st_size > 1000 and path.read_text() == before


def test_settings_that_are_a_folder_give_one_sentence(kaytoo_home):
    (kaytoo_home / "config" / "settings.toml").mkdir(parents=True)
    one_sentence(kaytoo("voices", "list", home=kaytoo_home), "is a folder")


def test_hostile_names_and_languages_are_shortened_and_escaped(kaytoo_home, short_clip):
    line = one_sentence(kaytoo("voices", "add", "Nar\u202eotar", str(short_clip), home=kaytoo_home))
    assert "\u202e" not in line and "\\u202e" in line
    line = one_sentence(kaytoo("voices", "add", "Narrator", str(short_clip), "--language",
                               "x" * 100_000, home=kaytoo_home))
    assert len(line) < 300 and "100000 characters" in line
