"""The app's speaker and microphone: opening, reopening after a device change or a re-scan, and the
life of one reply on the speaker (begin, feed, end, cut). Qt-free.

``player_factory``/``recorder_factory`` build the devices (``app.audio.Player``/``Recorder`` by
default); tests hand in fakes with the same methods.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from app.audio import clip, devices
from app.audio.capture import Recorder, measure_input
from app.audio.playback import Player, tone
from app.errors import UserError
from app.settings.model import AudioSettings

log = logging.getLogger(__name__)

CHARS_PER_SECOND = 14.0       # speaking rate used to guess a reply's length for the jitter buffer
MIN_HOLD_S = 0.3              # shorter than this is a tap, not a question


class AudioIO:
    def __init__(self, settings: AudioSettings, *, mic_file: Path | None = None,
                 on_level: Callable[[float], None] = lambda db: None,
                 on_first_sample: Callable[[float], None] = lambda t: None,
                 on_message: Callable[[str], None] = lambda text: None,
                 player_factory: Callable[..., Player] = Player,
                 recorder_factory: Callable[..., Recorder] = Recorder):
        self.settings, self.mic_file = settings, mic_file
        self.on_level, self.on_first_sample, self.on_message = on_level, on_first_sample, on_message
        self._player_factory, self._recorder_factory = player_factory, recorder_factory
        self.player: Player | None = None
        self.recorder: Recorder | None = None
        self._reply_chars = 0
        self._speed = 1.0
        self._pushed_s = 0.0

    # -- devices ---------------------------------------------------------------------------------
    def open(self) -> None:
        self.player = self._open_player()
        if self.mic_file is None:
            try:   # open now: a fresh input stream can take a second to start delivering
                self._open_mic()
            except UserError as e:
                self.on_message(f"{e} Push-to-talk will try again when pressed.")

    def close(self) -> None:
        if self.player is not None:
            self.player.stop_now()
        self._close_mic()
        if self.player is not None:
            self.player.close()

    def apply(self, new: AudioSettings) -> None:
        """Reopen what a settings change touches (not the microphone while it records)."""
        old, self.settings = self.settings, new
        if (old.output_device, old.output_rate) != (new.output_device, new.output_rate):
            self.player.close()
            self.player = self._open_player()
        if old.input_device != new.input_device and not self.recording:
            self._close_mic()
            if self.mic_file is None:
                try:
                    self._open_mic()
                except UserError as e:
                    self.on_message(str(e))

    def rescan(self) -> tuple[list[str], list[str]]:
        """PortAudio re-initialisation closes every stream: close ours, re-scan, reopen.
        Returns the input and output device names."""
        self.player.close()
        self._close_mic()
        try:
            devices.rescan()
        except Exception as e:
            self.on_message(f"The audio system could not be re-scanned ({e}).")
        self.player = self._open_player()
        if self.mic_file is None:
            try:
                self._open_mic()
            except UserError:
                pass   # reported when push-to-talk is pressed
        return devices.names("input"), devices.names("output")

    # -- listening -------------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.recorder is not None and self.recorder.recording

    @property
    def live(self) -> bool:
        """A real microphone (not a file standing in for one): its audio arrives while held."""
        return self.mic_file is None

    def begin_listening(self, still_wanted: Callable[[], bool],
                        on_audio: Callable[[np.ndarray], None] | None = None,
                        preroll: bool = True) -> bool:
        """Start recording; ``on_audio`` gets the 16 kHz audio as it arrives. A device that fails
        is re-scanned once (it may have been plugged in since). False, with the reason sent to
        ``on_message``, when no microphone can be used. ``preroll`` False drops what the
        microphone held from before the press (a barge-in: that was Kaytoo speaking, and it must
        not become a question)."""
        if self.mic_file is not None:
            return True
        for attempt in (1, 2):
            try:
                self._open_mic()
                self.recorder.begin(on_audio, preroll=preroll)
                return True
            except UserError as e:
                self._close_mic()
                if attempt == 1 and still_wanted():
                    self.rescan()
                    continue
                self.on_message(str(e))
        return False

    def end_listening(self) -> np.ndarray | None:
        """What was heard while the key was held (16 kHz), or None (with the reason sent to
        ``on_message``) when it was too short to be a question or nothing was recording."""
        if self.mic_file is not None:
            try:
                return clip.load(self.mic_file, clip.STT_RATE).samples
            except UserError as e:
                self.on_message(str(e))
                return None
        if not self.recording:
            return None
        samples = self.recorder.end()
        if len(samples) < MIN_HOLD_S * clip.STT_RATE:
            self.on_message("Hold the button (or the key) while you speak, then let go.")
            return None
        return samples

    def mic_check(self, device: str | None, seconds: float = 3.0) -> float:
        """The loudest level heard in ``seconds`` from ``device``, dBFS (blocks)."""
        return measure_input(device, seconds, on_level=self.on_level)

    # -- speaking --------------------------------------------------------------------------------
    def begin_reply(self, speed: float = 1.0, expected_s: float | None = None) -> None:
        self._reply_chars, self._speed, self._pushed_s = 0, speed, 0.0
        self.player.new_reply(expected_s)

    def sentence_coming(self, text: str) -> None:
        """A sentence went to synthesis: the jitter buffer times it and guesses the reply's length."""
        self._reply_chars += len(text) + 1
        self.player.expect_more(self._reply_chars / (CHARS_PER_SECOND * self._speed))

    def play(self, chunk: np.ndarray) -> None:
        self._pushed_s += len(chunk) / self.player.rate
        self.player.play(chunk)

    def heard_fraction(self) -> float:
        """How much of the reply's text was heard, by the audio played against the length its
        text would take to say (a reply cut short by a lost engine)."""
        expected = self._reply_chars / (CHARS_PER_SECOND * self._speed)
        if not expected:
            return 0.0
        return max(0.0, min(1.0, self._pushed_s * self.player.played_fraction() / expected))

    def end_reply(self, cancel: threading.Event | None = None, timeout: float = 600.0) -> None:
        """No more audio for this reply: wait until it is played out (or cut)."""
        self.player.end_of_reply()
        waited = 0.0
        while not self.player.wait_done(0.05) and waited < timeout:
            if cancel is not None and cancel.is_set():
                return
            waited += 0.05

    def cut(self) -> float:
        """Barge-in: silence the speaker now. Returns the fraction of the reply that was heard."""
        heard = self.player.played_fraction()
        self.player.stop_now()
        return heard

    def stop(self) -> None:
        self.player.stop_now()

    def play_clip(self, samples: np.ndarray, rate: int) -> None:
        self.player.play_clip(samples, rate)

    def test_tone(self, device: str | None) -> None:
        if device == self.settings.output_device and self.player.running:
            self.player.play_clip(tone(), 48000)
            return
        temp = self._player_factory(device, self.settings.output_rate)
        temp.start()
        temp.play_clip(tone(), 48000)
        threading.Thread(target=lambda: (temp.wait_done(5), temp.close()), daemon=True).start()

    @property
    def first_dac(self) -> float | None:
        return self.player.first_dac

    @property
    def underruns(self) -> int:
        return self.player.underruns

    @property
    def volume(self) -> float:
        return self.player.volume

    @volume.setter
    def volume(self, value: float) -> None:
        self.player.volume = value

    # -- helpers ---------------------------------------------------------------------------------
    def _open_player(self) -> Player:
        player = self._player_factory(self.settings.output_device, self.settings.output_rate,
                                      on_first_sample=self.on_first_sample)
        try:
            player.start()
        except UserError as e:  # no speaker: still usable, answers are shown
            self.on_message(f"{e} Answers will be shown but not heard.")
        return player

    def _open_mic(self) -> None:
        if self.recorder is None or not self.recorder.is_open:
            self.recorder = self._recorder_factory(self.settings.input_device, self.on_level)
            self.recorder.open()

    def _close_mic(self) -> None:
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
