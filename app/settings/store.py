"""Load and save settings.toml. A broken file is moved aside, defaults load, and the caller is told."""
from __future__ import annotations

import logging
import time
import tomllib
from pathlib import Path

import tomli_w
from pydantic import ValidationError

from app import atomic
from app.settings.model import SETTINGS_VERSION, Settings

log = logging.getLogger(__name__)


def load(path: Path) -> tuple[Settings, str | None]:
    """Return (settings, warning). The warning is one sentence for the user, or None."""
    if not path.exists():
        return Settings(), None
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return Settings.model_validate(migrate(raw)), None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValidationError, ValueError) as e:
        aside = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
        path.replace(aside)
        log.warning("settings file %s is invalid (%s); moved to %s", path, _first_line(e), aside)
        return Settings(), (f"Your settings file was unreadable ({_first_line(e)}), so defaults are "
                            f"in use; the old file was kept as {aside.name}.")


def save(path: Path, settings: Settings) -> None:
    atomic.write_text(path, tomli_w.dumps(settings.model_dump(exclude_none=True)))


def migrate(raw: dict) -> dict:
    """Bring an older file up to SETTINGS_VERSION. Version 1 is the first; later ones add steps here."""
    version = raw.get("version", SETTINGS_VERSION)
    if not isinstance(version, int) or version > SETTINGS_VERSION:
        raise ValueError(f"settings version {version!r} is newer than this Kaytoo understands")
    raw["version"] = SETTINGS_VERSION
    return raw


def _first_line(e: Exception) -> str:
    if isinstance(e, ValidationError):
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}"
    return str(e).splitlines()[0] if str(e) else type(e).__name__
