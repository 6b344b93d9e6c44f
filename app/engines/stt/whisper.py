"""Speech to text with faster-whisper (CTranslate2): int8 on CPU, float16 on CUDA.

Tuned for push-to-talk commands of a few seconds: one window (30 s, or a shorter ``window_s``)
decoded straight through CTranslate2 (greedy, or a beam returning the n best hypotheses with a
confidence), optionally conditioned on a prompt of expected words, no conditioning on earlier
text, no timestamps (only a hypothesis of several sentences is aligned word by word, so that a
quieter talker's sentence can be dropped: stt/talkers.py). Silero VAD (shipped inside
faster-whisper) trims the silence around the utterance; when it finds no speech at all the clip
is decoded whole, so a clipped one-word command ("stop") is not thrown away. Silent or too-short
audio gives an empty transcript. English text has the assistant's own name spelled as such where
it was said to it (stt/names.py).
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np

from app.audio.clip import STT_RATE as RATE
from app.engines.protocol import Transcript
from app.engines.stt.names import fix_name
from app.engines.stt.talkers import QUIET_DB, Word, nearest_talker, sentences
from app.errors import UserError

log = logging.getLogger(__name__)

MIN_SECONDS = 0.1        # shorter than this holds no word
SILENCE_PEAK = 10 ** (-70 / 20)   # a clip whose loudest sample is under -70 dBFS is silence
# Greedy only for a command (one 30 s window): the temperature ladder re-samples at random, and
# a stable answer beats a random one for a command. Long clips keep a short ladder against
# Whisper's repetition loops.
WINDOW_SECONDS = 30.0
LONG_FORM_TEMPERATURES = (0.0, 0.4, 0.8)
NO_SPEECH_PROB, NO_SPEECH_LOGPROB = 0.6, -1.0     # faster-whisper's defaults
TOKENS_PER_SECOND = 8    # fast speech is about 4 words (5-6 tokens) a second


def resolve_device(device: str = "auto", compute_type: str = "auto") -> tuple[str, str]:
    """("cuda", "float16") when CTranslate2 sees a GPU, ("cpu", "int8") otherwise; checks choices."""
    import ctranslate2

    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device not in ("cpu", "cuda"):
        raise UserError(f"Unknown STT device {device!r}; use auto, cpu or cuda.")
    if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
        raise UserError("The STT device is set to cuda but no CUDA GPU is visible.")
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    supported = ctranslate2.get_supported_compute_types(device)
    if compute_type not in supported:
        raise UserError(f"Compute type {compute_type!r} does not run on {device} here; "
                        f"choose one of: {', '.join(sorted(supported))}.")
    return device, compute_type


class WhisperStt:
    """``beam_size``/``nbest``: beam search width and how many hypotheses come back as
    ``alternatives`` (n-best needs a beam at least that wide); ``pad_ms``: speech kept around what
    the VAD marks as speech; ``spell_name``: English transcripts write the assistant's name as
    "Kaytoo" where it was said and heard as something near it (stt/names.py).
    ``transcribe(prompt=...)`` conditions the decoder on expected words; ``talker_db``: a sentence
    spoken this far below the loudest one in its hypothesis was another talker's and is dropped
    (stt/talkers.py; None keeps every sentence); ``more_looks``: (window_s or None for 30 s,
    with the prompt?) of further decodes of a clip whose confidence is under
    ``look_again_below``, their n best following the first ones."""

    def __init__(self, model_dir: Path, device: str = "auto", compute_type: str = "auto",
                 vad: bool = True, beam_size: int = 1, cpu_threads: int = 0, nbest: int = 1,
                 pad_ms: int = 250, window_s: float | None = None, spell_name: bool = True,
                 talker_db: float | None = QUIET_DB,
                 more_looks: tuple[tuple[float | None, bool], ...] = (),
                 look_again_below: float = 0.7):
        self.model_dir = Path(model_dir)
        self.device = device
        self.compute_type = compute_type
        self.vad = vad
        self.beam_size = max(beam_size, nbest)
        self.nbest = nbest
        self.pad_ms = pad_ms
        self.window_s = window_s
        self.spell_name = spell_name
        self.talker_db = talker_db
        self.more_looks, self.look_again_below = more_looks, look_again_below
        self.cpu_threads = cpu_threads
        self.load_s: float | None = None
        self.decodes = 0        # decoder runs so far (incremental decoding counts on it)
        self.looks = 0          # beam searches so far (more looks count too)
        self._model = None
        self._lock = threading.Lock()  # one decode at a time; also guards the lazy load

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def multilingual(self) -> bool:
        """Valid after load(). English-only models (tiny.en, base.en...) report False."""
        self.load()
        return self._is_multilingual()

    def _is_multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual) and not self.model_dir.name.endswith(".en")

    def load(self) -> None:
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._model is not None:
            return
        if not (self.model_dir / "model.bin").is_file() or not (self.model_dir / "config.json").is_file():
            raise UserError(f"{self.model_dir} is not a CTranslate2 Whisper model "
                            "(model.bin and config.json are missing).")
        device, compute_type = resolve_device(self.device, self.compute_type)
        from faster_whisper import WhisperModel

        t0 = time.perf_counter()
        try:
            model = WhisperModel(str(self.model_dir), device=device, compute_type=compute_type,
                                 cpu_threads=self.cpu_threads, local_files_only=True)
        except (RuntimeError, ValueError, OSError) as e:
            # CTranslate2 reports an unreadable or mismatched model as RuntimeError/ValueError.
            raise UserError(f"The Whisper model in {self.model_dir} could not be loaded ({e}).") from e
        self.load_s = time.perf_counter() - t0
        self.device, self.compute_type = device, compute_type
        self._model = model
        log.info("whisper %s loaded on %s/%s in %.2f s", self.model_dir.name, device, compute_type,
                 self.load_s)

    def warm_up(self) -> None:
        """One throw-away decode: the first one allocates buffers and loads the VAD and costs
        several times a normal one, which the first command should not pay."""
        noise = np.random.default_rng(0).normal(0, 0.01, RATE).astype(np.float32)
        decodes = self.decodes
        self.transcribe(noise)
        self.decodes = decodes

    def transcribe(self, samples: np.ndarray, language: str | None = None,
                   prompt: str | None = None) -> Transcript:
        """Transcribe 16 kHz float32 mono samples. Never raises on silent or short audio."""
        audio = _as_mono_float32(samples)
        seconds = len(audio) / RATE
        t0 = time.perf_counter()
        with self._lock:
            self._load_locked()
            lang = self._pick_language(language, self._is_multilingual())
            if seconds < MIN_SECONDS or float(np.max(np.abs(audio))) < SILENCE_PEAK:
                return Transcript("", lang or "", seconds, time.perf_counter() - t0)
            speech = self._trim(audio) if self.vad else audio
            if speech is None:  # VAD heard nothing: decode the whole clip rather than drop it
                log.debug("VAD found no speech in %.2f s; decoding without VAD", seconds)
                speech = audio
            self.decodes += 1
            if len(speech) <= WINDOW_SECONDS * RATE:
                texts, confidence, lang = self._decode_window(speech, lang, prompt)
            else:
                texts, confidence, lang = self._decode_long(speech, lang, prompt)
        if self.spell_name and lang == "en":   # the assistant's name as spelled (stt/names.py)
            texts = list(dict.fromkeys(fix_name(t) for t in texts))
        return Transcript(texts[0], lang, seconds, time.perf_counter() - t0,
                          alternatives=texts, confidence=confidence)

    def _pick_language(self, language: str | None, multilingual: bool) -> str | None:
        if not multilingual:
            return "en"
        if not language:
            return None  # auto-detect
        code = language.strip().lower().replace("_", "-").split("-")[0]
        if code not in self._model.supported_languages:
            raise UserError(f"Language {language!r} is not one Whisper knows; use a code such as en, de or fr.")
        return code

    def _trim(self, audio: np.ndarray) -> np.ndarray | None:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        # Commands are short: a short silence ends a chunk, and some padding keeps soft consonants.
        opts = VadOptions(threshold=0.5, min_silence_duration_ms=500, speech_pad_ms=self.pad_ms)
        chunks = get_speech_timestamps(audio, opts, sampling_rate=RATE)
        if not chunks:
            return None
        return np.concatenate([audio[c["start"]:c["end"]] for c in chunks])

    def _decode_window(self, audio: np.ndarray, language: str | None,
                       prompt: str | None) -> tuple[list[str], float | None, str]:
        """One window straight through CTranslate2, which returns the n best hypotheses with
        their scores (faster-whisper's own ``transcribe`` keeps only the best). When the best is
        unsure, more looks (another encoder window, no prompt) add their n best after them: each
        mishears differently, and the grammar picks among all (the confidence stays the first
        look's)."""
        features = self._features(audio)
        texts, confidence, language = self._look(features, self.window_s, audio, language, prompt)
        if confidence is not None and confidence < self.look_again_below:
            for window_s, prompted in self.more_looks:
                more, _, _ = self._look(features, window_s, audio, language,
                                        prompt if prompted else None)
                texts = list(dict.fromkeys(texts + more))
        return texts, confidence, language

    def _look(self, features: np.ndarray, window_s: float | None, audio: np.ndarray,
              language: str | None, prompt: str | None) -> tuple[list[str], float | None, str]:
        """The n best of one decode with the encoder reading ``window_s`` of input."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        fw = self._model
        self.looks += 1
        encoded, frames = self._encode(features, window_s)
        if language is None:  # multilingual model, no language asked: detect it
            token, _ = fw.model.detect_language(encoded)[0][0]
            language = token[2:-2]
        tokenizer = Tokenizer(fw.hf_tokenizer, fw.model.is_multilingual, task="transcribe",
                              language=language)
        tokens = fw.get_prompt(tokenizer, [], without_timestamps=True)
        if prompt and prompt.strip():
            words = tokenizer.encode(" " + prompt.strip())[-(fw.max_length // 2 - 1):]
            tokens = [tokenizer.sot_prev, *words, *tokens]
        # A command cannot hold more than a few tokens a second: the bound stops a repetition
        # loop on noise ("I'm sorry, I'm sorry, ...") from decoding for seconds.
        most = len(tokens) + int(TOKENS_PER_SECOND * len(audio) / RATE) + 8
        result = fw.model.generate(
            encoded, [tokens], beam_size=self.beam_size, num_hypotheses=self.nbest,
            return_scores=True, return_no_speech_prob=True, max_length=min(fw.max_length, most),
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1])))[0]
        ids, score = result.sequences_ids[0], result.scores[0]
        # The score is the sum of log-probabilities over the length (length_penalty 1): as
        # faster-whisper does, spread it over the tokens plus end-of-text, then map to 0..1.
        avg_logprob = score * len(ids) / (len(ids) + 1)
        if result.no_speech_prob > NO_SPEECH_PROB and avg_logprob < NO_SPEECH_LOGPROB:
            return [""], None, language       # faster-whisper's rule for a window with no speech
        texts: list[str] = []
        for ids in result.sequences_ids:
            text = tokenizer.decode(ids).strip()
            if not any(c.isalnum() for c in text):
                text = ""                      # a lone "." or "..." is no words
            text = self._nearest_talker(text, tokenizer, encoded, audio, frames)
            if text not in texts:  # hypotheses that differ only in tokenisation read the same
                texts.append(text)
        if texts[0] == "":
            return [""], None, language
        return [t for t in texts if t], float(np.exp(avg_logprob)), language

    def _nearest_talker(self, text: str, tokenizer, encoded, audio: np.ndarray, frames: int) -> str:
        """``text`` without the sentences a quieter talker said (stt/talkers.py); only a
        hypothesis of two or more sentences is aligned (one decoder pass, a few milliseconds)."""
        if self.talker_db is None or len(sentences(text)) < 2:
            return text
        try:
            words = self._aligned(text, tokenizer, encoded, frames)
        except (RuntimeError, ValueError) as e:   # e.g. a model converted without alignment heads
            log.debug("no word timings (%s); the sentences stay", e)
            return text
        return nearest_talker(text, words, audio, self.talker_db)

    def _aligned(self, text: str, tokenizer, encoded, frames: int) -> list[Word]:
        aligned = self._model.find_alignment(tokenizer, [tokenizer.encode(" " + text)],
                                             encoded, frames)[0]
        return [(w["word"], w["start"], w["end"]) for w in aligned]

    def word_timings(self, samples: np.ndarray, text: str, language: str = "en") -> list[Word]:
        """Where each word of ``text`` lies in ``samples`` (16 kHz mono, no VAD trim), as
        Whisper's cross-attention aligns them: (word, start s, end s)."""
        from faster_whisper.tokenizer import Tokenizer

        audio = _as_mono_float32(samples)
        with self._lock:
            self._load_locked()
            fw = self._model
            encoded, frames = self._encode(self._features(audio), self.window_s)
            tokenizer = Tokenizer(fw.hf_tokenizer, fw.model.is_multilingual, task="transcribe",
                                  language=language)
            return self._aligned(text.strip(), tokenizer, encoded, frames)

    def _features(self, audio: np.ndarray) -> np.ndarray:
        return self._model.feature_extractor(audio)[..., :-1]

    def _encode(self, features: np.ndarray, window_s: float | None):
        """The encoder's output for ``features`` in a window of ``window_s``, and the number of
        frames that hold the audio (what the aligner needs)."""
        from faster_whisper.audio import pad_or_trim

        frames = features.shape[-1]
        return self._model.encode(pad_or_trim(features, self._frames(frames, window_s))), frames

    @staticmethod
    def _frames(speech_frames: int, window_s: float | None) -> int:
        """Encoder input length in 10 ms frames: Whisper's 30 s window, or with ``window_s`` a
        shorter one (never shorter than the speech), as whisper.cpp's audio_ctx does: the encoder's
        cost grows with its input, and a command fills a few seconds of the 30."""
        full = int(WINDOW_SECONDS * 100)
        if window_s is None:
            return full
        frames = max(int(window_s * 100), speech_frames + 1)
        return min(full, frames + frames % 2)        # the encoder's first conv has stride 2

    def _decode_long(self, audio: np.ndarray, language: str | None,
                     prompt: str | None) -> tuple[list[str], float | None, str]:
        """Beyond one window faster-whisper's sliding decode runs; the best text only."""
        segments, info = self._model.transcribe(
            audio, language=language, beam_size=self.beam_size, best_of=1,
            condition_on_previous_text=False, without_timestamps=True, vad_filter=False,
            initial_prompt=prompt or None, temperature=list(LONG_FORM_TEMPERATURES))
        segments = [s for s in segments if s.text.strip()]
        text = " ".join(s.text.strip() for s in segments).strip()
        confidence = (float(np.exp(np.mean([s.avg_logprob for s in segments])))
                      if segments else None)
        return [text], confidence, info.language or (language or "")


def _as_mono_float32(samples: np.ndarray) -> np.ndarray:
    audio = np.asarray(samples)
    if audio.ndim == 2 and 1 in audio.shape:
        audio = audio.reshape(-1)
    if audio.ndim != 1:
        raise UserError(f"Speech for transcription must be mono; got an array of shape {audio.shape}.")
    if audio.dtype.kind == "i":  # PCM integers: scale to [-1, 1]
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max)
    audio = audio.astype(np.float32, copy=False)
    if not np.all(np.isfinite(audio)):
        raise UserError("The speech samples contain NaN or infinite values.")
    return audio
