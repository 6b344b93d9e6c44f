"""``kaytoo video optimize INPUT --out DIR [--codec h264|h265|vp9|av1] [--hls] [--json]``.

``add_video_parser`` and ``run_video`` are wired into ``app/cli.py``; the JSON keys are the DESIGN.md
contract (``outputs``, ``input_bytes``, ``output_bytes``, ``psnr_db``, ``seconds``) plus extras.
"""
from __future__ import annotations

import sys
from pathlib import Path

from app.console import end_progress, progress_line, show
from app.video.optimize import CODECS
from app.video.optimize import optimize


def add_video_parser(subparsers) -> None:
    v = subparsers.add_parser("video", help="optimise a video (H.264/H.265/VP9/AV1, adaptive HLS)")
    # the same parser class as the caller's (kaytoo's _Parser: errors become UserError, exit 2)
    actions = v.add_subparsers(dest="action", required=True, parser_class=type(v))
    o = actions.add_parser("optimize", aliases=["optimise"], help="re-encode a video and measure it")
    o.add_argument("input", type=Path)
    o.add_argument("--out", type=Path, required=True, help="folder for the outputs (created if missing)")
    o.add_argument("--codec", default="h264", choices=CODECS)
    o.add_argument("--hls", action="store_true", help="also write an adaptive HLS set (master.m3u8)")
    o.add_argument("--json", action="store_true")


def run_video(args, paths, settings) -> int:
    def progress(fraction: float) -> None:
        if not args.json and sys.stderr.isatty():
            progress_line(f"{args.input.name}: {fraction * 100:5.1f} %")

    try:
        result = optimize(args.input, args.out, args.codec, args.hls, progress)
    finally:
        if not args.json and sys.stderr.isatty():
            end_progress()
    data = result.to_dict()
    ratio = result.output_bytes / result.input_bytes if result.input_bytes else 0.0
    lines = [f"{result.main}: {_mb(result.input_bytes)} -> {_mb(result.output_bytes)} "
             f"({ratio:.0%} of the input), PSNR {result.psnr_db:.1f} dB, {result.seconds:.1f} s "
             f"({result.encoder})"]
    if ratio > 1:
        lines.append("The result is larger than the input: the original was already compact; keep it.")
    if result.hls_master:
        names = ", ".join(r["name"] for r in result.renditions)
        lines.append(f"{result.hls_master}: HLS {result.hls_codec} {names}, {_mb(result.hls_bytes)}")
    show(args, data, "\n".join(lines))
    return 0


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"
