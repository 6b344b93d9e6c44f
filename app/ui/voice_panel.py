"""The voice library dock: list, add from file, rename, delete with undo, set active, import/export."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QInputDialog, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QVBoxLayout, QWidget)

from app.errors import UserError


class VoicePanel(QWidget):
    active_chosen = Signal(str)
    message = Signal(str)

    def __init__(self, library):
        super().__init__()
        self.library = library
        self._undo: tuple[str, str] | None = None
        self.list = QListWidget()
        self.info = QLabel()
        self.info.setWordWrap(True)
        buttons = {name: QPushButton(name) for name in
                   ("Add…", "Use", "Rename…", "Delete", "Undo", "Import…", "Export…")}
        self.buttons = buttons
        buttons["Add…"].clicked.connect(self._add)
        buttons["Use"].clicked.connect(self._use)
        buttons["Rename…"].clicked.connect(self._rename)
        buttons["Delete"].clicked.connect(self._delete)
        buttons["Undo"].clicked.connect(self._undo_delete)
        buttons["Import…"].clicked.connect(self._import)
        buttons["Export…"].clicked.connect(self._export)
        buttons["Undo"].setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.info)
        for row in (("Add…", "Use", "Rename…"), ("Delete", "Undo"), ("Import…", "Export…")):
            h = QHBoxLayout()
            for name in row:
                h.addWidget(buttons[name])
            layout.addLayout(h)
        self.list.currentItemChanged.connect(self._show_info)
        self.refresh()

    def refresh(self, active: str | None = None) -> None:
        keep = self.selected()
        self._active = active or getattr(self, "_active", None)
        active = self._active
        self.list.clear()
        for v in self.library.list():
            label = f"{v.name}  ·  {v.duration_s:.1f} s  ·  {v.language}" + ("  (built in)" if v.bundled else "")
            item = QListWidgetItem(("★ " if active and v.name.lower() == active.lower() else "") + label)
            item.setData(256, v.name)
            self.list.addItem(item)
        rows = [self.list.item(i).data(256) for i in range(self.list.count())]
        if rows:
            self.list.setCurrentRow(rows.index(keep) if keep in rows else 0)

    def selected(self) -> str | None:
        item = self.list.currentItem()
        return item.data(256) if item else None

    # The dialogs below are thin: the library does the work and raises UserError to show.
    def add_file(self, name: str, path: Path) -> None:
        self._guard(lambda: self.library.add(name, path), f"Added voice '{name}'.")

    def _add(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Voice clip", "",
                                              "Audio (*.wav *.flac *.mp3 *.ogg)")
        if path:
            name, ok = QInputDialog.getText(self, "Voice name", "Name:", text=Path(path).stem)
            if ok:
                self.add_file(name, Path(path))

    def _use(self) -> None:
        if self.selected():
            self.active_chosen.emit(self.selected())

    def _rename(self) -> None:
        old = self.selected()
        if old:
            new, ok = QInputDialog.getText(self, "Rename voice", "New name:", text=old)
            if ok:
                self._guard(lambda: self.library.rename(old, new), f"Renamed to '{new}'.")

    def _delete(self) -> None:
        name = self.selected()
        if name:
            def work():
                self._undo = (name, self.library.remove(name))
                self.buttons["Undo"].setEnabled(True)
            self._guard(work, f"Deleted '{name}'. Undo brings it back.")

    def _undo_delete(self) -> None:
        if self._undo:
            name, token = self._undo
            self._undo = None
            self.buttons["Undo"].setEnabled(False)
            self._guard(lambda: self.library.undo_remove(token), f"Restored '{name}'.")

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import voice", "", "Voice zip (*.zip)")
        if path:
            self._guard(lambda: self.library.import_zip(Path(path)), "Voice imported.")

    def _export(self) -> None:
        name = self.selected()
        if name:
            path, _ = QFileDialog.getSaveFileName(self, "Export voice", f"{name}.zip", "Zip (*.zip)")
            if path:
                self._guard(lambda: self.library.export(name, Path(path)), f"Exported to {path}.")

    def _guard(self, work, done: str) -> None:
        try:
            work()
        except UserError as e:
            self.message.emit(str(e))
            return
        self.refresh()
        self.message.emit(done)

    def _show_info(self, *_):
        name = self.selected()
        if not name:
            self.info.clear()
            return
        v = self.library.get(name)
        notes = "".join(f"<br>⚠ {w}" for w in v.warnings)
        self.info.setText(f"<b>{v.name}</b><br>created {v.created[:10]}{notes}")
