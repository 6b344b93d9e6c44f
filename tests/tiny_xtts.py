"""Build a tiny XTTS v2 from code, saved in the same layout as the real download.

The model hub is out of reach in tests, so this makes a folder the real loading code can read:
``config.json``, ``model.pth`` (pickled like the hub's file), ``vocab.json`` and
``speakers_xtts.pth``. The GPT is shrunk
(2 layers, width 64, a fixed 57 audio codes per sentence: the stop code is switched off), the
tokenizer is a small BPE vocabulary trained here, and the HiFiGAN decoder and speaker encoder keep
their real size, so decoding costs what it costs in the real model. Weights are random, so the
audio is noise-like: tests check shapes, rates, caching and cost, never what is said.

Used by tests/test_xtts.py and bench/bench_xtts_stream.py. Takes ~10 s (mostly the full-size
decoder), so callers build it once and reuse the folder.
"""
from __future__ import annotations

from pathlib import Path

WIDTH = 64
LAYERS = 2
MAX_AUDIO_TOKENS = 60
SPEAKER = "Tiny Speaker"
SPECIAL_TOKENS = ["[STOP]", "[UNK]", "[SPACE]", "[START]", "[en]"]

_CORPUS = [
    "affirmative. the time is three ten in the afternoon.",
    "i have a bad feeling about this. congratulations, you are being rescued.",
    "the captain says you are a friend. i will not kill you.",
    "quiet! there is a fresh one if you mouth off again. hello there, how are you today?",
    "zero one two three four five six seven eight nine. a quick brown fox jumps over the lazy dog.",
]


def build_vocab(path: Path) -> int:
    """A tiny BPE vocabulary with the special tokens XTTS looks up by name; returns its size."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    alphabet = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-:;")
    trainer = trainers.BpeTrainer(vocab_size=200, special_tokens=SPECIAL_TOKENS, initial_alphabet=alphabet)
    tok.train_from_iterator(_CORPUS, trainer=trainer)
    tok.save(str(path))
    return tok.get_vocab_size()


def tiny_config(vocab_file: Path, max_audio_tokens: int = MAX_AUDIO_TOKENS):
    from TTS.tts.configs.xtts_config import XttsArgs, XttsConfig

    args = XttsArgs(
        gpt_layers=LAYERS, gpt_n_model_channels=WIDTH, gpt_n_heads=4,
        gpt_max_audio_tokens=max_audio_tokens, gpt_max_text_tokens=200, gpt_max_prompt_tokens=70,
        gpt_num_audio_tokens=1026, gpt_start_audio_token=1024, gpt_stop_audio_token=1025,
        gpt_use_perceiver_resampler=True, gpt_use_masking_gt_prompt_approach=True,
        decoder_input_dim=WIDTH, d_vector_dim=512, tokenizer_file=str(vocab_file),
    )
    return XttsConfig(model_args=args, languages=["en"])


def build_tiny_xtts(out_dir: Path, seed: int = 0, speakers: bool = True,
                    max_audio_tokens: int = MAX_AUDIO_TOKENS) -> Path:
    """Write a tiny XTTS v2 model folder to ``out_dir`` and return it.

    Every sentence comes out as ``max_audio_tokens - 3`` codes (46 ms of speech each).
    """
    import torch
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = out_dir / "vocab.json"
    build_vocab(vocab)
    config = tiny_config(vocab, max_audio_tokens)

    torch.manual_seed(seed)
    model = Xtts(config)
    model.tokenizer = VoiceBpeTokenizer(vocab_file=str(vocab))
    model.init_models()  # now the GPT exists: its text-token count comes from the tokenizer
    config.model_args = model.args

    # Random weights seldom pick the stop code; make it never, so every sentence is exactly
    # max_audio_tokens - 3 codes long and tests know how many chunks to expect.
    with torch.no_grad():
        model.gpt.mel_head.bias[config.model_args.gpt_stop_audio_token] = -1e4

    config.save_json(str(out_dir / "config.json"))
    _save_hub_style(model, config, out_dir / "model.pth")
    if speakers:
        latents = {SPEAKER: {"gpt_cond_latent": torch.randn(1, 32, WIDTH),
                             "speaker_embedding": torch.nn.functional.normalize(torch.randn(1, 512), dim=1)
                             .unsqueeze(-1)}}
        torch.save(latents, out_dir / "speakers_xtts.pth")
    return out_dir


def _save_hub_style(model, config, path: Path) -> None:
    """Save like the published XTTS-v2 model.pth: the config pickled as an XttsConfig object whose
    XttsArgs/XttsAudioConfig live under the old ``TTS.tts.models.xtts`` path. coqui-tts loads that
    through its legacy branch, the one the real file takes."""
    import torch
    from TTS.tts.configs.xtts_config import XttsArgs, XttsAudioConfig

    saved = {cls: cls.__module__ for cls in (XttsArgs, XttsAudioConfig)}
    try:
        for cls in saved:
            cls.__module__ = "TTS.tts.models.xtts"
        torch.save({"model": model.state_dict(), "config": config}, path)
    finally:
        for cls, module in saved.items():
            cls.__module__ = module


if __name__ == "__main__":
    import sys

    print(build_tiny_xtts(Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-xtts")))
