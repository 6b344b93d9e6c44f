"""The video panel: choose a video, a codec and HLS, optimise it with progress and cancel, read the
sizes and PSNR, and preview the result.

The widget only shows and forwards: ``app.video.optimize`` does the work inside a ``Job`` on a
thread pool, which reports through typed signals. Qt's FFmpeg backend cannot decode AV1 (0 frames),
so an AV1 result is previewed through its H.264 HLS renditions when there are some, and otherwise the
panel offers to make an H.264 version.
"""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool, QUrl, Signal
from PySide6.QtMultimedia import QAudioOutput, QMediaMetaData, QMediaPlayer
from PySide6.QtMultimediaWidgets import QVideoWidget
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QSizePolicy, QSlider, QVBoxLayout, QWidget)

from app.errors import UserError
from app.ui.jobs import Job


CODEC_LABELS = {"h264": "H.264 (plays everywhere)", "h265": "H.265 / HEVC (smaller)",
                "vp9": "VP9 (WebM)", "av1": "AV1 (smallest, slow; no preview)"}
LAST_FRAME_MS = 40     # at the end the preview steps back this far and pauses: a picture, not black
VIDEO_FILTER = "Videos (*.mp4 *.mkv *.mov *.webm *.avi *.m4v *.ts *.gif);;All files (*)"


def video_job(input: Path, out_dir: Path, codec: str, hls: bool, tools=None) -> Job:
    """One ``optimize`` call off the GUI thread; ``job.cancel`` stops ffmpeg and removes partial
    files. Progress is reported in thousandths; the result is ``Result.to_dict()``."""
    from app.video.optimize import optimize

    def work(job: Job) -> dict:
        last = [-1]

        def progress(fraction: float) -> None:
            step = round(fraction * 1000)   # what a bar can show; fewer signals crossing threads
            if step >= 1000 or step - last[0] >= 5:
                last[0] = step
                job.report(step, 1000)

        return optimize(input, out_dir, codec, hls, progress=progress, cancel=job.cancel,
                        tools=tools).to_dict()

    return Job(work, f"Optimising {input.name}")


class VideoPanel(QWidget):
    message = Signal(str)               # one line for the status bar
    optimised = Signal(dict)            # the result of a finished job

    def __init__(self, pool: QThreadPool | None = None, tools=None):
        super().__init__()
        self.pool = pool or QThreadPool.globalInstance()
        self.tools = tools
        self.input: Path | None = None
        self.out_dir: Path | None = None     # None: "optimised" beside the input
        self.job: Job | None = None     # the latest job (kept: the pool does not own it)
        self.busy = False
        self.result: dict | None = None

        self.input_label = QLabel("No video chosen.")
        self.input_label.setWordWrap(True)
        choose = QPushButton("Choose video…")
        choose.clicked.connect(self._choose_input)
        self.codec = QComboBox()
        self.codec.setAccessibleName("Codec")
        for code, label in CODEC_LABELS.items():
            self.codec.addItem(label, code)
        self.hls = QCheckBox("Adaptive HLS (360p/720p/1080p, up to the source)")
        self.out_label = QLabel()
        self.out_label.setWordWrap(True)
        out_button = QPushButton("Output folder…")
        out_button.clicked.connect(self._choose_out)
        self.go = QPushButton("Optimise")
        self.go.clicked.connect(self.start)
        self.stop = QPushButton("Cancel")
        self.stop.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("%p %")
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.video = QVideoWidget()
        self.video.setMinimumHeight(180)
        self.video.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.player = QMediaPlayer(self)
        self.audio = QAudioOutput(self)
        self.player.setAudioOutput(self.audio)
        self.player.setVideoOutput(self.video)
        self.player.errorOccurred.connect(lambda _e, text: self._say(f"The preview failed: {text}"))
        self.play_button = QPushButton("▶ Play")
        self.play_button.clicked.connect(self.toggle_play)
        self.player.playbackStateChanged.connect(self._show_play_state)
        self.source = QComboBox()                 # which output (or HLS rendition) to preview
        self.source.setAccessibleName("Preview")
        self.source.activated.connect(lambda i: self.preview(i, play=True))
        self._previews: list[tuple[str, int | None]] = []   # (file, rendition height) per entry
        self._want_height: int | None = None
        self.player.mediaStatusChanged.connect(self._media_status)
        self.seek = QSlider(Qt.Orientation.Horizontal)
        self.seek.setAccessibleName("Position in the preview")
        self.seek.setEnabled(False)
        self.seek.sliderMoved.connect(self.player.setPosition)
        self.time = QLabel(_clock(0, 0))
        self.player.durationChanged.connect(self._duration)
        self.player.positionChanged.connect(self._position)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.h264_button = QPushButton("Make an H.264 version to preview")
        self.h264_button.clicked.connect(lambda: self.start("h264", False))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        row.addWidget(self.input_label, 1)
        row.addWidget(choose)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Codec"))
        row.addWidget(self.codec, 1)
        layout.addLayout(row)
        layout.addWidget(self.hls)
        row = QHBoxLayout()
        row.addWidget(self.out_label, 1)
        row.addWidget(out_button)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.go)
        row.addWidget(self.stop)
        row.addWidget(self.progress, 1)
        layout.addLayout(row)
        layout.addWidget(self.result_label)
        layout.addWidget(self.video, 1)
        row = QHBoxLayout()
        row.addWidget(self.seek, 1)
        row.addWidget(self.time)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.play_button)
        row.addWidget(self.source, 1)
        layout.addLayout(row)
        layout.addWidget(self.note)
        layout.addWidget(self.h264_button)
        self._show_idle()

    # -- choices (public so tests, menus and the assistant can drive them without dialogs) ---------
    def set_input(self, path: Path | str) -> None:
        self.input = Path(path)
        self.input_label.setText(self.input.name)
        self.input_label.setToolTip(str(self.input))
        self._show_idle()

    def set_output_dir(self, path: Path | str | None) -> None:
        self.out_dir = Path(path) if path else None
        self._show_idle()

    def set_codec(self, codec: str) -> None:
        i = self.codec.findData(codec)
        if i < 0:
            raise UserError(f"Unknown codec '{codec}'; choose one of {', '.join(CODEC_LABELS)}.")
        self.codec.setCurrentIndex(i)

    def set_hls(self, on: bool) -> None:
        self.hls.setChecked(on)

    def output_dir(self) -> Path | None:
        if self.out_dir is not None:
            return self.out_dir
        return self.input.parent / "optimised" if self.input else None

    # -- the job ----------------------------------------------------------------------------------
    def start(self, codec: str | None = None, hls: bool | None = None) -> Job | None:
        if self.busy or self.input is None:
            if self.input is None:
                self._say("Choose a video first.")
            return None
        codec = codec or self.codec.currentData()
        hls = self.hls.isChecked() if hls is None else hls
        self.stop_preview()
        job = video_job(self.input, self.output_dir(), codec, hls, self.tools)
        job.signals.progress.connect(self._progress)
        job.signals.finished.connect(self._finished)
        job.signals.failed.connect(self._failed)
        job.signals.cancelled.connect(self._cancelled)
        self.job = job
        self.progress.setValue(0)
        self.result_label.setText(f"Optimising {html.escape(self.input.name)} as {codec.upper()}"
                                  + (" with HLS" if hls else "") + "…")
        self._set_busy(True)
        self.pool.start(job)
        return job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel.set()
            self.stop.setEnabled(False)
            self.result_label.setText("Cancelling…")

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop a running job and the preview (the main window calls this when it closes)."""
        self.player.stop()
        if self.job is not None:
            self.job.cancel.set()
            self.job.done.wait(timeout_s)

    def _progress(self, done: int, total: int, _text: str = "") -> None:
        self.progress.setValue(done)

    def _finished(self, result: dict) -> None:
        self.result = result
        self._set_busy(False)
        self.progress.setValue(1000)
        self.result_label.setText(summary_html(result))
        self._offer_previews(result)
        self.message.emit(f"Optimised {Path(result['main']).name}.")
        self.optimised.emit(result)

    def _failed(self, why: str) -> None:
        self._set_busy(False)
        self.progress.setValue(0)
        self.result_label.setText(f"<span style='color:#f85149'>{html.escape(why)}</span>")
        self._say(why)

    def _cancelled(self) -> None:
        self._set_busy(False)
        self.progress.setValue(0)
        self.result_label.setText("Cancelled; no partial files were left behind.")

    # -- preview ----------------------------------------------------------------------------------
    def _offer_previews(self, result: dict) -> None:
        self.source.clear()
        self._previews = []
        hls = result.get("hls") or {}
        if result["codec"] != "av1":
            self._add_preview(f"{Path(result['main']).name} ({result['codec'].upper()})", result["main"])
        # Qt lists an HLS master's renditions as video tracks: offer each, the tallest first
        for v in sorted(hls.get("renditions", []), key=_height, reverse=True):
            self._add_preview(f"HLS {hls['codec'].upper()} {v['name']}", hls["master"], _height(v))
        av1 = result["codec"] == "av1"
        self.note.setVisible(av1)
        self.h264_button.setVisible(av1 and not hls)
        if av1:
            self.note.setText("Preview unavailable for AV1: Qt's player cannot decode it."
                              + (" Playing the H.264 HLS renditions instead." if hls else ""))
        self.source.setEnabled(bool(self._previews))
        self.play_button.setEnabled(bool(self._previews))
        if self._previews:
            self.preview(0)

    def _add_preview(self, label: str, path: str, height: int | None = None) -> None:
        self.source.addItem(label)
        self._previews.append((path, height))

    def preview(self, index: int, play: bool = False) -> None:
        """Load entry ``index`` of the preview menu (a file, or one rendition of an HLS master)."""
        path, height = self._previews[index]
        self.source.setCurrentIndex(index)
        self._want_height = height
        # always reload: a track switch on a finished (EndOfMedia) player delivers no frames
        self.player.stop()
        self.player.setSource(QUrl())
        self.player.setSource(QUrl.fromLocalFile(path))
        if play:
            self.player.play()

    def play(self, path: str | Path | None = None) -> None:
        if path is not None:
            self._want_height = None
            self.player.setSource(QUrl.fromLocalFile(str(path)))
        if not self.player.source().isEmpty():
            self.player.play()

    def _media_status(self, status) -> None:
        if status == QMediaPlayer.MediaStatus.LoadedMedia:
            self._pick_track()
        elif status == QMediaPlayer.MediaStatus.EndOfMedia:
            # Stay on the last picture (the player would show black) and ready to play again.
            self.player.setPosition(max(0, self.player.duration() - LAST_FRAME_MS))
            self.player.pause()

    def _duration(self, ms: int) -> None:
        self.seek.setRange(0, max(0, ms))
        self.seek.setEnabled(ms > 0)
        self.time.setText(_clock(self.player.position(), ms))

    def _position(self, ms: int) -> None:
        if not self.seek.isSliderDown():
            self.seek.setValue(ms)
        self.time.setText(_clock(ms, self.player.duration()))

    def _pick_track(self) -> None:
        if self._want_height is None:
            return
        for i, track in enumerate(self.player.videoTracks()):
            size = track.value(QMediaMetaData.Key.Resolution)
            if size is not None and size.height() == self._want_height:
                self.player.setActiveVideoTrack(i)
                return

    def toggle_play(self) -> None:
        if self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self.player.pause()
        else:
            self.play()

    def stop_preview(self) -> None:
        self.player.stop()
        self.player.setSource(QUrl())

    def _show_play_state(self, state) -> None:
        playing = state == QMediaPlayer.PlaybackState.PlayingState
        self.play_button.setText("❚❚ Pause" if playing else "▶ Play")

    # -- looks ------------------------------------------------------------------------------------
    def _show_idle(self) -> None:
        out = self.output_dir()
        self.out_label.setText(f"Output: {out}" if out else "Output: a folder beside the video")
        if not self.busy:
            self._set_busy(False)
        if self.result is None:
            self.note.hide()
            self.h264_button.hide()
            self.source.setEnabled(False)
            self.play_button.setEnabled(False)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.go.setEnabled(not busy and self.input is not None)
        self.h264_button.setEnabled(not busy)
        self.stop.setEnabled(busy)
        self.codec.setEnabled(not busy)
        self.hls.setEnabled(not busy)

    def _choose_input(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a video", str(self.input or ""), VIDEO_FILTER)
        if path:
            self.set_input(path)

    def _choose_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the outputs", str(self.output_dir() or ""))
        if path:
            self.set_output_dir(path)

    def _say(self, text: str) -> None:
        self.message.emit(text)


def _clock(position_ms: int, duration_ms: int) -> str:
    """"0:01 / 0:04"."""
    def mmss(ms: int) -> str:
        seconds = max(0, int(ms)) // 1000
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{mmss(position_ms)} / {mmss(duration_ms)}"


def summary_html(r: dict) -> str:
    """One line: sizes before and after, the ratio, PSNR, time; a second for HLS."""
    ratio = r["output_bytes"] / r["input_bytes"] if r["input_bytes"] else 0.0
    line = (f"<b>{html.escape(Path(r['main']).name)}</b>: {_size(r['input_bytes'])} → "
            f"{_size(r['output_bytes'])} ({ratio:.0%} of the input), PSNR {r['psnr_db']:.1f} dB, "
            f"{r['seconds']:.1f} s")
    if ratio > 1:
        line += "<br>The result is larger than the input: the original was already compact; keep it."
    hls = r.get("hls")
    if hls:
        names = ", ".join(v["name"] for v in hls["renditions"])
        line += f"<br>HLS {hls['codec'].upper()}: {names}, {_size(hls['bytes'])}"
    return line


def _height(rendition: dict) -> int:
    h = str(rendition.get("resolution", "")).partition("x")[2]
    return int(h) if h.isdigit() else 0


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"
