"""Can a library voice be heard in its own voice now? Only through the cloning tier (XTTS); this
says why not and what fixes it, from the settings, the model store and the engine's tier status
(``EngineClient.tier_status()``, asked when the engine is ready). Qt-free."""
from __future__ import annotations

from pathlib import Path

from app.engines.models import ModelStore
from app.settings.model import Settings

XTTS_MODEL = "xtts-v2"


class Cloning:
    def __init__(self, models_dir: Path):
        self.models_dir = models_dir
        self.status: dict[str, str | None] | None = None   # the engine's, once it answered
        self.why: tuple[str, str] | None = None

    def update(self, settings: Settings, status: dict[str, str | None] | None) -> tuple[str, str] | None:
        """Take the engine's new tier status (None: not known, e.g. a new engine is starting)."""
        self.status = status
        self.why = cloning_why(settings, status, self._model_installed())
        return self.why

    def known(self, tier: str | None) -> bool:
        """A fallback the user already knows of (the voice panel says it): not news on a card."""
        return tier == "xtts" and self.why is not None

    def _model_installed(self) -> bool | None:
        try:
            return ModelStore(self.models_dir).path_for(XTTS_MODEL) is not None
        except Exception:   # a bad mirror setting, an unreadable folder: not known
            return None


def cloning_why(settings: Settings, status: dict[str, str | None] | None,
                model_installed: bool | None) -> tuple[str, str] | None:
    """None when the cloning tier (XTTS) can serve; else (why not, what fixes it: "licence",
    "model", "tiers" or "" when the user cannot fix it from the app). ``status``: the engine's
    tier status (None before it answered)."""
    if "xtts" not in settings.tts.tiers:
        return "the cloned voice (XTTS) is turned off", "tiers"
    if status is not None and "xtts" in status and status["xtts"] is None:
        return None
    if not settings.engine.remote_uri:   # a remote engine has its own licence and models
        if not settings.tts.xtts_consent:
            return "the XTTS licence was not accepted", "licence"
        if model_installed is False:
            return "the cloning model is not downloaded", "model"
    if status is None:
        return None   # not known yet: the engine answers once it is ready
    reason = str(status.get("xtts") or "the engine has no cloning tier").rstrip(".")
    return f"the cloned voice cannot be used: {reason}", ""
