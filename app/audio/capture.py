"""Capture: a sounddevice InputStream at the device's native rate, resampled to 16 kHz for STT.

The PortAudio callback only copies blocks into a queue; a capture thread resamples them, keeps
the audio and reports the input level (dBFS, at most ``level_hz`` times a second) for a meter.
Nothing here knows about Qt: callbacks are plain functions, called from the capture thread.

Push-to-talk keeps the stream open (``open``) and only keeps audio between ``begin`` and ``end``:
on PulseAudio a newly opened input stream beside a playing output delivered nothing for 1–1.5 s,
which would swallow the start of every question. While open and not recording, only the last
``preroll_s`` of audio is held (so the first syllable, spoken as the key goes down, is kept);
everything else is dropped as it arrives. ``start``/``stop`` do open+begin and end+close in one.
"""
from __future__ import annotations

import collections
import logging
import queue
import threading
from typing import Callable

import numpy as np

from app.audio.clip import STT_RATE, StreamResampler, rms_dbfs
from app.audio.devices import close_stream
from app.audio.devices import pick
from app.errors import UserError

log = logging.getLogger(__name__)

PREFERRED_RATE = 48000   # full duplex at 22050 Hz recorded silence on PulseAudio; 48 kHz works
MAX_SECONDS = 120.0      # a stuck key must not fill the memory


def native_rate(device_index: int, device_default: int, preferred: int = PREFERRED_RATE) -> int:
    """48 kHz when the device takes it (virtual and most real devices do), else its default."""
    import sounddevice as sd

    try:
        sd.check_input_settings(device=device_index, samplerate=preferred, channels=1,
                                dtype="float32")
        return preferred
    except Exception:
        return device_default


class Recorder:
    """Microphone capture. ``open()``; ``begin()``…``end()`` per utterance (mono float32, 16 kHz);
    ``close()``. ``keep_native`` also keeps each utterance at the device rate (``native()``),
    for voice samples that want more than 16 kHz."""

    def __init__(self, device: str | None = None, on_level: Callable[[float], None] | None = None,
                 level_hz: float = 30.0, keep_native: bool = False,
                 max_seconds: float = MAX_SECONDS, blocksize: int = 0, preroll_s: float = 0.25,
                 levels_when_idle: bool = False):
        self.device, self.on_level, self.level_hz = device, on_level, level_hz
        self.keep_native, self.max_seconds, self.blocksize = keep_native, max_seconds, blocksize
        self.preroll_s, self.levels_when_idle = preroll_s, levels_when_idle
        self.rate = 0
        self.device_name = ""
        self.overflows = 0
        self._stream = None
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._recording = False
        self._preroll: collections.deque[np.ndarray] = collections.deque()
        self._preroll_frames = 0
        self._parts: list[np.ndarray] = []
        self._native: list[np.ndarray] = []
        self._frames = 0
        self._resampler: StreamResampler | None = None
        self._on_audio: Callable[[np.ndarray], None] | None = None

    # -- the stream ---------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._stream is not None

    @property
    def recording(self) -> bool:
        return self._recording

    @property
    def seconds(self) -> float:
        """Length of the current (or last) utterance."""
        return self._frames / self.rate if self.rate else 0.0

    def open(self) -> None:
        import sounddevice as sd

        if self._stream is not None:
            return
        dev = pick(self.device, "input")   # no re-scan here: it would close the speaker's stream
        self.rate = native_rate(dev.index, dev.default_rate)
        self.device_name = dev.name
        self._queue = queue.Queue()
        self._flowing.clear()
        try:
            self._stream = sd.InputStream(device=dev.index, samplerate=self.rate, channels=1,
                                          dtype="float32", blocksize=self.blocksize,
                                          callback=self._callback)
            self._stream.start()
        except Exception as e:
            self._stream = None
            raise UserError(f"The microphone '{dev.name}' could not be opened ({e}).") from None
        self._thread = threading.Thread(target=self._drain, name="capture", daemon=True)
        self._thread.start()

    def wait_flowing(self, timeout: float) -> bool:
        """True once the device has delivered audio (it can take a second after opening)."""
        return self._flowing.wait(timeout)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            close_stream(stream, "input")
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(5)
            self._thread = None
        self._recording = False

    # -- utterances -----------------------------------------------------------------------------
    def begin(self, on_audio: Callable[[np.ndarray], None] | None = None,
              preroll: bool = True) -> None:
        """Start keeping audio for one utterance, with the pre-roll unless ``preroll`` is False
        (a barge-in: what the microphone just heard was Kaytoo's own voice from the speaker).
        ``on_audio`` also gets each 16 kHz block as it is kept (on the capture thread: it must
        not block)."""
        if not preroll:
            self._settle()   # blocks already delivered belong to the pre-roll being dropped
        with self._lock:
            self._on_audio = on_audio
            if not preroll:
                self._preroll.clear()
            self._resampler = StreamResampler(self.rate, STT_RATE)
            self._parts, self._native, self._frames = [], [], 0
            held = list(self._preroll)
            self._preroll.clear()
            self._preroll_frames = 0
            self._recording = True
            for block in held:
                self._keep(block)

    def end(self) -> np.ndarray:
        """Stop keeping audio and return the utterance: mono float32 at 16 kHz."""
        self._settle()
        with self._lock:
            self._recording = False
            self._on_audio = None
            if self._resampler is not None:
                self._parts.append(self._resampler.push(np.zeros(0, np.float32), last=True))
                self._resampler = None
            audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
            self._parts = []
        return audio.astype(np.float32, copy=False)

    def native(self) -> np.ndarray:
        """The last utterance at ``self.rate`` (only with ``keep_native``)."""
        with self._lock:
            return np.concatenate(self._native) if self._native else np.zeros(0, np.float32)

    def start(self) -> None:
        """Open and begin at once (one-shot recordings)."""
        self.open()
        self.begin()

    def stop(self) -> np.ndarray:
        """End and close at once; returns the utterance at 16 kHz."""
        audio = self.end() if self._recording else np.zeros(0, np.float32)
        self.close()
        return audio

    # -- threads --------------------------------------------------------------------------------
    def _callback(self, indata, _frames, _time, status) -> None:
        # Real-time thread: copy and hand over, nothing else.
        if status.input_overflow:
            self.overflows += 1
        self._queue.put(indata[:, 0].copy())

    def _settle(self) -> None:
        """Let the capture thread take in the blocks already delivered (end of the utterance)."""
        if self._thread is None:
            return
        marker = threading.Event()
        self._queue.put(marker)  # type: ignore[arg-type]
        marker.wait(1.0)

    def _drain(self) -> None:
        every = max(1, int(self.rate / max(self.level_hz, 1.0)))
        pending: list[np.ndarray] = []
        since_level = 0
        while True:
            block = self._queue.get()
            if block is None:
                return
            if isinstance(block, threading.Event):
                block.set()
                continue
            self._flowing.set()
            with self._lock:
                recording = self._recording
                if recording:
                    self._keep(block)
                else:
                    self._hold(block)
            if self.on_level is not None and (recording or self.levels_when_idle):
                pending.append(block)
                since_level += block.size
                if since_level >= every:
                    try:
                        self.on_level(rms_dbfs(np.concatenate(pending)))
                    except Exception:  # a listener's bug must not stop the recording
                        log.exception("level listener failed")
                    pending, since_level = [], 0

    def _keep(self, block: np.ndarray) -> None:
        if self._frames >= self.max_seconds * self.rate:
            return
        self._frames += block.size
        part = self._resampler.push(block)
        self._parts.append(part)
        if self._on_audio is not None and part.size:
            try:
                self._on_audio(part)
            except Exception:  # a listener's bug must not stop the recording
                log.exception("audio listener failed")
        if self.keep_native:
            self._native.append(block)

    def _hold(self, block: np.ndarray) -> None:
        self._preroll.append(block)
        self._preroll_frames += block.size
        limit = self.preroll_s * self.rate
        while self._preroll and self._preroll_frames - self._preroll[0].size >= limit:
            self._preroll_frames -= self._preroll.popleft().size


def measure_input(device: str | None, seconds: float, stop: threading.Event | None = None,
                  on_level: Callable[[float], None] | None = None) -> float:
    """The loudest level (dBFS) heard in ``seconds`` once the device delivers: the mic check."""
    levels: list[float] = []

    def note(db: float) -> None:
        levels.append(db)
        if on_level:
            on_level(db)

    rec = Recorder(device, note, level_hz=20)
    rec.open()
    try:
        rec.wait_flowing(3.0)   # a fresh input stream can take a second to start delivering
        rec.begin()
        (stop or threading.Event()).wait(seconds)
        audio = rec.end()
    finally:
        rec.close()
    peak_block = max(levels, default=-120.0)
    return max(peak_block, rms_dbfs(audio)) if len(audio) else peak_block
