"""Settings: typed, validated, atomic, and a broken file never stops the app."""
from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from app import paths as paths_mod
from app.settings import Settings, load, save


def test_kaytoo_home_puts_everything_under_one_folder(kaytoo_home):
    p = paths_mod.resolve().ensure()
    for folder in (p.config, p.data, p.cache, p.logs, p.runtime):
        assert folder.is_relative_to(kaytoo_home) and folder.is_dir()
    assert oct(os.stat(p.runtime).st_mode & 0o777) == "0o700"


def test_missing_file_gives_defaults(tmp_path):
    s, warning = load(tmp_path / "settings.toml")
    assert s == Settings() and warning is None


def test_round_trip_is_exact(tmp_path):
    path = tmp_path / "settings.toml"
    s = Settings()
    s.tts.droid_effect = True
    s.tts.tiers = ["piper", "pyttsx3"]
    s.stt.language = "de"
    save(path, s)
    loaded, warning = load(path)
    assert warning is None and loaded == s
    assert not list(tmp_path.glob(".settings.toml.*"))  # no temp files left behind


@pytest.mark.parametrize("content, problem", [
    ("this is [not toml", "Expected"),
    ("[tts]\ntiers = ['espeak9000']\n", "tts.tiers"),
    ("[audio]\noutput_rate = 12\n", "audio.output_rate"),
    ("[ui]\nthemee = 'dark'\n", "ui.themee"),
    ("version = 99\n", "newer"),
])
def test_broken_file_is_moved_aside_and_defaults_load(tmp_path, content, problem):
    path = tmp_path / "settings.toml"
    path.write_text(content)
    s, warning = load(path)
    assert s == Settings()
    assert warning and problem in warning and "defaults are in use" in warning
    aside = list(tmp_path.glob("settings.toml.bad-*"))
    assert len(aside) == 1 and aside[0].read_text() == content  # the user's file is kept intact
    assert not path.exists()


def test_invalid_assignment_is_rejected():
    s = Settings()
    with pytest.raises(ValidationError):
        s.tts.speed = 9.0
