"""A reference to one library voice, as the engine's tiers receive it: plain data, so the
engine, its clients and the library share it without importing one another."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VoiceRef:
    """Who should speak. Cloning tiers use the reference clip; the others use their own voice."""

    name: str
    reference_wav: Path | None = None   # trimmed, mono, normalised reference (voices/<slug>/reference.wav)
    latents_dir: Path | None = None     # where a cloning tier may cache speaker latents for this voice
    language: str = "en"
