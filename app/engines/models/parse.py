"""An extra model catalogue from a JSON file (``KAYTOO_MODEL_CATALOGUE``), checked field by field."""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from app.engines.models.catalogue import CATALOGUE, TOS_FILE, ModelSpec, RemoteFile
from app.errors import UserError

log = logging.getLogger(__name__)

CATALOGUE_ENV = "KAYTOO_MODEL_CATALOGUE"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")   # a plain folder or file name, never a path
_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_SPEC_KEYS = {"name", "kind", "licence", "repo", "revision", "files", "note", "needs_consent"}


def load_catalogue(path: Path) -> tuple[ModelSpec, ...]:
    """The models described in a catalogue JSON file (format in the module docstring)."""
    path = Path(path).expanduser()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"The model catalogue {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as e:
        why = getattr(e, "strerror", None) or e
        raise UserError(f"The model catalogue {path} cannot be read ({why}).") from None
    except ValueError as e:
        raise UserError(f"The model catalogue {path} is not valid JSON ({e}).") from None
    try:
        if not isinstance(raw, dict) or not isinstance(raw.get("models"), list):
            raise ValueError('it needs a "models" list at the top')
        specs = tuple(_spec_from_json(entry, f"models[{i}]") for i, entry in enumerate(raw["models"]))
        names = [s.name for s in specs]
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice:
            raise ValueError(f"{twice!r} is listed twice")
    except ValueError as e:
        raise UserError(f"The model catalogue {path} is invalid: {e}.") from None
    return specs


def _spec_from_json(entry: object, where: str) -> ModelSpec:
    if not isinstance(entry, dict):
        raise ValueError(f"{where} is not an object")
    unknown = sorted(set(entry) - _SPEC_KEYS)
    if unknown:
        raise ValueError(f"{where} has an unknown key {unknown[0]!r}")

    def text(key: str, pattern: re.Pattern | None = None) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value or (pattern and not pattern.fullmatch(value)):
            raise ValueError(f"{where}.{key} is missing or not a valid {key}")
        return value

    name = text("name", _NAME)
    kind = text("kind")
    if kind not in ("stt", "tts"):
        raise ValueError(f"{where}.kind must be \"stt\" or \"tts\"")
    consent = entry.get("needs_consent", False)
    if not isinstance(consent, bool):
        raise ValueError(f"{where}.needs_consent must be true or false")
    note = entry.get("note", "")
    if not isinstance(note, str):
        raise ValueError(f"{where}.note must be text")
    files = entry.get("files")
    if not isinstance(files, list) or not files:
        raise ValueError(f"{where}.files must be a non-empty list")
    remote = tuple(_file_from_json(f, f"{where}.files[{j}]") for j, f in enumerate(files))
    fnames = [f.name for f in remote]
    if len(set(fnames)) != len(fnames):
        raise ValueError(f"{where}.files names a file twice")
    return ModelSpec(name, kind, text("licence"), text("repo", _REPO), text("revision", _NAME),
                     remote, note=note, needs_consent=consent)


def _file_from_json(f: object, where: str) -> RemoteFile:
    if not isinstance(f, dict) or set(f) != {"name", "size", "sha256"}:
        raise ValueError(f"{where} needs exactly name, size and sha256")
    name, size, digest = f["name"], f["size"], f["sha256"]
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name == TOS_FILE:
        raise ValueError(f"{where}.name must be a plain file name")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"{where}.size must be a whole number of bytes")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise ValueError(f"{where}.sha256 must be 64 hex digits")
    return RemoteFile(name, size, digest.lower())


def default_catalogue(env: dict[str, str] | None = None) -> tuple[ModelSpec, ...]:
    """The built-in catalogue plus the file ``KAYTOO_MODEL_CATALOGUE`` names (same names replace)."""
    extra = (os.environ if env is None else env).get(CATALOGUE_ENV)
    if not extra:
        return CATALOGUE
    specs = {s.name: s for s in CATALOGUE}
    for s in load_catalogue(Path(extra)):
        if s.name in specs:
            log.info("model catalogue %s replaces the built-in entry %s", extra, s.name)
        specs[s.name] = s
    return tuple(specs.values())
