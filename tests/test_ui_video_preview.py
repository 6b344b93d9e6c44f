"""The video preview has a seek bar with the time, and stays on the last picture at the end
instead of going black (checked on the frames the player hands its video sink: a widget grab is
blank offscreen)."""
from __future__ import annotations

import pytest

pytest.importorskip("PySide6.QtMultimedia")

from app.ui.video_panel import VideoPanel, _clock  # noqa: E402
from tests.test_ui_video_panel import make_clip  # noqa: E402


@pytest.fixture
def panel(qtbot):
    p = VideoPanel()
    qtbot.addWidget(p)
    p.resize(480, 520)
    p.show()
    yield p
    p.shutdown()


def test_clock_text():
    assert _clock(1500, 64000) == "0:01 / 1:04"


def test_seek_bar_follows_and_moves_playback_and_the_end_keeps_a_picture(panel, qtbot, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", seconds=2)
    frames: list[bool] = []
    panel.player.videoSink().videoFrameChanged.connect(lambda f: frames.append(f.isValid()))
    panel.play(clip)
    qtbot.waitUntil(lambda: panel.seek.isEnabled() and panel.seek.maximum() >= 1900, timeout=30000)
    assert panel.time.text().endswith("/ 0:02")
    panel.player.setPlaybackRate(4)
    qtbot.waitUntil(lambda: panel.seek.value() > 0, timeout=30000)   # the bar follows playback

    qtbot.waitUntil(lambda: panel.player.playbackState().name == "PausedState"
                    and panel.player.position() >= panel.player.duration() - 100, timeout=30000)
    qtbot.waitUntil(lambda: bool(frames) and frames[-1], timeout=10000)
    assert panel.player.videoSink().videoFrame().isValid(), "the end shows a picture, not black"
    assert panel.play_button.text().endswith("Play")

    panel.seek.setSliderDown(True)                  # the user drags the bar back
    panel.seek.sliderMoved.emit(500)
    panel.seek.setSliderDown(False)
    qtbot.waitUntil(lambda: abs(panel.player.position() - 500) < 200, timeout=10000)
