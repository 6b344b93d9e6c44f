"""Full-size XTTS v2 on the CPU: torch FP32, torch INT8 (today's tier) and ONNX Runtime (4-bit GPT), side by side.

    .venv/bin/python bench/bench_xtts_onnx.py [--work /tmp/kaytoo-xtts-full] [--runs 3] [--threads 2]
                                              [--seconds 5] [--out bench/results/xtts.md]

The model is XTTS v2 built from its published configuration with random weights (the hub is out
of reach) and the stop code off, saved like the hub's model.pth; the ONNX variant uses the
packaged weightless graphs filled by the torch-free converter (timed too). Each variant is loaded
once in its own process through the tier the app uses (``XttsBackend`` / ``XttsOnnxBackend``):
load time and peak memory while loading. Then rounds, each running every variant once (order
rotated), so machine noise hits all of them alike: one sentence streamed until ``--seconds`` of
audio (time to the first chunk, real-time factor = elapsed / audio), GPT ms per code (prompt + 60
codes, generator only), HiFiGAN time for one streaming window (113 frames). Medians after a
warm-up round. Ratios are against torch INT8 measured in the same run (against the serial ONNX
path when ``--only`` leaves torch out). The ONNX variants: serial (GPT, then HiFiGAN) as before,
and pipelined (``xtts_pipeline``) with 2 + 2 or 1 + 1 threads. Also printed: the stall after the
first chunk (playback starting at it, each chunk played on arrival) and HiFiGAN frames decoded
per frame heard (the windows' context overhead).
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

VARIANTS = {"torch-fp32": "torch FP32", "torch-int8": "torch INT8 (Conv1D→Linear + dynamic; the torch tier)",
            "onnx-serial": "ONNX Runtime 4-bit GPT, INT8 HiFiGAN, serial (GPT, then HiFiGAN), GPT threads sleeping",
            "onnx-pipe-sleep": "ONNX Runtime, GPT ∥ HiFiGAN pipelined, 2 + 2 threads, GPT threads sleeping, chunks 10, 20, 20…",
            "onnx-pipe-1": "ONNX Runtime, GPT ∥ HiFiGAN pipelined, 1 + 1 threads",
            "onnx-serial-spin": "ONNX Runtime, serial, GPT threads spinning",
            "onnx-pipe-spin": "ONNX Runtime, pipelined, 2 + 2 threads, GPT threads spinning, chunks 10, 20, 20…",
            "onnx-pipe-grow-sleep": "ONNX Runtime, pipelined, GPT threads sleeping, chunks growing",
            "onnx-pipe-grow": "ONNX Runtime, pipelined, GPT threads spinning, chunks growing",
            "onnx-grow": "ONNX Runtime, serial, GPT threads spinning, chunks growing (the tier now on 2 cores)",
            "onnx-grow-6": "ONNX Runtime, serial, GPT threads spinning, chunks growing from 6"}
GROW = (8, 10, 14, 20, 28, 40)   # codes per chunk after the first 10 (the last repeats)
ONNX_OPTIONS = {"onnx-serial": {"pipelined": False, "gpt_arena": False, "gpt_spinning": False, "chunk_codes": 20},
                "onnx-pipe-sleep": {"pipelined": True, "gpt_spinning": False, "chunk_codes": 20},
                "onnx-pipe-1": {"pipelined": True, "threads": 1, "decoder_threads": 1},
                "onnx-serial-spin": {"pipelined": False, "chunk_codes": 20},
                "onnx-pipe-spin": {"pipelined": True, "chunk_codes": 20},
                "onnx-pipe-grow-sleep": {"pipelined": True, "gpt_spinning": False, "chunk_codes": GROW},
                "onnx-pipe-grow": {"pipelined": True, "chunk_codes": GROW},
                "onnx-grow": {"pipelined": False, "chunk_codes": GROW},
                "onnx-grow-6": {"pipelined": False, "chunk_codes": (6, 8, 12, 18, 26, 40)}}
SENTENCE = ("The captain says you are a friend, and I will not kill you, but the odds of "
            "success are not in our favour today.")
GPT_CODES = 60
HOP = 256      # output samples per HiFiGAN frame
WINDOW = 113   # HiFiGAN frames per streaming window: 20 codes (87 frames) + 13 context frames each side


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


def serve(variant: str, model_dir: Path, threads: int, seconds: float, work: Path) -> None:
    """One variant in its own process, loaded once: prints its load figures as a JSON line, then
    one JSON line of run figures per ``run`` line read from stdin (the parent interleaves)."""
    from app.engines.threads import configure_process

    configure_process()   # as the engine does before torch/onnxruntime load (passive waits, sizes)
    from app.engines.tts.base import VoiceRef

    t0 = time.perf_counter()
    if variant.startswith("torch"):
        import torch

        from app.engines.tts.xtts import XttsBackend

        torch.set_num_threads(threads)
        backend = XttsBackend(model_dir, consent=True, device="cpu", quantize=variant == "torch-int8")
    else:
        from app.engines.tts.xtts_onnx import XttsOnnxBackend

        options = {"threads": threads, "seed": 0, **ONNX_OPTIONS[variant]}
        chunk_codes = options.pop("chunk_codes", None)
        backend = XttsOnnxBackend(model_dir, consent=True, **options)
        if chunk_codes:
            backend.CHUNK_CODES = chunk_codes
    backend.load()
    load_s, load_peak = time.perf_counter() - t0, rss_mib()[1]
    voice = VoiceRef("bench", reference_wav=reference_wav(work), latents_dir=work / f"latents-{variant}")
    t0 = time.perf_counter()
    latents = backend.latents(voice)
    _say({"load_s": load_s, "load_peak_mib": load_peak, "cond_s": time.perf_counter() - t0,
          "precision": backend.precision})
    for line in sys.stdin:
        if line.strip() != "run":
            break
        decoded = _count_frames(backend)
        t0, c0, audio, first_chunk, arrivals = time.perf_counter(), time.process_time(), 0, None, []
        chunks = backend.stream(SENTENCE, voice)
        for chunk in chunks:
            arrivals.append((time.perf_counter() - t0, chunk.size / backend.sample_rate))
            first_chunk = first_chunk or arrivals[-1][0]
            audio += chunk.size
            if audio >= seconds * backend.sample_rate:
                break
        chunks.close()
        rtf = (time.perf_counter() - t0) / (audio / backend.sample_rate)
        cpu_rtf = (time.process_time() - c0) / (audio / backend.sample_rate)
        frames = sum(decoded) / (audio / HOP) if decoded is not None else float("nan")
        gpt_ms, gpt_cpu_ms = _gpt_ms(backend, variant, latents)
        hifigan_ms, hifigan_cpu_ms = _hifigan_ms(backend, variant, latents)
        _say({"first_chunk_s": first_chunk, "rtf": rtf, "cpu_rtf": cpu_rtf, "stall_s": stall(arrivals),
              "frames_per_frame": frames, "gpt_ms_per_code": gpt_ms,
              "gpt_cpu_ms_per_code": gpt_cpu_ms, "hifigan_ms": hifigan_ms, "hifigan_cpu_ms": hifigan_cpu_ms,
              "peak_mib": rss_mib()[1]})


def stall(arrivals: list[tuple[float, float]]) -> float:
    """Seconds playback would stop after the first chunk (chunks as (arrival s, audio s); playback
    starts with the first chunk and plays each as soon as it is there)."""
    play_end, stalled = arrivals[0][0], 0.0
    for at, length in arrivals:
        stalled += max(0.0, at - play_end)
        play_end = max(play_end, at) + length
    return stalled


def _count_frames(backend) -> list[int] | None:
    """HiFiGAN frames the ONNX tier decodes from now on (a list that grows), None for torch."""
    model = getattr(backend, "model", None)
    if not hasattr(model, "decode"):
        return None
    counts: list[int] = []
    decode = type(model).decode
    model.decode = lambda grid, speaker: (counts.append(grid.shape[-1]), decode(model, grid, speaker))[1]
    return counts


def _say(record: dict) -> None:
    print(json.dumps(record), flush=True)


def _gpt_ms(backend, variant: str, latents) -> tuple[float, float]:
    """Milliseconds per audio code (elapsed, CPU): the prompt plus GPT_CODES codes through the
    tier's generator."""
    import numpy as np

    if variant.startswith("torch"):
        import torch

        tokens = backend._tokens(SENTENCE, "en")
        gpt, cfg = backend.model.gpt, backend.model.config
        t0, c0 = time.perf_counter(), time.process_time()
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
        t0, c0 = time.perf_counter(), time.process_time()
        gen = backend.model.generate(tokens, np.asarray(latents.gpt_cond_latent), np.random.default_rng(0))
        for n, _ in enumerate(gen, 1):
            if n == GPT_CODES:
                break
        gen.close()
    return (time.perf_counter() - t0) * 1000 / GPT_CODES, (time.process_time() - c0) * 1000 / GPT_CODES


def _hifigan_ms(backend, variant: str, latents) -> tuple[float, float]:
    """One streaming window through HiFiGAN: milliseconds elapsed and of CPU."""
    import numpy as np

    z = np.random.default_rng(1).standard_normal((1, 1024, WINDOW)).astype(np.float32)
    t0, c0 = time.perf_counter(), time.process_time()
    if variant.startswith("torch"):
        import torch

        with torch.inference_mode():
            backend.model.hifigan_decoder.waveform_decoder(torch.from_numpy(z), g=latents.speaker_embedding)
    else:
        backend.model.decode(z, np.asarray(latents.speaker_embedding))
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000


def convert(model_dir: Path) -> dict:
    """The torch-free converter (and the 4-bit quantization) in its own process: time and its own
    peak memory (os.wait4: not the model build's, which ran in an earlier child)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "app.engines.xtts_onnx.convert", str(model_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(stderr)
    return {"convert_s": time.perf_counter() - t0, "convert_peak_mib": usage.ru_maxrss / 1024}


def interleaved(args, model_dir: Path) -> tuple[list[dict], list[float]]:
    """Load every variant (one after another, each in its own process), then run them in rounds,
    one run of each per round, the order rotated each round; round 0 warms up."""
    variants, procs, results, loads = list(args.only), {}, {}, []
    try:
        for v in variants:
            log = open(args.work / f"bench-{v}.log", "w")
            procs[v] = subprocess.Popen([sys.executable, __file__, "--serve", v, "--work", str(args.work),
                                         "--threads", str(args.threads), "--seconds", str(args.seconds)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
            results[v] = {"variant": v, **_reply(procs[v], args.work, v), "runs": []}
            print(results[v], flush=True)
        for r in range(args.runs + 1):
            for v in variants[r % len(variants):] + variants[:r % len(variants)]:
                procs[v].stdin.write("run\n")
                procs[v].stdin.flush()
                run = _reply(procs[v], args.work, v)
                if r:
                    results[v]["runs"].append(run)
                print(v, r, run, flush=True)
            loads.append(os.getloadavg()[0])
    finally:
        for p in procs.values():
            p.stdin.close()
            p.wait(timeout=120)
    for res in results.values():
        for key in ("first_chunk_s", "rtf", "cpu_rtf", "stall_s", "frames_per_frame", "gpt_ms_per_code", "gpt_cpu_ms_per_code", "hifigan_ms",
                    "hifigan_cpu_ms"):
            res[key] = statistics.median(run[key] for run in res["runs"])
        res["peak_mib"] = max(run["peak_mib"] for run in res["runs"])
    return list(results.values()), loads


def _reply(proc, work: Path, variant: str) -> dict:
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"{variant} stopped: " + (work / f"bench-{variant}.log").read_text()[-3000:])
    return json.loads(line)


def table(results: list[dict], conversion: dict, loads: list[float], args) -> str:
    base = next((r for r in results if r["variant"] == "torch-int8"), None) or results[0]
    vs = "torch INT8" if base["variant"] == "torch-int8" else "ONNX serial"   # --only without torch
    lines = [
        "## XTTS v2: torch FP32 vs torch INT8 vs ONNX Runtime, 4-bit GPT (bench/bench_xtts_onnx.py)", "",
        f"Full-size XTTS v2 from the published configuration, random weights, stop code off; through the tiers "
        f"the app uses; a {args.seconds:.0f} s stretch of one sentence streamed per run; {args.threads} threads; "
        f"each variant loaded once in its own process, then {args.runs} rounds (after a warm-up round) running "
        f"each variant once, order rotated: medians. Machine: {os.cpu_count()} cores ({platform.machine()}), "
        f"no GPU, Python {platform.python_version()}; load average after each round "
        f"{', '.join(f'{x:.1f}' for x in loads)} (other engineers' jobs share the cores: quote ratios). "
        "CPU figures are the process's CPU time (both threads): what the work costs, less sensitive to "
        "the other jobs than elapsed time; the RTF ≤ 0.6 target needs at most 1.2 CPU s per audio s on two "
        "cores, both fully used.", "",
        f"| variant | load | peak RSS while loading | first chunk | stall after it | RTF | RTF vs {vs} "
        "| RTF vs ONNX serial | CPU s per audio s | HiFiGAN frames per frame heard | GPT ms/code (CPU) "
        f"| GPT vs {vs} (CPU) | HiFiGAN, {WINDOW} frames (CPU) | HiFiGAN vs {vs} (CPU) | peak RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    serial = next((r for r in results if r["variant"] == "onnx-serial"), None)
    for r in results:
        lines.append(
            f"| {VARIANTS[r['variant']]} | {r['load_s']:.1f} s | {r['load_peak_mib']:.0f} MiB | "
            f"{r['first_chunk_s']:.2f} s | {r['stall_s']:.2f} s | {r['rtf']:.2f} | x{base['rtf'] / r['rtf']:.2f} | "
            + (f"x{serial['rtf'] / r['rtf']:.2f} | " if serial else "– | ")
            + f"{r['cpu_rtf']:.2f} | {r['frames_per_frame']:.2f} | "
            f"{r['gpt_ms_per_code']:.1f} ({r['gpt_cpu_ms_per_code']:.1f}) | "
            f"x{base['gpt_ms_per_code'] / r['gpt_ms_per_code']:.2f} "
            f"(x{base['gpt_cpu_ms_per_code'] / r['gpt_cpu_ms_per_code']:.2f}) | "
            f"{r['hifigan_ms']:.0f} ms ({r['hifigan_cpu_ms']:.0f} ms) | x{base['hifigan_ms'] / r['hifigan_ms']:.2f} "
            f"(x{base['hifigan_cpu_ms'] / r['hifigan_cpu_ms']:.2f}) | {r['peak_mib']:.0f} MiB |")
    lines += ["", f"Conversion (torch-free, once after the download; includes the quantizations (4-bit and INT8 GPT, INT8 HiFiGAN) and the "
              f"self-test): {conversion['convert_s']:.0f} s, peak {conversion['convert_peak_mib']:.0f} MiB "
              f"(load average {conversion.get('load_average', float('nan')):.1f} then).",
              "Per run (RTF / stall s / HiFiGAN ms): " + "; ".join(
                  f"{r['variant']} " + ", ".join(f"{x['rtf']:.2f}/{x['stall_s']:.2f}/{x['hifigan_ms']:.0f}"
                                                 for x in r["runs"])
                  for r in results)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/kaytoo-xtts-full"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--serve", choices=list(VARIANTS))
    parser.add_argument("--only", nargs="*", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    model_dir = args.work / "xtts-v2"
    if args.serve:
        serve(args.serve, model_dir, args.threads, args.seconds, args.work)
        return
    from app.engines.xtts_onnx.convert import converted

    if not (model_dir / "model.pth").is_file():
        subprocess.run([sys.executable, "-m", "app.engines.xtts_onnx.published", str(args.work)], check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    record = args.work / "conversion.json"    # the figures of the run that converted this model
    if not converted(model_dir):
        record.write_text(json.dumps({**convert(model_dir), "load_average": os.getloadavg()[0]}))
    conversion = json.loads(record.read_text()) if record.is_file() else {"convert_s": float("nan"),
                                                                          "convert_peak_mib": float("nan")}
    if not {"torch-int8", "onnx-serial"} & set(args.only):
        raise SystemExit("the ratios are against torch-int8 (or, without torch, onnx-serial): keep one in --only")
    args.only = sorted(args.only, key=["torch-int8", "onnx-serial"].__contains__, reverse=True)
    results, loads = interleaved(args, model_dir)
    text = table(results, conversion, loads, args)
    print(text)
    if args.out:
        from bench.results_section import write_section

        write_section(args.out, "bench_xtts_onnx", text)


if __name__ == "__main__":
    main()
