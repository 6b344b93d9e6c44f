"""The packaged graphs (app/engines/xtts_onnx/graphs, exported from the full-size XTTS v2) expect
exactly the tensors coqui-tts's model has when built from the published configuration: names,
shapes, dtypes (the model is built with random weights, ~2 GB for a few seconds)."""
from __future__ import annotations

import json

import pytest

from app.engines.xtts_onnx.convert import GRAPHS_DIR


@pytest.fixture(scope="module")
def coqui_tensors() -> dict:
    from app.engines.xtts_onnx.published import build_model

    model, _ = build_model()   # on the CPU: coqui's init calls .item(), which the meta device refuses
    return {k: (tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in model.state_dict().items()}


def test_packaged_graphs_expect_the_published_models_tensors(coqui_tensors):
    manifest = json.loads((GRAPHS_DIR / "manifest.json").read_text())
    assert (manifest["layers"], manifest["width"], manifest["heads"]) == (30, 1024, 16)
    names = set()
    for graph, tensors in manifest["graphs"].items():
        assert (GRAPHS_DIR / f"{graph}.onnx").is_file()
        assert not (GRAPHS_DIR / f"{graph}.onnx.data").exists()      # weights never ship
        for t in tensors:
            names.add(t["name"])
            assert t["name"] in coqui_tensors, f"{graph}: {t['name']} is not in coqui's XTTS v2"
            shape, dtype = coqui_tensors[t["name"]]
            assert (list(shape), dtype) == (t["shape"], t["dtype"]), t["name"]
    # nothing of the decode path is left out: every transformer block weight and the code head
    decode_path = {k for k in coqui_tensors if k.startswith(("gpt.gpt.h.", "gpt.mel_head", "gpt.final_norm"))}
    assert decode_path <= names
    assert sum(k.startswith("gpt.gpt.h.") for k in names) == 30 * 12
