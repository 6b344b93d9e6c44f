"""The full-size XTTS v2 from its published configuration, with random weights (build and bench
only: needs torch and coqui-tts). The hub is out of reach here, so the packaged graphs are exported
from this model: their structure and tensor names/shapes are the real model's, their reference
values are not (the converter's self-test knows, see convert.py).

    python -m app.engines.xtts_onnx.published WORK_DIR [--graphs app/engines/xtts_onnx/graphs]

writes ``WORK_DIR/xtts-v2`` (config.json, vocab.json, model.pth: ~1.8 GB) and, with ``--graphs``,
the weightless graphs the package ships.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

# XTTS-v2's config.json on the hub (coqui/XTTS-v2, revision pinned in app/engines/models.py)
MODEL_ARGS = dict(
    gpt_batch_size=1, kv_cache=True, gpt_max_audio_tokens=605, gpt_max_text_tokens=402,
    gpt_max_prompt_tokens=70, gpt_layers=30, gpt_n_model_channels=1024, gpt_n_heads=16,
    gpt_number_text_tokens=6681, gpt_num_audio_tokens=1026, gpt_start_audio_token=1024,
    gpt_stop_audio_token=1025, gpt_code_stride_len=1024, gpt_use_masking_gt_prompt_approach=True,
    gpt_use_perceiver_resampler=True, input_sample_rate=22050, output_sample_rate=24000,
    output_hop_length=256, decoder_input_dim=1024, d_vector_dim=512,
    cond_d_vector_in_each_upsampling_layer=True, duration_const=102400)
SAMPLING = dict(temperature=0.75, length_penalty=1.0, repetition_penalty=5.0, top_k=50, top_p=0.85,
                gpt_cond_len=30, gpt_cond_chunk_len=4, max_ref_len=30, sound_norm_refs=False)
LANGUAGES = ["en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh-cn", "hu", "ko",
             "ja", "hi"]


def published_config(vocab_file: Path | None = None):
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig

    args = XttsArgs(**MODEL_ARGS, tokenizer_file=str(vocab_file or ""))
    return XttsConfig(model_args=args, languages=LANGUAGES, **SAMPLING)


def build_model(device: str = "cpu"):
    """coqui's Xtts built from the published configuration (``device="meta"``: shapes only)."""
    import torch
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    config = published_config()
    with torch.device(device):
        model = Xtts(config)
        model.tokenizer = VoiceBpeTokenizer(None)   # keep the published text-token count (6681)
        model.init_models()
    return model, config


def write_vocab(path: Path, size: int) -> None:
    """A BPE vocabulary with XTTS's special tokens padded to ``size`` ids (a stand-in for the real
    vocab.json: the model's text embedding has one row per id)."""
    from tokenizers import Tokenizer

    from tests.tiny_xtts import build_vocab

    build_vocab(path)
    tok = Tokenizer.from_file(str(path))
    tok.add_tokens([f"<pad{i}>" for i in range(size - tok.get_vocab_size())])
    tok.save(str(path))


def build_full_size(work: Path, seed: int = 0) -> Path:
    """Write ``work/xtts-v2`` like the hub's download, random weights, stop code switched off."""
    import torch

    from tests.tiny_xtts import _save_hub_style

    folder = Path(work) / "xtts-v2"
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model, config = build_model()
    with torch.no_grad():   # random weights rarely pick the stop code; make it never (fixed lengths)
        model.gpt.mel_head.bias[MODEL_ARGS["gpt_stop_audio_token"]] = -1e4
    write_vocab(folder / "vocab.json", MODEL_ARGS["gpt_number_text_tokens"])
    config.model_args.tokenizer_file = ""
    config.save_json(str(folder / "config.json"))
    _save_hub_style(model, config, folder / "model.pth")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("--graphs", type=Path, help="write the weightless graphs here")
    args = parser.parse_args()
    folder = args.work / "xtts-v2"
    if not (folder / "model.pth").is_file():
        build_full_size(args.work)
    if args.graphs:
        from app.engines.xtts_onnx.export import export

        exported = export(folder, args.work / "exported")
        args.graphs.mkdir(parents=True, exist_ok=True)
        for f in exported.iterdir():
            if not f.name.endswith(".data"):
                shutil.copy2(f, args.graphs / f.name)
    print(folder)


if __name__ == "__main__":
    main()
