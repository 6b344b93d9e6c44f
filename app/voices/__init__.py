"""The voice library on disk (library.py), reference clip checks (validate.py), waveform peaks."""
from app.voices.library import Voice, VoiceLibrary

__all__ = ["Voice", "VoiceLibrary"]
