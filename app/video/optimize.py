"""Re-encode a video with a sensible quality preset (H.264, H.265, VP9 or AV1), optionally add an
adaptive HLS ladder, and measure what it cost (bytes) and what it kept (PSNR against the input).

ffmpeg does the work as a child process, given argument lists only. Progress comes from its
``-progress pipe:1`` key=value stream and PSNR from the psnr filter's per-frame stats on stdout, never
from scraping its log. Outputs are written under temporary names in the output folder and renamed
when everything is done, so a crash or a cancel leaves no half-written file; the input is only read.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from app import atomic
from app.errors import Cancelled, UserError  # Cancelled: every partial output is removed
from app.runtime import stop_child
from app.video import hls as hls_mod
from app.video.probe import NO_WINDOW, Tools, num, probe

CODECS = ("h264", "h265", "vp9", "av1")
PSNR_WINDOW_S = 10.0        # PSNR of a long video is measured on this much of its middle
# Rough encode cost per codec relative to H.264 (field notes: 10 s of 720p), to weigh progress.
_COST = {"h264": 1.0, "h265": 2.0, "vp9": 2.5, "av1": 2.5}


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


Progress = Callable[[float], None]


# -- encoder presets --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preset:
    codec: str
    encoder: str
    muxer: str          # mp4 | webm
    video: list[str]
    audio: list[str]

    @property
    def ext(self) -> str:
        return self.muxer

    @property
    def mux(self) -> list[str]:
        # faststart moves the index to the front so a player can start before the whole file loads
        return ["-movflags", "+faststart"] if self.muxer == "mp4" else []


def preset(codec: str, encoders: set[str]) -> Preset:
    aac = ["-c:a", "aac", "-b:a", "128k"]
    if codec == "h264":
        return Preset(codec, _need(encoders, "libx264", "H.264"), "mp4",
                      ["-c:v", "libx264", "-preset", "medium", "-crf", "23", "-pix_fmt", "yuv420p"], aac)
    if codec == "h265":  # the hvc1 tag is what Apple players need to play HEVC in MP4
        return Preset(codec, _need(encoders, "libx265", "H.265"), "mp4",
                      ["-c:v", "libx265", "-preset", "medium", "-crf", "28", "-tag:v", "hvc1",
                       "-x265-params", "log-level=error", "-pix_fmt", "yuv420p"], aac)
    if codec == "vp9":
        return Preset(codec, _need(encoders, "libvpx-vp9", "VP9"), "webm",
                      ["-c:v", "libvpx-vp9", "-crf", "32", "-b:v", "0", "-row-mt", "1",
                       "-cpu-used", "4", "-deadline", "good", "-pix_fmt", "yuv420p"],
                      ["-c:a", "libopus", "-b:a", "96k"])
    if codec == "av1":
        if "libsvtav1" in encoders:
            video = ["-c:v", "libsvtav1", "-preset", "8", "-crf", "35", "-pix_fmt", "yuv420p"]
        else:  # libaom is slower at any setting; cpu-used 6 keeps it tolerable
            _need(encoders, "libaom-av1", "AV1")
            video = ["-c:v", "libaom-av1", "-crf", "35", "-b:v", "0", "-cpu-used", "6", "-row-mt", "1",
                     "-pix_fmt", "yuv420p"]
        return Preset(codec, video[1], "mp4", video, aac)
    raise UserError(f"Unknown codec '{codec}'; choose one of {', '.join(CODECS)}.")


def _need(encoders: set[str], name: str, label: str) -> str:
    if name not in encoders:
        raise UserError(f"This ffmpeg has no {label} encoder ({name}); install a full ffmpeg build.")
    return name


def hls_codec(codec: str) -> str:
    """HLS renditions are H.265 when asked for, otherwise H.264: VP9 and AV1 HLS play almost nowhere
    (and AV1 not at all in Qt), while H.264 HLS plays everywhere."""
    return "h265" if codec == "h265" else "h264"


def _hls_video_args(codec: str, gop: int) -> list[str]:
    # scene-cut keyframes off, fixed GOP: segments start at the same instants in every rendition
    if codec == "h265":
        return ["-c:v", "libx265", "-preset", "medium", "-crf", "28", "-tag:v", "hvc1",
                "-x265-params", f"keyint={gop}:min-keyint={gop}:scenecut=0:log-level=error"]
    return ["-c:v", "libx264", "-preset", "medium", "-crf", "23", "-x264-params", "scenecut=0"]


# -- the result -------------------------------------------------------------------------------------
@dataclass
class Result:
    codec: str
    encoder: str
    main: Path                      # the re-encoded file (the codec asked for)
    input_bytes: int
    output_bytes: int               # of the main file, so output/input is the size ratio
    psnr_db: float                  # main file against the input (100.0 when identical)
    seconds: float                  # wall time of the whole job
    duration_s: float
    width: int
    height: int
    hls_master: Path | None = None
    hls_codec: str | None = None
    hls_bytes: int = 0
    renditions: list[dict] = field(default_factory=list)

    @property
    def outputs(self) -> list[Path]:
        return [self.main] + ([self.hls_master] if self.hls_master else [])

    @property
    def preview(self) -> Path | None:
        """What Qt can play: the main file, or for AV1 (which Qt cannot decode) the H.264 HLS set."""
        if self.codec != "av1":
            return self.main
        return self.hls_master

    def to_dict(self) -> dict:
        return {"outputs": [str(p) for p in self.outputs], "input_bytes": self.input_bytes,
                "output_bytes": self.output_bytes, "psnr_db": self.psnr_db,
                "seconds": round(self.seconds, 3), "codec": self.codec, "encoder": self.encoder,
                "main": str(self.main), "duration_s": round(self.duration_s, 3),
                "width": self.width, "height": self.height,
                "preview": str(self.preview) if self.preview else None,
                "hls": None if not self.hls_master else {
                    "master": str(self.hls_master), "codec": self.hls_codec, "bytes": self.hls_bytes,
                    "renditions": self.renditions}}


# -- the job ----------------------------------------------------------------------------------------
def output_names(input: Path | str, out_dir: Path | str, codec: str) -> tuple[Path, Path]:
    """Where optimize() writes: ``<stem>-<codec>.<ext>`` and the ``<stem>-hls-<hls codec>`` folder."""
    stem = Path(input).stem
    ext = "webm" if codec == "vp9" else "mp4"
    return Path(out_dir) / f"{stem}-{codec}.{ext}", Path(out_dir) / f"{stem}-hls-{hls_codec(codec)}"


def optimize(input: Path | str, out_dir: Path | str, codec: str = "h264", hls: bool = False,
             progress: Progress | None = None, cancel: CancelFlag | None = None,
             tools: Tools | None = None) -> Result:
    """Re-encode ``input`` into ``out_dir`` (created if missing); with ``hls`` also write an adaptive
    HLS set. ``progress(fraction)`` rises from 0.0 to exactly 1.0; setting ``cancel`` stops ffmpeg,
    removes every partial output and raises Cancelled."""
    t0 = time.monotonic()
    codec = str(codec or "").strip().lower()
    if codec not in CODECS:
        raise UserError(f"Unknown codec '{codec}'; choose one of {', '.join(CODECS)}.")
    tools = tools or Tools.find()
    info = probe(input, tools)
    src = Path(input).expanduser().resolve()
    spec = preset(codec, tools.encoders())
    out = _prepare_out_dir(Path(out_dir).expanduser())
    main_final, hls_final = output_names(src, out, codec)
    _check_targets(src, main_final, hls_final if hls else None)

    ladder = hls_mod.ladder(info.height) if hls else []
    h_codec = hls_codec(codec) if hls else None
    window = min(info.duration_s, PSNR_WINDOW_S)
    weights = [_COST[codec],
               (0.2 + sum((r.height / info.height) ** 2 for r in ladder) * _COST[h_codec]) if hls else 0.0,
               0.15 * window / info.duration_s]
    meter = _Meter(progress, weights)
    token = uuid.uuid4().hex[:8]
    main_tmp = out / f".{main_final.name}.{token}.part"
    hls_tmp = out / f".kaytoo-hls.{token}.part"
    try:
        meter.stage(0, 0.0)
        width, height = info.width - info.width % 2, info.height - info.height % 2
        scale = ["-vf", f"scale={width}:{height}"] if (width, height) != (info.width, info.height) else []
        audio = (["-map", "0:a:0"] + spec.audio) if info.has_audio else ["-an"]
        _ffmpeg(tools, ["-i", str(src), "-map", "0:V:0", *audio, *scale, *spec.video, *spec.mux,
                        "-f", spec.muxer, str(main_tmp)],
                _time_meter(lambda f: meter.stage(0, f), info.duration_s), cancel, "encode", src.name)

        if hls:
            hls_tmp.mkdir()
            gop = max(1, round(info.fps * hls_mod.SEGMENT_S))
            args = hls_mod.ffmpeg_args(src, ladder, info.has_audio, _hls_video_args(h_codec, gop), info.fps)
            _ffmpeg(tools, args, _time_meter(lambda f: meter.stage(1, f), info.duration_s), cancel,
                    "make the HLS renditions of", src.name, cwd=hls_tmp)
            if not (hls_tmp / hls_mod.MASTER).is_file():
                raise UserError(f"ffmpeg wrote no HLS master playlist for {src.name}.")

        start = (info.duration_s - window) / 2 if info.duration_s > 3 * window else 0.0
        psnr = measure_psnr(main_tmp, src, (width, height), start, window, info.fps, tools,
                            lambda f: meter.stage(2, f), cancel)

        _publish_file(main_tmp, main_final)
        renditions: list[dict] = []
        hls_bytes = 0
        if hls:
            _publish_dir(hls_tmp, hls_final, token)
            renditions = [dict(v, name=v["uri"].split("/")[0]) for v in
                          hls_mod.read_master(hls_final / hls_mod.MASTER)]
            hls_bytes = sum(p.stat().st_size for p in hls_final.rglob("*") if p.is_file())
    except BaseException:
        main_tmp.unlink(missing_ok=True)
        shutil.rmtree(hls_tmp, ignore_errors=True)
        raise
    meter.done()
    return Result(codec=codec, encoder=spec.encoder, main=main_final,
                  input_bytes=src.stat().st_size, output_bytes=main_final.stat().st_size,
                  psnr_db=psnr, seconds=time.monotonic() - t0, duration_s=info.duration_s,
                  width=info.width, height=info.height,
                  hls_master=(hls_final / hls_mod.MASTER) if hls else None, hls_codec=h_codec,
                  hls_bytes=hls_bytes, renditions=renditions)


def measure_psnr(distorted: Path, reference: Path, size: tuple[int, int], start: float = 0.0,
                 length: float = PSNR_WINDOW_S, fps: float = 25.0, tools: Tools | None = None,
                 progress: Progress | None = None, cancel: CancelFlag | None = None) -> float:
    """Average PSNR (dB, all planes weighted as ffmpeg does) of ``distorted`` against ``reference``
    over ``length`` seconds from ``start``; both are scaled to ``size`` in yuv420p first."""
    tools = tools or Tools.find()
    w, h = size
    graph = (f"[0:V:0]scale={w}:{h}:flags=bicubic,format=yuv420p[d];"
             f"[1:V:0]scale={w}:{h}:flags=bicubic,format=yuv420p[r];[d][r]psnr=stats_file=-")
    window = ["-ss", f"{start:.3f}", "-t", f"{length:.3f}"]
    expected = max(1.0, fps * length)
    mse: list[float] = []

    def on_line(line: str) -> None:
        fields = dict(part.split(":", 1) for part in line.split() if ":" in part)
        if "mse_avg" in fields:
            mse.append(float(fields["mse_avg"]))
            if progress:
                progress(len(mse) / expected)

    _ffmpeg(tools, [*window, "-i", str(distorted), *window, "-i", str(Path(reference).resolve()),
                    "-lavfi", graph, "-f", "null", "-"], on_line, cancel, "compare", Path(reference).name,
            progress_pipe=False)
    if not mse:
        raise UserError(f"No frames could be compared with {Path(reference).name}.")
    mean = sum(mse) / len(mse)
    return 100.0 if mean <= 0 else round(min(100.0, 10 * math.log10(255.0 ** 2 / mean)), 2)


# -- running ffmpeg ---------------------------------------------------------------------------------
def _ffmpeg(tools: Tools, args: list[str], on_line: Callable[[str], None], cancel: CancelFlag | None,
            what: str, name: str, cwd: Path | None = None, progress_pipe: bool = True) -> None:
    """Run ffmpeg, feeding each stdout line to ``on_line``; stop it when ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    cmd = [tools.ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "error", "-y"]
    if progress_pipe:
        cmd += ["-progress", "pipe:1"]
    env = dict(os.environ, SVT_LOG="1")     # SVT-AV1 logs to stderr on its own unless told
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                cwd=cwd, env=env, creationflags=NO_WINDOW)
        stopped = threading.Event()
        if cancel is not None:
            threading.Thread(target=_watch, args=(proc, cancel, stopped), daemon=True,
                             name="ffmpeg-cancel").start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                on_line(raw.decode("utf-8", "replace").strip())
            rc = proc.wait()
        except BaseException:
            stop_child(proc)
            raise
        finally:
            if proc.stdout:
                proc.stdout.close()
        if stopped.is_set() or (cancel is not None and cancel.is_set()):
            raise Cancelled()
        if rc != 0:
            err.seek(0)
            lines = [ln.strip() for ln in err.read().decode("utf-8", "replace").splitlines() if ln.strip()]
            why = lines[-1].rstrip(".") if lines else f"exit code {rc}"
            raise UserError(f"ffmpeg could not {what} {name}: {why}.")


def _watch(proc: subprocess.Popen, cancel: CancelFlag, stopped: threading.Event) -> None:
    while proc.poll() is None:
        if cancel.wait(0.1):
            stopped.set()
            stop_child(proc)
            return


def _time_meter(report: Callable[[float], None], duration_s: float) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        key, _, value = line.partition("=")
        if key == "out_time_us":
            t = num(value)
            if t:
                report(t / 1e6 / duration_s)
        elif key == "progress" and value == "end":
            report(1.0)
    return on_line


class _Meter:
    """Turns per-stage fractions into one rising 0..1 figure; 1.0 only when everything is done."""

    def __init__(self, callback: Progress | None, weights: list[float]):
        total = sum(weights) or 1.0
        self.callback = callback
        self.spans = []
        start = 0.0
        for w in weights:
            self.spans.append((start / total, w / total))
            start += w
        self.last = -1.0

    def stage(self, index: int, fraction: float) -> None:
        start, width = self.spans[index]
        self._emit(min(0.999, start + width * max(0.0, min(1.0, fraction))))

    def done(self) -> None:
        self._emit(1.0)

    def _emit(self, value: float) -> None:
        if value > self.last and self.callback is not None:
            self.last = value
            self.callback(value)


# -- files ------------------------------------------------------------------------------------------
def _prepare_out_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file, not a folder; give a folder for the outputs.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"The output folder {out} could not be created ({e.strerror}).") from None
    if not os.access(out, os.W_OK):
        raise UserError(f"The output folder {out} is not writable.")
    return out.resolve()


def _check_targets(src: Path, main: Path, hls_dir: Path | None) -> None:
    if main.exists() and (main.is_dir() or main.resolve() == src):
        raise UserError(f"Writing {main.name} would replace " +
                        ("a folder" if main.is_dir() else "the input itself") + "; choose another output folder.")
    if hls_dir is not None and hls_dir.exists():
        if not hls_dir.is_dir():
            raise UserError(f"{hls_dir} is a file; move it or choose another output folder.")
        if hls_dir.resolve() in src.parents:
            raise UserError(f"The input lies inside {hls_dir.name}, which the HLS output would replace.")


def _publish_file(tmp: Path, final: Path) -> None:
    _fsync(tmp)
    os.replace(tmp, final)
    atomic.fsync_dir(final.parent)


def _publish_dir(tmp: Path, final: Path, token: str) -> None:
    """Swap a finished folder in; an older one is moved aside first and removed only afterwards."""
    for p in tmp.rglob("*"):
        if p.is_file():
            _fsync(p)
    old = final.with_name(f".{final.name}.{token}.old")
    had_old = final.exists()
    if had_old:
        os.replace(final, old)
    try:
        os.replace(tmp, final)
    except OSError:
        if had_old:
            os.replace(old, final)
        raise
    atomic.fsync_dir(final.parent)
    shutil.rmtree(old, ignore_errors=True)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())

