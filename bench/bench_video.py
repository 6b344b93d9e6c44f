"""Video optimisation: encode time and size per codec for a 10 s 720p clip, against H.264.

    .venv/bin/python bench/bench_video.py [--runs 3] [--out bench/results/video.md]

The clip is generated: ffmpeg's testsrc2 pattern (moving shapes, gradients, a counter) at 1280x720,
30 fps, with light temporal noise as a camera would add, and a 440 Hz tone; stored nearly losslessly
(x264 CRF 12) as the "camera original". Each case runs ``app.video.optimize`` as the app does
(encode + PSNR); the PSNR step is also timed on its own so the encode time can be told apart.
Cases are interleaved run by run, so the load other jobs put on the shared machine falls on all of
them alike. Reports medians and each figure's ratio to H.264 measured in the same run.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import atomic  # noqa: E402
from app.video.optimize import measure_psnr, optimize  # noqa: E402
from app.video.probe import Tools  # noqa: E402

CASES = [("h264", "h264", False), ("h265", "h265", False), ("vp9", "vp9", False),
         ("av1", "av1", False), ("h264 + HLS", "h264", True)]


def make_clip(path: Path, seconds: int = 10) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                    "-vf", "noise=alls=6:allf=t", "-c:v", "libx264", "-preset", "veryfast", "-crf", "12",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", str(path)], check=True)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, help="write the markdown section here")
    args = ap.parse_args()

    tools = Tools.find()
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp:
        tmp = Path(tmp)
        src = make_clip(tmp / "clip720.mp4")
        times: dict[str, list[float]] = {label: [] for label, _, _ in CASES}
        psnr_times: dict[str, list[float]] = {label: [] for label, _, _ in CASES}
        last: dict[str, object] = {}
        loads = [load0]
        for run in range(args.runs):
            for label, codec, hls in CASES:
                loads.append(os.getloadavg()[0])
                out = tmp / f"out-{run}-{label.replace(' ', '')}"
                r = optimize(src, out, codec, hls=hls, tools=tools)
                times[label].append(r.seconds)
                t0 = time.perf_counter()
                measure_psnr(r.main, src, (r.width, r.height), 0.0, 10.0, 30.0, tools)
                psnr_times[label].append(time.perf_counter() - t0)
                last[label] = r
                print(f"run {run + 1}/{args.runs} {label:11} {r.seconds:6.2f} s  "
                      f"{r.output_bytes / 1e6:6.2f} MB  PSNR {r.psnr_db:5.2f} dB", file=sys.stderr)
        input_mb = src.stat().st_size / 1e6

    base_t = statistics.median(times["h264"])
    base_b = last["h264"].output_bytes
    rows = []
    for label, codec, hls in CASES:
        r = last[label]
        t = statistics.median(times[label])
        p = statistics.median(psnr_times[label])
        size = r.output_bytes + (r.hls_bytes if hls else 0)
        what = f"{r.encoder}" + (f" + {len(r.renditions)} renditions " +
                                 "/".join(v['name'] for v in r.renditions) if hls else "")
        rows.append(f"| {label} | {what} | {t:.2f} | {t - p:.2f} | ×{t / base_t:.2f} | "
                    f"{size / 1e6:.2f} | ×{size / base_b:.2f} | {r.psnr_db:.2f} |")
    section = "\n".join([
        "## Video optimisation (ffmpeg)",
        "",
        f"Machine: {os.cpu_count()} cores, no GPU, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; 1-min load average {min(loads):.1f} to "
        f"{max(loads):.1f} during the run (other engineers' jobs shared the machine, so absolute times are noisy: compare the ratios).",
        f"ffmpeg: `{tools.ffmpeg}`. Clip: 10 s testsrc2 1280x720 30 fps with light temporal noise and "
        f"a tone, stored at x264 CRF 12 ({input_mb:.1f} MB). `optimize()` as the app runs it "
        "(presets: H.264 CRF 23 medium; H.265 CRF 28 medium; VP9 CRF 32 cpu-used 4 row-mt; AV1 "
        "SVT-AV1 preset 8 CRF 35; HLS fMP4 H.264 CRF 23 capped per rendition). Medians of "
        f"{args.runs} runs, cases interleaved. Baseline for the ratios: H.264 in the same run. "
        "Measured with `.venv/bin/python bench/bench_video.py`.",
        "",
        "\"total s\" is the whole job (encode + PSNR on up to 10 s); \"encode s\" subtracts the PSNR "
        "step timed on its own. Size counts the main file, plus every HLS file for the HLS row.",
        "",
        "| case | encoder | total s | encode s | time vs H.264 | size MB | size vs H.264 | PSNR dB |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        ""])
    print(section)
    if args.out:
        atomic.write_text(args.out, section + "\n")


if __name__ == "__main__":
    main()
