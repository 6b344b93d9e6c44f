"""The XTTS GPT graph's weight formats on the CPU: float32, per-channel dynamic INT8 (onnxruntime's
``quantize_dynamic``: the tier before 2026-12-02), our per-channel INT8 (``quantize.py``: the tier's
prompt graph now) and block-wise 4-bit (``quantize.py``: the tier's step graph now).

    .venv/bin/python bench/bench_xtts_gpt.py [--work /tmp/kaytoo-xtts-full] [--codes 150] [--rounds 3]

Needs the converted full-size model of bench_xtts_onnx.py (``WORK/xtts-v2/onnx``: run that first).
Each format decodes the same prompt (32 conditioning latents, 60 text tokens) and the same 150
codes, teacher-forced, through the tier's runner (``XttsOnnx.steps``: the in-place key/value
cache), each format for the prompt and the steps alike; rounds interleave the formats so machine
noise hits all alike. Printed: the prompt's time (93 positions), ms per code (wall and CPU,
medians), the ratio against dynamic INT8 in the same run, and how far each
format's code distribution is from float32's at every step (KL divergence, RMS logit error,
argmax agreement). With random weights the distributions are nearly flat: the distances rank the
formats, they do not predict how a trained voice sounds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def dynamic_int8(src: Path, out: Path) -> Path:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src / "gpt.onnx"), str(out / "gpt.int8.onnx"), per_channel=True,
                     weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"], use_external_data_format=True,
                     extra_options={"DefaultTensorType": TensorProto.FLOAT})
    return out / "gpt.int8.onnx"


def distance(logits: np.ndarray, ref: np.ndarray) -> str:
    def probs(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    p, q = probs(logits.astype(np.float64)), probs(ref.astype(np.float64))
    kl = float((q * (np.log(q + 1e-12) - np.log(p + 1e-12))).sum(-1).mean())
    rms = float(np.sqrt(((logits - ref) ** 2).mean()))
    return f"KL {kl:.4f}, RMS logit error {rms:.3f}, argmax {100 * (logits.argmax(-1) == ref.argmax(-1)).mean():.1f} %"


def main() -> int:
    import onnxruntime as ort

    from app.engines.threads import ort_session_options
    from app.engines.xtts_onnx.quantize import PROMPT_GPT, QUANTIZED_GPT
    from app.engines.xtts_onnx.runner import XttsOnnx

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/kaytoo-xtts-full"))
    ap.add_argument("--codes", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    graphs = args.work / "xtts-v2" / "onnx"
    if not (graphs / QUANTIZED_GPT).is_file():
        raise SystemExit(f"{graphs} has no converted model: run bench/bench_xtts_onnx.py --work {args.work} first")
    runner = XttsOnnx(args.work / "xtts-v2")
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        files = {"float32": graphs / "gpt.onnx", "dynamic INT8": dynamic_int8(graphs, Path(tmp)),
                 "INT8 (tier prompt)": graphs / PROMPT_GPT, "4-bit (tier steps)": graphs / QUANTIZED_GPT}
        sessions = {}
        for name, path in files.items():
            opts = ort_session_options(True)
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            sessions[name] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        cond = np.random.default_rng(0).standard_normal((1, 32, runner.width)).astype(np.float32)
        tokens = list(range(20, 80))
        codes = [100 + (i * 7) % 900 for i in range(args.codes)]
        times: dict[str, list[tuple[float, float]]] = {n: [] for n in sessions}
        prompts: dict[str, list[float]] = {n: [] for n in sessions}
        logits: dict[str, np.ndarray] = {}
        loads = []
        for _ in range(args.rounds):
            for name, session in sessions.items():
                runner.sessions["gpt"] = runner.prompt_session = session
                steps = runner.steps(tokens, cond)
                start = time.perf_counter()
                out = [next(steps)[0]]
                prompts[name].append(time.perf_counter() - start)
                wall, cpu = time.perf_counter(), time.process_time()
                out += [steps.send(c)[0] for c in codes]
                times[name].append(((time.perf_counter() - wall) / len(codes) * 1e3,
                                    (time.process_time() - cpu) / len(codes) * 1e3))
                steps.close()
                logits[name] = np.stack(out)
            loads.append(os.getloadavg()[0])
    base = statistics.median(w for w, _ in times["dynamic INT8"])
    print(f"XTTS GPT, full size, {args.codes} codes after a 93-position prompt, medians of {args.rounds} "
          f"interleaved rounds, load average {min(loads):.1f}-{max(loads):.1f}")
    for name, t in times.items():
        wall, cpu = statistics.median(w for w, _ in t), statistics.median(c for _, c in t)
        print(f"  {name:18s} prompt {statistics.median(prompts[name]):.2f} s, {wall:6.1f} ms/code (CPU {cpu:6.1f})  "
              f"×{base / wall:.2f} vs dynamic INT8;  "
              f"vs float32: {distance(logits[name], logits['float32'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
