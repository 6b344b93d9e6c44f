"""Hearing while the key is held: the incremental transcriber, the Wyoming server fed in real
time, and `kaytoo turn --realtime`. Structural: decodes are counted, nothing is timed."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from app.audio.clip import load
from app.engines.models import ModelStore
from app.engines.protocol import Transcript
from app.engines.stt.incremental import IncrementalTranscriber, feed_in_real_time
from app.engines.stt.whisper import RATE, WhisperStt

CHUNK = RATE // 50       # 20 ms, as Home Assistant and a microphone deliver them


@pytest.fixture(scope="module")
def stt(tmp_path_factory) -> WhisperStt:
    stt = WhisperStt(ModelStore(tmp_path_factory.mktemp("models")).path_for("tiny.en"))
    stt.load()
    stt.warm_up()
    return stt


def clip(speak, text: str) -> np.ndarray:
    return load(speak(text), rate=RATE).samples


def hold_silent_until_heard(tx: IncrementalTranscriber) -> None:
    """Keep the key held, silent, until a decode at the pause has covered the speech (bounded:
    a minute of silence at real-time pace is far more than any machine needs)."""
    silence = np.zeros(CHUNK, np.float32)
    for _ in range(50 * 60):
        feed_in_real_time(tx, silence)
        if tx.latest is not None and tx.wait_idle(0):
            return
    pytest.fail("no decode happened during a minute of silence after speech")


def test_fed_all_at_once_it_decodes_once_like_a_one_shot_decode(stt, speak):
    audio = clip(speak, "switch to the narrator voice and set a timer")
    tx = IncrementalTranscriber(stt)
    for i in range(0, len(audio), CHUNK):   # faster than real time: nothing to do before finish
        tx.feed(audio[i:i + CHUNK])
    result = tx.finish()
    assert tx.decodes == 1
    assert isinstance(result, Transcript)
    assert result.text == stt.transcribe(audio).text
    assert result.seconds_audio == pytest.approx(len(audio) / RATE)


def test_nothing_new_after_the_pause_means_no_decode_at_release(stt, speak):
    tx = IncrementalTranscriber(stt)
    feed_in_real_time(tx, clip(speak, "what time is it"))
    hold_silent_until_heard(tx)
    partial, before = tx.latest, tx.decodes
    assert before >= 1
    result = tx.finish()
    assert tx.decodes == before            # the result heard during the hold is reused
    assert result.text == partial.text and result.alternatives == partial.alternatives
    assert result.stt_s >= 0


def test_speech_after_the_last_decode_is_decoded_at_release(stt, speak):
    first, second = clip(speak, "set a timer"), clip(speak, "for five minutes")
    tx = IncrementalTranscriber(stt)
    feed_in_real_time(tx, first)
    hold_silent_until_heard(tx)
    before = tx.decodes
    for i in range(0, len(second), CHUNK):
        tx.feed(second[i:i + CHUNK])
    result = tx.finish()
    assert tx.decodes == before + 1
    assert result.seconds_audio > (len(first) + len(second)) / RATE     # the held silence too


def test_feed_after_finish_is_refused(stt):
    tx = IncrementalTranscriber(stt)
    assert tx.finish().text == "" and tx.decodes == 1
    with pytest.raises(RuntimeError):
        tx.feed(np.zeros(CHUNK, np.float32))


def test_wyoming_server_hears_chunks_paced_in_real_time(speak):
    """A peer that streams a held key (Home Assistant, the GUI) gets the transcript with the
    n-best and confidence in context["kaytoo"]."""
    from wyoming.asr import Transcribe, Transcript as WyTranscript
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.event import read_event, write_event

    from app.engines.protocol import to_pcm16
    from tests.engine_proc import engine_cmd, write_settings

    write_settings(tiers=["pyttsx3"])
    audio = np.concatenate([clip(speak, "what time is it"), np.zeros(RATE // 2, np.float32)])
    fmt = dict(rate=RATE, width=2, channels=1)
    proc = subprocess.Popen(engine_cmd(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        class Paced:   # feed_in_real_time's pacing, writing Wyoming chunks instead
            def feed(self, samples):
                write_event(AudioChunk(audio=to_pcm16(samples), **fmt).event(), proc.stdin)
                proc.stdin.flush()

        write_event(Transcribe(language="en").event(), proc.stdin)
        write_event(AudioStart(**fmt).event(), proc.stdin)
        feed_in_real_time(Paced(), audio)
        write_event(AudioStop().event(), proc.stdin)
        proc.stdin.flush()
        while True:
            event = read_event(proc.stdout)
            assert event is not None, "engine closed the pipe"
            if WyTranscript.is_type(event.type):
                break
        tr = WyTranscript.from_event(event)
        extra = tr.context["kaytoo"]
        assert tr.text and extra["alternatives"][0] == tr.text
        assert 0.0 <= extra["confidence"] <= 1.0
        assert extra["seconds_audio"] == pytest.approx(len(audio) / RATE, abs=0.05)
    finally:
        proc.terminate()
        proc.wait(10)


def test_turn_realtime_reports_release_timings(tmp_path, speak):
    out = subprocess.run(
        [sys.executable, "-m", "app", "turn", "--in", str(speak("What time is it?")),
         "--out", str(tmp_path / "a.wav"), "--tier", "pyttsx3", "--realtime", "--json"],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    t = json.loads(out.stdout)["timings"]
    for key in ("release_to_transcript_s", "release_to_first_audio_s"):
        assert isinstance(t[key], float) and t[key] >= 0
    assert t["release_to_transcript_s"] <= t["release_to_first_audio_s"]
