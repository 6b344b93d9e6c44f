"""Piper's VITS graph in two, so a sentence's first audio comes before its whole decode.

A Piper voice is one ONNX graph: phoneme ids -> text encoder, durations, flow -> latent frames
z -> the HiFi-GAN-like decoder (``/dec/...`` nodes, about two thirds of the time) -> audio, 256
samples per frame. Split at the tensor the decoder reads, the encoder runs once per sentence and
the decoder over windows of z, each with context frames either side whose samples are dropped.
The decoder's convolutions see a bounded number of frames either way (the bundled medium voice:
12; with 8 windows differ by 1e-3, with 12 by 5e-7, bench/bench_piper_windows.py), so the
windows join into the same audio. The context is found per voice at load (fit_context).
"""
from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

CONTEXTS = (12, 24, 48)  # context frames tried either side of a window, smallest first
TOLERANCE = 1e-4         # windows vs the whole decode, on a [-1, 1] scale
FIRST_WINDOW = 24  # frames (~0.28 s): the first audio comes after the encoder and this much
MAX_WINDOW = 192   # frames: windows double up to this (~2.2 s), so cancel is seen within one


class Unsplittable(Exception):
    """The graph is not laid out as a Piper VITS export: the whole-sentence path serves."""


@dataclass
class SplitVoice:
    encoder: object   # onnxruntime.InferenceSession: input, input_lengths, scales -> z
    decoder: object   # onnxruntime.InferenceSession: z -> audio
    latent: str       # the decoder's input name
    context: int = CONTEXTS[0]  # frames decoded either side of a window and dropped
    peak: float = 1.0           # the raw output's peak on the calibration sentence

    def latents(self, phoneme_ids: list[int], scales: np.ndarray) -> np.ndarray:
        """z for one sentence, shape (1, channels, frames)."""
        ids = np.array([phoneme_ids], dtype=np.int64)
        args = {"input": ids, "input_lengths": np.array([ids.shape[1]], dtype=np.int64), "scales": scales}
        return self.encoder.run(None, args)[0]

    def decode(self, z: np.ndarray, start: int, end: int) -> np.ndarray:
        """Audio of frames start..end of z, decoded with ``context`` frames either side."""
        a, b = max(0, start - self.context), min(z.shape[2], end + self.context)
        audio = self.decoder.run(None, {self.latent: z[:, :, a:b]})[0].reshape(-1)
        hop = len(audio) // (b - a)
        return audio[(start - a) * hop:(end - a) * hop]

    def windows(self, z: np.ndarray, run: threading.Lock,
                cancel: threading.Event | None = None) -> Iterator[np.ndarray]:
        """Raw audio of z window by window (small first, doubling), each decoded under ``run``;
        stops before the next window once ``cancel`` is set."""
        start, size, frames = 0, FIRST_WINDOW, z.shape[2]
        while start < frames and not (cancel is not None and cancel.is_set()):
            end = min(frames, start + size)
            if frames - end < FIRST_WINDOW // 2:  # no sliver of a last window
                end = frames
            with run:
                audio = self.decode(z, start, end)
            yield audio
            start, size = end, min(2 * size, MAX_WINDOW)

    def calibrate(self, phoneme_ids: list[int], length_scale: float, run: threading.Lock) -> None:
        """Without noise (so the same at every load), on a sentence long enough for three
        windows: ``context``, the smallest of CONTEXTS whose windows give the whole decode,
        and ``peak``, that decode's peak."""
        with run:
            z = self.latents(phoneme_ids, np.array([0.0, length_scale, 0.0], dtype=np.float32))
        self.peak = max(float(np.max(np.abs(self.fit_context(z, run)))), 1e-3)

    def fit_context(self, z: np.ndarray, run: threading.Lock) -> np.ndarray:
        """Set ``context`` to the smallest of CONTEXTS whose windows give the whole decode of z;
        returns that decode."""
        with run:
            whole = self.decoder.run(None, {self.latent: z})[0].reshape(-1)
        for context in CONTEXTS:
            self.context = context
            joined = np.concatenate(list(self.windows(z, run)))
            if joined.shape == whole.shape and float(np.max(np.abs(joined - whole))) < TOLERANCE:
                return whole
        raise Unsplittable(f"windows differ from the whole decode even with {self.context} frames of context")


def cache_files(onnx_path: Path, cache_dir: Path) -> tuple[Path, Path]:
    """Where the split graphs of this version of the voice file are kept."""
    st = onnx_path.stat()
    key = f"{onnx_path.stem}-{st.st_size}-{st.st_mtime_ns}"
    return Path(cache_dir) / f"{key}.encoder.onnx", Path(cache_dir) / f"{key}.decoder.onnx"


def write_cache(onnx_path: Path, cache_dir: Path) -> None:
    """Cut the voice's graph and write both parts (atomically; older versions' parts go).
    Reading the graph takes ~4x the file in memory, handed back to the system afterwards."""
    from app.atomic import write_bytes
    from app.engines.threads import trim_heap

    files = cache_files(onnx_path, cache_dir)
    try:
        for model, path in zip(_extract(onnx_path), files):
            write_bytes(path, model.SerializeToString())
    finally:
        trim_heap()
    for old in Path(cache_dir).glob(f"{onnx_path.stem}-*.onnx"):
        if old not in files:
            old.unlink(missing_ok=True)


def cut_in_background(onnx_path: Path, cache_dir: Path):
    """A child process at low priority that runs write_cache (in the engine's process the cut
    holds the GIL for seconds, and leaves the heap larger). It is a daemon: it dies with the
    engine, leaving at most a temp file that app.leftovers sweeps."""
    from multiprocessing import get_context

    child = get_context("spawn").Process(target=_cut, args=(onnx_path, cache_dir),
                                         name="piper-split", daemon=True)
    child.start()
    return child


def _cut(onnx_path: Path, cache_dir: Path) -> None:
    if hasattr(os, "nice"):
        os.nice(10)
    try:
        write_cache(onnx_path, cache_dir)
    except Unsplittable as e:
        sys.exit(f"The Piper voice {onnx_path.name} is spoken whole sentences at a time: {e}")


def split(files: tuple[Path, Path], session_options) -> SplitVoice:
    """Encoder and decoder sessions from the cached parts (cache_files, write_cache)."""
    import onnxruntime

    try:
        encoder, decoder = (onnxruntime.InferenceSession(str(f), sess_options=session_options,
                                                         providers=["CPUExecutionProvider"])
                            for f in files)
    except Exception as e:
        for f in files:  # damaged: cut again at the next start
            f.unlink(missing_ok=True)
        raise Unsplittable(f"the split graph could not be loaded ({e})") from e
    return SplitVoice(encoder, decoder, decoder.get_inputs()[0].name)


def _extract(onnx_path: Path) -> tuple:
    """The encoder and decoder graphs (onnx ModelProtos) of a Piper voice."""
    import onnx
    from onnx.utils import Extractor

    try:
        model = onnx.load(str(onnx_path))
    except Exception as e:
        raise Unsplittable(f"the graph could not be read ({e})") from e
    graph = model.graph
    inputs = [i.name for i in graph.input]
    if sorted(inputs) != ["input", "input_lengths", "scales"]:
        raise Unsplittable(f"inputs {inputs}")  # e.g. a multi-speaker voice: its decoder needs sid
    latent = _decoder_input(graph)
    try:
        extractor = Extractor(model)
        return extractor.extract_model(inputs, [latent]), extractor.extract_model([latent], [graph.output[0].name])
    except Exception as e:
        raise Unsplittable(f"the graph could not be split ({e})") from e


def _decoder_input(graph) -> str:
    """The one tensor from outside the ``/dec/`` nodes that they read (weights aside)."""
    weights = {i.name for i in graph.initializer}
    dec = [n for n in graph.node if n.name.startswith("/dec/")]
    inside = {o for n in dec for o in n.output}
    outside = {i for n in dec for i in n.input if i and i not in weights and i not in inside}
    if len(outside) != 1:
        raise Unsplittable(f"the decoder reads {sorted(outside) or 'nothing'}")
    return outside.pop()
