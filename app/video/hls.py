"""The adaptive HLS ladder: which renditions to make, the ffmpeg arguments for them, and reading a master
playlist back.

Segments are fragmented MP4 (``.m4s`` + an init file per rendition): Qt's FFmpeg backend plays them,
they carry H.265 as well as H.264, and they waste less space than MPEG-TS. Every rendition has a
fixed GOP of ``SEGMENT_S`` seconds with scene-cut keyframes off, so segment boundaries line up across
renditions and a player can switch between them at any segment.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SEGMENT_S = 4
RUNGS = (360, 720, 1080)
MASTER = "master.m3u8"


@dataclass(frozen=True)
class Rendition:
    height: int
    maxrate_k: int      # peak video bitrate: CRF gives the quality, this caps the bandwidth

    @property
    def name(self) -> str:
        return f"{self.height}p"

    @property
    def audio_k(self) -> int:
        return 96 if self.height <= 360 else 128


def ladder(source_height: int) -> list[Rendition]:
    """Two or three renditions, never taller than the source (upscaling only wastes bits)."""
    top = _even(min(source_height, RUNGS[-1]))
    heights = [h for h in RUNGS if h < top - 16] + [top]
    if len(heights) == 1:           # a small source: its own height and half of it
        heights = [_even(max(top // 2, 2)), top]
    return [Rendition(h, _maxrate_k(h)) for h in heights[-3:]]


def _even(n: int) -> int:
    return max(2, n - n % 2)


def _maxrate_k(height: int) -> int:
    # ~0.75 bit per pixel per second at 16:9 and 30 fps, the usual ladders' slope (360p ≈ 800k).
    return max(300, round(height * height / 160))


def ffmpeg_args(source: Path, renditions: list[Rendition], has_audio: bool, encoder_args: list[str],
                fps: float) -> list[str]:
    """Arguments (after the global ones) that write ``master.m3u8`` and ``<name>/index.m3u8`` into the
    current directory. Run ffmpeg with ``cwd`` set to the (temporary) HLS folder: relative names keep
    a '%' in the user's folder names from being read as an ffmpeg pattern."""
    n = len(renditions)
    chains = "".join(f"[s{i}]scale=-2:{r.height}:flags=bicubic,format=yuv420p[v{i}];"
                     for i, r in enumerate(renditions))
    graph = f"[0:V:0]split={n}" + "".join(f"[s{i}]" for i in range(n)) + ";" + chains.rstrip(";")
    gop = max(1, round(fps * SEGMENT_S))
    args = ["-i", str(source), "-filter_complex", graph]
    for i in range(n):
        args += ["-map", f"[v{i}]"]
        if has_audio:
            args += ["-map", "0:a:0"]
    args += encoder_args + ["-g", str(gop), "-keyint_min", str(gop)]
    for i, r in enumerate(renditions):
        args += [f"-maxrate:v:{i}", f"{r.maxrate_k}k", f"-bufsize:v:{i}", f"{2 * r.maxrate_k}k"]
        if has_audio:
            args += [f"-b:a:{i}", f"{r.audio_k}k"]
    if has_audio:
        args += ["-c:a", "aac", "-ac", "2"]
    streams = " ".join(f"v:{i}" + (f",a:{i}" if has_audio else "") + f",name:{r.name}"
                       for i, r in enumerate(renditions))
    args += ["-f", "hls", "-hls_time", str(SEGMENT_S), "-hls_playlist_type", "vod",
             "-hls_segment_type", "fmp4", "-hls_segment_filename", "%v/seg_%03d.m4s",
             "-master_pl_name", MASTER, "-var_stream_map", streams, "%v/index.m3u8"]
    return args


def read_master(path: Path) -> list[dict]:
    """The variants a master playlist lists: ``[{"uri", "bandwidth", "resolution"}]``."""
    variants: list[dict] = []
    attrs: dict[str, str] | None = None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = _attributes(line.split(":", 1)[1])
        elif line and not line.startswith("#") and attrs is not None:
            variants.append({"uri": line, "bandwidth": int(attrs.get("BANDWIDTH", "0")),
                             "resolution": attrs.get("RESOLUTION", "")})
            attrs = None
    return variants


def read_media(path: Path) -> list[str]:
    """The files a media playlist needs: its init segment (fMP4) and its segments, in order."""
    files = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MAP:"):
            files.append(_attributes(line.split(":", 1)[1]).get("URI", ""))
        elif line and not line.startswith("#"):
            files.append(line)
    return files


def _attributes(text: str) -> dict[str, str]:
    """Parse ``KEY=value,KEY="quoted, value"`` (commas inside quotes belong to the value)."""
    out: dict[str, str] = {}
    key, value, quoted, reading_key = "", "", False, True
    for ch in text + ",":
        if reading_key:
            if ch == "=":
                reading_key = False
            elif ch != ",":
                key += ch
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out[key.strip()] = value
            key, value, reading_key = "", "", True
        else:
            value += ch
    return out
