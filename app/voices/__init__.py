from app.voices.library import Voice, VoiceLibrary

__all__ = ["Voice", "VoiceLibrary"]
