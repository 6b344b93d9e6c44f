"""Finding audio devices by name, with clear messages when there are none."""
from __future__ import annotations

from dataclasses import dataclass

from app.errors import UserError


@dataclass
class Device:
    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: int


def rescan() -> None:
    """PortAudio lists devices once at start-up: re-initialise to see hot-plugged ones."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


def list_devices() -> list[Device]:
    import sounddevice as sd

    try:
        raw = sd.query_devices()
    except Exception as e:  # PortAudio missing or broken
        raise UserError(f"The audio system is not available ({e}).") from None
    return [Device(i, d["name"], d["max_input_channels"], d["max_output_channels"],
                   int(d["default_samplerate"])) for i, d in enumerate(raw)]


def pick(name: str | None, kind: str) -> Device:
    """The device called ``name`` (or containing it), else the default; ``kind`` is input/output."""
    import sounddevice as sd

    key = "inputs" if kind == "input" else "outputs"
    devices = [d for d in list_devices() if getattr(d, key) > 0]
    if not devices:
        raise UserError(f"No audio {kind} device was found; plug one in or check the sound settings.")
    if name:
        for d in devices:
            if d.name == name or name.lower() in d.name.lower():
                return d
        raise UserError(f"The {kind} device '{name}' is not connected; choose another in Settings.")
    default = sd.default.device[0 if kind == "input" else 1]
    return next((d for d in devices if d.index == default), devices[0])
