from app.settings.model import Settings
from app.settings.store import load, save

__all__ = ["Settings", "load", "save"]
