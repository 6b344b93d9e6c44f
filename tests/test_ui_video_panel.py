"""The video panel, offscreen, driven like a person would: choose, click Optimise, read, preview.

QVideoWidget.grab() is blank offscreen, so the preview is checked on the frames the player hands to
its video sink.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtMultimedia")

from PySide6.QtMultimedia import QMediaPlayer  # noqa: E402

from app.ui.video_panel import VideoPanel  # noqa: E402

WAIT_MS = 120_000


def make_clip(path: Path, seconds: float = 2, audio: bool = True) -> Path:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
           "-i", f"testsrc=size=320x240:rate=25:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:a", "aac"]
    subprocess.run(cmd + ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
                   check=True)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4")


@pytest.fixture
def panel(qtbot):
    p = VideoPanel()
    qtbot.addWidget(p)
    p.resize(480, 520)
    p.show()
    yield p
    p.shutdown()


def frames_from(player: QMediaPlayer) -> list[tuple[int, int]]:
    """Collect the size of every valid frame the player delivers to its sink."""
    seen: list[tuple[int, int]] = []
    player.videoSink().videoFrameChanged.connect(
        lambda f: seen.append((f.width(), f.height())) if f.isValid() else None)
    return seen


def test_optimise_through_the_widget_then_preview(qtbot, panel, clip, tmp_path):
    assert not panel.go.isEnabled()              # nothing chosen yet
    panel.set_input(clip)
    panel.set_output_dir(tmp_path / "out")
    panel.set_codec("h264")
    assert panel.go.isEnabled() and not panel.stop.isEnabled()
    bar: list[int] = []
    panel.progress.valueChanged.connect(bar.append)
    with qtbot.waitSignal(panel.optimised, timeout=WAIT_MS) as done:
        panel.go.click()
        assert panel.stop.isEnabled() and not panel.go.isEnabled()
    result = done.args[0]
    assert Path(result["main"]) == (tmp_path / "out" / "clip-h264.mp4").resolve()
    text = panel.result_label.text()
    assert "clip-h264.mp4" in text and "PSNR" in text and "dB" in text and "kB" in text
    assert panel.progress.value() == 1000 and panel.go.isEnabled() and not panel.stop.isEnabled()
    assert len(bar) > 2 and bar == sorted(bar) and bar[-1] == 1000
    assert panel.source.count() == 1 and not panel.note.isVisibleTo(panel)

    seen = frames_from(panel.player)
    panel.player.setPlaybackRate(16)
    panel.play_button.click()
    qtbot.waitUntil(lambda: len(seen) >= 10, timeout=30_000)
    assert set(seen) == {(320, 240)}
    assert panel.play_button.text().endswith("Pause")


def test_av1_says_preview_unavailable_and_makes_an_h264_version(qtbot, panel, tmp_path):
    src = make_clip(tmp_path / "small.mp4", seconds=1, audio=False)
    panel.set_input(src)
    panel.set_output_dir(tmp_path / "out")
    panel.set_codec("av1")
    with qtbot.waitSignal(panel.optimised, timeout=WAIT_MS) as done:
        panel.go.click()
    assert done.args[0]["codec"] == "av1"
    assert panel.note.isVisibleTo(panel) and "Preview unavailable for AV1" in panel.note.text()
    assert panel.h264_button.isVisibleTo(panel) and panel.source.count() == 0
    assert not panel.play_button.isEnabled()

    with qtbot.waitSignal(panel.optimised, timeout=WAIT_MS) as done:
        panel.h264_button.click()
    assert done.args[0]["codec"] == "h264" and not panel.note.isVisibleTo(panel)
    seen = frames_from(panel.player)
    panel.player.setPlaybackRate(16)
    panel.play()
    qtbot.waitUntil(lambda: len(seen) >= 5, timeout=30_000)


def test_hls_preview_plays_each_rendition(qtbot, panel, clip, tmp_path):
    panel.set_input(clip)
    panel.set_output_dir(tmp_path)
    panel.set_hls(True)
    with qtbot.waitSignal(panel.optimised, timeout=WAIT_MS) as done:
        panel.start("vp9")
    assert done.args[0]["hls"]["codec"] == "h264"
    assert "HLS H264: 120p, 240p" in panel.result_label.text()
    labels = [panel.source.itemText(i) for i in range(panel.source.count())]
    assert labels == ["clip-vp9.webm (VP9)", "HLS H264 240p", "HLS H264 120p"]
    seen = frames_from(panel.player)
    panel.player.setPlaybackRate(16)
    for index, size in ((0, (320, 240)), (1, (320, 240)), (2, (160, 120))):
        seen.clear()
        panel.preview(index, play=True)
        qtbot.waitUntil(lambda: seen.count(size) >= 5, timeout=30_000)


def test_cancel_from_the_widget_leaves_nothing(qtbot, panel, tmp_path):
    src = make_clip(tmp_path / "long.mp4", seconds=30)
    out = tmp_path / "out"
    panel.set_input(src)
    panel.set_output_dir(out)
    panel.set_codec("h265")
    panel.go.click()
    with qtbot.waitSignal(panel.job.signals.cancelled, timeout=WAIT_MS):
        qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=WAIT_MS)
        panel.stop.click()
    assert "Cancelled" in panel.result_label.text()
    assert panel.go.isEnabled() and panel.progress.value() == 0
    assert list(out.iterdir()) == []


def test_a_bad_file_shows_the_sentence(qtbot, panel, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    panel.set_input(bad)
    panel.set_output_dir(tmp_path / "out")
    with qtbot.waitSignal(panel.message, timeout=WAIT_MS) as said:
        panel.go.click()
    assert said.args[0] == "notes.mp4 is not a video file ffmpeg can read."
    assert "not a video file" in panel.result_label.text() and panel.go.isEnabled()
