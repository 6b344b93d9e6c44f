"""Helpers to run the real engine process in tests."""
from __future__ import annotations

import sys

from app.settings import Settings, save
from app import paths as paths_mod


def engine_cmd(uri: str = "stdio://") -> list[str]:
    return [sys.executable, "-m", "app", "engine", "--uri", uri]


def write_settings(**tts) -> Settings:
    """Settings for the test's KAYTOO_HOME (the engine process reads them at start)."""
    p = paths_mod.resolve().ensure()
    s = Settings()
    for k, v in tts.items():
        setattr(s.tts, k, v)
    save(p.settings_file, s)
    return s
