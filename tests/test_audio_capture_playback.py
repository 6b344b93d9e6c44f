"""Capture and playback on the virtual sound card: what the player sends to the speaker comes back
on the microphone (its monitor), resampled to 16 kHz, with levels reported; stop is immediate."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from app.audio.capture import Recorder, measure_input
from app.audio.clip import STT_RATE, load
from app.audio.playback import Player, tone


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def listening(on_level=None) -> Recorder:
    """A microphone that is delivering audio and keeping it (a fresh stream can take a second)."""
    rec = Recorder(None, on_level)
    rec.open()
    assert rec.wait_flowing(10)
    rec.begin()
    return rec


@pytest.fixture
def player(pulse):
    p = Player()
    p.start()
    yield p
    p.close()


def test_a_tone_round_trips_at_48k_and_arrives_at_16k(player):
    levels: list[float] = []
    rec = listening(levels.append)
    assert rec.rate == 48000, "the virtual device runs at its native 48 kHz"
    player.play_clip(tone(440, 1.0), 48000)
    assert player.wait_first_sample(5)
    assert player.first_dac >= player.first_written
    assert player.wait_done(10)
    audio = rec.stop()
    assert len(audio) > 0.8 * STT_RATE
    loud = audio[np.abs(audio) > 0.05]
    assert len(loud) > 0.5 * STT_RATE
    assert dominant_hz(audio, STT_RATE) == pytest.approx(440, abs=5)
    assert max(levels) > -20 and min(levels) < max(levels)
    assert player.underruns == 0


def test_push_to_talk_keeps_only_the_utterance_and_a_short_preroll(player):
    rec = Recorder(None, preroll_s=0.25)
    rec.open()
    assert rec.wait_flowing(10)
    player.play_clip(tone(440, 1.0), 48000)    # spoken while the key is up: not kept
    assert player.wait_done(10)
    quiet = threading.Event()
    quiet.wait(0.5)
    rec.begin()
    player.play_clip(tone(660, 0.5), 48000)
    assert player.wait_done(10)
    audio = rec.end()
    assert rec.is_open and not rec.recording
    assert dominant_hz(audio, STT_RATE) == pytest.approx(660, abs=5)
    assert len(audio) < 1.2 * STT_RATE
    rec.close()


def test_speech_round_trips_in_chunks_like_a_reply(player, speak):
    clip = load(speak("The odds of successfully navigating an asteroid field are approximately "
                      "three thousand seven hundred twenty to one.", "odds"), 48000)
    rec = listening()
    player.new_reply(expected_s=clip.seconds)
    player.buffer.begin()
    for i in range(0, len(clip.samples), 4800):          # 100 ms chunks, as the engine sends them
        player.play(clip.samples[i:i + 4800])
    player.end_of_reply()
    assert player.wait_done(30)
    audio = rec.stop()
    # The whole reply came back: as long as what was sent, and as loud.
    voiced = np.count_nonzero(np.abs(audio) > 0.02) / STT_RATE
    sent = np.count_nonzero(np.abs(clip.samples) > 0.02) / 48000
    assert voiced == pytest.approx(sent, rel=0.15)
    assert player.underruns == 0


def test_stop_now_silences_the_speaker_at_once(player):
    player.new_reply()
    player.play(tone(330, 4.0))
    player.end_of_reply()
    assert player.wait_first_sample(5)
    player.stop_now()
    assert player.wait_done(1) and player.buffer.buffered_s == 0
    rec = listening()
    threading.Event().wait(0.5)      # record half a second of what the speaker does now
    audio = rec.stop()
    assert len(audio) > 0.4 * STT_RATE
    assert np.abs(audio[len(audio) // 3:]).max() < 0.01, "nothing but silence after the stop"
    player.play_clip(tone(440, 0.2), 48000)                 # and it plays again afterwards
    assert player.wait_done(5) and player.first_written is not None


def test_a_reply_at_another_rate_is_resampled_to_the_device(pulse):
    p = Player(rate=22050)              # an engine sending 22.05 kHz
    p.start()
    try:
        assert p.device_rate in (22050, 48000, 44100)
        rec = listening()
        p.play_clip(tone(440, 0.8, rate=22050), 22050)
        assert p.wait_done(10)
        audio = rec.stop()
        assert dominant_hz(audio, STT_RATE) == pytest.approx(440, abs=5)
    finally:
        p.close()


def test_mic_check_hears_the_test_tone(player):
    result: list[float] = []
    t = threading.Thread(target=lambda: result.append(measure_input(None, 1.5)))
    player.play_clip(tone(440, 6.0), 48000)   # longer than the check, whenever it starts
    t.start()
    t.join(20)
    player.stop_now()
    assert result and result[0] > -20
