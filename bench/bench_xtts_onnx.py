"""Full-size XTTS v2 on the CPU: torch FP32, torch INT8 (today's tier) and ONNX Runtime INT8, side by side.

    .venv/bin/python bench/bench_xtts_onnx.py [--work /tmp/kaytoo-xtts-full] [--runs 3] [--threads 2]
                                              [--seconds 5] [--out bench/results/xtts.md]

The model is XTTS v2 built from its published configuration with random weights (the hub is out
of reach) and the stop code off, saved like the hub's model.pth; the ONNX variant uses the
packaged weightless graphs filled by the torch-free converter (timed too). Each variant runs in
its own process through the tier the app uses (``XttsBackend`` / ``XttsOnnxBackend``):
load time and peak memory while loading; then per run one sentence streamed until ``--seconds``
of audio: time to the first chunk and real-time factor (elapsed / audio); GPT ms per code
(prompt + 60 codes, generator only); HiFiGAN time for one streaming window (119 frames). Medians
after a warm-up. Ratios are against torch INT8 measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = {"torch-fp32": "torch FP32", "torch-int8": "torch INT8 (Conv1D→Linear + dynamic; today's tier)",
            "onnx-int8": "ONNX Runtime INT8 GPT (per-channel dynamic), FP32 HiFiGAN"}
SENTENCE = ("The captain says you are a friend, and I will not kill you, but the odds of "
            "success are not in our favour today.")
GPT_CODES = 60
WINDOW = 119   # HiFiGAN frames per streaming window (bench_xtts_stream: largest window)


def rss_mib() -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def reference_wav(folder: Path) -> Path:
    out = folder / "reference-22k.wav"
    if not out.exists():
        raw = folder / "reference.raw.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw),
                        "I have a bad feeling about this. Quiet, there is a fresh one. Congratulations, "
                        "you are being rescued, please do not resist."], check=True)
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(raw), "-ac", "1", "-ar", "22050",
                        str(out)], check=True)
    return out


def run_variant(variant: str, model_dir: Path, runs: int, threads: int, seconds: float, work: Path) -> dict:
    import numpy as np

    from app.engines.tts.base import VoiceRef

    t0 = time.perf_counter()
    if variant.startswith("torch"):
        import torch

        from app.engines.tts.xtts import XttsBackend

        torch.set_num_threads(threads)
        backend = XttsBackend(model_dir, consent=True, device="cpu", quantize=variant == "torch-int8")
    else:
        from app.engines.tts.xtts_onnx import XttsOnnxBackend

        backend = XttsOnnxBackend(model_dir, consent=True, threads=threads, seed=0)
    backend.load()
    load_s = time.perf_counter() - t0
    load_peak = rss_mib()[1]
    voice = VoiceRef("bench", reference_wav=reference_wav(work), latents_dir=work / f"latents-{variant}")
    t0 = time.perf_counter()
    latents = backend.latents(voice)
    cond_s = time.perf_counter() - t0

    first, rtf = [], []
    for i in range(runs + 1):
        t0, audio, first_chunk = time.perf_counter(), 0, None
        chunks = backend.stream(SENTENCE, voice)
        for chunk in chunks:
            first_chunk = first_chunk or time.perf_counter() - t0
            audio += chunk.size
            if audio >= seconds * backend.sample_rate:
                break
        chunks.close()
        if i:   # the first run warms up
            first.append(first_chunk)
            rtf.append((time.perf_counter() - t0) / (audio / backend.sample_rate))

    gpt_ms = [_gpt_ms(backend, variant, latents) for _ in range(max(1, runs))]
    hifi_ms = [_hifigan_ms(backend, variant, latents) for _ in range(max(1, runs) + 1)][1:]
    return {"variant": variant, "load_s": load_s, "load_peak_mib": load_peak, "cond_s": cond_s,
            "first_chunk_s": statistics.median(first), "rtf": statistics.median(rtf), "rtf_runs": rtf,
            "gpt_ms_per_code": statistics.median(gpt_ms), "hifigan_ms": statistics.median(hifi_ms),
            "peak_mib": rss_mib()[1], "precision": backend.precision}


def _gpt_ms(backend, variant: str, latents) -> float:
    """Milliseconds per audio code: the prompt plus GPT_CODES codes through the tier's generator."""
    import numpy as np

    if variant.startswith("torch"):
        import torch

        tokens = backend._tokens(SENTENCE, "en")
        gpt, cfg = backend.model.gpt, backend.model.config
        t0 = time.perf_counter()
        with torch.inference_mode():
            inputs = gpt.compute_embeddings(latents.gpt_cond_latent, torch.tensor([tokens], dtype=torch.int32))
            gen = gpt.get_generator(fake_inputs=inputs, top_k=cfg.top_k, top_p=cfg.top_p, temperature=cfg.temperature,
                                    do_sample=True, num_beams=1, num_return_sequences=1,
                                    length_penalty=float(cfg.length_penalty),
                                    repetition_penalty=float(cfg.repetition_penalty), output_attentions=False,
                                    output_hidden_states=True, return_dict_in_generate=False)
            for n, _ in enumerate(gen, 1):
                if n == GPT_CODES:
                    break
        gen.close()
    else:
        tokens = backend.tokenizer.encode(SENTENCE.lower())
        t0 = time.perf_counter()
        gen = backend.model.generate(tokens, np.asarray(latents.gpt_cond_latent), np.random.default_rng(0))
        for n, _ in enumerate(gen, 1):
            if n == GPT_CODES:
                break
        gen.close()
    return (time.perf_counter() - t0) * 1000 / GPT_CODES


def _hifigan_ms(backend, variant: str, latents) -> float:
    import numpy as np

    z = np.random.default_rng(1).standard_normal((1, 1024, WINDOW)).astype(np.float32)
    t0 = time.perf_counter()
    if variant.startswith("torch"):
        import torch

        with torch.inference_mode():
            backend.model.hifigan_decoder.waveform_decoder(torch.from_numpy(z), g=latents.speaker_embedding)
    else:
        backend.model.decode(z, np.asarray(latents.speaker_embedding))
    return (time.perf_counter() - t0) * 1000


def convert(model_dir: Path) -> dict:
    """The torch-free converter (and INT8 quantization) in its own process: time and peak memory."""
    import resource

    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "app.engines.xtts_onnx.convert", str(model_dir)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode:
        raise SystemExit(done.stderr)
    return {"convert_s": time.perf_counter() - t0,
            "convert_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def table(results: list[dict], conversion: dict, args) -> str:
    base = next(r for r in results if r["variant"] == "torch-int8")
    lines = [
        "## XTTS v2: torch FP32 vs torch INT8 vs ONNX Runtime INT8 (bench/bench_xtts_onnx.py)", "",
        f"Full-size XTTS v2 from the published configuration, random weights, stop code off; through the tiers "
        f"the app uses; a {args.seconds:.0f} s stretch of one sentence streamed per run; {args.threads} threads; "
        f"median of {args.runs} runs after a warm-up; each variant in its own process. Machine: "
        f"{os.cpu_count()} cores ({platform.machine()}), no GPU, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end (other engineers' jobs share the cores: quote ratios).", "",
        "| variant | load | peak RSS while loading | first chunk | RTF | GPT ms/code | GPT vs torch INT8 | "
        "HiFiGAN (119 frames) | HiFiGAN vs torch INT8 | peak RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(
            f"| {VARIANTS[r['variant']]} | {r['load_s']:.1f} s | {r['load_peak_mib']:.0f} MiB | "
            f"{r['first_chunk_s']:.2f} s | {r['rtf']:.2f} | {r['gpt_ms_per_code']:.1f} | "
            f"x{base['gpt_ms_per_code'] / r['gpt_ms_per_code']:.2f} | {r['hifigan_ms']:.0f} ms | "
            f"x{base['hifigan_ms'] / r['hifigan_ms']:.2f} | {r['peak_mib']:.0f} MiB |")
    lines += ["", f"Conversion (torch-free, once after the download; includes INT8 quantization and the "
              f"self-test): {conversion['convert_s']:.0f} s, peak {conversion['convert_peak_mib']:.0f} MiB.",
              "RTF runs: " + "; ".join(f"{r['variant']} " + ", ".join(f"{x:.2f}" for x in r["rtf_runs"])
                                       for r in results)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/kaytoo-xtts-full"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--variant", choices=list(VARIANTS))
    parser.add_argument("--only", nargs="*", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    model_dir = args.work / "xtts-v2"
    if args.variant:
        print(json.dumps(run_variant(args.variant, model_dir, args.runs, args.threads, args.seconds, args.work)))
        return
    from app.engines.xtts_onnx.convert import converted

    if not (model_dir / "model.pth").is_file():
        subprocess.run([sys.executable, "-m", "app.engines.xtts_onnx.published", str(args.work)], check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    conversion = convert(model_dir) if not converted(model_dir) else {"convert_s": float("nan"),
                                                                      "convert_peak_mib": float("nan")}
    results = []
    for variant in args.only:
        done = subprocess.run([sys.executable, __file__, "--variant", variant, "--work", str(args.work),
                               "--runs", str(args.runs), "--threads", str(args.threads),
                               "--seconds", str(args.seconds)], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(done.stderr[-3000:])
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    text = table(results, conversion, args)
    print(text)
    if args.out:
        from bench.results_section import write_section

        write_section(args.out, "bench_xtts_onnx", text)


if __name__ == "__main__":
    main()
