"""XTTS GPT decode on the CPU: float32 vs INT8 (Conv1D→Linear, then dynamic quantization) vs INT8
without the conversion, on a full-size XTTS-v2 GPT (30 layers, width 1024, ~430 M parameters).

    .venv/bin/python bench/bench_xtts_quant.py [--codes 50] [--runs 3] [--threads 2] [--out bench/results/xtts.md]

Weights are random (the hub is out of reach; decode speed does not depend on weight values) and
the stop code is switched off, so every run decodes exactly ``--codes`` audio codes through the
same streaming generator the app uses. Each variant runs in its own process (clean memory figures,
no allocator carry-over); per variant: one warm-up decode, then the median of ``--runs`` decodes.
Memory: resident set after building (and quantizing) the GPT, and the process's peak.
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

from bench.results_section import write_section  # noqa: E402

VARIANTS = {
    "fp32": "float32 (as loaded)",
    "int8": "INT8 after Conv1D→Linear (what the app does)",
    "int8-naive": "INT8 without conversion (quantize_dynamic as-is)",
}
TEXT_TOKENS = 40   # a sentence of ~120 characters


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident set of this process in MiB, from /proc."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def release_free_memory() -> None:
    """Return freed heap pages to the OS so RSS shows what the model keeps, not allocator slack."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def full_size_gpt():
    """XTTS-v2's GPT as its config.json builds it, with random weights and no stop code."""
    import torch
    from TTS.tts.layers.xtts.gpt import GPT
    from TTS.tts.layers.xtts.stream_generator import init_stream_support

    init_stream_support()  # adds generate_stream, as importing coqui's Xtts model does
    torch.manual_seed(0)
    gpt = GPT(layers=30, model_dim=1024, heads=16, max_text_tokens=402, max_mel_tokens=605,
              max_prompt_tokens=70, number_text_tokens=6681, num_audio_tokens=1026,
              start_audio_token=1024, stop_audio_token=1025, use_perceiver_resampler=True,
              code_stride_len=1024)
    gpt.init_gpt_for_inference(kv_cache=True)
    gpt.eval()
    with torch.no_grad():
        gpt.mel_head.bias[1025] = -1e4
    return gpt


def decode(gpt, codes: int) -> float:
    """Seconds to generate ``codes`` audio codes (prefill included), as XttsBackend streams them."""
    import torch

    gen = torch.Generator().manual_seed(1)
    cond = torch.randn(1, 32, 1024, generator=gen)
    text = torch.randint(10, 6000, (1, TEXT_TOKENS), generator=gen, dtype=torch.int64).int()
    t0 = time.perf_counter()
    with torch.inference_mode():
        inputs = gpt.compute_embeddings(cond, text)
        stream = gpt.get_generator(fake_inputs=inputs, top_k=50, top_p=0.85, temperature=0.75,
                                   do_sample=True, num_beams=1, num_return_sequences=1,
                                   length_penalty=1.0, repetition_penalty=5.0, output_attentions=False,
                                   output_hidden_states=True, return_dict_in_generate=False)
    done = 0
    for _ in stream:
        done += 1
        if done == codes:
            break
    stream.close()
    if done != codes:
        raise RuntimeError(f"decoded {done} codes, wanted {codes}")
    return time.perf_counter() - t0


def teacher_forced_latents(gpt, codes: int):
    """GPT output latents for fixed text and codes: how far quantization moves what HiFiGAN gets."""
    import torch

    gen = torch.Generator().manual_seed(2)
    cond = torch.randn(1, 32, 1024, generator=gen)
    text = torch.randint(10, 6000, (1, TEXT_TOKENS), generator=gen, dtype=torch.int64).int()
    mel = torch.randint(0, 1024, (1, codes), generator=gen)
    with torch.inference_mode():
        return gpt(text, torch.tensor([TEXT_TOKENS]), mel, torch.tensor([codes * 1024]), cond_latents=cond,
                   return_attentions=False, return_latent=True)


def run_variant(variant: str, codes: int, runs: int, threads: int) -> dict:
    import torch

    from app.engines.quantize import _decode_path, _module_bytes, quantize_gpt_int8

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    gpt = full_size_gpt()
    params = sum(p.numel() for p in gpt.parameters())
    report, agreement = None, None
    if variant == "fp32":
        weights = sum(_module_bytes(m) for m in _decode_path(gpt).values())
    else:
        reference = teacher_forced_latents(gpt, codes)
        report = quantize_gpt_int8(gpt, convert_conv1d=(variant == "int8"))
        weights = report.bytes_after
        got = teacher_forced_latents(gpt, codes)
        agreement = {"cosine": float(torch.nn.functional.cosine_similarity(reference.flatten(), got.flatten(), dim=0)),
                     "rel_err": float((got - reference).norm() / reference.norm())}
    build_s = time.perf_counter() - t0
    release_free_memory()
    rss_after_build, _ = rss_mib()
    decode(gpt, codes)  # warm-up: first-call allocations and kernel selection
    times = [decode(gpt, codes) for _ in range(runs)]
    _, peak = rss_mib()
    return {"variant": variant, "params": params, "decode_path_bytes": weights, "build_s": build_s,
            "rss_mib": rss_after_build, "peak_rss_mib": peak, "times_s": times,
            "median_s": statistics.median(times), "report": report.to_dict() if report else None,
            "agreement": agreement}


def machine() -> str:
    import torch

    return (f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), no GPU, "
            f"Python {platform.python_version()}, torch {torch.__version__}, "
            f"{platform.system()} {platform.release()}")




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--codes", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "xtts.md")
    ap.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)  # child process
    args = ap.parse_args()

    if args.variant:
        print(json.dumps(run_variant(args.variant, args.codes, args.runs, args.threads)))
        return

    results = {}
    for variant in VARIANTS:
        print(f"{variant}: building and decoding {args.codes} codes x {args.runs + 1} ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--variant", variant, "--codes", str(args.codes),
                               "--runs", str(args.runs), "--threads", str(args.threads)],
                              capture_output=True, text=True, check=True)
        results[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = results[variant]
        print(f"  median {r['median_s']:.2f} s ({1000 * r['median_s'] / args.codes:.0f} ms/code), "
              f"runs {[round(t, 2) for t in r['times_s']]}, RSS {r['rss_mib']:.0f} MiB", flush=True)

    base = results["fp32"]
    lines = [
        "## XTTS GPT decode: float32 vs INT8 (bench/bench_xtts_quant.py)",
        "",
        f"Full-size XTTS-v2 GPT ({base['params'] / 1e6:.0f} M parameters, 30 layers, width 1024), random "
        f"weights, stop code off; {args.codes} audio codes (~{args.codes * 1024 / 22050:.1f} s of speech) "
        f"after a {TEXT_TOKENS}-token prompt, through the streaming generator the tier uses; "
        f"{args.threads} threads; median of {args.runs} runs after a warm-up; each variant in its own "
        f"process. Machine: {machine()}; other engineers' jobs were running on the same 2 cores, so "
        "absolute times are noisy (quote the ratios).",
        "",
        "| variant | decode (median) | ms/code | speed-up vs fp32 | RTF (GPT only) | decode-path weights | RSS after load | peak RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    speech_s = args.codes * 1024 / 22050
    for variant, label in VARIANTS.items():
        r = results[variant]
        lines.append(
            f"| {label} | {r['median_s']:.2f} s | {1000 * r['median_s'] / args.codes:.0f} | "
            f"x{base['median_s'] / r['median_s']:.2f} | {r['median_s'] / speech_s:.2f} | "
            f"{r['decode_path_bytes'] / 2**20:.0f} MiB | {r['rss_mib']:.0f} MiB | {r['peak_rss_mib']:.0f} MiB |")
    conv = results["int8"]["report"]
    naive = results["int8-naive"]["report"]
    agree = results["int8"]["agreement"]
    lines += [
        "",
        f"INT8 output against float32 (GPT latents for the same text and codes, teacher-forced): "
        f"cosine {agree['cosine']:.4f}, relative error {agree['rel_err']:.3f} (random weights; trained "
        "weights have their own outliers, so listen before trusting this on the real model).",
        f"Conversion replaced {conv['converted']} Conv1D layers (largest difference while verifying "
        f"{conv['max_conversion_error']:.1e}) and quantized {conv['quantized']} Linear layers; without it "
        f"quantize_dynamic finds {naive['quantized']} (the code head) and the blocks stay float32. "
        "RTF counts the GPT alone: the HiFiGAN decoder adds to it. Peak RSS includes the float32 "
        "weights the INT8 variants start from.",
    ]
    text = "\n".join(lines)
    print("\n" + text)
    write_section(args.out, "bench_xtts_quant", text, "# XTTS v2 tier: measurements")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
