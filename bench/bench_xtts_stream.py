"""XTTS streaming cost: the tier's bounded streaming vs coqui's inference_stream vs one-shot inference.

    .venv/bin/python bench/bench_xtts_stream.py [--runs 3] [--threads 2] [--out bench/results/xtts.md]

Runs on tiny XTTS v2 models built from code (tests/tiny_xtts.py: 2-layer GPT, full-size HiFiGAN
decoder and speaker encoder, random weights, stop code off so every sentence has a fixed number of
codes). The GPT is cheap there, so the figures isolate what streaming adds: HiFiGAN work. Two
sentence lengths: the short one is what the chain usually sends, the long one shows how the
re-decoding in coqui's inference_stream grows with the sentence. All methods use the same loaded
model (float32, so only the streaming differs), the same speaker latents and the same chunk size
(20 codes; the tier's own first chunk comes after 10 codes, shown as a separate row). Runs are
interleaved method by method; medians are quoted.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENTENCE = "Congratulations, you are being rescued. Please do not resist."


def reference_wav(folder: Path) -> Path:
    import subprocess

    raw, wav = folder / "ref.raw.wav", folder / "ref.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw),
                    "I have a bad feeling about this. Quiet, there is a fresh one."], check=True)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(raw), "-ac", "1", "-ar", "22050",
                    str(wav)], check=True)
    return wav


def timed(chunks) -> tuple[float, float, int, int]:
    """(first chunk s, total s, chunks, samples) for an iterator of audio chunks."""
    t0 = time.perf_counter()
    first, n, samples = None, 0, 0
    for chunk in chunks:
        if first is None:
            first = time.perf_counter() - t0
        n += 1
        samples += int(chunk.shape[-1])
    return first or 0.0, time.perf_counter() - t0, n, samples


def measure(model_dir: Path, ref: Path, runs: int) -> dict[str, dict]:
    import numpy as np
    import torch

    from app.engines.tts.base import VoiceRef
    from app.engines.tts.xtts import XttsBackend

    tier = XttsBackend(model_dir, consent=True, device="cpu", quantize=False)
    tier.load()
    model = tier.model
    voice = VoiceRef("bench", reference_wav=ref)
    lat = tier.latents(voice)
    frames: dict[str, list[int]] = {}
    current: list[str] = [""]
    hook = model.hifigan_decoder.waveform_decoder.register_forward_hook(
        lambda _m, inputs, _o: frames.setdefault(current[0], []).append(int(inputs[0].shape[-1])))

    def ours(first: int):
        def run():
            tier.FIRST_CHUNK_CODES = first
            return tier.stream(SENTENCE, voice)
        return run

    def one_shot():  # a generator, so the work happens inside the timing
        yield torch.as_tensor(model.inference(SENTENCE, "en", lat.gpt_cond_latent, lat.speaker_embedding)["wav"])

    methods = {
        "tier (bounded, first chunk 10 codes)": ours(10),
        "tier (bounded, first chunk 20 codes)": ours(20),
        "coqui inference_stream (20 codes)": lambda: model.inference_stream(
            SENTENCE, "en", lat.gpt_cond_latent, lat.speaker_embedding, stream_chunk_size=20),
        "coqui inference (one shot)": one_shot,
    }
    results = {name: {"first": [], "total": []} for name in methods}
    for i in range(runs + 1):  # the first round warms up and is not counted
        for name, make in methods.items():
            current[0] = name
            frames[name] = []
            first, total, n, samples = timed(make())
            if i:
                results[name]["first"].append(first)
                results[name]["total"].append(total)
            results[name].update(chunks=n, samples=samples, frames=list(frames[name]))
    hook.remove()
    tier.FIRST_CHUNK_CODES = XttsBackend.FIRST_CHUNK_CODES
    for r in results.values():
        r["first_med"] = statistics.median(r["first"])
        r["total_med"] = statistics.median(r["total"])
        r["audio_s"] = r["samples"] / 24000
        r["decoded"] = int(np.sum(r["frames"]))
    return results


def main() -> None:
    import torch

    from bench.bench_xtts_quant import machine
    from bench.results_section import write_section
    from tests.tiny_xtts import build_tiny_xtts

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lengths", type=int, nargs="+", default=[60, 250],
                    help="gpt_max_audio_tokens of the tiny models (codes per sentence + 3)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "xtts.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    sections = []
    with tempfile.TemporaryDirectory(prefix="xtts-bench-") as tmp:
        ref = reference_wav(Path(tmp))
        for length in args.lengths:
            print(f"building a tiny XTTS with {length - 3} codes per sentence ...", flush=True)
            model_dir = build_tiny_xtts(Path(tmp) / f"xtts-{length}", max_audio_tokens=length)
            results = measure(model_dir, ref, args.runs)
            base = results["coqui inference_stream (20 codes)"]
            one_shot = results["coqui inference (one shot)"]
            audio = next(iter(results.values()))["audio_s"]
            rows = [f"### {length - 3} codes per sentence ({audio:.1f} s of audio)", "",
                    "| method | first chunk | total | total vs inference_stream | total vs one-shot | "
                    "chunks | HiFiGAN frames decoded (sum) | largest window |",
                    "| --- | --- | --- | --- | --- | --- | --- | --- |"]
            for name, r in results.items():
                rows.append(f"| {name} | {r['first_med']:.3f} s | {r['total_med']:.3f} s | "
                            f"x{r['total_med'] / base['total_med']:.2f} | "
                            f"x{r['total_med'] / one_shot['total_med']:.2f} | {r['chunks']} | "
                            f"{r['decoded']} | {max(r['frames'])} |")
                print(f"  {name}: first {r['first_med']:.3f} s, total {r['total_med']:.3f} s, "
                      f"frames {r['frames']}", flush=True)
            sections.append("\n".join(rows))

    text = "\n".join([
        "## XTTS streaming: bounded decode vs coqui (bench/bench_xtts_stream.py)",
        "",
        "Tiny XTTS v2 built from code (2-layer GPT, full-size HiFiGAN), float32, same model, latents "
        f"and sentence for every method; {args.threads} threads; median of {args.runs} runs after a "
        f"warm-up round. Machine: {machine()}; other engineers' jobs were running on the same cores, "
        "so quote the ratios. 'Frames' are HiFiGAN input frames (256 output samples each): the "
        "decoder's work. The tier's chunks join into exactly the one-shot decode of the same "
        "latents (tests/test_xtts.py checks it to 1e-5).",
        "",
        *("\n\n".join(sections).splitlines()),
    ])
    print("\n" + text)
    write_section(args.out, "bench_xtts_stream", text)
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
