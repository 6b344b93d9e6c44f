"""Video: optimise a clip with ffmpeg (H.264/H.265/VP9/AV1, adaptive HLS) and measure the result.

Qt-free; the panel in ``app/ui/video_panel.py`` runs ``optimize`` on a worker thread.
"""
from app.video.optimize import CODECS, Cancelled, Probe, Result, Tools, optimize, probe

__all__ = ["CODECS", "Cancelled", "Probe", "Result", "Tools", "optimize", "probe"]
