"""Finding audio devices by name, with clear messages when there are none or one went away.

PortAudio lists devices once, when it is initialised: a headset plugged in later is invisible
until it is re-initialised (``rescan``). Re-initialising closes every open stream, so callers
close theirs first (the controller does: player closed, rescan, player reopened).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from app.errors import UserError, first_line

log = logging.getLogger(__name__)


def close_stream(stream, what: str, abort: bool = False) -> None:
    """Stop (or abort: drop what is queued) and close a sounddevice stream; never raises."""
    try:
        (stream.abort if abort else stream.stop)()
        stream.close()
    except Exception:  # the device vanished: nothing left to close
        log.warning("%s stream did not close cleanly", what, exc_info=True)


KINDS = ("input", "output")


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: int
    hostapi: str = ""
    is_default: bool = False

    def has(self, kind: str) -> bool:
        return (self.inputs if kind == "input" else self.outputs) > 0


def rescan() -> None:
    """Re-initialise PortAudio so hot-plugged (or removed) devices show up. Closes open streams."""
    import sounddevice as sd

    try:
        sd._terminate()
    except Exception:  # not initialised: nothing to close
        pass
    sd._initialize()


def list_devices(kind: str | None = None) -> list[Device]:
    """Every device PortAudio sees (only those with ``kind`` channels when given)."""
    import sounddevice as sd

    try:
        raw = sd.query_devices()
        apis = [a["name"] for a in sd.query_hostapis()]
        defaults = tuple(sd.default.device)
    except Exception as e:  # PortAudio missing or broken
        raise UserError(f"The audio system is not available ({first_line(e)}).") from None
    out = []
    for i, d in enumerate(raw):
        inputs, outputs = int(d["max_input_channels"]), int(d["max_output_channels"])
        out.append(Device(i, d["name"], inputs, outputs, int(d["default_samplerate"]),
                          apis[d["hostapi"]] if d["hostapi"] < len(apis) else "",
                          is_default=(inputs > 0 and i == defaults[0])
                          or (outputs > 0 and i == defaults[1])))
    return [d for d in out if kind is None or d.has(kind)]


def names(kind: str) -> list[str]:
    """Device names for a settings list (empty when the audio system is unavailable)."""
    try:
        return [d.name for d in list_devices(kind)]
    except UserError:
        return []


def pick(name: str | None, kind: str, allow_rescan: bool = False) -> Device:
    """The device called ``name`` (exactly, else containing it), or the default one.

    ``kind`` is "input" or "output". With ``allow_rescan`` a named device that is missing causes
    one PortAudio re-initialisation (it may have been plugged in since start-up).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    devices = list_devices(kind)
    found = _match(devices, name) if name else None
    if name and found is None and allow_rescan:
        rescan()
        devices = list_devices(kind)
        found = _match(devices, name)
    if not devices:
        raise UserError(f"No audio {kind} device was found; plug one in or check the sound settings.")
    if name:
        if found is None:
            raise UserError(f"The {kind} device '{name}' is not connected; plug it in or choose "
                            "another in Settings.")
        return found
    return _default(devices, kind)


def _match(devices: list[Device], name: str) -> Device | None:
    exact = [d for d in devices if d.name == name]
    if exact:
        return exact[0]
    return next((d for d in devices if name.lower() in d.name.lower()), None)


def _default(devices: list[Device], kind: str) -> Device:
    """The system default. On Linux the sound server's own device ("pipewire", "pulse") is
    preferred to ALSA's "default" alias: both reach the user's chosen device, but an input on the
    alias opened beside a running output delivered no audio the first time (PulseAudio 16)."""
    for wanted in ("pipewire", "pulse"):
        d = next((d for d in devices if d.name.lower() == wanted), None)
        if d is not None:
            return d
    preferred = next((d for d in devices if d.is_default), None)
    if preferred is not None:
        return preferred
    d = next((d for d in devices if d.name.lower() == "default"), None)
    return d if d is not None else devices[0]
