"""The one typed settings object. Validated on load; unknown keys are rejected so typos are caught."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TIERS = ("xtts", "piper", "gtts", "pyttsx3")
SETTINGS_VERSION = 1


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @classmethod
    def limits(cls, name: str) -> tuple[float, float]:
        """A numeric setting's validated range (ge, le): one source for clamps and spin boxes."""
        meta = cls.model_fields[name].metadata
        return (next(m.ge for m in meta if hasattr(m, "ge")),
                next(m.le for m in meta if hasattr(m, "le")))

    def clamped(self, name: str, value: float) -> float:
        lo, hi = self.limits(name)
        return min(hi, max(lo, value))


class AudioSettings(_Section):
    input_device: str | None = None     # None: the system default
    output_device: str | None = None
    output_rate: int = Field(48000, ge=8000, le=192000)  # engine output is resampled to this


class SttSettings(_Section):
    model: str = "tiny.en"              # bundled; larger ones come from the model store
    language: str | None = None         # None: auto-detect (multilingual models)
    compute_type: Literal["auto", "int8", "float32", "float16"] = "auto"
    vad: bool = True


class TtsSettings(_Section):
    tiers: list[str] = Field(default_factory=lambda: list(TIERS))
    # Seconds to first audio before a tier is abandoned for the next one.
    deadlines: dict[str, float] = Field(
        default_factory=lambda: {"xtts": 4.0, "piper": 2.0, "gtts": 3.0, "pyttsx3": 3.0})
    failure_memory_s: float = Field(120.0, ge=0)  # skip a tier that just failed for this long
    droid_effect: bool = False
    speed: float = Field(1.0, ge=0.5, le=2.0)
    volume: float = Field(1.0, ge=0.1, le=2.0)
    xtts_consent: bool = False          # the user accepted the CPML (non-commercial) licence
    gtts_timeout_s: float = Field(3.0, gt=0, le=30)

    @field_validator("tiers")
    @classmethod
    def _known_tiers(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if t not in TIERS]
        if bad:
            raise ValueError(f"unknown tier {bad[0]!r}; known: {', '.join(TIERS)}")
        return v


class VoiceSettings(_Section):
    active: str = "kaytoo"              # name in the voice library; "kaytoo" is the bundled persona


class AssistantSettings(_Section):
    llm_url: str | None = None          # OpenAI-compatible endpoint; None keeps the LLM off
    llm_model: str = ""
    llm_timeout_s: float = Field(8.0, gt=0, le=120)


class EngineSettings(_Section):
    remote_uri: str | None = None       # use a remote Wyoming server instead of the local engine
    # Largest event the engine accepts from a client: JSON header/data (text) and audio payload.
    max_event_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_audio_bytes: int = Field(16 * 1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024)


class UiSettings(_Section):
    theme: Literal["system", "dark", "light"] = "system"
    ptt_key: str = "Space"
    global_ptt_key: str | None = None   # a system-wide push-to-talk key (X11 only); None: off
    first_run_done: bool = False
    window_geometry: str | None = None  # the main window's size and place (Qt saveGeometry, base64)
    window_state: str | None = None     # its docks (Qt saveState, base64)
    dock_tab: str | None = None         # the dock tab in front ("voices" or "video")


class Settings(_Section):
    version: int = SETTINGS_VERSION
    audio: AudioSettings = Field(default_factory=AudioSettings)
    stt: SttSettings = Field(default_factory=SttSettings)
    tts: TtsSettings = Field(default_factory=TtsSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
