"""Long work off the GUI thread: QRunnables with typed signals (started/progress/finished/failed).

A job wraps a plain function ``work(job)``; the function may call ``job.report(done, total, text)``
and should check ``job.cancel`` now and then. ``UserError`` becomes ``failed`` with its sentence,
``Cancelled`` (a download, an encode) becomes ``cancelled``; anything else is logged and shown in one line.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.errors import Cancelled, UserError

log = logging.getLogger(__name__)


class JobSignals(QObject):
    started = Signal()
    progress = Signal(int, int, str)     # done, total (0: unknown), what is happening
    finished = Signal(object)            # the work's return value
    failed = Signal(str)                 # one plain sentence
    cancelled = Signal()


class Job(QRunnable):
    def __init__(self, work: Callable[["Job"], object], what: str = "That"):
        super().__init__()
        self.setAutoDelete(False)        # Python owns it: the signals must outlive run()
        self.work, self.what = work, what
        self.signals = JobSignals()
        self.cancel = threading.Event()
        self.done = threading.Event()
        self.result: object = None
        self.error: str | None = None

    def report(self, done: int, total: int = 0, text: str = "") -> None:
        self.signals.progress.emit(int(done), int(total), text)

    def run(self) -> None:
        self.signals.started.emit()
        try:
            self.result = self.work(self)
        except Cancelled:
            self.signals.cancelled.emit()
        except UserError as e:
            self.error = str(e)
            self.signals.failed.emit(self.error)
        except Exception as e:  # a bug: log it, tell the user in one line
            log.exception("%s failed", self.what)
            self.error = f"{self.what} failed unexpectedly ({type(e).__name__}: {e})."
            self.signals.failed.emit(self.error)
        else:
            if self.cancel.is_set():
                self.signals.cancelled.emit()
            else:
                self.signals.finished.emit(self.result)
        finally:
            self.done.set()


class Jobs:
    """Starts jobs on a thread pool and keeps each alive until it ends (Qt does not own them)."""

    def __init__(self, pool: QThreadPool | None = None):
        self.pool = pool or QThreadPool.globalInstance()
        self.running: set[Job] = set()

    def start(self, job: Job) -> Job:
        self.running.add(job)
        for sig in (job.signals.finished, job.signals.failed, job.signals.cancelled):
            sig.connect(lambda *_: self.running.discard(job))
        self.pool.start(job)
        return job


class MicRecording(QObject):
    """Records from the microphone for a new voice (keeps the device rate, not just 16 kHz).

    ``open`` early (when a countdown starts): a fresh input stream can take a second to deliver.
    """

    level = Signal(float)

    def __init__(self, device: str | None = None):
        super().__init__()
        from app.audio.capture import Recorder

        self.recorder = Recorder(device, self.level.emit, keep_native=True, max_seconds=30.0,
                                 preroll_s=0.0)

    def open(self) -> None:
        self.recorder.open()

    def start(self) -> None:
        self.recorder.start()

    @property
    def seconds(self) -> float:
        return self.recorder.seconds

    def stop(self) -> tuple[np.ndarray, int]:
        self.recorder.stop()
        return self.recorder.native(), self.recorder.rate
