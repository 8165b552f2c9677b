"""Manage the models trained in this app: see what each is, rename, delete."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QInputDialog, QLabel, QListWidget,
                               QListWidgetItem, QMessageBox, QPushButton, QVBoxLayout)

from hybridsearch.qt.models import delete_model, read_note, rename_model, trained_models


class ManageModelsDialog(QDialog):
    """File ▸ Manage trained models…: the list, with Rename and Delete."""

    changed = Signal()

    def __init__(self, in_use: str = "", parent=None):
        super().__init__(parent)
        self.in_use = in_use
        self.setWindowTitle("Trained models")
        self.resize(640, 360)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Models trained in this app. The model search uses cannot be deleted."))
        self.list = QListWidget()
        lay.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.rename_btn = QPushButton("Rename…")
        self.rename_btn.clicked.connect(self._rename)
        self.delete_btn = QPushButton("Delete…")
        self.delete_btn.clicked.connect(self._delete)
        row.addWidget(self.rename_btn)
        row.addWidget(self.delete_btn)
        row.addStretch(1)
        lay.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.list.currentRowChanged.connect(lambda _: self._update_buttons())
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for label, path in trained_models():
            it = QListWidgetItem(label + ("  — in use for search" if path == self.in_use else ""))
            it.setData(Qt.ItemDataRole.UserRole, path)
            it.setToolTip(path)
            self.list.addItem(it)
        if self.list.count():
            self.list.setCurrentRow(0)
        self._update_buttons()

    def current_path(self) -> str | None:
        it = self.list.currentItem()
        return it.data(Qt.ItemDataRole.UserRole) if it is not None else None

    def _update_buttons(self) -> None:
        path = self.current_path()
        self.rename_btn.setEnabled(path is not None)
        self.delete_btn.setEnabled(path is not None and path != self.in_use)

    def rename(self, path: str, name: str) -> None:
        rename_model(path, name)
        self.refresh()
        self.changed.emit()

    def delete(self, path: str) -> None:
        if path == self.in_use:
            raise ValueError("the model search uses cannot be deleted")
        delete_model(path)
        self.refresh()
        self.changed.emit()

    def _rename(self) -> None:
        path = self.current_path()
        if path is None:
            return
        name, ok = QInputDialog.getText(self, "Rename model", "Name:", text=read_note(path).get("name") or "")
        if ok:
            self.rename(path, name)

    def _delete(self) -> None:
        path = self.current_path()
        if path is None:
            return
        if QMessageBox.question(self, "Delete model", f"Delete the model in {path}? This cannot be undone.") \
                == QMessageBox.StandardButton.Yes:
            try:
                self.delete(path)
            except (OSError, ValueError) as exc:
                QMessageBox.warning(self, "Delete model", str(exc))
