"""Where Kaytoo keeps things on disk.

platformdirs gives the per-OS locations; ``KAYTOO_HOME`` puts everything under one folder, which is
how tests (and portable installs) isolate themselves.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from app.errors import UserError

APP_NAME = "Kaytoo"


@dataclass(frozen=True)
class Paths:
    config: Path
    data: Path
    cache: Path
    logs: Path
    runtime: Path

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.toml"

    @property
    def voices(self) -> Path:
        return self.data / "voices"

    @property
    def models(self) -> Path:
        return self.data / "models"

    def ensure(self) -> "Paths":
        for p in (self.config, self.data, self.cache, self.logs):
            p.mkdir(parents=True, exist_ok=True)
        self.runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        _check_owned(self.runtime)
        os.chmod(self.runtime, 0o700)  # the engine socket lives here: private to the user
        return self


def _check_owned(folder: Path) -> None:
    """The runtime folder must be a real folder of ours: in a shared temp dir another user could
    have made ``kaytoo-<uid>`` first (or a symlink to elsewhere) to catch our engine socket."""
    if not hasattr(os, "getuid"):
        return
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise UserError(f"The runtime folder {folder} belongs to another user or is not a folder, "
                        "so Kaytoo will not use it; remove it or set XDG_RUNTIME_DIR.")


def resolve(env: dict[str, str] | None = None) -> Paths:
    env = os.environ if env is None else env
    home = env.get("KAYTOO_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(root / "config", root / "data", root / "cache", root / "logs", root / "run")
    import platformdirs

    return Paths(
        Path(platformdirs.user_config_dir(APP_NAME, False)),
        Path(platformdirs.user_data_dir(APP_NAME, False)),
        Path(platformdirs.user_cache_dir(APP_NAME, False)),
        Path(platformdirs.user_log_dir(APP_NAME, False)),
        _runtime_dir(),
    )


def _runtime_dir() -> Path:
    import platformdirs
    import tempfile

    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and Path(xdg).is_dir():
        return Path(platformdirs.user_runtime_dir(APP_NAME, False))
    # No runtime dir (containers, macOS): a private folder in the temp dir, keyed by user id.
    uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
    return Path(tempfile.gettempdir()) / f"kaytoo-{uid}"
