"""Load and save settings.toml.

A bad value costs only itself: every valid setting is kept, each invalid one is reset to its
default, and one message names them all (the user's file is kept aside as ``.bad-<time>``). A file
that is not TOML at all is moved aside whole. A file Kaytoo cannot read or write (a folder, a
read-only file) is a UserError: one sentence, nothing overwritten.
"""
from __future__ import annotations

import logging
import os
import stat
import time
import tomllib
from pathlib import Path

import tomli_w
from pydantic import ValidationError

from app import atomic
from app.errors import UserError, first_line, shown
from app.settings.model import SETTINGS_VERSION, Settings

log = logging.getLogger(__name__)

_SECTIONS = frozenset(name for name, f in Settings.model_fields.items()
                      if isinstance(f.default_factory, type))
_MAX_ROUNDS = 20   # each round resets at least one field; a settings file has fewer than this


def load(path: Path) -> tuple[Settings, str | None]:
    """Return (settings, warning). The warning is one sentence for the user, or None."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings(), None
    except IsADirectoryError:
        raise UserError(f"The settings file {path} is a folder; move it away so Kaytoo can keep "
                        "its settings there.") from None
    except UnicodeDecodeError:
        text = None
    except OSError as e:
        raise UserError(f"The settings file {path} cannot be read ({e.strerror or e}).") from None
    if text is not None and not text.strip():
        return Settings(), f"Your settings file {path.name} is empty, so defaults are in use."
    try:
        if text is None:
            raise ValueError("it is not UTF-8 text")
        raw = migrate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValueError) as e:
        aside = _set_aside(path)
        kept = f"; the old file was kept as {aside.name}" if aside else ""
        return Settings(), (f"Your settings file was unreadable ({first_line(e, 200)}), so "
                            f"defaults are in use{kept}.")
    settings, reset = _keep_valid(raw)
    if not reset:
        return settings, None
    aside = _set_aside(path)
    if aside is not None:
        try:
            save(path, settings)
        except UserError as e:
            log.warning("could not write the repaired settings: %s", e)
    kept = f"; the old file was kept as {aside.name}" if aside else ""
    return settings, (f"Some settings were invalid and were reset to their defaults: "
                      f"{'; '.join(reset)}{kept}.")


def _keep_valid(raw: dict) -> tuple[Settings, list[str]]:
    """Validate, dropping each field pydantic rejects (so it takes its default) until it passes."""
    reset: list[str] = []
    for _ in range(_MAX_ROUNDS):
        try:
            return Settings.model_validate(raw), reset
        except ValidationError as e:
            for err in e.errors():
                loc = tuple(err["loc"])
                field = loc[:2] if loc and loc[0] in _SECTIONS and len(loc) > 1 else loc[:1]
                _drop(raw, field)
                why = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
                name = shown(".".join(map(str, field)), 60)
                entry = f"{name} ({first_line(ValueError(why), 120)})"
                if entry not in reset:
                    reset.append(entry)
    return Settings(), reset + ["everything else (too many problems)"]


def _drop(raw: dict, field: tuple) -> None:
    node = raw
    for key in field[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(field[-1], None)
    elif field:
        raw.pop(field[0], None)   # the section itself is not a table: reset it whole


def _set_aside(path: Path) -> Path | None:
    """Move the user's file aside (kept, never deleted); None if that is not possible."""
    aside = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        path.replace(aside)
    except OSError as e:
        log.warning("could not move the invalid settings file %s aside: %s", path, e)
        return None
    log.warning("settings file %s was invalid; kept as %s", path, aside)
    return aside


def save(path: Path, settings: Settings) -> None:
    """Write atomically, private to the user. A read-only file is the user's choice: not replaced."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise UserError(f"Could not save the settings to {path} ({e.strerror or e}).") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UserError(f"The settings file {path} is a folder, so the settings were not saved.")
    if mode is not None and not mode & stat.S_IWUSR:
        raise UserError(f"The settings file {path} is read-only, so the change was not saved.")
    try:
        atomic.write_text(path, tomli_w.dumps(settings.model_dump(exclude_none=True)), private=True)
    except OSError as e:
        raise UserError(f"Could not save the settings to {path} ({e.strerror or e}).") from None


def migrate(raw: dict) -> dict:
    """Bring an older file up to SETTINGS_VERSION. Version 1 is the first; later ones add steps here."""
    version = raw.get("version", SETTINGS_VERSION)
    if not isinstance(version, int) or version > SETTINGS_VERSION:
        raise ValueError(f"settings version {shown(version, 20)} is newer than this Kaytoo understands")
    raw["version"] = SETTINGS_VERSION
    return raw
