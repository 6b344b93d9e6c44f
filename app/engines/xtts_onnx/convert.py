"""Fill the XTTS v2 ONNX graphs with the weights of a downloaded ``model.pth``, without torch.

    python -m app.engines.xtts_onnx.convert MODEL_DIR [--graphs DIR]

The graphs ship without weights (``graphs/``: ``*.onnx``, ``manifest.json``, ``reference.npz``);
the manifest says, for every weight, its checkpoint key, shape, dtype and place in the graph's
external data file. The converter reads the checkpoint (``checkpoint.py``), checks every expected
tensor's presence, shape and dtype, writes each at its place, then runs a fixed-input self-test
with onnxruntime. Everything goes to a staging folder that replaces ``MODEL_DIR/onnx`` only when
all of it passed; on any failure the staging folder is removed and one sentence says why (exit 2).

Self-test: when ``reference.npz`` was made from this very checkpoint (its sha256 is in the
manifest; the test model's case) the outputs must match it; otherwise (the packaged graphs come
from a random-weight export) the outputs must be finite, the speaker embedding unit-length, and
the first GPT block's keys must equal a numpy computation from the checkpoint's own tensors.

Then the quantized graphs (quantize.py): the GPT's, checked against float32 (a drift fails the
conversion), and HiFiGAN's, calibrated on this checkpoint's own GPT latents and kept only when its
audio stays HIFIGAN_MIN_SNR_DB from float32's (else float32 serves; the log says why).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

import logging

import numpy as np

from app.engines.xtts_onnx import quantize as quantizer
from app.engines.xtts_onnx.checkpoint import Checkpoint, CheckpointError
from app.engines.xtts_onnx.runner import GPT_CACHE, XttsOnnx

log = logging.getLogger(__name__)
GRAPHS_DIR = Path(__file__).with_name("graphs")
OUT = "onnx"
REF_TOLERANCE = {"logits": 1e-2}   # max abs error; everything else 1e-3
ALIASES = (("parametrizations.weight.original0", "weight_g"), ("parametrizations.weight.original1", "weight_v"))


STAMP = "converted.json"
# progress(done, total, what): the model store passes its download callback's conversion form.
# ``total`` is PROGRESS_TOTAL; writing the weights fills the first part by bytes, then the
# self-test, the quantization of both GPT graphs (one call: no progress inside), their check and
# the decoder's quantization. Each step's share is its time in a 26 s conversion of the full-size
# model on a quiet 2-core machine: 5.2, 5.5, 7.5, 2.8 and 5.4 s.
Progress = Callable[[int, int, str], None]
PROGRESS_TOTAL = 1000
_STEPS = (("writing the weights", 0), ("self-test", 200), ("quantization", 405),
          ("checking the quantized GPT", 690), ("quantizing the decoder", 795))


def converted(model_dir: Path) -> bool:
    """Whether ``model_dir/onnx`` was converted from the ``model.pth`` there now (size and mtime),
    into graphs of the interface this version runs (an older conversion is converted again)."""
    try:
        stamp = json.loads((Path(model_dir) / OUT / STAMP).read_text())
        manifest = json.loads((Path(model_dir) / OUT / "manifest.json").read_text())
        return stamp["model.pth"] == _stamp(Path(model_dir) / "model.pth") and \
            manifest.get("gpt_cache") == GPT_CACHE
    except (OSError, ValueError, KeyError):
        return False


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


class ConversionError(Exception):
    """One plain sentence: why the model could not be converted."""


def _step(progress: Progress | None, name: str, fraction: float = 0.0) -> None:
    """Report ``fraction`` of the way through step ``name``."""
    if progress is None:
        return
    steps = dict(_STEPS)
    following = [start for _, start in _STEPS if start > steps[name]]
    end = following[0] if following else PROGRESS_TOTAL
    progress(int(steps[name] + fraction * (end - steps[name])), PROGRESS_TOTAL, name)


def convert(model_dir: Path, graphs_dir: Path | None = None, quantize: bool = True,
            progress: Progress | None = None) -> tuple[Path, str]:
    """Convert; returns the installed folder and which self-test passed ("reference"/"checkpoint").
    ``progress(done, total, what)`` hears each step as it goes (see PROGRESS_TOTAL)."""
    model_dir, graphs_dir = Path(model_dir), Path(graphs_dir or GRAPHS_DIR)
    try:
        manifest = json.loads((graphs_dir / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise ConversionError(f"the XTTS graphs in {graphs_dir} are missing or damaged ({type(e).__name__})") from None
    checkpoint_path = model_dir / "model.pth"
    if not checkpoint_path.is_file():
        raise ConversionError(f"{checkpoint_path} does not exist")
    stage = Path(tempfile.mkdtemp(prefix=".onnx-", dir=model_dir))
    try:
        try:
            ckpt = Checkpoint(checkpoint_path)
        except CheckpointError as e:
            raise ConversionError(str(e)) from None
        try:
            weights = sum(t["length"] for tensors in manifest["graphs"].values() for t in tensors)
            written = [0]

            def wrote(n: int) -> None:
                written[0] += n
                _step(progress, "writing the weights", written[0] / max(1, weights))

            for tensors in manifest["graphs"].values():   # a wrong model is refused before any write
                for t in tensors:
                    _checked_key(ckpt, t)
            _step(progress, "writing the weights")
            for graph, tensors in manifest["graphs"].items():
                _write_graph(ckpt, graph, tensors, graphs_dir, stage, wrote)
            for name in ("manifest.json", "reference.npz"):
                shutil.copy2(graphs_dir / name, stage / name)
            _step(progress, "self-test")
            test = _self_test(stage, manifest, ckpt)
        finally:
            ckpt.close()
        if quantize and quantizer.available():
            _step(progress, "quantization")
            _quantize(stage, progress)
            _quantize_decoder(model_dir, stage, progress)
        if progress is not None:
            progress(PROGRESS_TOTAL, PROGRESS_TOTAL, "done")
        stamp = {"model.pth": _stamp(checkpoint_path), "self_test": test}
        (stage / STAMP).write_text(json.dumps(stamp))
        final = model_dir / OUT
        if final.exists():
            shutil.rmtree(final)
        stage.rename(final)
        return final, test
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _lookup(ckpt: Checkpoint, name: str) -> str | None:
    if name in ckpt.tensors:
        return name
    for new, old in ALIASES:
        if name.endswith(new) and name[: -len(new)] + old in ckpt.tensors:
            return name[: -len(new)] + old
    return None


def _checked_key(ckpt: Checkpoint, t: dict) -> str:
    """The checkpoint key of manifest tensor ``t``, present with the expected shape and dtype."""
    key = _lookup(ckpt, t["name"])
    if key is None:
        raise ConversionError(f"model.pth has no tensor {t['name']}: it is not the XTTS v2 these graphs expect")
    rec = ckpt.tensors[key]
    if list(rec.shape) != t["shape"]:
        raise ConversionError(f"model.pth's {key} has shape {list(rec.shape)}, the graphs expect {t['shape']}")
    if rec.dtype != np.dtype(t["dtype"]):
        raise ConversionError(f"model.pth's {key} is {rec.dtype}, the graphs expect {t['dtype']}")
    return key


def _write_graph(ckpt: Checkpoint, graph: str, tensors: list[dict], graphs_dir: Path, stage: Path,
                 wrote: Callable[[int], None]) -> None:
    size = max((t["offset"] + t["length"] for t in tensors), default=0)
    with open(stage / f"{graph}.onnx.data", "wb") as out:
        out.truncate(size)
        for t in tensors:
            key = _checked_key(ckpt, t)
            try:
                data = ckpt.read(key).astype("<" + np.dtype(t["dtype"]).str[1:], copy=False).tobytes()
            except CheckpointError as e:
                raise ConversionError(str(e)) from None
            if len(data) != t["length"]:
                raise ConversionError(f"model.pth's {key} has {len(data)} bytes, the graphs expect {t['length']}")
            out.seek(t["offset"])
            out.write(data)
            wrote(len(data))
    shutil.copy2(graphs_dir / f"{graph}.onnx", stage / f"{graph}.onnx")


def _self_test(stage: Path, manifest: dict, ckpt: Checkpoint) -> str:
    import onnxruntime as ort

    ref = np.load(stage / "reference.npz")
    exact = manifest.get("reference_checkpoint_sha256") == sha256_file(ckpt.path)
    outputs = {}
    for graph in manifest["graphs"]:
        try:
            session = ort.InferenceSession(str(stage / f"{graph}.onnx"), providers=["CPUExecutionProvider"])
            feed = {i.name: ref[f"{graph}/in/{i.name}"] for i in session.get_inputs()}
            names = [o.name for o in session.get_outputs()]
            outputs[graph] = dict(zip(names, session.run(None, feed)))
        except Exception as e:  # onnxruntime refuses the filled graph
            raise ConversionError(f"the converted {graph} graph does not run ({type(e).__name__})") from None
        for name, value in outputs[graph].items():
            if not np.isfinite(value).all():
                raise ConversionError(f"the self-test failed: the converted {graph} graph gives non-finite {name}")
            if exact and f"{graph}/out/{name}" in ref.files:
                err = float(np.abs(value - ref[f"{graph}/out/{name}"]).max())
                if err > REF_TOLERANCE.get(name, 1e-3):
                    raise ConversionError(f"the self-test failed: {graph} {name} is off by {err:.3g} from the reference")
    norm = float(np.linalg.norm(outputs["speaker"]["embedding"]))
    if abs(norm - 1.0) > 1e-3:
        raise ConversionError(f"the self-test failed: the speaker embedding has length {norm:.3g}, not 1")
    keys = first_block_keys(ckpt, {k[len("gpt/in/"):]: ref[k] for k in ref.files if k.startswith("gpt/in/")},
                            manifest["heads"])
    err = float(np.abs(outputs["gpt"]["present_k_0"] - keys).max())
    if err > 1e-3 * max(1.0, float(np.abs(keys).max())):
        raise ConversionError(f"the self-test failed: the GPT's first keys are off by {err:.3g} from the checkpoint's")
    return "reference" if exact else "checkpoint"


def _quantize(stage: Path, progress: Progress | None = None) -> None:
    """The quantized GPTs beside the float32 one (quantize.py); their first step must agree with
    float32's (cosine ≥ 0.99)."""
    import onnxruntime as ort

    try:
        quantizer.quantize_gpt(stage)
    except Exception as e:  # the float32 graph still serves: say so, do not fail the conversion
        log.warning("XTTS stays float32: quantization failed (%s)", e)
        return
    _step(progress, "checking the quantized GPT")
    ref = np.load(stage / "reference.npz")
    latents = {}
    for name in ("gpt.onnx", quantizer.QUANTIZED_GPT, quantizer.PROMPT_GPT):
        session = ort.InferenceSession(str(stage / name), providers=["CPUExecutionProvider"])
        feed = {i.name: ref[f"gpt/in/{i.name}"] for i in session.get_inputs()}
        latents[name] = session.run(["latent"], feed)[0].reshape(-1).astype(np.float64)
    want = latents.pop("gpt.onnx")
    for name, got in latents.items():
        cosine = float(want @ got / (np.linalg.norm(want) * np.linalg.norm(got) + 1e-12))
        if not cosine >= 0.99:
            for f in [*stage.glob(quantizer.QUANTIZED_GPT + "*"), *stage.glob(quantizer.PROMPT_GPT + "*")]:
                f.unlink()
            raise ConversionError(f"the self-test failed: the quantized GPT ({name}) drifts from float32 "
                                  f"(cosine {cosine:.3f})")


HIFIGAN_MIN_SNR_DB = 30.0   # INT8 HiFiGAN's audio against float32's: 36 dB at full size; 21 dB hissed
CALIBRATION_CODES = 48      # GPT latents the decoder is calibrated on (~2 s of speech)
CALIBRATION_FRAMES = 64     # HiFiGAN frames per calibration window


def _quantize_decoder(model_dir: Path, stage: Path, progress: Progress | None = None) -> None:
    """HiFiGAN in INT8 (quantize.py), calibrated on what this checkpoint's GPT says for the
    reference prompt; kept only when its audio stays HIFIGAN_MIN_SNR_DB from float32's, else the
    float32 decoder serves (said in the log, not an error)."""
    import onnxruntime as ort

    from app.engines.xtts_onnx import audio

    _step(progress, "quantizing the decoder")
    try:
        ref = np.load(stage / "reference.npz")
        model = XttsOnnx(model_dir, threads=0, graphs=stage)
        g = model.sessions["speaker"].run(None, {"mel": ref["speaker/in/mel"]})[0]
        cond = model.sessions["conditioning"].run(None, {"logmel": ref["conditioning/in/logmel"]})[0]
        codes = model.generate([int(t) for t in ref["gpt/in/text"][0]], cond, np.random.default_rng(0))
        latents = [latent for _, (_, latent) in zip(range(CALIBRATION_CODES), codes)]
        grid = audio.latent_grid(np.stack(latents), model.args)
        feeds = [{"z": np.ascontiguousarray(grid[..., i:i + CALIBRATION_FRAMES]), "g": g}
                 for i in range(0, grid.shape[-1], CALIBRATION_FRAMES)]
        feeds.append({"z": ref["hifigan/in/z"], "g": g})
        out = quantizer.quantize_hifigan(stage, feeds)
        int8 = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        for feed in ({"z": grid, "g": g}, feeds[-1]):
            want = model.sessions["hifigan"].run(None, feed)[0].astype(np.float64)
            got = int8.run(None, feed)[0].astype(np.float64)
            snr = 10 * np.log10((want ** 2).sum() / max(((want - got) ** 2).sum(), 1e-30))
            if not snr >= HIFIGAN_MIN_SNR_DB:
                raise ValueError(f"its audio is {snr:.1f} dB from float32's")
    except Exception as e:  # the float32 decoder still serves
        (stage / quantizer.QUANTIZED_HIFIGAN).unlink(missing_ok=True)
        log.warning("XTTS's decoder stays float32: INT8 was not kept (%s)", e)


def first_block_keys(ckpt: Checkpoint, feed: dict, heads: int) -> np.ndarray:
    """The first GPT block's attention keys for the prompt, in numpy from the checkpoint's tensors:
    embeddings, positions, ln_1 and c_attn in the places the graph reads them from."""
    w = ckpt.read
    text, mel = feed["text"][0], feed["mel"][0]
    x = np.concatenate([feed["cond"][0],
                        w("gpt.text_embedding.weight")[text] + w("gpt.text_pos_embedding.emb.weight")[:text.size],
                        w("gpt.mel_embedding.weight")[mel] + w("gpt.mel_pos_embedding.emb.weight")[:mel.size]])
    x = x.astype(np.float64)
    h = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    h = h * w("gpt.gpt.h.0.ln_1.weight") + w("gpt.gpt.h.0.ln_1.bias")
    qkv = h @ w("gpt.gpt.h.0.attn.c_attn.weight") + w("gpt.gpt.h.0.attn.c_attn.bias")
    d = x.shape[-1]
    return qkv[:, d:2 * d].reshape(x.shape[0], heads, d // heads).transpose(1, 0, 2)[None]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.engines.xtts_onnx.convert",
                                     description="Convert a downloaded XTTS v2 model.pth for ONNX Runtime.")
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--graphs", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        out, test = convert(args.model_dir, args.graphs)
    except ConversionError as e:
        print(f"kaytoo: {e}.", file=sys.stderr)
        return 2
    print(f"{out} (self-test: {test})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
