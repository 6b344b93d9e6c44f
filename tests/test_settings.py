"""Settings: typed, validated, atomic, and a broken file never stops the app."""
from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from app import paths as paths_mod
from app.errors import UserError
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
    ("version = 99\n", "newer"),
    (b"\xff\xfe[ui]\n", "not UTF-8"),
])
def test_a_file_that_is_not_settings_at_all_is_moved_aside_and_defaults_load(tmp_path, content,
                                                                              problem):
    path = tmp_path / "settings.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    s, warning = load(path)
    assert s == Settings()
    assert warning and problem in warning and "defaults are in use" in warning
    aside = list(tmp_path.glob("settings.toml.bad-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == (content if isinstance(content, bytes)
                                                          else content.encode())
    assert not path.exists()


def test_bad_values_are_reset_one_by_one_and_all_named(tmp_path):
    path = tmp_path / "settings.toml"
    content = ("[tts]\ntiers = ['espeak9000']\nspeed = 9\ndroid_effect = true\n"
               "[ui]\ntheme = 'dark'\nthemee = 'x'\nfirst_run_done = true\n"
               "[voice]\nactive = 'narrator'\n[audio]\noutput_rate = 12\n[stt]\nlanguage = 'de'\n")
    path.write_text(content)
    s, warning = load(path)
    # Every valid setting survives; only the bad ones take their defaults.
    assert (s.ui.theme, s.ui.first_run_done, s.voice.active, s.tts.droid_effect, s.stt.language) \
        == ("dark", True, "narrator", True, "de")
    assert (s.tts.tiers, s.tts.speed, s.audio.output_rate) == (Settings().tts.tiers, 1.0, 48000)
    for name in ("tts.tiers", "tts.speed", "ui.themee", "audio.output_rate"):
        assert name in warning
    assert warning.count("\n") == 0 and "reset to their defaults" in warning
    aside = list(tmp_path.glob("settings.toml.bad-*"))
    assert len(aside) == 1 and aside[0].read_text() == content   # the user's file is kept intact
    assert load(path) == (s, None)                                # repaired in place: said once


def test_a_section_that_is_not_a_table_is_reset_alone(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("tts = 5\n[ui]\ntheme = 'light'\n")
    s, warning = load(path)
    assert s.ui.theme == "light" and s.tts == Settings().tts and "tts" in warning


def test_an_empty_file_gives_a_message(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("\n  \n")
    s, warning = load(path)
    assert s == Settings() and "is empty" in warning


def test_a_folder_or_read_only_file_is_one_sentence_and_left_alone(tmp_path):
    folder = tmp_path / "settings.toml"
    folder.mkdir()
    with pytest.raises(UserError, match="is a folder"):
        load(folder)
    with pytest.raises(UserError, match="is a folder"):
        save(folder, Settings())
    read_only = tmp_path / "ro.toml"
    save(read_only, Settings())
    before = read_only.read_text()
    read_only.chmod(0o444)
    changed = Settings()
    changed.voice.active = "narrator"
    with pytest.raises(UserError, match="read-only, so the change was not saved"):
        save(read_only, changed)
    assert read_only.read_text() == before


def test_saved_settings_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        save(tmp_path / "settings.toml", Settings())
    finally:
        os.umask(old)
    assert (tmp_path / "settings.toml").stat().st_mode & 0o777 == 0o600


def test_invalid_assignment_is_rejected():
    s = Settings()
    with pytest.raises(ValidationError):
        s.tts.speed = 9.0
