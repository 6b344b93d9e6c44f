"""What a video file holds (duration, size, frame rate, audio), asked of ffprobe, or of ffmpeg
alone where there is no ffprobe (imageio-ffmpeg's static build), always from structured output;
and which ffmpeg tools this machine has. Every answer that is not a usable video is a UserError
of one sentence.
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from app.errors import UserError
from app.runtime import find_ffmpeg

NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # no console flashing up on Windows


# -- the tools --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tools:
    ffmpeg: str
    ffprobe: str | None = None   # imageio-ffmpeg ships ffmpeg only: probing then uses ffmpeg itself

    @classmethod
    def find(cls) -> "Tools":
        """ffmpeg on PATH (with its ffprobe), else the static build inside imageio-ffmpeg."""
        ffmpeg = find_ffmpeg()
        if ffmpeg is None:
            raise UserError("ffmpeg was not found; install ffmpeg to optimise videos.")
        beside = Path(ffmpeg).with_name("ffprobe" + Path(ffmpeg).suffix)
        if beside.is_file():
            return cls(ffmpeg, str(beside))
        # imageio-ffmpeg ships no ffprobe; a system ffmpeg's may live elsewhere on PATH
        return cls(ffmpeg, shutil.which("ffprobe") if ffmpeg == shutil.which("ffmpeg") else None)

    def encoders(self) -> set[str]:
        out = subprocess.run([self.ffmpeg, "-hide_banner", "-nostdin", "-encoders"],
                             capture_output=True, text=True, timeout=30, creationflags=NO_WINDOW)
        names = set()
        for line in out.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
                names.add(parts[1])
        return names


# -- probing ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Probe:
    duration_s: float
    width: int
    height: int
    fps: float
    has_audio: bool
    video_codec: str = ""


def probe(path: Path | str, tools: Tools | None = None) -> Probe:
    """What the file holds, or a UserError saying in one sentence why it is not a video we can use."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"{path} does not exist.")
    if not path.is_file():
        raise UserError(f"{path} is a folder, not a video file.")
    if path.stat().st_size == 0:
        raise UserError(f"{path.name} is empty (0 bytes), not a video.")
    tools = tools or Tools.find()
    path = path.resolve()  # absolute: a name like 'x:y.mp4' must not be read as an ffmpeg protocol
    info = _probe_ffprobe(path, tools) if tools.ffprobe else _probe_ffmpeg(path, tools)
    if info.duration_s <= 0 or info.width <= 0 or info.height <= 0:
        raise UserError(f"{path.name} has no playable video frames.")
    return info


def _probe_ffprobe(path: Path, tools: Tools) -> Probe:
    cmd = [tools.ffprobe, "-v", "error", "-of", "json", "-show_entries",
           "format=format_name,duration:stream=codec_type,codec_name,width,height,avg_frame_rate,"
           "r_frame_rate,duration,nb_frames:stream_disposition=attached_pic", str(path)]
    out = subprocess.run(cmd, capture_output=True, timeout=60, creationflags=NO_WINDOW)
    try:
        data = json.loads(out.stdout or b"{}") if out.returncode == 0 else {}
    except ValueError:
        data = {}
    if not data.get("format"):
        raise UserError(f"{path.name} is not a video file ffmpeg can read.")
    streams = data.get("streams", [])
    videos = [s for s in streams if s.get("codec_type") == "video"
              and not s.get("disposition", {}).get("attached_pic")]   # cover art is not video
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    if not videos:
        raise UserError(f"{path.name} has no video stream" + (" (it is an audio file)." if has_audio else "."))
    fmt = data["format"].get("format_name", "")
    if fmt == "image2" or fmt.endswith("_pipe"):
        raise UserError(f"{path.name} is a still image, not a video.")
    v = videos[0]
    duration = num(data["format"].get("duration")) or num(v.get("duration"))
    fps = _rate(v.get("avg_frame_rate")) or _rate(v.get("r_frame_rate"))
    if not duration:  # some containers (raw streams) have no duration in the header: count
        duration, frames = _copy_scan(path, tools)
        fps = fps or (frames / duration if duration else 0.0)
    return Probe(duration, int(v.get("width") or 0), int(v.get("height") or 0), fps or 25.0,
                 has_audio, v.get("codec_name", ""))


def _probe_ffmpeg(path: Path, tools: Tools) -> Probe:
    """The same facts with ffmpeg alone, from structured outputs: the first frame as a PPM (its
    header holds the size) and a stream-copy pass's progress (frames and time)."""
    base = [tools.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-i", str(path)]
    audio = subprocess.run(base + ["-map", "0:a:0", "-c", "copy", "-t", "0.1", "-f", "null", "-"],
                           capture_output=True, timeout=60, creationflags=NO_WINDOW)
    has_audio = audio.returncode == 0
    frame = subprocess.run(base + ["-map", "0:V:0", "-frames:v", "1", "-c:v", "ppm", "-f", "image2pipe",
                                   "-"], capture_output=True, timeout=60, creationflags=NO_WINDOW)
    header = frame.stdout[:64].split()
    if frame.returncode != 0 or len(header) < 3 or header[0] != b"P6":
        if has_audio:
            raise UserError(f"{path.name} has no video stream (it is an audio file).")
        raise UserError(f"{path.name} is not a video file ffmpeg can read.")
    width, height = int(header[1]), int(header[2])
    duration, frames = _copy_scan(path, tools)
    if frames <= 1:
        raise UserError(f"{path.name} is a still image, not a video.")
    return Probe(duration, width, height, frames / duration if duration else 25.0, has_audio)


def _copy_scan(path: Path, tools: Tools) -> tuple[float, int]:
    """(seconds, frames) of the first video stream, read by a fast stream copy to nowhere."""
    cmd = [tools.ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "error", "-i", str(path),
           "-map", "0:V:0", "-c", "copy", "-f", "null", "-progress", "pipe:1", "-"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, creationflags=NO_WINDOW)
    fields = _key_values(out.stdout)
    frames = int(num(fields.get("frame")) or 0)
    seconds = (num(fields.get("out_time_us")) or 0.0) / 1e6
    if frames > 1 and seconds > 0:  # out_time is the last frame's start: add one frame's length
        seconds += seconds / (frames - 1)
    elif frames and seconds <= 0:
        seconds = frames / 25.0
    return seconds, frames


def _key_values(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def num(value) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and x > 0 else None


def _rate(text) -> float | None:
    top, _, bottom = str(text or "").partition("/")
    n, d = num(top), num(bottom or "1")
    return n / d if n and d else None
