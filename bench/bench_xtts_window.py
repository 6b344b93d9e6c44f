"""How much left/right context the windowed HiFiGAN decode needs, and what the chunk cadence costs.

    .venv/bin/python bench/bench_xtts_window.py [--codes 120] [--contexts 16 13 8 4] [--out bench/results/xtts.md]

Both XTTS tiers stream through ``WindowedDecoder``: each chunk decodes its new frames plus
``CONTEXT`` frames of HiFiGAN's frame grid on each side, so that the chunks join into what one
decode of the whole sentence gives. This measures, for each context, the largest and the RMS
difference between the joined chunks and a whole-sentence decode of the same latents (differences
only arise near the joins), and the HiFiGAN work (grid frames decoded per frame of audio) for the
tier's cadence and longer chunks. HiFiGAN is coqui's, built with random weights: the decoder of the
tiny test model (64-wide input) and of the full-size model (1024-wide); latents are random normal,
one per GPT code. Trained weights may spread further than random ones: a quality figure, not a
proof (the default keeps a margin).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def decoder_for(width: int, seed: int = 0):
    import torch
    from TTS.tts.layers.xtts.hifigan_decoder import HifiDecoder

    torch.manual_seed(seed)
    dec = HifiDecoder(decoder_input_dim=width).eval()
    return dec, torch.randn(1, 512, 1) * 0.05


def stream(dec, g, latents, context: int, first: int, every: int):
    """The tier's streaming over these latents: audio, and the grid frames decoded per call."""
    import numpy as np

    from app.engines.tts.xtts import StreamingDecoder, windowed_chunks

    sd = StreamingDecoder(dec, g)
    sd.CONTEXT = context
    steps = ((0, latent) for latent in latents)   # a generator, as the GPT's
    audio = np.concatenate(list(windowed_chunks(steps, sd, first, every, None)))
    return audio, sd


def whole(dec, g, latents):
    import torch

    from app.engines.tts.xtts import StreamingDecoder

    sd = StreamingDecoder(dec, g)
    for latent in latents:
        sd.push(latent)
    with torch.inference_mode():
        return dec.waveform_decoder(sd._grid(), g=g).reshape(-1).numpy()


def measure(width: int, codes: int, contexts: list[int], cadences: list[tuple[int, int]]) -> list[dict]:
    import numpy as np
    import torch

    dec, g = decoder_for(width)
    torch.manual_seed(1)
    latents = list(torch.randn(codes, width))
    ref = whole(dec, g, latents)
    rows = []
    for first, every in cadences:
        for context in contexts:
            audio, sd = stream(dec, g, latents, context, first, every)
            diff = audio - ref[:audio.size]
            rows.append({"width": width, "first": first, "every": every, "context": context,
                         "max": float(np.abs(diff).max()), "rms": float(np.sqrt(np.mean(diff ** 2))),
                         "signal_rms": float(np.sqrt(np.mean(ref ** 2))), "calls": len(sd.windows),
                         "work": sum(sd.windows) / (audio.size / sd.hop), "largest": max(sd.windows)})
            print(rows[-1], flush=True)
    return rows


def table(rows: list[dict], codes: int) -> str:
    lines = ["## XTTS streaming: HiFiGAN context and chunk cadence (bench/bench_xtts_window.py)", "",
             f"coqui's HiFiGAN with random weights, random latents for {codes} codes "
             f"({codes * 1024 / 22050:.1f} s of audio), float32 torch. 'max'/'RMS': the streamed chunks "
             "against one decode of the whole sentence (the signal's RMS beside it); 'work': HiFiGAN "
             "grid frames decoded per frame of audio (1.00 = no overlap).", "",
             "| decoder input | cadence (codes: first, then every) | context (frames each side) | max diff | "
             "RMS diff | signal RMS | HiFiGAN calls | work | largest window |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['width']} | {r['first']}, {r['every']} | {r['context']} | {r['max']:.1e} | "
                     f"{r['rms']:.1e} | {r['signal_rms']:.2f} | {r['calls']} | x{r['work']:.2f} | {r['largest']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codes", type=int, default=120)
    ap.add_argument("--contexts", type=int, nargs="+", default=[16, 13, 8, 4])
    ap.add_argument("--widths", type=int, nargs="+", default=[64, 1024])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    for width in args.widths:
        longer = [(10, 40)] if width == args.widths[-1] else []   # the cadence: larger chunks amortise context
        rows += measure(width, args.codes, args.contexts, [(10, 20)] + longer)
    text = table(rows, args.codes)
    print(text)
    if args.out:
        from bench.bench_xtts_quant import write_section

        write_section(args.out, "bench_xtts_window", text)


if __name__ == "__main__":
    main()
