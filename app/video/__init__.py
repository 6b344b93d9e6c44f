"""Video: optimise a clip with ffmpeg (H.264/H.265/VP9/AV1, adaptive HLS) and measure the result.

Qt-free: probe.py reads what a file holds, optimize.py encodes and measures, hls.py builds the
ladder; the panel in ``app/ui/video_panel.py`` runs ``optimize`` on a worker thread.
"""
from app.video.optimize import CODECS, Cancelled, Result, optimize
from app.video.probe import Probe, Tools, probe

__all__ = ["CODECS", "Cancelled", "Probe", "Result", "Tools", "optimize", "probe"]
