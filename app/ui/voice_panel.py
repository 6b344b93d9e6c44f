"""The voice library dock: list (name, length, language, created), waveform, previews, add from a
file or the microphone, rename, delete with undo, set active, export/import zip.

The library does the work and raises UserError with the sentence to show; slow steps (decoding,
validation, zips) run as jobs so the window never freezes. Previews and "use this voice" are
forwarded to the controller by signal.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QFileDialog, QGridLayout, QHeaderView, QInputDialog, QLabel,
                               QProgressBar, QPushButton, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from app.audio import clip
from app.errors import UserError
from app.ui.cloning_banner import CloningBanner
from app.ui.jobs import Job, Jobs
from app.ui.record_dialog import RecordDialog
from app.ui.waveform_view import WaveformView
from app.voices import validate
from app.voices.library import NameTaken

NAME_ROLE = Qt.ItemDataRole.UserRole
AUDIO_FILTER = "Audio (*.wav *.flac *.mp3 *.ogg);;All files (*)"
OWN, OFFLINE = "own voice", "offline voice for now"


class VoicePanel(QWidget):
    active_chosen = Signal(str)
    preview_reference = Signal(str)     # voice name: play its reference clip
    speak_sample = Signal(str)          # voice name: speak a sample sentence with it
    voice_added = Signal(str)           # a new voice: the controller may prepare its latents
    message = Signal(str)
    fix_requested = Signal(str)         # "licence" | "model" | "tiers": what makes cloning work

    def __init__(self, library, input_device=lambda: None, jobs: Jobs | None = None):
        super().__init__()
        self.library = library
        self.input_device = input_device
        self.jobs = jobs or Jobs()
        self.active = ""
        self._undo: tuple[str, str] | None = None
        self.busy_jobs = 0
        self.cloning: tuple[str | None, str] = (None, "")   # the session's report

        self.banner = CloningBanner()
        self.banner.fix_requested.connect(self.fix_requested)

        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Name", "Length", "Language", "Created", "Sounds like"])
        self.list.setRootIsDecorated(False)
        self.list.setAlternatingRowColors(True)
        self.list.setUniformRowHeights(True)
        header = self.list.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3, 4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.list.setAccessibleName("Voices")
        self.list.currentItemChanged.connect(self._show_selected)
        self.list.activated.connect(lambda *_: self.use_selected())   # Return or a double click
        self.waveform = WaveformView()
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.error = QLabel()          # the last problem, shown here beside what caused it
        self.error.setObjectName("voiceError")
        self.error.setStyleSheet("color:#e5534b")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.hide()

        specs = [("use", "Use this voice", self.use_selected),
                 ("play_ref", "▶ Reference", self._preview_ref),
                 ("play_sample", "▶ Sample sentence", self._speak_sample),
                 ("add", "Add from file…", self._add_dialog),
                 ("record", "Record…", self._record_dialog),
                 ("rename", "Rename…", self._rename_dialog),
                 ("delete", "Delete", self.delete_selected),
                 ("undo", "Undo delete", self.undo),
                 ("import", "Import zip…", self._import_dialog),
                 ("export", "Export zip…", self._export_dialog)]
        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        grid.setSpacing(4)
        for i, (key, text, slot) in enumerate(specs):
            b = QPushButton(text)
            b.clicked.connect(slot)
            self.buttons[key] = b
            grid.addWidget(b, i // 2, i % 2)
        bold = QFont(self.buttons["use"].font())
        bold.setBold(True)
        self.buttons["use"].setFont(bold)
        self.buttons["undo"].setEnabled(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.waveform)
        layout.addWidget(self.info)
        layout.addWidget(self.error)
        layout.addWidget(self.progress)
        layout.addLayout(grid)
        self.refresh()

    # -- listing --------------------------------------------------------------------------------
    def refresh(self, active: str | None = None) -> None:
        if active is not None:
            self.active = active
        keep = self.selected()
        self.list.clear()
        try:
            voices = self.library.list()
        except OSError as e:
            self.message.emit(f"The voice library could not be read ({e}).")
            voices = []
        for v in voices:
            is_active = v.name.lower() == (self.active or "").lower()
            created = v.created[:10] if v.created else ("built in" if v.bundled else "")
            own = self.heard_as_itself(v)
            item = QTreeWidgetItem([("★ " if is_active else "") + v.name,
                                    f"{v.duration_s:.1f} s", v.language, created,
                                    OWN if own else OFFLINE])
            item.setData(0, NAME_ROLE, v.name)
            if not own:
                item.setToolTip(4, f"Sounds like the offline voice (Piper) until the cloned voice "
                                   f"can be used: {self.cloning[0]}.")
            if v.warnings:
                item.setToolTip(0, "\n".join(v.warnings))
            if is_active:
                f = item.font(0)
                f.setBold(True)
                item.setFont(0, f)
            self.list.addTopLevelItem(item)
        self.banner.show_status(*self.cloning, has_own_voices=any(not v.bundled for v in voices))
        names = self.names()
        target = keep if keep in names else (self.active if self.active in names else None)
        if target:
            self.select(target)
        elif self.list.topLevelItemCount():
            self.list.setCurrentItem(self.list.topLevelItem(0))
        else:
            self._show_selected()

    def set_cloning(self, why: str | None, fix: str) -> None:
        """The session's word on cloning: why library voices cannot be heard as themselves now."""
        self.cloning = (why, fix)
        self.refresh()

    def heard_as_itself(self, voice) -> bool:
        # A bundled voice is made from the offline voice; the others need the cloning tier.
        return voice.bundled or self.cloning[0] is None

    def names(self) -> list[str]:
        return [self.list.topLevelItem(i).data(0, NAME_ROLE)
                for i in range(self.list.topLevelItemCount())]

    def select(self, name: str) -> None:
        for i in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(i)
            if item.data(0, NAME_ROLE).lower() == name.lower():
                self.list.setCurrentItem(item)
                return

    def selected(self) -> str | None:
        item = self.list.currentItem()
        return item.data(0, NAME_ROLE) if item else None

    def _show_selected(self, *_) -> None:
        name = self.selected()
        bundled = False
        if not name:
            self.info.clear()
            self.waveform.clear()
        else:
            try:
                v = self.library.get(name)
            except UserError as e:
                self.info.setText(str(e))
                return
            bundled = v.bundled
            try:
                ref = clip.load(v.reference_wav)
                self.waveform.set_samples(ref.samples, ref.rate)
            except UserError:  # unreadable reference: list it, draw nothing
                self.waveform.clear()
            lines = [f"<b>{_esc(v.name)}</b> — {v.duration_s:.1f} s of reference speech, "
                     f"language {_esc(v.language)}" + (", built in" if v.bundled else "")]
            if not self.heard_as_itself(v):
                lines.append(f"Sounds like the offline voice (Piper) for now: "
                             f"{_esc(self.cloning[0])}.")
            lines += [f"<span style='color:#d29922'>⚠ {_esc(w)}</span>" for w in v.warnings]
            self.info.setText("<br>".join(lines))
        for key in ("use", "play_ref", "play_sample", "export"):
            self.buttons[key].setEnabled(bool(name))
        for key in ("rename", "delete"):
            self.buttons[key].setEnabled(bool(name) and not bundled)

    # -- actions (public so tests and menus can drive them without dialogs) -----------------------
    def use_selected(self) -> None:
        if self.selected():
            self.active_chosen.emit(self.selected())

    def add_file(self, name: str, path: Path) -> Job:
        return self._run(lambda job: self.library.add(name, Path(path)), f"Adding '{name}'",
                         lambda v: self._added(v, f"Added voice '{v.name}'."),
                         retry=lambda other: self.add_file(other, path))

    def check_file(self, path: Path) -> Job:
        """Decode and check a clip; only a usable one goes on to be named and added."""
        def work(job: Job):
            validate.prepare(clip.load(Path(path)))   # raises UserError with the reason

        return self._run(work, f"Checking {Path(path).name}",
                         lambda _: self._name_and_add(Path(path)))

    def _name_and_add(self, path: Path) -> None:
        self._clear_error()
        name = self.ask_name("Voice name", f"{path.name} is usable. Name the voice:", path.stem[:40])
        if name:
            self.add_file(name, path)

    def add_recording(self, name: str, samples: np.ndarray, rate: int) -> Job:
        return self._run(lambda job: self.library.add_samples(name, samples, rate),
                         f"Adding '{name}'", lambda v: self._added(v, f"Added voice '{v.name}'."))

    def import_zip(self, path: Path, name: str | None = None) -> Job:
        return self._run(lambda job: self.library.import_zip(Path(path), name), "Importing the voice",
                         lambda v: self._added(v, f"Imported voice '{v.name}'."),
                         retry=lambda other: self.import_zip(path, other))

    def export(self, name: str, path: Path) -> Job:
        return self._run(lambda job: self.library.export(name, Path(path)), f"Exporting '{name}'",
                         lambda p: self.message.emit(f"Exported '{name}' to {p}."))

    def rename(self, old: str, new: str) -> bool:
        try:
            v = self.library.rename(old, new)
        except UserError as e:
            self._fail(str(e))
            return False
        if old.lower() == (self.active or "").lower():
            self.active_chosen.emit(v.name)  # the active voice keeps being the active one
        self._clear_error()
        self.refresh()
        self.select(v.name)
        self.message.emit(f"Renamed '{old}' to '{v.name}'.")
        return True

    def delete_selected(self) -> bool:
        name = self.selected()
        if not name:
            return False
        if name.lower() == (self.active or "").lower():
            self._fail(f"'{name}' is the voice in use; choose another voice before deleting it.")
            return False
        try:
            token = self.library.remove(name)
        except UserError as e:
            self._fail(str(e))
            return False
        self._undo = (name, token)
        self.buttons["undo"].setEnabled(True)
        self.buttons["undo"].setText(f"Undo delete '{name}'")
        self.refresh()
        self.message.emit(f"Deleted '{name}'. Undo brings it back.")
        return True

    def undo(self) -> bool:
        if not self._undo:
            return False
        name, token = self._undo
        try:
            v = self.library.undo_remove(token)
        except NameTaken as e:   # the name was used again meanwhile (a re-import): offer another
            other = self.ask_name("Restore voice", f"{e} Restore the removed voice as:",
                                  f"{name} restored")
            if not other:
                return False
            try:
                v = self.library.undo_remove(token, other)
            except UserError as e2:
                self._fail(str(e2))
                return False
        except UserError as e:
            self._fail(str(e))
            return False
        self._undo = None
        self.buttons["undo"].setEnabled(False)
        self.buttons["undo"].setText("Undo delete")
        self.refresh()
        self.select(v.name)
        self._clear_error()
        self.message.emit(f"Restored '{v.name}'.")
        return True

    # -- dialogs (thin) ---------------------------------------------------------------------------
    def _preview_ref(self) -> None:
        if self.selected():
            self.preview_reference.emit(self.selected())

    def _speak_sample(self) -> None:
        if self.selected():
            self.speak_sample.emit(self.selected())

    def ask_name(self, title: str, label: str, suggestion: str) -> str | None:
        """Ask for a voice name (None: cancelled). Tests replace it to answer without a dialog."""
        name, ok = QInputDialog.getText(self, title, label, text=suggestion)
        return name.strip() if ok and name.strip() else None

    def _add_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a clip of the voice (6–20 s of speech)",
                                              "", AUDIO_FILTER)
        if path:
            self.check_file(Path(path))   # the name is asked once the clip is known to be usable

    def _record_dialog(self) -> None:
        dialog = RecordDialog(self.input_device(), parent=self)
        dialog.recorded.connect(lambda name, samples, rate: self.add_recording(name, samples, rate))
        dialog.exec()

    def _rename_dialog(self) -> None:
        old = self.selected()
        if old:
            new, ok = QInputDialog.getText(self, "Rename voice", "New name:", text=old)
            if ok and new != old:
                self.rename(old, new)

    def _import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a voice", "", "Voice zip (*.zip)")
        if path:
            self.import_zip(Path(path))

    def _export_dialog(self) -> None:
        name = self.selected()
        if name:
            path, _ = QFileDialog.getSaveFileName(self, "Export voice", f"{name}.zip", "Zip (*.zip)")
            if path:
                self.export(name, Path(path))

    # -- jobs -------------------------------------------------------------------------------------
    def _run(self, work, what: str, on_done, retry=None) -> Job:
        """``retry(other_name)``: run again under another name when the name is taken."""
        job = Job(work, what)

        def failed(why: str) -> None:
            self._busy(-1)
            taken = getattr(job, "taken", None)
            if retry is not None and taken:
                other = self.ask_name("Name taken", f"{why} Use another name:", f"{taken} 2")
                if other:
                    self.retried = retry(other)
                    return
            self._fail(why)

        def work_noting_name(j: Job):
            try:
                return work(j)
            except NameTaken as e:
                j.taken = e.taken
                raise

        job.work = work_noting_name
        job.signals.started.connect(lambda: self._busy(+1, what))
        job.signals.finished.connect(lambda result: (self._busy(-1), on_done(result)))
        job.signals.failed.connect(failed)
        job.signals.cancelled.connect(lambda: self._busy(-1))
        return self.jobs.start(job)

    def _fail(self, why: str) -> None:
        self.error.setText(f"⚠ {why}")
        self.error.show()
        self.message.emit(why)

    def _clear_error(self) -> None:
        self.error.clear()
        self.error.hide()

    def _busy(self, delta: int, what: str = "") -> None:
        self.busy_jobs = max(0, self.busy_jobs + delta)
        if self.busy_jobs:
            self.progress.setRange(0, 0)   # indeterminate: decoding has no useful percentage
            self.progress.setFormat(f"{what}…" if what else "Working…")
            self.progress.show()
        else:
            self.progress.hide()

    def _added(self, voice, text: str) -> None:
        self._clear_error()
        self.refresh()
        self.select(voice.name)
        note = f" Note: {' '.join(voice.warnings)}" if voice.warnings else ""
        self.message.emit(text + note)
        self.voice_added.emit(voice.name)

    def show_progress(self, text: str, fraction: float) -> None:
        """Background preparation reported by the controller (e.g. cloning latents)."""
        if fraction >= 1.0 or fraction < 0:
            if not self.busy_jobs:
                self.progress.hide()
            return
        self.progress.setRange(0, 100)
        self.progress.setValue(int(fraction * 100))
        self.progress.setFormat(text)
        self.progress.show()


def _esc(text: str) -> str:
    import html

    return html.escape(str(text))
