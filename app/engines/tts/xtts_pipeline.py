"""XTTS streaming with the GPT and HiFiGAN overlapped (the ONNX tier's path on a multi-core CPU).

``windowed_chunks`` runs the two stages one after the other: while HiFiGAN decodes a window, no
codes are generated, so a chunk costs GPT + HiFiGAN. Here the GPT steps run in a worker thread and
hand their latents over in the same batches (``chunk_sizes``), while the caller's thread decodes
the previous batch: a chunk then costs about the slower of the two stages. The decoder sees the
same pushes and decode calls in the same order, so the chunks are exactly those of
``windowed_chunks`` for the same steps. The first batch is decoded alone, the worker waiting:
the GPT uses both cores by itself, and a first HiFiGAN window sharing them with it delayed the
first audio (0.96 s against 0.70 s serial, quiet 2-core machine, bench/results/xtts.md).

Bounded: at most ``ahead`` batches wait for the decoder (latents only, 4 KiB a code). Cancel, an
error on either side or the consumer closing the stream stops the worker within one GPT step,
and the stream returns only after the worker has closed ``steps``.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterator, Sequence

import numpy as np

from app.engines.tts.xtts import WindowedDecoder, chunk_sizes

POLL_S = 0.05   # how often a blocked stage looks at cancel/stop


def pipelined_chunks(steps: Iterator, decoder: WindowedDecoder, first_codes: int, codes: int | Sequence[int],
                     cancel: threading.Event | None, ahead: int = 2) -> Iterator[np.ndarray]:
    """``windowed_chunks``' chunks, with the GPT ``steps`` consumed in a worker thread."""
    batches: queue.Queue = queue.Queue(maxsize=ahead)
    stop, first_decoded = threading.Event(), threading.Event()

    def halted() -> bool:
        return stop.is_set() or (cancel is not None and cancel.is_set())

    def hand_over(item) -> bool:
        while not halted():
            try:
                batches.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def generate() -> None:
        try:
            sizes, batch = chunk_sizes(first_codes, codes), []
            due = next(sizes)
            while not halted():
                item = next(steps, None)   # one GPT step
                if item is None:
                    hand_over((batch, True))
                    return
                batch.append(item[1])
                if len(batch) >= due:
                    if not hand_over((batch, False)):
                        return
                    while not first_decoded.wait(POLL_S):   # the first chunk is decoded alone
                        if halted():
                            return
                    batch, due = [], next(sizes)
        except BaseException as e:  # the GPT failed: the consumer raises it
            hand_over(e)
        finally:
            steps.close()

    worker = threading.Thread(target=generate, name="xtts-gpt", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = batches.get(timeout=POLL_S)
            except queue.Empty:
                if halted() or not worker.is_alive() and batches.empty():
                    return
                continue
            if isinstance(item, BaseException):
                raise item
            batch, final = item
            for latent in batch:
                decoder.push(latent)
            wav = decoder.decode(final=final)   # HiFiGAN, while the worker generates the next batch
            first_decoded.set()
            if halted():
                return
            if wav.size:
                yield wav
            if final:
                return
    finally:
        stop.set()
        worker.join()
